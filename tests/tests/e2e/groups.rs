//! Consumer groups against real clients on a two-shard broker: a
//! confluent-kafka group that loses a member and survives a broker restart,
//! kafka-python with the roundrobin assignor and manual commits, kcat's
//! balanced consumer, cooperative-sticky rebalancing and static membership.
//!
//! Consumers print one line per committed message (`MSG partition offset
//! value`, see `tests/python/groups_confluent.py`), so the lines of all
//! members together say exactly what the group consumed and committed.

use std::collections::{BTreeMap, BTreeSet};
use std::process::Command;
use std::time::{Duration, Instant};

use tests::{kcat, python, workspace_dir, Broker, BrokerOptions, Streaming};

/// Short sessions and no initial rebalance delay keep the tests fast; the
/// clients ask for 3 s sessions (6 s for the static members).
const GROUPS_TOML: &str =
    "[groups]\nsession_timeout_min_ms = 500\ninitial_rebalance_delay_ms = 0\n";

fn broker() -> Broker {
    Broker::start(BrokerOptions {
        shards: 2,
        config_toml: GROUPS_TOML.to_string(),
        ..Default::default()
    })
}

fn produce(broker: &Broker, topic: &str, partitions: usize, first: usize, count: usize) {
    let out = python(
        "groups_confluent.py",
        &[
            "produce",
            &broker.bootstrap(),
            topic,
            &partitions.to_string(),
            &first.to_string(),
            &count.to_string(),
        ],
    );
    assert!(String::from_utf8_lossy(&out.stdout).contains(&format!("PRODUCED {count}")));
}

/// One `groups_confluent.py consume` process and the lines it printed.
struct Member {
    process: Option<Streaming>,
    lines: Vec<String>,
}

impl Member {
    fn start(broker: &Broker, topic: &str, group: &str, extra: &[&str]) -> Member {
        let mut command = Command::new("python3");
        command
            .arg(workspace_dir().join("tests/python/groups_confluent.py"))
            .args(["consume", &broker.bootstrap(), topic, group])
            .args(extra)
            .env("PYTHONUNBUFFERED", "1");
        Member {
            process: Some(Streaming::spawn(&mut command)),
            lines: Vec::new(),
        }
    }

    fn pump(&mut self) {
        if let Some(process) = self.process.as_mut() {
            process.collect(&mut self.lines, usize::MAX, Duration::from_millis(20));
        }
    }

    /// SIGKILL: no LeaveGroup, no final commit.
    fn kill(&mut self) {
        self.pump();
        if let Some(process) = self.process.take() {
            process.kill();
        }
    }

    /// (partition, offset) of every committed message.
    fn consumed(&self) -> Vec<(i32, i64)> {
        self.lines
            .iter()
            .filter_map(|l| l.strip_prefix("MSG "))
            .map(|rest| {
                let mut parts = rest.split(' ');
                let partition = parts.next().unwrap().parse().unwrap();
                let offset = parts.next().unwrap().parse().unwrap();
                (partition, offset)
            })
            .collect()
    }

    /// The partitions assigned after the last rebalance (eager protocol: a
    /// revoke empties the assignment, an assign replaces it).
    fn assignment(&self) -> BTreeSet<i32> {
        let mut current = BTreeSet::new();
        for line in &self.lines {
            if let Some(ps) = line.strip_prefix("ASSIGN") {
                current = parse_partitions(ps);
            } else if line.starts_with("REVOKE") {
                current.clear();
            }
        }
        current
    }

    fn rebalance_events(&self) -> usize {
        self.lines
            .iter()
            .filter(|l| l.starts_with("ASSIGN") || l.starts_with("REVOKE"))
            .count()
    }
}

fn parse_partitions(text: &str) -> BTreeSet<i32> {
    text.trim()
        .split(',')
        .filter(|s| !s.is_empty())
        .map(|s| s.parse().unwrap())
        .collect()
}

/// Pumps every member until `done` holds, failing after `timeout`.
fn wait_for(
    members: &mut [&mut Member],
    timeout: Duration,
    what: &str,
    done: impl Fn(&[&mut Member]) -> bool,
) {
    let deadline = Instant::now() + timeout;
    loop {
        for member in members.iter_mut() {
            member.pump();
        }
        if done(members) {
            return;
        }
        if Instant::now() > deadline {
            let dump: Vec<String> = members
                .iter()
                .enumerate()
                .map(|(i, m)| {
                    let tail: Vec<&String> =
                        m.lines.iter().filter(|l| !l.starts_with("MSG")).collect();
                    format!(
                        "member {i}: {} messages, events {tail:?}",
                        m.consumed().len()
                    )
                })
                .collect();
            panic!("timed out waiting for {what}:\n{}", dump.join("\n"));
        }
    }
}

fn total_consumed(members: &[&mut Member]) -> usize {
    members.iter().map(|m| m.consumed().len()).sum()
}

/// Every offset below `per_partition` of every partition, exactly once.
fn assert_exactly_once(consumed: &[(i32, i64)], partitions: i32, per_partition: i64) {
    let mut counts: BTreeMap<(i32, i64), usize> = BTreeMap::new();
    for key in consumed {
        *counts.entry(*key).or_default() += 1;
    }
    let duplicated: Vec<_> = counts.iter().filter(|(_, n)| **n > 1).collect();
    assert!(
        duplicated.is_empty(),
        "consumed more than once: {duplicated:?}"
    );
    for p in 0..partitions {
        for o in 0..per_partition {
            assert!(
                counts.contains_key(&(p, o)),
                "partition {p} offset {o} was never consumed"
            );
        }
    }
    assert_eq!(counts.len() as i64, partitions as i64 * per_partition);
}

#[test]
fn confluent_kafka_group_takes_over_a_killed_member_and_resumes_after_a_broker_restart() {
    let mut broker = broker();
    let (topic, group) = ("groups-takeover", "takeover-group");
    produce(&broker, topic, 6, 0, 3_000);

    let mut a = Member::start(&broker, topic, group, &[]);
    let mut b = Member::start(&broker, topic, group, &[]);
    let mut c = Member::start(&broker, topic, group, &[]);
    wait_for(
        &mut [&mut a, &mut b, &mut c],
        Duration::from_secs(90),
        "three members to share 3,000 messages",
        |ms| total_consumed(ms) == 3_000 && ms.iter().all(|m| m.assignment().len() == 2),
    );
    let mut all: Vec<(i32, i64)> = [&a, &b, &c].iter().flat_map(|m| m.consumed()).collect();
    assert_exactly_once(&all, 6, 500);

    // Kill one member: no LeaveGroup. The others must notice after the
    // session timeout and take its partitions over.
    let orphaned = c.assignment();
    c.kill();
    let killed_at = Instant::now();
    produce(&broker, topic, 6, 3_000, 3_000);
    wait_for(
        &mut [&mut a, &mut b],
        Duration::from_secs(90),
        "the survivors to consume the rest",
        |ms| total_consumed(ms) + c.consumed().len() == 6_000,
    );
    let takeover = killed_at.elapsed();
    let survivors: BTreeSet<i32> = a.assignment().union(&b.assignment()).copied().collect();
    assert_eq!(
        survivors,
        (0..6).collect::<BTreeSet<i32>>(),
        "the survivors own every partition"
    );
    let taken_over: BTreeSet<i32> = a
        .consumed()
        .into_iter()
        .chain(b.consumed())
        .filter(|(_, o)| *o >= 500)
        .map(|(p, _)| p)
        .filter(|p| orphaned.contains(p))
        .collect();
    assert_eq!(
        taken_over, orphaned,
        "the killed member's partitions were consumed by the others"
    );
    all = [&a, &b, &c].iter().flat_map(|m| m.consumed()).collect();
    assert_exactly_once(&all, 6, 1_000);
    eprintln!("takeover after a killed member finished in {takeover:?}");

    // Everything is committed. Stop the group, add messages, restart the
    // broker: a new member resumes at the committed offsets.
    a.kill();
    b.kill();
    produce(&broker, topic, 6, 6_000, 600);
    broker.stop();
    broker.restart();
    let mut d = Member::start(&broker, topic, group, &[]);
    wait_for(
        &mut [&mut d],
        Duration::from_secs(90),
        "the new member to consume what was not committed",
        |ms| ms[0].consumed().len() >= 600,
    );
    std::thread::sleep(Duration::from_millis(500));
    d.pump();
    let resumed = d.consumed();
    assert_eq!(
        resumed.len(),
        600,
        "nothing consumed twice after the restart"
    );
    let expected: BTreeSet<(i32, i64)> = (0..6)
        .flat_map(|p| (1_000..1_100).map(move |o| (p, o)))
        .collect();
    assert_eq!(
        resumed.into_iter().collect::<BTreeSet<_>>(),
        expected,
        "resumed exactly at the committed offsets"
    );
    d.kill();
}

#[test]
fn kafka_python_roundrobin_group_with_manual_commits_and_offset_fetch() {
    let broker = broker();
    let out = python(
        "groups_kafka_python.py",
        &[
            &broker.bootstrap(),
            "groups-kafka-python",
            "kafka-python-group",
            "400",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("KAFKA-PYTHON-OK"), "{stdout}");
}

#[test]
fn kcat_balanced_consumer_joins_consumes_and_resumes_from_its_commits() {
    let broker = broker();
    let topic = "groups-kcat";
    produce(&broker, topic, 3, 0, 300);
    let consume = || {
        let out = kcat(
            &broker,
            &[
                "-G",
                "kcat-group",
                "-X",
                "auto.offset.reset=earliest",
                topic,
                "-e",
                "-f",
                "%p %o %s\n",
            ],
            b"",
        );
        let mut seen: Vec<(i32, i64)> = String::from_utf8(out.stdout)
            .unwrap()
            .lines()
            .map(|l| {
                let mut parts = l.split(' ');
                (
                    parts.next().unwrap().parse().unwrap(),
                    parts.next().unwrap().parse().unwrap(),
                )
            })
            .collect();
        seen.sort_unstable();
        seen
    };
    let first = consume();
    assert_exactly_once(&first, 3, 100);
    // The balanced consumer committed on exit: nothing is read again.
    assert_eq!(consume(), Vec::new());
    produce(&broker, topic, 3, 300, 30);
    let third = consume();
    let expected: Vec<(i32, i64)> = (0..3)
        .flat_map(|p| (100..110).map(move |o| (p, o)))
        .collect();
    assert_eq!(third, expected);
}

#[test]
fn confluent_kafka_cooperative_sticky_moves_only_the_partitions_that_change_owner() {
    let broker = broker();
    produce(&broker, "groups-cooperative", 6, 0, 60);
    let out = python(
        "groups_confluent.py",
        &[
            "cooperative",
            &broker.bootstrap(),
            "groups-cooperative",
            "cooperative-group",
        ],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("COOPERATIVE-OK"), "{stdout}");
}

#[test]
fn a_restarted_static_member_keeps_its_assignment_and_nobody_rebalances() {
    let broker = broker();
    let (topic, group) = ("groups-static", "static-group");
    produce(&broker, topic, 6, 0, 60);
    let static_member = |instance: &str| {
        Member::start(
            &broker,
            topic,
            group,
            &[
                &format!("group.instance.id={instance}"),
                "session.timeout.ms=6000",
            ],
        )
    };
    let mut one = static_member("static-1");
    let mut two = static_member("static-2");
    wait_for(
        &mut [&mut one, &mut two],
        Duration::from_secs(60),
        "two static members to settle",
        |ms| ms.iter().all(|m| m.assignment().len() == 3) && total_consumed(ms) == 60,
    );
    let assignment_two = two.assignment();
    let events_one = one.rebalance_events();

    // static-2 crashes and comes back well within its session timeout.
    two.kill();
    let mut two_again = static_member("static-2");
    wait_for(
        &mut [&mut one, &mut two_again],
        Duration::from_secs(30),
        "static-2 to come back",
        |ms| !ms[1].assignment().is_empty(),
    );
    assert_eq!(
        two_again.assignment(),
        assignment_two,
        "the same partitions came back"
    );
    // New messages on its partitions go to the new incarnation; every
    // message is consumed exactly once across the three processes.
    produce(&broker, topic, 6, 60, 60);
    let before = two.consumed();
    wait_for(
        &mut [&mut one, &mut two_again],
        Duration::from_secs(30),
        "both members to consume the new messages",
        |ms| ms[0].consumed().len() + ms[1].consumed().len() + before.len() >= 120,
    );
    let all: Vec<(i32, i64)> = one
        .consumed()
        .into_iter()
        .chain(before)
        .chain(two_again.consumed())
        .collect();
    assert_exactly_once(&all, 6, 20);
    for (partition, offset) in two_again.consumed() {
        assert!(assignment_two.contains(&partition));
        assert!(offset >= 10, "resumed from the committed offsets");
    }
    assert_eq!(
        one.rebalance_events(),
        events_one,
        "static-1 saw no rebalance: {:?}",
        one.lines
    );
    one.kill();
    two_again.kill();
}

#[test]
fn auto_offset_reset_latest_none_and_out_of_range_through_the_group() {
    let broker = broker();
    let out = python(
        "groups_confluent.py",
        &["offset-reset", &broker.bootstrap(), "groups-offset-reset"],
    );
    let stdout = String::from_utf8_lossy(&out.stdout);
    for check in ["RESET-LATEST-OK", "RESET-NONE-OK", "RESET-OUT-OF-RANGE-OK"] {
        assert!(stdout.contains(check), "{check} missing:\n{stdout}");
    }
}
