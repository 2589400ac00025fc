//! Pictures drawn on the server as SVG: the partnership map (equirectangular projection of the
//! stored coordinates over Natural Earth's land and borders, partnerships as great-circle arcs)
//! and the engagement chart. Plain strings, so they stay fast and testable.

pub use crate::domain::text::thousands;
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

/// Natural Earth's 1:110m countries (public domain; `data/natural-earth/`, converted by its
/// `convert.py`): one country per line, `name<TAB>ring|ring`, each ring `lon,lat lon,lat ...`.
const COUNTRIES: &str = include_str!("../../data/natural-earth/countries-110m.txt");

/// Longitude and latitude in degrees to map units (equirectangular); the
/// longitude may lie beyond ±180 (a ring or arc continued across the antimeridian).
fn to_map(lon: f64, lat: f64) -> (f64, f64) {
    (
        (lon + 180.0) / 360.0 * MAP_WIDTH,
        (90.0 - lat) / 180.0 * MAP_HEIGHT,
    )
}

/// A polyline in degrees as SVG path data, once as it is and once more shifted by a world's
/// width for the part that runs past the antimeridian (the map's edge clips the rest).
fn path_data(points: &[(f64, f64)], close: bool, out: &mut String) {
    let (min, max) = points
        .iter()
        .fold((f64::MAX, f64::MIN), |(lo, hi), (lon, _)| {
            (lo.min(*lon), hi.max(*lon))
        });
    let mut shifts = vec![0.0];
    if max > 180.0 {
        shifts.push(-360.0);
    }
    if min < -180.0 {
        shifts.push(360.0);
    }
    for shift in shifts {
        for (i, (lon, lat)) in points.iter().enumerate() {
            let (x, y) = to_map(lon + shift, *lat);
            let _ = write!(out, "{}{x:.1} {y:.1}", if i == 0 { "M" } else { "L" });
        }
        if close {
            out.push('Z');
        }
    }
}

/// Makes a polyline's longitudes continuous: a step of more than 180 degrees is a crossing of
/// the antimeridian, not a trip round the world. Steps along a pole (Antarctica's ring runs
/// along latitude -90 from +180 to -180) stay as they are: they are the map's edge.
fn unwrap(points: &mut [(f64, f64)]) {
    let mut offset = 0.0;
    let mut previous: Option<(f64, f64)> = None;
    for p in points.iter_mut() {
        let raw = *p;
        if let Some((lon, lat)) = previous {
            let step = raw.0 - lon;
            let polar = lat.abs() >= 89.5 && raw.1.abs() >= 89.5;
            if !polar && step > 180.0 {
                offset -= 360.0;
            } else if !polar && step < -180.0 {
                offset += 360.0;
            }
        }
        previous = Some(raw);
        p.0 = raw.0 + offset;
    }
}

/// Land and country outlines as one SVG path, built once per process.
fn land() -> &'static str {
    static LAND: std::sync::OnceLock<String> = std::sync::OnceLock::new();
    LAND.get_or_init(|| {
        let mut d = String::with_capacity(COUNTRIES.len());
        for line in COUNTRIES.lines() {
            let Some((_, rings)) = line.split_once('\t') else {
                continue;
            };
            for ring in rings.split('|') {
                let mut points: Vec<(f64, f64)> = ring
                    .split(' ')
                    .filter_map(|pair| {
                        let (lon, lat) = pair.split_once(',')?;
                        Some((lon.parse().ok()?, lat.parse().ok()?))
                    })
                    .collect();
                if points.len() < 3 {
                    continue;
                }
                unwrap(&mut points);
                path_data(&points, true, &mut d);
            }
        }
        d
    })
}

/// The great circle from `a` to `b` (latitude and longitude in millionths of a degree) as
/// points in degrees, one every 3 degrees of arc or so, longitudes continuous.
pub fn great_circle(a: (i64, i64), b: (i64, i64)) -> Vec<(f64, f64)> {
    let unit = |(lat_e6, lon_e6): (i64, i64)| {
        let (lat, lon) = (
            (lat_e6 as f64 / 1e6).to_radians(),
            (lon_e6 as f64 / 1e6).to_radians(),
        );
        [lat.cos() * lon.cos(), lat.cos() * lon.sin(), lat.sin()]
    };
    let (u, v) = (unit(a), unit(b));
    let dot = (u[0] * v[0] + u[1] * v[1] + u[2] * v[2]).clamp(-1.0, 1.0);
    let omega = dot.acos();
    let steps = ((omega.to_degrees() / 3.0).ceil() as usize).clamp(1, 60);
    let mut points: Vec<(f64, f64)> = (0..=steps)
        .map(|i| {
            let t = i as f64 / steps as f64;
            // Spherical interpolation; for (nearly) the same point, the point itself.
            let (wa, wb) = if omega.sin().abs() < 1e-9 {
                (1.0 - t, t)
            } else {
                (
                    ((1.0 - t) * omega).sin() / omega.sin(),
                    (t * omega).sin() / omega.sin(),
                )
            };
            let p = [
                wa * u[0] + wb * v[0],
                wa * u[1] + wb * v[1],
                wa * u[2] + wb * v[2],
            ];
            let lat = p[2].atan2((p[0] * p[0] + p[1] * p[1]).sqrt()).to_degrees();
            let lon = p[1].atan2(p[0]).to_degrees();
            (lon, lat)
        })
        .collect();
    unwrap(&mut points);
    points
}

/// The part of the world a map shows, in map units: (x, y, width, height).
type View = (f64, f64, f64, f64);

/// The whole world, or (`zoom`) the lines' extent with a margin, widened to the map's 2:1
/// shape and never smaller than a twelfth of the world.
fn view_of(arcs: &[Vec<(f64, f64)>], zoom: bool) -> View {
    let world = (0.0, 0.0, MAP_WIDTH, MAP_HEIGHT);
    if !zoom || arcs.is_empty() {
        return world;
    }
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for (lon, lat) in arcs.iter().flatten() {
        let (x, y) = to_map(*lon, *lat);
        (x0, y0, x1, y1) = (x0.min(x), y0.min(y), x1.max(x), y1.max(y));
    }
    let margin = 0.08 * (x1 - x0).max(y1 - y0).max(20.0);
    let (mut w, mut h) = (x1 - x0 + 2.0 * margin, y1 - y0 + 2.0 * margin);
    w = w.max(2.0 * h).max(MAP_WIDTH / 12.0);
    h = w / 2.0;
    if w >= MAP_WIDTH {
        return world;
    }
    let (cx, cy) = ((x0 + x1) / 2.0, (y0 + y1) / 2.0);
    let x = (cx - w / 2.0).clamp(0.0, MAP_WIDTH - w);
    let y = (cy - h / 2.0).clamp(0.0, MAP_HEIGHT - h);
    (x, y, w, h)
}

/// The map: land and country outlines (Natural Earth), the graticule, partnerships as
/// great-circle arcs coloured by status, a legend, and a note when lines were thinned. With
/// `zoom` (a city's own map) it shows the extent of the city's partnerships, not the world.
pub fn map(lines: &[MapLine], title: &str, zoom: bool) -> String {
    let drawn = thin(lines, MAX_MAP_LINES);
    let arcs: Vec<Vec<(f64, f64)>> = drawn.iter().map(|l| great_circle(l.a, l.b)).collect();
    let (vx, vy, vw, vh) = view_of(&arcs, zoom);
    // Text and marks keep their size on the page whatever the zoom.
    let k = vw / MAP_WIDTH;
    let mut s = String::with_capacity(120 * drawn.len() + land().len() + 4096);
    let _ = write!(
        s,
        r##"<svg xmlns="http://www.w3.org/2000/svg" viewBox="{vx:.1} {vy:.1} {vw:.1} {vh:.1}" role="img" aria-label="{}"><rect x="{vx:.1}" y="{vy:.1}" width="{vw:.1}" height="{vh:.1}" fill="#eef3f8"/><path id="land" d="{}" fill="#f7f5ee" stroke="#b9b3a3" stroke-width="0.4" vector-effect="non-scaling-stroke" stroke-linejoin="round"/><g stroke="#cfd8e3" stroke-width="0.4" vector-effect="non-scaling-stroke" stroke-opacity="0.7">"##,
        escape(title),
        land()
    );
    for lon in (-150..=150).step_by(30) {
        let x = (lon as f64 + 180.0) / 360.0 * MAP_WIDTH;
        let _ = write!(
            s,
            r#"<line x1="{x:.1}" y1="0" x2="{x:.1}" y2="{MAP_HEIGHT}" vector-effect="non-scaling-stroke"/>"#
        );
    }
    for lat in (-60..=60).step_by(30) {
        let y = (90.0 - lat as f64) / 180.0 * MAP_HEIGHT;
        let _ = write!(
            s,
            r#"<line x1="0" y1="{y:.1}" x2="{MAP_WIDTH}" y2="{y:.1}" vector-effect="non-scaling-stroke"/>"#
        );
    }
    s.push_str(r#"</g><g fill="none" stroke-width="0.8" stroke-opacity="0.6">"#);
    for (l, arc) in drawn.iter().zip(&arcs) {
        let _ = write!(
            s,
            r#"<path class="{}{}" stroke="{}"{} vector-effect="non-scaling-stroke" d=""#,
            l.status,
            if l.dormant { " dormant" } else { "" },
            status_colour(&l.status),
            if l.dormant {
                r#" stroke-dasharray="3 2""#
            } else {
                ""
            }
        );
        path_data(arc, false, &mut s);
        s.push_str(r#""/>"#);
    }
    s.push_str("</g>");
    if zoom {
        // The cities themselves, so a short tie is not lost under its own stroke.
        s.push_str(r##"<g fill="#1f3a5f">"##);
        for arc in &arcs {
            for (lon, lat) in arc.first().into_iter().chain(arc.last()).copied() {
                let (x, y) = to_map(lon, lat);
                let _ = write!(s, r#"<circle cx="{x:.1}" cy="{y:.1}" r="{:.2}"/>"#, 1.6 * k);
            }
        }
        s.push_str("</g>");
    }
    let font = 9.0 * k;
    let any_dormant = drawn.iter().any(|l| l.dormant);
    let mut y = vy + vh - if any_dormant { 63.0 } else { 52.0 } * k;
    if any_dormant {
        let _ = write!(
            s,
            r##"<line x1="{:.2}" y1="{:.2}" x2="{:.2}" y2="{:.2}" stroke="#2a8a4a" stroke-dasharray="3 2" vector-effect="non-scaling-stroke"/><text x="{:.2}" y="{:.2}" font-size="{font:.2}" font-family="sans-serif">dormant (no activity recorded lately)</text>"##,
            vx + 8.0 * k,
            y + 1.5 * k,
            vx + 18.0 * k,
            y + 1.5 * k,
            vx + 22.0 * k,
            y + 4.0 * k
        );
        y += 11.0 * k;
    }
    for status in ["active", "curtailed", "cut_off", "proposed"] {
        let _ = write!(
            s,
            r#"<rect x="{:.2}" y="{y:.2}" width="{:.2}" height="{:.2}" fill="{}"/><text x="{:.2}" y="{:.2}" font-size="{font:.2}" font-family="sans-serif">{status}</text>"#,
            vx + 8.0 * k,
            10.0 * k,
            3.0 * k,
            status_colour(status),
            vx + 22.0 * k,
            y + 4.0 * k
        );
        y += 11.0 * k;
    }
    let note = if drawn.len() < lines.len() {
        format!(
            "showing {} of {} partnerships (every one not active, active ones thinned evenly)",
            thousands(drawn.len()),
            thousands(lines.len())
        )
    } else {
        format!(
            "{} partnership{}",
            thousands(lines.len()),
            if lines.len() == 1 { "" } else { "s" }
        )
    };
    let _ = write!(
        s,
        r##"<text x="{:.2}" y="{:.2}" font-size="{font:.2}" font-family="sans-serif" text-anchor="end">{note}</text><text x="{:.2}" y="{:.2}" font-size="{:.2}" font-family="sans-serif" fill="#667" text-anchor="end">Land and borders: Natural Earth</text>"##,
        vx + vw - 6.0 * k,
        vy + vh - 6.0 * k,
        vx + vw - 6.0 * k,
        vy + vh - 17.0 * k,
        7.0 * k
    );
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
            dormant: false,
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
        assert!(map(&lines, "t", false).contains("showing 2,500 of 10,300 partnerships"));
        let small = vec![line("active"), line("curtailed")];
        assert_eq!(thin(&small, MAX_MAP_LINES).len(), 2);
        assert_eq!(
            map(&small, "<x>", false).matches("<path class=\"").count(),
            2
        );
        assert!(map(&small, "<x>", false).contains("aria-label=\"&lt;x&gt;\""));
    }

    #[test]
    fn counts_are_formatted_for_reading() {
        for (n, text) in [
            (0, "0"),
            (999, "999"),
            (1000, "1,000"),
            (24_705, "24,705"),
            (1_234_567, "1,234,567"),
        ] {
            assert_eq!(thousands(n), text);
        }
    }

    /// Houston to Shanghai: the great circle runs far north of the straight line (over Alaska
    /// and the Bering Sea, above 50 degrees north) and crosses the antimeridian, so it is
    /// drawn continued past the map's edge and again from the other edge.
    #[test]
    fn arcs_follow_great_circles_across_the_antimeridian() {
        let arc = great_circle((29_760_000, -95_370_000), (31_230_000, 121_470_000));
        let (first, last) = (arc[0], arc[arc.len() - 1]);
        assert!((first.0 + 95.37).abs() < 1e-6 && (first.1 - 29.76).abs() < 1e-6);
        // The end is Shanghai, reached westward: 121.47 - 360 degrees.
        assert!((last.0 - (121.47 - 360.0)).abs() < 1e-6, "{last:?}");
        assert!((last.1 - 31.23).abs() < 1e-6);
        let north = arc.iter().map(|p| p.1).fold(f64::MIN, f64::max);
        assert!(north > 50.0, "{north}");
        for pair in arc.windows(2) {
            assert!((pair[1].0 - pair[0].0).abs() < 10.0, "continuous: {pair:?}");
        }
        let mut d = String::new();
        path_data(&arc, false, &mut d);
        assert_eq!(
            d.matches('M').count(),
            2,
            "once, and once shifted by a world"
        );
    }

    #[test]
    fn the_land_is_natural_earths_and_closed() {
        let land = land();
        // 177 countries, some in several rings; every ring closed.
        assert!(land.matches('M').count() >= 177);
        assert_eq!(land.matches('M').count(), land.matches('Z').count());
        // Within the map, but for the copies of rings continued past the antimeridian.
        let small = vec![line("active")];
        let svg = map(&small, "t", false);
        assert!(svg.contains("id=\"land\""));
        assert!(svg.contains("Natural Earth"));
    }

    #[test]
    fn a_city_map_zooms_to_its_partnerships() {
        // Two ties inside Europe: the view is a small part of the world, 2:1.
        let lines = vec![
            MapLine {
                a: (52_520_000, 13_400_000),
                b: (48_860_000, 2_350_000),
                status: "active".into(),
                dormant: true,
            },
            MapLine {
                a: (52_520_000, 13_400_000),
                b: (41_900_000, 12_500_000),
                status: "cut_off".into(),
                dormant: false,
            },
        ];
        let svg = map(&lines, "t", true);
        let view: Vec<f64> = svg
            .split("viewBox=\"")
            .nth(1)
            .and_then(|r| r.split('"').next())
            .map(|v| v.split(' ').map(|n| n.parse().unwrap()).collect())
            .unwrap();
        assert!(view[2] < MAP_WIDTH / 4.0, "{view:?}");
        assert!((view[2] / view[3] - 2.0).abs() < 0.01, "{view:?}");
        assert_eq!(svg.matches("<circle").count(), 4);
        assert!(svg.contains("2 partnerships"));
        // The dormant tie is dashed, and the legend says what dashes mean.
        assert_eq!(svg.matches("class=\"active dormant\"").count(), 1);
        assert!(svg.contains("dormant (no activity recorded lately)"));
    }

    #[test]
    fn projection_corners() {
        assert_eq!(to_map(-180.0, 90.0), (0.0, 0.0));
        assert_eq!(to_map(180.0, -90.0), (MAP_WIDTH, MAP_HEIGHT));
    }
}
