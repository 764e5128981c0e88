//! Percentile and throughput plots (PNG and SVG) drawn with plotters.
//!
//! plotters is built without system font libraries, so the one font the
//! plots use is embedded (DejaVu Sans Mono, license next to it in `assets/`).

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::Shift;
use plotters::prelude::*;
use plotters::style::FontStyle;

use crate::report::IntervalSummary;
use crate::stats::CurvePoint;

const FONT: &[u8] = include_bytes!("../assets/DejaVuSansMono.ttf");
const FONT_NAME: &str = "sans-serif";
const SIZE: (u32, u32) = (1200, 700);
/// The percentile axis ends at 99.9999%: beyond, a run rarely has samples.
const NINES_MAX: f64 = 6.0;

fn register_font() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let registered = plotters::style::register_font(FONT_NAME, FontStyle::Normal, FONT);
        assert!(
            registered.is_ok(),
            "the embedded font is a valid TrueType file"
        );
    });
}

/// One labelled curve of a percentile plot.
pub struct Curve<'a> {
    pub label: String,
    pub points: &'a [CurvePoint],
}

/// x coordinate of a percentile: its number of nines, -log10(1 - p). The
/// 100% point (max) is drawn at the right edge of the axis.
fn nines(percentile: f64, x_max: f64) -> f64 {
    let rest = 1.0 - percentile / 100.0;
    if rest <= 0.0 {
        x_max
    } else {
        (-rest.log10()).min(x_max)
    }
}

fn nines_label(x: f64) -> String {
    match x.round() as i32 {
        0 => "0%".into(),
        1 => "90%".into(),
        2 => "99%".into(),
        n => format!("99.{}%", "9".repeat(n as usize - 2)),
    }
}

fn color(i: usize) -> RGBColor {
    const PALETTE: [RGBColor; 8] = [
        RGBColor(31, 119, 180),
        RGBColor(255, 127, 14),
        RGBColor(44, 160, 44),
        RGBColor(214, 39, 40),
        RGBColor(148, 103, 189),
        RGBColor(140, 86, 75),
        RGBColor(227, 119, 194),
        RGBColor(127, 127, 127),
    ];
    PALETTE[i % PALETTE.len()]
}

type PlotResult = Result<(), String>;
/// Reads one series (messages per interval) off an interval.
type Metered = fn(&IntervalSummary) -> u64;

fn err<E: std::fmt::Debug>(e: E) -> String {
    format!("{e:?}")
}

fn draw_percentiles<DB: DrawingBackend>(
    area: DrawingArea<DB, Shift>,
    title: &str,
    curves: &[Curve],
) -> PlotResult {
    area.fill(&WHITE).map_err(err)?;
    let finite_max = curves
        .iter()
        .flat_map(|c| c.points.iter())
        .filter(|p| p.percentile < 100.0)
        .map(|p| nines(p.percentile, NINES_MAX))
        .fold(1.0f64, f64::max);
    let x_max = (finite_max.ceil()).clamp(2.0, NINES_MAX);
    let y_max = curves
        .iter()
        .flat_map(|c| c.points.iter())
        .map(|p| p.value_us as f64 / 1000.0)
        .fold(0.001f64, f64::max)
        * 1.05;
    let mut chart = ChartBuilder::on(&area)
        .caption(title, (FONT_NAME, 24))
        .margin(20)
        .margin_right(50)
        .x_label_area_size(50)
        .y_label_area_size(80)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("percentile")
        .y_desc("latency (ms)")
        .x_labels(x_max as usize + 1)
        .x_label_formatter(&|x| {
            if (x - x.round()).abs() < 1e-6 {
                nines_label(*x)
            } else {
                String::new()
            }
        })
        .label_style((FONT_NAME, 16))
        .draw()
        .map_err(err)?;
    for (i, c) in curves.iter().enumerate() {
        let col = color(i);
        let series = c
            .points
            .iter()
            .map(|p| (nines(p.percentile, x_max), p.value_us as f64 / 1000.0));
        chart
            .draw_series(LineSeries::new(series, col.stroke_width(2)))
            .map_err(err)?
            .label(c.label.clone())
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperLeft)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT_NAME, 16))
        .draw()
        .map_err(err)?;
    area.present().map_err(err)
}

fn draw_throughput<DB: DrawingBackend>(
    area: DrawingArea<DB, Shift>,
    title: &str,
    intervals: &[IntervalSummary],
) -> PlotResult {
    area.fill(&WHITE).map_err(err)?;
    let x_max = intervals.iter().map(|i| i.second + 1).max().unwrap_or(1) as f64;
    let y_max = intervals
        .iter()
        .map(|i| i.acked_messages.max(i.consumed_messages) as f64)
        .fold(1.0f64, f64::max)
        * 1.1;
    let mut chart = ChartBuilder::on(&area)
        .caption(title, (FONT_NAME, 24))
        .margin(20)
        .x_label_area_size(50)
        .y_label_area_size(100)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("time (s)")
        .y_desc("messages/s")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FONT_NAME, 16))
        .draw()
        .map_err(err)?;
    let lines: [(&str, Metered); 2] = [
        ("produced (acked)", |i| i.acked_messages),
        ("consumed", |i| i.consumed_messages),
    ];
    for (n, (label, get)) in lines.into_iter().enumerate() {
        let col = color(n);
        let series = intervals
            .iter()
            .map(|i| (i.second as f64 + 0.5, get(i) as f64));
        chart
            .draw_series(LineSeries::new(series, col.stroke_width(2)))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
    }
    if let Some(end) = intervals
        .iter()
        .filter(|i| i.warmup)
        .map(|i| i.second + 1)
        .max()
    {
        let end = end as f64;
        chart
            .draw_series(std::iter::once(PathElement::new(
                vec![(end, 0.0), (end, y_max)],
                RED.mix(0.7),
            )))
            .map_err(err)?
            .label("end of warm-up")
            .legend(|(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], RED.mix(0.7)));
    }
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::LowerRight)
        .background_style(WHITE.mix(0.8))
        .border_style(BLACK)
        .label_font((FONT_NAME, 16))
        .draw()
        .map_err(err)?;
    area.present().map_err(err)
}

/// Writes `{stem}.png` and `{stem}.svg` with the percentile curves.
pub fn percentile_plot(
    dir: &Path,
    stem: &str,
    title: &str,
    curves: &[Curve],
) -> Result<Vec<PathBuf>, String> {
    register_font();
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    draw_percentiles(
        BitMapBackend::new(&png, SIZE).into_drawing_area(),
        title,
        curves,
    )?;
    draw_percentiles(
        SVGBackend::new(&svg, SIZE).into_drawing_area(),
        title,
        curves,
    )?;
    Ok(vec![png, svg])
}

/// Writes `{stem}.png` and `{stem}.svg` with messages/s per interval.
pub fn throughput_plot(
    dir: &Path,
    stem: &str,
    title: &str,
    intervals: &[IntervalSummary],
) -> Result<Vec<PathBuf>, String> {
    register_font();
    let png = dir.join(format!("{stem}.png"));
    let svg = dir.join(format!("{stem}.svg"));
    draw_throughput(
        BitMapBackend::new(&png, SIZE).into_drawing_area(),
        title,
        intervals,
    )?;
    draw_throughput(
        SVGBackend::new(&svg, SIZE).into_drawing_area(),
        title,
        intervals,
    )?;
    Ok(vec![png, svg])
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn percentile_axis_counts_nines() {
        assert_eq!(nines(0.0, 6.0), 0.0);
        assert!((nines(90.0, 6.0) - 1.0).abs() < 1e-9);
        assert!((nines(99.9, 6.0) - 3.0).abs() < 1e-9);
        assert_eq!(nines(100.0, 5.0), 5.0);
        assert_eq!(nines_label(3.0), "99.9%");
        assert_eq!(nines_label(1.0), "90%");
    }

    #[test]
    fn plots_are_written_as_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let points: Vec<CurvePoint> = [
            (0.0, 100),
            (50.0, 200),
            (99.0, 900),
            (99.9, 5_000),
            (100.0, 9_000),
        ]
        .into_iter()
        .map(|(percentile, value_us)| CurvePoint {
            percentile,
            value_us,
        })
        .collect();
        let files = percentile_plot(
            dir.path(),
            "p",
            "t",
            &[Curve {
                label: "run".into(),
                points: &points,
            }],
        )
        .unwrap();
        let intervals: Vec<IntervalSummary> = (0..5)
            .map(|s| IntervalSummary {
                second: s,
                warmup: s == 0,
                acked_messages: 100 * s,
                consumed_messages: 90 * s,
                ..Default::default()
            })
            .collect();
        let more = throughput_plot(dir.path(), "t", "t", &intervals).unwrap();
        for (f, want) in files
            .iter()
            .map(|f| (f, "99.9%"))
            .chain(more.iter().map(|f| (f, "messages/s")))
        {
            let bytes = std::fs::read(f).unwrap();
            if f.extension().unwrap() == "png" {
                assert_eq!(&bytes[..8], b"\x89PNG\r\n\x1a\n");
            } else {
                let text = String::from_utf8(bytes).unwrap();
                assert!(
                    text.starts_with("<svg") && text.contains(want),
                    "{} lacks {want}",
                    f.display()
                );
            }
        }
    }
}
