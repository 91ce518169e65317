//! Server-side SVG charts (plotters, SVG backend): no script, printable.

use super::Week;
use plotters::prelude::*;

/// Labels of the weekly chart, in the reader's language.
pub struct WeeklyLabels<'a> {
    pub opened: &'a str,
    pub closed: &'a str,
    pub cases: &'a str,
}

const OPENED: RGBColor = RGBColor(31, 95, 191);
const CLOSED: RGBColor = RGBColor(30, 122, 67);

/// Cases opened and closed per week as two line series; an `<svg>` element.
pub fn weekly_svg(weeks: &[Week], labels: &WeeklyLabels) -> Result<String, String> {
    let mut svg = String::new();
    {
        let root = SVGBackend::with_string(&mut svg, (760, 300)).into_drawing_area();
        root.fill(&WHITE).map_err(|e| e.to_string())?;
        let n = weeks.len().max(1) as i32;
        let top = weeks
            .iter()
            .map(|w| w.opened.max(w.closed))
            .max()
            .unwrap_or(0)
            .max(1);
        let y_max = top + (top / 10).max(1);
        let mut chart = ChartBuilder::on(&root)
            .margin(12)
            .x_label_area_size(32)
            .y_label_area_size(48)
            .build_cartesian_2d(0..(n - 1).max(1), 0i64..y_max)
            .map_err(|e| e.to_string())?;
        let label = |i: &i32| {
            usize::try_from(*i)
                .ok()
                .and_then(|i| weeks.get(i))
                .map(|w| w.week.format("%Y-%m-%d").to_string())
                .unwrap_or_default()
        };
        chart
            .configure_mesh()
            .x_labels(6)
            .y_labels(6)
            .x_label_formatter(&label)
            .y_desc(labels.cases)
            .light_line_style(WHITE)
            .draw()
            .map_err(|e| e.to_string())?;
        let series = |f: fn(&Week) -> i64| -> Vec<(i32, i64)> {
            weeks
                .iter()
                .enumerate()
                .map(|(i, w)| (i as i32, f(w)))
                .collect()
        };
        chart
            .draw_series(LineSeries::new(
                series(|w| w.opened),
                OPENED.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(labels.opened)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], OPENED.stroke_width(2)));
        chart
            .draw_series(LineSeries::new(
                series(|w| w.closed),
                CLOSED.stroke_width(2),
            ))
            .map_err(|e| e.to_string())?
            .label(labels.closed)
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 18, y)], CLOSED.stroke_width(2)));
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperRight)
            .background_style(WHITE.mix(0.9))
            .border_style(BLACK)
            .draw()
            .map_err(|e| e.to_string())?;
        root.present().map_err(|e| e.to_string())?;
    }
    Ok(svg)
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::NaiveDate;

    #[test]
    fn draws_an_svg_with_escaped_labels() {
        let weeks: Vec<Week> = (0..5)
            .map(|i| Week {
                week: NaiveDate::from_ymd_opt(2022, 6, 6).expect("date")
                    + chrono::Duration::weeks(i),
                opened: i,
                closed: 4 - i,
            })
            .collect();
        let svg = weekly_svg(
            &weeks,
            &WeeklyLabels {
                opened: "新建 <x>",
                closed: "关闭",
                cases: "案例",
            },
        )
        .expect("svg");
        assert!(svg.starts_with("<svg"), "{svg}");
        assert!(svg.contains("新建 &lt;x&gt;") && !svg.contains("<x>"));
        assert!(svg.contains("2022-06-06"));
        assert!(svg.contains("<polyline"));
    }
}
