//! The briefing as a PDF, made on the server with `printpdf` (no browser): the Markdown
//! briefing typeset on A4, so the PDF and the Markdown cannot say different things. Headings,
//! paragraphs and bullets are set in Liberation Sans, the checkpoint note and the tables in
//! Liberation Mono (columns aligned), each city's briefing starts on a new page, and the
//! engagement tables are drawn below their figures: activities by mode as bars, activities by
//! year as bars stacked by mode.
//!
//! The fonts are embedded rather than the 14 standard PDF fonts, which carry Windows-1252 only
//! and would print Łódź as `?ód?`; `data/fonts/README.md` says where they come from and why
//! these faces (Helvetica's and Courier's widths). Each document embeds a subset of each face
//! holding only the characters it prints, cut with `allsorts` (the font library `printpdf`
//! itself builds on), so a one-page briefing is tens of kilobytes, not the 1.1 MB the three
//! whole faces weigh.

use std::collections::BTreeSet;

use allsorts::binary::read::ReadScope;
use allsorts::font::read_cmap_subtable;
use allsorts::font_data::FontData;
use allsorts::subset::{CmapTarget, SubsetProfile, subset};
use allsorts::tables::FontTableProvider;
use allsorts::tables::cmap::Cmap;
use allsorts::tag;
use printpdf::{
    BuiltinFont, Color, FontId, Mm, Op, PaintMode, ParsedFont, PdfDocument, PdfFontHandle, PdfPage,
    PdfSaveOptions, Point, Pt, Rect, Rgb, TextItem,
};

const PAGE_WIDTH: f32 = 595.0;
const PAGE_HEIGHT: f32 = 842.0;
const MARGIN: f32 = 50.0;
const BODY: f32 = 9.5;
const MONO: f32 = 7.5;

/// Bar colours by mode, the engagement chart's on the city pages.
const MODE_COLOURS: [(&str, (f32, f32, f32)); 3] = [
    ("in person", (0.16, 0.44, 0.59)),
    ("virtual", (0.56, 0.37, 0.64)),
    ("hybrid", (0.23, 0.63, 0.49)),
];

/// The three faces the briefing is set in.
#[derive(Clone, Copy)]
enum Face {
    Sans,
    SansBold,
    Mono,
}

impl Face {
    const ALL: [Face; 3] = [Face::Sans, Face::SansBold, Face::Mono];

    fn file(self) -> &'static [u8] {
        match self {
            Face::Sans => include_bytes!("../../data/fonts/LiberationSans-Regular.ttf"),
            Face::SansBold => include_bytes!("../../data/fonts/LiberationSans-Bold.ttf"),
            Face::Mono => include_bytes!("../../data/fonts/LiberationMono-Regular.ttf"),
        }
    }

    /// The standard font with the same widths, used only if a bundled file failed to parse
    /// (which the tests would catch).
    fn standard(self) -> BuiltinFont {
        match self {
            Face::Sans => BuiltinFont::Helvetica,
            Face::SansBold => BuiltinFont::HelveticaBold,
            Face::Mono => BuiltinFont::Courier,
        }
    }

    /// Average advance per character in ems, for wrapping: Helvetica's (and Liberation
    /// Sans's) is about half an em (a little more, to be safe); a monospace face's 0.6.
    fn char_width(self) -> f32 {
        match self {
            Face::Mono => 0.6,
            Face::Sans | Face::SansBold => 0.53,
        }
    }
}

/// `font` cut down to the glyphs of `chars` (and the missing-glyph box, which a subset keeps
/// first), with a Unicode cmap so `printpdf` maps the characters as it would in the whole
/// font. `None` if the font cannot be read or cut.
fn subset_font(font: &[u8], chars: &BTreeSet<char>) -> Option<Vec<u8>> {
    let data = ReadScope::new(font).read::<FontData<'_>>().ok()?;
    let provider = data.table_provider(0).ok()?;
    let cmap_table = provider.read_table_data(tag::CMAP).ok()?;
    let cmap = ReadScope::new(&cmap_table).read::<Cmap<'_>>().ok()?;
    let (_, cmap) = read_cmap_subtable(&cmap).ok()??;
    let mut glyphs: BTreeSet<u16> = BTreeSet::new();
    for c in chars {
        if let Ok(Some(glyph)) = cmap.map_glyph(u32::from(*c)) {
            glyphs.insert(glyph);
        }
    }
    let ids: Vec<u16> = std::iter::once(0)
        .chain(glyphs.into_iter().filter(|g| *g != 0))
        .collect();
    subset(&provider, &ids, &SubsetProfile::Pdf, CmapTarget::Unicode).ok()
}

/// Each face subset to `chars` and parsed, in `Face::ALL` order; a face that could not be cut
/// is embedded whole, and one that cannot be parsed at all falls back to its standard font.
fn document_fonts(chars: &BTreeSet<char>) -> [Option<ParsedFont>; 3] {
    Face::ALL.map(|face| {
        let bytes = subset_font(face.file(), chars).unwrap_or_else(|| face.file().to_vec());
        ParsedFont::from_bytes(&bytes, 0, &mut Vec::new())
    })
}

/// Pages being filled, top to bottom.
struct Pages {
    /// The document's handle for each face, in `Face::ALL` order.
    fonts: [Option<FontId>; 3],
    done: Vec<Vec<Op>>,
    ops: Vec<Op>,
    /// The baseline of the next line, in points from the page's bottom.
    y: f32,
}

impl Pages {
    fn new(fonts: [Option<FontId>; 3]) -> Pages {
        Pages {
            fonts,
            done: Vec::new(),
            ops: Vec::new(),
            y: PAGE_HEIGHT - MARGIN,
        }
    }

    fn new_page(&mut self) {
        if !self.ops.is_empty() {
            self.done.push(std::mem::take(&mut self.ops));
        }
        self.y = PAGE_HEIGHT - MARGIN;
    }

    /// Room for `height` more points on this page, or a new page.
    fn room(&mut self, height: f32) {
        if self.y - height < MARGIN {
            self.new_page();
        }
    }

    fn handle(&self, face: Face) -> PdfFontHandle {
        match self.fonts.get(face as usize).and_then(Option::as_ref) {
            Some(id) => PdfFontHandle::External(id.clone()),
            None => PdfFontHandle::Builtin(face.standard()),
        }
    }

    fn text(&mut self, x: f32, text: &str, face: Face, size: f32) {
        let font = self.handle(face);
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font,
                size: Pt(size),
            },
            Op::SetTextCursor {
                pos: Point {
                    x: Pt(x),
                    y: Pt(self.y),
                },
            },
            Op::ShowText {
                items: vec![TextItem::Text(text.to_string())],
            },
            Op::EndTextSection,
        ]);
    }

    /// A paragraph wrapped to the text width, `indent` points in.
    fn paragraph(&mut self, text: &str, face: Face, size: f32, indent: f32) {
        let per_char = face.char_width();
        let width = (PAGE_WIDTH - 2.0 * MARGIN - indent).max(size);
        let max_chars = ((width / (size * per_char)) as usize).max(10);
        for line in wrap(text, max_chars) {
            self.room(size * 1.35);
            self.y -= size * 1.35;
            self.text(MARGIN + indent, &line, face, size);
        }
    }

    fn gap(&mut self, points: f32) {
        self.y -= points;
    }

    fn rect(&mut self, x: f32, y: f32, width: f32, height: f32, (r, g, b): (f32, f32, f32)) {
        self.ops.extend([
            Op::SetFillColor {
                col: Color::Rgb(Rgb::new(r, g, b, None)),
            },
            Op::DrawRectangle {
                rectangle: Rect {
                    x: Pt(x),
                    y: Pt(y),
                    width: Pt(width),
                    height: Pt(height),
                    mode: Some(PaintMode::Fill),
                    winding_order: None,
                },
            },
            Op::SetFillColor {
                col: Color::Rgb(Rgb::new(0.0, 0.0, 0.0, None)),
            },
        ]);
    }

    /// A horizontal bar chart of activities by mode.
    fn mode_chart(&mut self, counts: &[(String, u64)]) {
        let max = counts.iter().map(|(_, n)| *n).max().unwrap_or(0).max(1);
        let bar_height = 11.0;
        let full = PAGE_WIDTH - 2.0 * MARGIN - 120.0;
        self.room(counts.len() as f32 * (bar_height + 4.0) + 8.0);
        self.gap(4.0);
        for (label, n) in counts {
            self.y -= bar_height + 4.0;
            let colour = MODE_COLOURS
                .iter()
                .find(|(mode, _)| mode == label)
                .map_or((0.4, 0.4, 0.4), |(_, c)| *c);
            self.text(MARGIN, label, Face::Sans, BODY);
            let width = full * (*n as f32) / (max as f32);
            self.rect(
                MARGIN + 70.0,
                self.y - 2.0,
                width.max(0.5),
                bar_height,
                colour,
            );
            self.text(MARGIN + 76.0 + width, &n.to_string(), Face::Sans, BODY);
        }
        self.gap(6.0);
    }

    /// Activities per year as bars stacked by mode (in person, virtual, hybrid).
    fn year_chart(&mut self, years: &[(String, [u64; 3])]) {
        let max = years
            .iter()
            .map(|(_, n)| n.iter().sum::<u64>())
            .max()
            .unwrap_or(0)
            .max(1);
        let bar_height = 9.0;
        let full = PAGE_WIDTH - 2.0 * MARGIN - 120.0;
        self.room(years.len() as f32 * (bar_height + 3.0) + 8.0);
        self.gap(4.0);
        for (year, counts) in years {
            self.y -= bar_height + 3.0;
            self.text(MARGIN, year, Face::Sans, BODY);
            let mut x = MARGIN + 70.0;
            for (n, (_, colour)) in counts.iter().zip(MODE_COLOURS) {
                let width = full * (*n as f32) / (max as f32);
                if width > 0.0 {
                    self.rect(x, self.y - 2.0, width, bar_height, colour);
                }
                x += width;
            }
            let total: u64 = counts.iter().sum();
            self.text(x + 6.0, &total.to_string(), Face::Sans, BODY);
        }
        self.gap(6.0);
    }

    fn finish(mut self) -> Vec<Vec<Op>> {
        self.new_page();
        self.done
    }
}

/// Splits `text` into lines of at most `max` characters, at spaces where it can.
fn wrap(text: &str, max: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let mut word = word.to_string();
        while word.chars().count() > max {
            if !line.is_empty() {
                lines.push(std::mem::take(&mut line));
            }
            let head: String = word.chars().take(max).collect();
            word = word.chars().skip(max).collect();
            lines.push(head);
        }
        let len = line.chars().count() + word.chars().count() + usize::from(!line.is_empty());
        if len > max && !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(&word);
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// Markdown's escapes taken out: `\*` is `*` on paper.
fn unescape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut chars = text.chars();
    while let Some(c) = chars.next() {
        if c == '\\' {
            if let Some(next) = chars.next() {
                out.push(next);
            }
        } else {
            out.push(c);
        }
    }
    out
}

/// The cells of a Markdown table row; `None` for the `|---|` rule under the header.
fn cells(row: &str) -> Option<Vec<String>> {
    let inner = row.trim().trim_start_matches('|').trim_end_matches('|');
    let mut cells = Vec::new();
    let mut cell = String::new();
    let mut escaped = false;
    for c in inner.chars() {
        match c {
            '|' if !escaped => cells.push(std::mem::take(&mut cell)),
            '\\' if !escaped => escaped = true,
            _ => {
                cell.push(c);
                escaped = false;
            }
        }
    }
    cells.push(cell);
    let cells: Vec<String> = cells.iter().map(|c| c.trim().to_string()).collect();
    if cells
        .iter()
        .all(|c| !c.is_empty() && c.chars().all(|ch| ch == '-'))
    {
        return None;
    }
    Some(cells)
}

/// Sets a table's rows in Courier, columns padded to their widest cell; an engagement table
/// (`mode | activities`) is followed by its bar chart.
fn table(pages: &mut Pages, rows: &[Vec<String>]) {
    let columns = rows.iter().map(Vec::len).max().unwrap_or(0);
    let widths: Vec<usize> = (0..columns)
        .map(|i| {
            rows.iter()
                .filter_map(|r| r.get(i))
                .map(|c| c.chars().count())
                .max()
                .unwrap_or(0)
        })
        .collect();
    // A wide table is set smaller rather than wrapped, down to a size still legible.
    let chars = widths.iter().sum::<usize>() + 2 * columns.saturating_sub(1);
    let size = ((PAGE_WIDTH - 2.0 * MARGIN) / (0.6 * (chars + 2) as f32)).clamp(5.0, MONO);
    for row in rows {
        let line: Vec<String> = row
            .iter()
            .zip(&widths)
            .map(|(c, w)| format!("{c:<w$}"))
            .collect();
        pages.paragraph(line.join("  ").trim_end(), Face::Mono, size, 0.0);
    }
    let is_year_table = rows.first().is_some_and(|h| {
        h.iter()
            .map(String::as_str)
            .eq(["year", "in person", "virtual", "hybrid"])
    });
    if is_year_table {
        let years: Vec<(String, [u64; 3])> = rows
            .iter()
            .skip(1)
            .filter_map(|r| {
                let n = |i: usize| r.get(i).and_then(|c| c.parse().ok());
                Some((r.first()?.clone(), [n(1)?, n(2)?, n(3)?]))
            })
            .collect();
        pages.year_chart(&years);
    }
    let is_mode_table = rows
        .first()
        .is_some_and(|h| h.first().map(String::as_str) == Some("mode"));
    if is_mode_table {
        let counts: Vec<(String, u64)> = rows
            .iter()
            .skip(1)
            .filter_map(|r| Some((r.first()?.clone(), r.get(1)?.parse().ok()?)))
            .collect();
        pages.mode_chart(&counts);
    }
}

/// Typesets a Markdown briefing as an A4 PDF titled `title`.
pub fn briefing_pdf(title: &str, markdown: &str) -> Vec<u8> {
    let mut document = PdfDocument::new(title);
    // Every character the document can print: the text, and the bullet the lists add.
    let chars: BTreeSet<char> = title
        .chars()
        .chain(markdown.chars())
        .chain(['\u{2022}'])
        .collect();
    let fonts = document_fonts(&chars)
        .each_ref()
        .map(|font| font.as_ref().map(|f| document.add_font(f)));
    let mut pages = Pages::new(fonts);
    let mut table_rows: Vec<Vec<String>> = Vec::new();
    let mut in_code = false;
    let mut first_heading = true;
    for line in markdown.lines() {
        if !line.starts_with('|') && !table_rows.is_empty() {
            table(&mut pages, &std::mem::take(&mut table_rows));
        }
        if line.starts_with("```") {
            in_code = !in_code;
            pages.gap(3.0);
            continue;
        }
        if in_code {
            pages.paragraph(line, Face::Mono, MONO, 8.0);
            continue;
        }
        if line.starts_with('|') {
            if let Some(row) = cells(line) {
                table_rows.push(row);
            }
            continue;
        }
        let level = line.chars().take_while(|c| *c == '#').count();
        if level > 0 {
            let text = unescape(line[level..].trim());
            // Each city's briefing begins a page.
            if text.starts_with("Briefing:") && !first_heading {
                pages.new_page();
            }
            first_heading = false;
            let size = match level {
                1 => 16.0,
                2 => 13.0,
                _ => 11.0,
            };
            pages.room(size * 3.0);
            pages.gap(size * 0.6);
            pages.paragraph(&text, Face::SansBold, size, 0.0);
            pages.gap(2.0);
        } else if let Some(item) = line.strip_prefix("- ") {
            pages.paragraph(
                &format!("\u{2022} {}", unescape(item)),
                Face::Sans,
                BODY,
                6.0,
            );
        } else if line.trim().is_empty() {
            pages.gap(BODY * 0.5);
        } else {
            pages.paragraph(&unescape(line), Face::Sans, BODY, 0.0);
        }
    }
    if !table_rows.is_empty() {
        table(&mut pages, &table_rows);
    }
    let pages: Vec<PdfPage> = pages
        .finish()
        .into_iter()
        .map(|ops| PdfPage::new(Mm(210.0), Mm(297.0), ops))
        .collect();
    let mut warnings = Vec::new();
    document
        .with_pages(pages)
        .save(&PdfSaveOptions::default(), &mut warnings)
}

#[cfg(test)]
#[allow(clippy::unwrap_used)]
mod tests {
    use super::*;

    #[test]
    fn lines_wrap_at_spaces_and_long_words_break() {
        assert_eq!(wrap("a bb ccc", 4), ["a bb", "ccc"]);
        assert_eq!(wrap("abcdefgh", 3), ["abc", "def", "gh"]);
        assert_eq!(wrap("", 3), [""]);
    }

    #[test]
    fn table_rows_split_on_unescaped_bars() {
        assert_eq!(
            cells(r"| a \| b | c |"),
            Some(vec!["a | b".to_string(), "c".to_string()])
        );
        assert_eq!(cells("|---|---|"), None);
        assert_eq!(unescape(r"Rio \*de\* Janeiro"), "Rio *de* Janeiro");
    }
}
