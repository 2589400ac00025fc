//! Pictures drawn on the server as SVG: the partnership map (equirectangular projection of the
//! stored coordinates) and the engagement chart. Plain strings, so they stay fast and testable.

use std::collections::BTreeMap;
use std::fmt::Write;

use crate::db::pages::MapLine;
use crate::domain::activities::ModeCounts;

pub const MAP_WIDTH: f64 = 720.0;
pub const MAP_HEIGHT: f64 = 360.0;

/// More lines than this make a map that is slow to draw and says nothing more: all lines that
/// are not active are kept (they are the news), active ones are thinned evenly.
pub const MAX_MAP_LINES: usize = 2500;

pub fn status_colour(status: &str) -> &'static str {
    match status {
        "active" => "#2a8a4a",
        "curtailed" => "#e08a00",
        "cut_off" => "#c0392b",
        _ => "#3a6fc4",
    }
}

fn project(lat_e6: i64, lon_e6: i64) -> (f64, f64) {
    let lat = lat_e6 as f64 / 1e6;
    let lon = lon_e6 as f64 / 1e6;
    (
        (lon + 180.0) / 360.0 * MAP_WIDTH,
        (90.0 - lat) / 180.0 * MAP_HEIGHT,
    )
}

/// Picks the lines to draw: every line that is not active, then active ones evenly spaced.
pub fn thin(lines: &[MapLine], max: usize) -> Vec<&MapLine> {
    let (other, active): (Vec<&MapLine>, Vec<&MapLine>) =
        lines.iter().partition(|l| l.status != "active");
    let room = max.saturating_sub(other.len());
    let mut out = other;
    if active.len() <= room {
        out.extend(active);
    } else {
        // `room` indices spread evenly over the active lines.
        out.extend((0..room).filter_map(|i| active.get(i * active.len() / room).copied()));
    }
    out
}

/// The map: graticule, lines by status, a legend, and a note when lines were thinned.
pub fn map(lines: &[MapLine], title: &str) -> String {
    let drawn = thin(lines, MAX_MAP_LINES);
    let mut s = String::with_capacity(64 * drawn.len() + 2048);
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {MAP_WIDTH} {MAP_HEIGHT}" role="img" aria-label="{}"><rect width="{MAP_WIDTH}" height="{MAP_HEIGHT}" fill="#eef3f8"/><g stroke="#cfd8e3" stroke-width="0.5">"##,
        escape(title)
    );
    for lon in (-150..=150).step_by(30) {
        let x = (lon as f64 + 180.0) / 360.0 * MAP_WIDTH;
        let _ = write!(
            s,
            r#"<line x1="{x:.1}" y1="0" x2="{x:.1}" y2="{MAP_HEIGHT}"/>"#
        );
    }
    for lat in (-60..=60).step_by(30) {
        let y = (90.0 - lat as f64) / 180.0 * MAP_HEIGHT;
        let _ = write!(
            s,
            r#"<line x1="0" y1="{y:.1}" x2="{MAP_WIDTH}" y2="{y:.1}"/>"#
        );
    }
    s.push_str(r#"</g><g fill="none" stroke-width="0.6" stroke-opacity="0.55">"#);
    for l in &drawn {
        let (x1, y1) = project(l.a.0, l.a.1);
        let (x2, y2) = project(l.b.0, l.b.1);
        let _ = write!(
            s,
            r#"<line class="{}" x1="{x1:.1}" y1="{y1:.1}" x2="{x2:.1}" y2="{y2:.1}" stroke="{}"/>"#,
            l.status,
            status_colour(&l.status)
        );
    }
    s.push_str("</g>");
    let mut y = MAP_HEIGHT - 52.0;
    for status in ["active", "curtailed", "cut_off", "proposed"] {
        let _ = write!(
            s,
            r#"<rect x="8" y="{y}" width="10" height="3" fill="{}"/><text x="22" y="{}" font-size="9" font-family="sans-serif">{status}</text>"#,
            status_colour(status),
            y + 4.0
        );
        y += 11.0;
    }
    if drawn.len() < lines.len() {
        let _ = write!(
            s,
            r#"<text x="{}" y="{}" font-size="9" font-family="sans-serif" text-anchor="end">showing {} of {} partnerships (every one not active, active ones thinned evenly)</text>"#,
            MAP_WIDTH - 6.0,
            MAP_HEIGHT - 6.0,
            drawn.len(),
            lines.len()
        );
    }
    s.push_str("</svg>");
    s
}

/// Activities per year, stacked by mode.
pub fn engagement_chart(by_year: &BTreeMap<i32, ModeCounts>) -> String {
    let (w, h, left, bottom) = (600.0, 220.0, 36.0, 24.0);
    let max = by_year.values().map(|c| c.total).max().unwrap_or(0).max(1) as f64;
    let n = by_year.len().max(1) as f64;
    let slot = (w - left - 8.0) / n;
    let mut s = format!(
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" role="img" aria-label="activities per year by mode"><rect width="{w}" height="{h}" fill="#fff"/><line x1="{left}" y1="{}" x2="{w}" y2="{}" stroke="#999"/>"##,
        h - bottom,
        h - bottom
    );
    for (i, (year, c)) in by_year.iter().enumerate() {
        let x = left + i as f64 * slot + slot * 0.15;
        let bar = slot * 0.7;
        let mut y = h - bottom;
        for (mode, count) in [
            ("in_person", c.in_person),
            ("virtual", c.virtual_),
            ("hybrid", c.hybrid),
        ] {
            if count == 0 {
                continue;
            }
            let height = count as f64 / max * (h - bottom - 16.0);
            y -= height;
            let colour = match mode {
                "in_person" => "#2a8a4a",
                "virtual" => "#3a6fc4",
                _ => "#8e5bc4",
            };
            let _ = write!(
                s,
                r#"<rect class="{mode}" x="{x:.1}" y="{y:.1}" width="{bar:.1}" height="{height:.1}" fill="{colour}"><title>{year} {mode}: {count}</title></rect>"#
            );
        }
        let _ = write!(
            s,
            r#"<text x="{:.1}" y="{}" font-size="10" font-family="sans-serif" text-anchor="middle">{year}</text>"#,
            x + bar / 2.0,
            h - 8.0
        );
    }
    let _ = write!(
        s,
        r#"<text x="4" y="12" font-size="10" font-family="sans-serif">max {max:.0}/year · green in person · blue virtual · purple hybrid</text></svg>"#
    );
    s
}

/// Escapes text for an SVG attribute or text node.
pub fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(status: &str) -> MapLine {
        MapLine {
            a: (29_760_000, -95_370_000),
            b: (31_230_000, 121_470_000),
            status: status.into(),
        }
    }

    #[test]
    fn thinning_keeps_what_is_not_active() {
        let mut lines: Vec<MapLine> = (0..10_000).map(|_| line("active")).collect();
        lines.extend((0..300).map(|_| line("cut_off")));
        let kept = thin(&lines, MAX_MAP_LINES);
        assert!(kept.len() <= MAX_MAP_LINES);
        assert_eq!(kept.iter().filter(|l| l.status == "cut_off").count(), 300);
        assert!(map(&lines, "t").contains("showing"));
        let small = vec![line("active"), line("curtailed")];
        assert_eq!(thin(&small, MAX_MAP_LINES).len(), 2);
        assert_eq!(map(&small, "<x>").matches("<line class=").count(), 2);
        assert!(map(&small, "<x>").contains("aria-label=\"&lt;x&gt;\""));
    }

    #[test]
    fn projection_corners() {
        assert_eq!(project(90_000_000, -180_000_000), (0.0, 0.0));
        assert_eq!(project(-90_000_000, 180_000_000), (MAP_WIDTH, MAP_HEIGHT));
    }
}
