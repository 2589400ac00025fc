//! The briefing as a PDF, made on the server with `printpdf` (no browser): the Markdown
//! briefing typeset on A4, so the PDF and the Markdown cannot say different things. Headings,
//! paragraphs and bullets are set in Helvetica, the checkpoint note and the tables in Courier
//! (columns aligned), each city's briefing starts on a new page, and the engagement tables are
//! drawn below their figures: activities by mode as bars, activities by year as bars stacked
//! by mode.
//!
//! The standard PDF fonts carry Windows-1252 (WinAnsi) text only; a character outside it (a
//! Chinese city name, say) is printed as `?` by the encoder. The Markdown and HTML briefings
//! carry every character.

use printpdf::{
    BuiltinFont, Color, Mm, Op, PaintMode, PdfDocument, PdfFontHandle, PdfPage, PdfSaveOptions,
    Point, Pt, Rect, Rgb, TextItem,
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

/// Pages being filled, top to bottom.
struct Pages {
    done: Vec<Vec<Op>>,
    ops: Vec<Op>,
    /// The baseline of the next line, in points from the page's bottom.
    y: f32,
}

impl Pages {
    fn new() -> Pages {
        Pages {
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

    fn text(&mut self, x: f32, text: &str, font: BuiltinFont, size: f32) {
        self.ops.extend([
            Op::StartTextSection,
            Op::SetFont {
                font: PdfFontHandle::Builtin(font),
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
    fn paragraph(&mut self, text: &str, font: BuiltinFont, size: f32, indent: f32) {
        // Helvetica averages about half an em per character (a little more, to be safe);
        // Courier is exactly 0.6 em.
        let per_char = if matches!(font, BuiltinFont::Courier) {
            0.6
        } else {
            0.53
        };
        let width = (PAGE_WIDTH - 2.0 * MARGIN - indent).max(size);
        let max_chars = ((width / (size * per_char)) as usize).max(10);
        for line in wrap(text, max_chars) {
            self.room(size * 1.35);
            self.y -= size * 1.35;
            self.text(MARGIN + indent, &line, font, size);
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
            self.text(MARGIN, label, BuiltinFont::Helvetica, BODY);
            let width = full * (*n as f32) / (max as f32);
            self.rect(
                MARGIN + 70.0,
                self.y - 2.0,
                width.max(0.5),
                bar_height,
                colour,
            );
            self.text(
                MARGIN + 76.0 + width,
                &n.to_string(),
                BuiltinFont::Helvetica,
                BODY,
            );
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
            self.text(MARGIN, year, BuiltinFont::Helvetica, BODY);
            let mut x = MARGIN + 70.0;
            for (n, (_, colour)) in counts.iter().zip(MODE_COLOURS) {
                let width = full * (*n as f32) / (max as f32);
                if width > 0.0 {
                    self.rect(x, self.y - 2.0, width, bar_height, colour);
                }
                x += width;
            }
            let total: u64 = counts.iter().sum();
            self.text(x + 6.0, &total.to_string(), BuiltinFont::Helvetica, BODY);
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
        pages.paragraph(line.join("  ").trim_end(), BuiltinFont::Courier, size, 0.0);
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
    let mut pages = Pages::new();
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
            pages.paragraph(line, BuiltinFont::Courier, MONO, 8.0);
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
            pages.paragraph(&text, BuiltinFont::HelveticaBold, size, 0.0);
            pages.gap(2.0);
        } else if let Some(item) = line.strip_prefix("- ") {
            pages.paragraph(
                &format!("\u{2022} {}", unescape(item)),
                BuiltinFont::Helvetica,
                BODY,
                6.0,
            );
        } else if line.trim().is_empty() {
            pages.gap(BODY * 0.5);
        } else {
            pages.paragraph(&unescape(line), BuiltinFont::Helvetica, BODY, 0.0);
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
    PdfDocument::new(title)
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
