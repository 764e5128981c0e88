//! The timeline plot (`timeline.png` and `.svg`): throughput above, send
//! latency below, on one time axis, with every fault window shaded and
//! named in both, so that what a fault did to the workload is visible at a
//! glance.
//!
//! plotters is built without system font libraries; the font is the one
//! `sluice-bench` ships (DejaVu Sans Mono, its license beside it in
//! `bench/assets/`), included from there rather than copied.

use std::path::{Path, PathBuf};
use std::sync::Once;

use plotters::coord::{CoordTranslate, Shift};
use plotters::prelude::*;
use plotters::style::FontStyle;

use super::error::CheckError;
use super::faults::FaultKind;
use super::history::Fault;
use super::report::{Second, Timeline};

const FONT: &[u8] = include_bytes!("../../../bench/assets/DejaVuSansMono.ttf");
const FONT_NAME: &str = "sans-serif";
const SIZE: (u32, u32) = (1400, 900);
/// Lowest latency on the log axis (ms): loopback round trips sit above it.
const LATENCY_FLOOR_MS: f64 = 0.1;

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

fn fault_color(kind: &str) -> RGBColor {
    const PALETTE: [RGBColor; 9] = [
        RGBColor(214, 39, 40),
        RGBColor(255, 127, 14),
        RGBColor(140, 86, 75),
        RGBColor(148, 103, 189),
        RGBColor(227, 119, 194),
        RGBColor(188, 189, 34),
        RGBColor(23, 190, 207),
        RGBColor(127, 127, 127),
        RGBColor(31, 119, 180),
    ];
    let i = FaultKind::ALL
        .iter()
        .position(|k| k.name() == kind)
        .unwrap_or(PALETTE.len() - 1);
    PALETTE[i % PALETTE.len()]
}

type Series = (&'static str, RGBColor, fn(&Second) -> f64);

fn draw<DB: DrawingBackend>(
    area: DrawingArea<DB, Shift>,
    title: &str,
    t: &Timeline,
) -> Result<(), String>
where
    DB::ErrorType: 'static,
{
    let err = |e: DrawingAreaErrorKind<DB::ErrorType>| format!("{e:?}");
    area.fill(&WHITE).map_err(err)?;
    let area = area.titled(title, (FONT_NAME, 24)).map_err(err)?;
    let (top, bottom) = area.split_vertically(SIZE.1 / 2);
    let fault_end_s = t
        .faults
        .iter()
        .map(|f| f.end_us as f64 / 1e6)
        .fold(0.0, f64::max);
    let x_max = (t.seconds.len() as f64).max(fault_end_s).max(1.0);

    let throughput: [Series; 3] = [
        ("values acknowledged/s", RGBColor(31, 119, 180), |s| {
            s.values_acknowledged as f64
        }),
        ("records read/s", RGBColor(44, 160, 44), |s| {
            s.records_read as f64
        }),
        ("sends failed or unknown/s", RGBColor(214, 39, 40), |s| {
            s.sends_not_ok as f64
        }),
    ];
    let y_max = t
        .seconds
        .iter()
        .flat_map(|s| throughput.iter().map(move |(_, _, get)| get(s)))
        .fold(1.0, f64::max)
        * 1.15;
    let mut chart = ChartBuilder::on(&top)
        .margin(15)
        .x_label_area_size(35)
        .y_label_area_size(90)
        .build_cartesian_2d(0.0..x_max, 0.0..y_max)
        .map_err(err)?;
    chart
        .configure_mesh()
        .y_desc("per second")
        .y_label_formatter(&|y| format!("{y:.0}"))
        .label_style((FONT_NAME, 15))
        .draw()
        .map_err(err)?;
    shade_faults(&mut chart, &t.faults, (0.0, y_max), true).map_err(err)?;
    for (label, col, get) in throughput {
        let points = t
            .seconds
            .iter()
            .enumerate()
            .map(|(i, s)| (i as f64 + 0.5, get(s)));
        chart
            .draw_series(LineSeries::new(points, col.stroke_width(2)))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], col.stroke_width(2)));
    }
    legend(&mut chart).map_err(err)?;

    let latency: [Series; 3] = [
        ("send p50", RGBColor(31, 119, 180), |s| s.latency.p50_ms),
        ("send p99", RGBColor(255, 127, 14), |s| s.latency.p99_ms),
        ("send max", RGBColor(214, 39, 40), |s| s.latency.max_ms),
    ];
    let l_max = t
        .seconds
        .iter()
        .map(|s| s.latency.max_ms)
        .fold(1.0, f64::max)
        * 1.5;
    let mut chart = ChartBuilder::on(&bottom)
        .margin(15)
        .x_label_area_size(45)
        .y_label_area_size(90)
        .build_cartesian_2d(0.0..x_max, (LATENCY_FLOOR_MS..l_max).log_scale())
        .map_err(err)?;
    chart
        .configure_mesh()
        .x_desc("time since the run started (s)")
        .y_desc("latency (ms, log)")
        .label_style((FONT_NAME, 15))
        .draw()
        .map_err(err)?;
    shade_faults(&mut chart, &t.faults, (LATENCY_FLOOR_MS, l_max), false).map_err(err)?;
    for (label, col, get) in latency {
        // Seconds without acknowledgements have no latency: break the line.
        let points: Vec<(f64, f64)> = t
            .seconds
            .iter()
            .enumerate()
            .filter(|(_, s)| s.latency.count > 0)
            .map(|(i, s)| (i as f64 + 0.5, get(s).max(LATENCY_FLOOR_MS)))
            .collect();
        chart
            .draw_series(points.iter().map(|&p| Circle::new(p, 2, col.filled())))
            .map_err(err)?
            .label(label)
            .legend(move |(x, y)| Circle::new((x + 10, y), 3, col.filled()));
    }
    legend(&mut chart).map_err(err)?;
    area.present().map_err(err)
}

/// Shades every fault window from `y.0` to `y.1`, naming it if `named`.
fn shade_faults<DB: DrawingBackend, CT: CoordTranslate<From = (f64, f64)>>(
    chart: &mut ChartContext<'_, DB, CT>,
    faults: &[Fault],
    y: (f64, f64),
    named: bool,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    for f in faults {
        let (x0, x1) = window(f.start_us, f.end_us);
        let col = fault_color(&f.kind);
        chart.draw_series(std::iter::once(Rectangle::new(
            [(x0, y.0), (x1, y.1)],
            col.mix(0.18).filled(),
        )))?;
        if named {
            chart.draw_series(std::iter::once(Text::new(
                f.kind.clone(),
                (x0, y.1 * 0.97),
                (FONT_NAME, 13).into_font().color(&col),
            )))?;
        }
    }
    Ok(())
}

fn legend<'a, DB: DrawingBackend + 'a, CT: CoordTranslate>(
    chart: &mut ChartContext<'a, DB, CT>,
) -> Result<(), DrawingAreaErrorKind<DB::ErrorType>> {
    chart
        .configure_series_labels()
        .position(SeriesLabelPosition::UpperRight)
        .background_style(WHITE.mix(0.85))
        .border_style(BLACK)
        .label_font((FONT_NAME, 14))
        .draw()
}

/// A fault window in seconds; an instant fault gets a visible sliver.
fn window(start_us: u64, end_us: u64) -> (f64, f64) {
    let (x0, x1) = (start_us as f64 / 1e6, end_us as f64 / 1e6);
    (x0, x1.max(x0 + 0.1))
}

/// Writes `timeline.png` and `timeline.svg` into `dir`.
pub fn timeline_plot(dir: &Path, title: &str, t: &Timeline) -> Result<Vec<PathBuf>, CheckError> {
    register_font();
    let png = dir.join("timeline.png");
    let svg = dir.join("timeline.svg");
    draw(BitMapBackend::new(&png, SIZE).into_drawing_area(), title, t)
        .map_err(CheckError::Report)?;
    draw(SVGBackend::new(&svg, SIZE).into_drawing_area(), title, t).map_err(CheckError::Report)?;
    Ok(vec![png, svg])
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::report::Latency;

    #[test]
    fn the_timeline_is_written_with_its_faults_named() {
        let dir = tempfile::tempdir().unwrap();
        let seconds: Vec<Second> = (0..10)
            .map(|i| Second {
                values_acknowledged: 100 * i,
                records_read: 90 * i,
                sends_not_ok: u64::from(i == 4),
                latency: Latency {
                    count: u64::from(i != 5),
                    p50_ms: 2.0,
                    p99_ms: 20.0,
                    p999_ms: 30.0,
                    max_ms: 40.0 * i as f64,
                },
            })
            .collect();
        let faults = vec![Fault {
            kind: "pause".into(),
            node: Some(0),
            start_us: 3_000_000,
            end_us: 5_000_000,
            detail: String::new(),
        }];
        let files = timeline_plot(dir.path(), "run", &Timeline { seconds, faults }).unwrap();
        let png = std::fs::read(&files[0]).unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
        let svg = std::fs::read_to_string(&files[1]).unwrap();
        assert!(svg.contains("pause") && svg.contains("send p99"), "{svg}");
        // An empty run still draws.
        timeline_plot(dir.path(), "empty", &Timeline::default()).unwrap();
    }
}
