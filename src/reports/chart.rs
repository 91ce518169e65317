//! Server-side SVG charts: no script, printable, readable.
//!
//! Drawn by hand (a few dozen elements) rather than through a plotting crate, so that
//! every point carries a `<title>` tooltip and a link to the cases behind it, the text
//! is at body size (the SVG scales to the page's width, its text with it: a 1000-unit
//! wide chart at 14 units is body text on a laptop screen), and each series differs by
//! colour (Okabe–Ito, safe for colour blindness), dash pattern and marker shape, so it
//! survives greyscale printing.

use std::fmt::Write;

/// How a series looks: colour, dash pattern, marker.
#[derive(Debug, Clone, Copy)]
pub struct Style {
    pub colour: &'static str,
    /// SVG `stroke-dasharray`, empty for a solid line.
    pub dash: &'static str,
    pub marker: Marker,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Marker {
    Circle,
    Square,
    Triangle,
}

/// Okabe–Ito blue, vermillion and black, each with its own line and marker.
pub const STYLES: [Style; 3] = [
    Style {
        colour: "#0072B2",
        dash: "",
        marker: Marker::Circle,
    },
    Style {
        colour: "#D55E00",
        dash: "8 4",
        marker: Marker::Square,
    },
    Style {
        colour: "#000000",
        dash: "2 3",
        marker: Marker::Triangle,
    },
];

/// One line: its label, values (one per x position) and per-point links.
pub struct Series<'a> {
    pub label: &'a str,
    pub values: Vec<i64>,
    /// The cases behind each point (empty: no link).
    pub links: Vec<String>,
    pub style: Style,
}

/// Escapes text for SVG content and attribute values.
pub fn esc(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

/// A "nice" step (1, 2 or 5 times a power of ten) for about `ticks` intervals.
fn nice_step(max: i64, ticks: i64) -> i64 {
    let raw = (max.max(1) as f64 / ticks as f64).max(1.0);
    let mag = 10f64.powf(raw.log10().floor());
    let step = [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * mag)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * mag);
    step.round().max(1.0) as i64
}

const W: f64 = 1000.0;
const H: f64 = 340.0;
const LEFT: f64 = 64.0;
const RIGHT: f64 = 16.0;
const TOP: f64 = 44.0;
const BOTTOM: f64 = 48.0;
const FONT: f64 = 14.0;

fn marker(out: &mut String, m: Marker, x: f64, y: f64, colour: &str) {
    let _ = match m {
        Marker::Circle => write!(
            out,
            r#"<circle cx="{x:.1}" cy="{y:.1}" r="4" fill="{colour}"/>"#
        ),
        Marker::Square => write!(
            out,
            r#"<rect x="{:.1}" y="{:.1}" width="8" height="8" fill="{colour}"/>"#,
            x - 4.0,
            y - 4.0
        ),
        Marker::Triangle => write!(
            out,
            r#"<path d="M{:.1} {:.1}L{:.1} {:.1}L{:.1} {:.1}Z" fill="{colour}"/>"#,
            x,
            y - 5.0,
            x + 5.0,
            y + 4.0,
            x - 5.0,
            y + 4.0
        ),
    };
}

/// A line chart over labelled x positions (e.g. weeks). `title` names the chart for
/// screen readers; each point's tooltip is "x label — series: value".
pub fn lines(title: &str, x_labels: &[String], series: &[Series], y_title: &str) -> String {
    let n = x_labels.len().max(1);
    let top = series
        .iter()
        .flat_map(|s| s.values.iter().copied())
        .max()
        .unwrap_or(0)
        .max(1);
    let step = nice_step(top, 5);
    let y_max = (top + step - 1) / step * step;
    let (pw, ph) = (W - LEFT - RIGHT, H - TOP - BOTTOM);
    let x = |i: usize| {
        if n == 1 {
            LEFT + pw / 2.0
        } else {
            LEFT + pw * i as f64 / (n - 1) as f64
        }
    };
    let y = |v: i64| TOP + ph - ph * v as f64 / y_max as f64;

    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {H}" width="100%" role="img" aria-label="{t}" font-family="system-ui, 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', sans-serif" font-size="{FONT}"><title>{t}</title>"#,
        t = esc(title)
    );
    // Grid and y axis.
    let mut v = 0;
    while v <= y_max {
        let yy = y(v);
        let _ = write!(
            o,
            r##"<line x1="{LEFT}" y1="{yy:.1}" x2="{:.1}" y2="{yy:.1}" stroke="#ccc" stroke-width="1"/><text x="{:.1}" y="{:.1}" text-anchor="end" fill="#222">{v}</text>"##,
            W - RIGHT,
            LEFT - 8.0,
            yy + FONT / 3.0
        );
        v += step;
    }
    let _ = write!(
        o,
        r##"<text x="16" y="{:.1}" transform="rotate(-90 16 {:.1})" text-anchor="middle" fill="#222">{}</text>"##,
        TOP + ph / 2.0,
        TOP + ph / 2.0,
        esc(y_title)
    );
    // X labels: at most 8, evenly spread, the last one always.
    let every = n.div_ceil(8).max(1);
    for (i, l) in x_labels.iter().enumerate() {
        // Every `every`-th label, and the last when it is not crowded by the one before.
        let last_alone = i + 1 == n && (n - 1) % every >= every.div_ceil(2);
        if i % every == 0 || last_alone {
            let _ = write!(
                o,
                r##"<text x="{:.1}" y="{:.1}" text-anchor="middle" fill="#222">{}</text>"##,
                x(i),
                H - BOTTOM + FONT + 10.0,
                esc(l)
            );
        }
    }
    let _ = write!(
        o,
        r##"<line x1="{LEFT}" y1="{:.1}" x2="{:.1}" y2="{:.1}" stroke="#222"/>"##,
        TOP + ph,
        W - RIGHT,
        TOP + ph
    );
    // Series: the line, then a marker per point with its tooltip and link.
    for s in series {
        let pts: Vec<String> = s
            .values
            .iter()
            .enumerate()
            .map(|(i, v)| format!("{:.1},{:.1}", x(i), y(*v)))
            .collect();
        let _ = write!(
            o,
            r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2.5" stroke-dasharray="{}"/>"#,
            pts.join(" "),
            s.style.colour,
            s.style.dash
        );
        for (i, v) in s.values.iter().enumerate() {
            let tip = format!(
                "{} — {}: {v}",
                x_labels.get(i).map(String::as_str).unwrap_or(""),
                s.label
            );
            let link = s.links.get(i).filter(|l| !l.is_empty());
            if let Some(l) = link {
                let _ = write!(o, r#"<a href="{}">"#, esc(l));
            }
            let _ = write!(o, "<g><title>{}</title>", esc(&tip));
            marker(&mut o, s.style.marker, x(i), y(*v), s.style.colour);
            o.push_str("</g>");
            if link.is_some() {
                o.push_str("</a>");
            }
        }
    }
    // Legend across the top: marker, line sample and label.
    let mut lx = LEFT;
    for s in series {
        let ly = 20.0;
        let _ = write!(
            o,
            r#"<line x1="{lx:.1}" y1="{ly}" x2="{:.1}" y2="{ly}" stroke="{}" stroke-width="2.5" stroke-dasharray="{}"/>"#,
            lx + 28.0,
            s.style.colour,
            s.style.dash
        );
        marker(&mut o, s.style.marker, lx + 14.0, ly, s.style.colour);
        let _ = write!(
            o,
            r##"<text x="{:.1}" y="{:.1}" fill="#222">{}</text>"##,
            lx + 36.0,
            ly + FONT / 3.0,
            esc(s.label)
        );
        lx += 60.0 + FONT * s.label.chars().count() as f64;
    }
    o.push_str("</svg>");
    o
}

/// One horizontal bar: label, share (0–1, None: nothing to judge), tooltip, link.
pub struct Bar<'a> {
    pub label: &'a str,
    pub share: Option<f64>,
    pub tip: String,
    pub link: String,
}

/// Horizontal bars of shares (0–100 %), with the value written beside each bar.
pub fn shares(title: &str, bars: &[Bar]) -> String {
    // Narrower than the line chart: it sits in a card, and its text must stay readable.
    const W: f64 = 520.0;
    let row = 34.0;
    let (left, right) = (96.0, 64.0);
    let h = 30.0 + row * bars.len() as f64 + 30.0;
    let pw = W - left - right;
    let mut o = String::new();
    let _ = write!(
        o,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {W} {h}" width="100%" role="img" aria-label="{t}" font-family="system-ui, 'Noto Sans CJK SC', 'WenQuanYi Micro Hei', sans-serif" font-size="{FONT}"><title>{t}</title>"#,
        t = esc(title)
    );
    for pct in [0, 25, 50, 75, 100] {
        let xx = left + pw * f64::from(pct) / 100.0;
        let _ = write!(
            o,
            r##"<line x1="{xx:.1}" y1="20" x2="{xx:.1}" y2="{:.1}" stroke="#ccc"/><text x="{xx:.1}" y="{:.1}" text-anchor="middle" fill="#222">{pct}%</text>"##,
            h - 26.0,
            h - 8.0
        );
    }
    for (i, b) in bars.iter().enumerate() {
        let yy = 24.0 + row * i as f64;
        let _ = write!(
            o,
            r##"<text x="{:.1}" y="{:.1}" text-anchor="end" fill="#222">{}</text>"##,
            left - 10.0,
            yy + row / 2.0 + FONT / 3.0 - 2.0,
            esc(b.label)
        );
        if !b.link.is_empty() {
            let _ = write!(o, r#"<a href="{}">"#, esc(&b.link));
        }
        let share = b.share.unwrap_or(0.0).clamp(0.0, 1.0);
        let _ = write!(
            o,
            r##"<g><title>{}</title><rect x="{left}" y="{yy:.1}" width="{:.1}" height="{:.1}" fill="#0072B2" stroke="#000" stroke-width="1"/></g>"##,
            esc(&b.tip),
            (pw * share).max(1.0),
            row - 10.0
        );
        if !b.link.is_empty() {
            o.push_str("</a>");
        }
        let label = b
            .share
            .map(|s| format!("{:.1}%", s * 100.0))
            .unwrap_or_else(|| "—".into());
        let _ = write!(
            o,
            r##"<text x="{:.1}" y="{:.1}" fill="#222">{label}</text>"##,
            left + pw * share + 8.0,
            yy + row / 2.0 + FONT / 3.0 - 2.0
        );
    }
    o.push_str("</svg>");
    o
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_line_chart_has_axes_legend_tooltips_and_links() {
        let labels: Vec<String> = (1..=5).map(|i| format!("2022-06-0{i}")).collect();
        let svg = lines(
            "每周 <x>",
            &labels,
            &[
                Series {
                    label: "新建 <x>",
                    values: vec![0, 1, 2, 3, 4],
                    links: (0..5).map(|i| format!("/cases?w={i}&a=1")).collect(),
                    style: STYLES[0],
                },
                Series {
                    label: "关闭",
                    values: vec![4, 3, 2, 1, 0],
                    links: vec![],
                    style: STYLES[1],
                },
            ],
            "案例",
        );
        assert!(svg.starts_with("<svg") && svg.ends_with("</svg>"));
        assert!(svg.contains("新建 &lt;x&gt;") && !svg.contains("<x>"));
        assert!(
            svg.contains("<title>2022-06-03 — 新建 &lt;x&gt;: 2</title>"),
            "{svg}"
        );
        assert!(svg.contains(r#"<a href="/cases?w=2&amp;a=1">"#));
        assert_eq!(svg.matches("<polyline").count(), 2);
        assert!(svg.contains("2022-06-01") && svg.contains("2022-06-05"));
        assert!(svg.contains(">案例</text>"));
        assert!(svg.contains("font-size=\"14\""));
    }

    #[test]
    fn bars_show_their_share() {
        let svg = shares(
            "SLA",
            &[
                Bar {
                    label: "紧急",
                    share: Some(0.5),
                    tip: "1 / 2".into(),
                    link: "/cases?sla=met".into(),
                },
                Bar {
                    label: "低",
                    share: None,
                    tip: "0".into(),
                    link: String::new(),
                },
            ],
        );
        assert!(svg.contains(">50.0%</text>") && svg.contains(">—</text>"));
        assert!(svg.contains("<title>1 / 2</title>"));
    }

    #[test]
    fn steps_are_round() {
        assert_eq!(nice_step(7, 5), 2);
        assert_eq!(nice_step(100, 5), 20);
        assert_eq!(nice_step(0, 5), 1);
        assert_eq!(nice_step(4321, 5), 1000);
    }
}
