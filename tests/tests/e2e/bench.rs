//! `sluice-bench` against the real broker: outputs, counts cross-checked
//! with the broker's own end offsets (through kcat), and the ways a run can
//! end badly (nothing listening, a silent broker, a broker killed mid-run,
//! Ctrl-C) all end quickly with a clear report.

use std::net::TcpListener;
use std::path::Path;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

use tests::{binary, finish, free_port, kcat, Broker, BrokerOptions};

fn bench() -> Command {
    let mut c = Command::new(binary("sluice-bench"));
    c.stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    c
}

/// [`finish`], then fails the test unless the run exited 0; its stdout.
fn finish_ok(child: Child, timeout: Duration) -> String {
    let (result, _) = finish(child, timeout);
    let (stdout, stderr) = text(&result);
    assert!(
        result.status.success(),
        "exit {}\nstdout:\n{stdout}\nstderr:\n{stderr}",
        result.status
    );
    stdout
}

fn text(out: &Output) -> (String, String) {
    (
        String::from_utf8_lossy(&out.stdout).into_owned(),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The `"field": N` number of the first occurrence of `field` in the
/// summary JSON (the first is the whole-run `counts` object).
fn json_number(json: &str, field: &str) -> u64 {
    let key = format!("\"{field}\": ");
    let at = json
        .find(&key)
        .unwrap_or_else(|| panic!("{field} missing in summary:\n{json}"))
        + key.len();
    json[at..]
        .chars()
        .take_while(|c| c.is_ascii_digit())
        .collect::<String>()
        .parse()
        .unwrap()
}

/// Sum of the end offsets of `topic`'s partitions, as the broker reports
/// them to kcat (ListOffsets with the latest timestamp).
fn end_offsets(broker: &Broker, topic: &str, partitions: u32) -> u64 {
    let mut args: Vec<String> = vec!["-Q".into()];
    for p in 0..partitions {
        args.push("-t".into());
        args.push(format!("{topic}:{p}:-1"));
    }
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let out = kcat(broker, &args, b"");
    let stdout = String::from_utf8_lossy(&out.stdout);
    let offsets: Vec<u64> = stdout
        .lines()
        .filter_map(|l| {
            l.rsplit_once(" offset ")
                .and_then(|(_, n)| n.trim().parse().ok())
        })
        .collect();
    assert_eq!(
        offsets.len(),
        partitions as usize,
        "kcat -Q output:\n{stdout}"
    );
    offsets.iter().sum()
}

fn assert_files(dir: &Path, names: &[&str]) {
    for n in names {
        let p = dir.join(n);
        let len = std::fs::metadata(&p).map(|m| m.len()).unwrap_or(0);
        assert!(len > 0, "{} missing or empty", p.display());
    }
}

#[test]
fn bench_run_writes_every_output_and_its_counts_match_the_broker() {
    let broker = Broker::start(BrokerOptions::default());
    let out = tempfile::tempdir().unwrap();
    let child = bench()
        .args([
            "--bootstrap",
            &broker.bootstrap(),
            "--topic-prefix",
            "bench-e2e",
            "--partitions",
            "3",
        ])
        .args([
            "--producers",
            "1",
            "--consumers",
            "2",
            "--consumer-groups",
            "2",
            "--consumer-assignment",
            "group",
            "--keys",
            "random",
            "--messages",
            "3000",
            "--warmup",
            "0",
        ])
        .args([
            "--message-size",
            "uniform:100-2000",
            "--compression",
            "lz4",
            "--label",
            "e2e",
            "--stall-timeout",
            "20",
        ])
        .arg("--out")
        .arg(out.path())
        .spawn()
        .unwrap();
    let stdout = finish_ok(child, Duration::from_secs(120));

    // The table: every percentile column and every measured latency.
    for want in [
        "p50",
        "p90",
        "p99",
        "p99.9",
        "p99.99",
        "max",
        "mean",
        "count",
        "produce ",
        "end-to-end",
        "outcome: completed",
    ] {
        assert!(stdout.contains(want), "table lacks {want:?}:\n{stdout}");
    }
    assert_files(
        out.path(),
        &[
            "produce.hgrm",
            "produce-request.hgrm",
            "end-to-end.hgrm",
            "latency.hlog",
            "summary.json",
            "latency.png",
            "latency.svg",
            "throughput.png",
            "throughput.svg",
        ],
    );
    // .hgrm files end with the standard footer, counting every message.
    let hgrm = std::fs::read_to_string(out.path().join("end-to-end.hgrm")).unwrap();
    assert!(
        hgrm.starts_with("       Value     Percentile TotalCount 1/(1-Percentile)"),
        "{hgrm}"
    );
    assert!(hgrm.contains("Total count    =         6000]"), "{hgrm}");

    // Produced == acknowledged == what the broker holds, and each of the two
    // consumer groups (two members each, partitions assigned by the broker's
    // group coordinator) read every message once.
    let summary = std::fs::read_to_string(out.path().join("summary.json")).unwrap();
    assert_eq!(json_number(&summary, "sent_messages"), 3000);
    assert_eq!(json_number(&summary, "acked_messages"), 3000);
    assert_eq!(json_number(&summary, "consumed_messages"), 6000);
    assert_eq!(json_number(&summary, "failed_messages"), 0);
    assert_eq!(end_offsets(&broker, "bench-e2e-0", 3), 3000);
}

#[test]
fn bench_open_loop_idempotent_zstd_run_holds_its_rate_and_counts_match() {
    let broker = Broker::start(BrokerOptions::default());
    let out = tempfile::tempdir().unwrap();
    let child = bench()
        .args([
            "--bootstrap",
            &broker.bootstrap(),
            "--topic-prefix",
            "bench-open",
            "--partitions",
            "2",
        ])
        .args([
            "--rate",
            "1000",
            "--duration",
            "2",
            "--warmup",
            "1",
            "--idempotent",
            "true",
            "--acks",
            "all",
        ])
        .args([
            "--compression",
            "zstd",
            "--message-size",
            "512",
            "--stall-timeout",
            "20",
        ])
        .arg("--out")
        .arg(out.path())
        .spawn()
        .unwrap();
    let stdout = finish_ok(child, Duration::from_secs(120));
    assert!(stdout.contains("open loop at 1000msg/s"), "{stdout}");
    let summary = std::fs::read_to_string(out.path().join("summary.json")).unwrap();
    let acked = json_number(&summary, "acked_messages");
    // Three seconds (warm-up included) at 1000 msg/s: every message due was
    // either sent (and acknowledged) or, if this machine could not keep up,
    // reported as never sent.
    assert!(acked > 0, "{stdout}");
    assert_eq!(json_number(&summary, "sent_messages"), acked);
    assert_eq!(
        acked + json_number(&summary, "missed_messages"),
        3000,
        "{stdout}"
    );
    assert_eq!(json_number(&summary, "consumed_messages"), acked);
    assert_eq!(json_number(&summary, "failed_messages"), 0);
    assert_eq!(end_offsets(&broker, "bench-open-0", 2), acked);
}

#[test]
fn bench_against_a_closed_port_fails_fast_with_the_address() {
    let addr = format!("127.0.0.1:{}", free_port());
    let child = bench()
        .args(["--bootstrap", &addr, "--messages", "10"])
        .spawn()
        .unwrap();
    let (result, elapsed) = finish(child, Duration::from_secs(10));
    let (_, stderr) = text(&result);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("cannot connect") && stderr.contains(&addr),
        "{stderr}"
    );
    assert!(elapsed < Duration::from_secs(2), "took {elapsed:?}");
}

#[test]
fn bench_against_a_silent_listener_ends_with_a_timeout_not_a_hang() {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap().to_string();
    // Accepts (the kernel completes the handshake) but never answers.
    let child = bench()
        .args([
            "--bootstrap",
            &addr,
            "--messages",
            "10",
            "--stall-timeout",
            "2",
        ])
        .spawn()
        .unwrap();
    let (result, elapsed) = finish(child, Duration::from_secs(15));
    let (_, stderr) = text(&result);
    assert_eq!(result.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("no response to ApiVersions") && stderr.contains(&addr),
        "{stderr}"
    );
    assert!(elapsed < Duration::from_secs(6), "took {elapsed:?}");
    drop(listener);
}

/// Starts a long run and waits until it reports its first interval.
fn start_long_run(broker: &Broker, out: &Path, prefix: &str) -> Child {
    let child = bench()
        .args([
            "--bootstrap",
            &broker.bootstrap(),
            "--topic-prefix",
            prefix,
            "--rate",
            "500",
        ])
        .args(["--duration", "60", "--warmup", "0", "--stall-timeout", "3"])
        // Static assignment starts consuming at once (no group join delay).
        .args(["--consumer-assignment", "static"])
        .arg("--out")
        .arg(out)
        .spawn()
        .unwrap();
    // The interval log appears with the first interval, after set-up.
    let deadline = Instant::now() + Duration::from_secs(60);
    while !out.join("latency.hlog").exists() {
        assert!(
            Instant::now() < deadline,
            "the run did not start within 60 s"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    std::thread::sleep(Duration::from_millis(1500));
    child
}

#[test]
fn bench_reports_a_stall_when_the_broker_dies_mid_run() {
    let mut broker = Broker::start(BrokerOptions::default());
    let out = tempfile::tempdir().unwrap();
    let child = start_long_run(&broker, out.path(), "bench-dies");
    broker.kill9();
    let (result, elapsed) = finish(child, Duration::from_secs(40));
    let (stdout, stderr) = text(&result);
    assert_eq!(
        result.status.code(),
        Some(1),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(stdout.contains("STALLED"), "{stdout}");
    assert!(elapsed < Duration::from_secs(30), "took {elapsed:?}");
    // Partial results are still written.
    let summary = std::fs::read_to_string(out.path().join("summary.json")).unwrap();
    assert!(summary.contains("\"kind\": \"stalled\""), "{summary}");
    assert!(json_number(&summary, "acked_messages") > 0);
}

#[test]
fn bench_prints_partial_results_on_ctrl_c() {
    let broker = Broker::start(BrokerOptions::default());
    let out = tempfile::tempdir().unwrap();
    let child = start_long_run(&broker, out.path(), "bench-int");
    let status = Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .unwrap();
    assert!(status.success());
    let (result, elapsed) = finish(child, Duration::from_secs(30));
    let (stdout, stderr) = text(&result);
    assert_eq!(
        result.status.code(),
        Some(130),
        "stdout:\n{stdout}\nstderr:\n{stderr}"
    );
    assert!(
        stdout.contains("INTERRUPTED (partial results)") && stdout.contains("p99.99"),
        "{stdout}"
    );
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    let summary = std::fs::read_to_string(out.path().join("summary.json")).unwrap();
    assert!(summary.contains("\"kind\": \"interrupted\""), "{summary}");
    let acked = json_number(&summary, "acked_messages");
    assert!(acked > 0);
    assert_eq!(end_offsets(&broker, "bench-int-0", 1), acked);
}
