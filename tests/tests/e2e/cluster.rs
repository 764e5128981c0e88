//! Several `sluice` processes as one cluster on loopback: the controller
//! (a Raft group of the voters) holds the metadata, topics spread over every
//! node, clients reach every partition through any node, and the cluster
//! survives the loss of its controller leader.

use std::process::Command;
use std::time::{Duration, Instant};

use serde_json::Value;
use tests::{kcat, raw, run, workspace_dir, Broker, Cluster};

/// The cluster metadata as one node answers it (confluent-kafka's view).
fn metadata(node: &Broker) -> Value {
    let out = admin(&["metadata", &node.bootstrap()]);
    serde_json::from_slice(&out.stdout).expect("metadata JSON")
}

fn admin(args: &[&str]) -> std::process::Output {
    let mut command = Command::new("python3");
    command
        .arg(workspace_dir().join("tests/python/cluster_admin.py"))
        .args(args);
    run(&mut command, b"", Duration::from_secs(120))
}

/// Partition leaders of `topic` in `metadata`, by partition.
fn leaders(metadata: &Value, topic: &str) -> Vec<i64> {
    metadata["topics"][topic]
        .as_array()
        .unwrap_or_else(|| panic!("{topic} missing from {metadata}"))
        .iter()
        .map(|p| p[1].as_i64().unwrap())
        .collect()
}

/// Waits until every running node answers the same metadata for `topic`
/// (they apply the controller's log independently), and returns it.
fn converged(cluster: &Cluster, topic: &str) -> Value {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        // Every node names itself as controller (KRaft style); the rest
        // must be identical.
        let views: Vec<Value> = cluster
            .nodes
            .iter()
            .filter(|n| n.is_running())
            .map(|n| {
                let mut md = metadata(n);
                md["controller_id"] = Value::Null;
                md
            })
            .collect();
        let same = views.windows(2).all(|w| w[0] == w[1]);
        let complete = views[0]["topics"].get(topic).is_some();
        if same && complete {
            return views[0].clone();
        }
        assert!(
            Instant::now() < deadline,
            "nodes disagree on {topic}: {views:#?}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
}

#[test]
fn three_nodes_spread_a_topic_and_serve_it_through_any_node() {
    let cluster = Cluster::start(3, 3, "");
    admin(&["create", &cluster.nodes[1].bootstrap(), "spread", "12"]);
    let md = converged(&cluster, "spread");
    assert_eq!(md["brokers"].as_array().unwrap().len(), 3, "{md}");
    // KRaft style: Metadata names the answering broker as controller.
    assert_eq!(
        metadata(&cluster.nodes[1])["controller_id"].as_i64(),
        Some(2)
    );
    let leader = controller_of(&cluster.nodes[0]);
    for node in &cluster.nodes {
        assert_eq!(controller_of(node), leader, "one controller leader");
    }
    let led = leaders(&md, "spread");
    for node in 1..=3 {
        assert_eq!(
            led.iter().filter(|&&l| l == node).count(),
            4,
            "node {node} leads a third of {led:?}"
        );
    }

    // Produce through the third node, every partition by key; consume all
    // of it through the first.
    let input: String = (0..1200).map(|i| format!("k{i}:v{i}\n")).collect();
    kcat(
        &cluster.nodes[2],
        &["-P", "-t", "spread", "-K:", "-X", "acks=all"],
        input.as_bytes(),
    );
    let out = kcat(
        &cluster.nodes[0],
        &[
            "-C",
            "-t",
            "spread",
            "-o",
            "beginning",
            "-e",
            "-q",
            "-f",
            "%p %k %s\n",
        ],
        b"",
    );
    let consumed = String::from_utf8(out.stdout).unwrap();
    let lines: Vec<&str> = consumed.lines().collect();
    assert_eq!(lines.len(), 1200, "{consumed}");
    let mut partitions: Vec<&str> = lines.iter().map(|l| l.split(' ').next().unwrap()).collect();
    partitions.sort_unstable();
    partitions.dedup();
    assert_eq!(partitions.len(), 12, "every partition got data");
    for line in lines {
        let mut parts = line.split(' ');
        let (_, key, value) = (parts.next(), parts.next().unwrap(), parts.next().unwrap());
        assert_eq!(key[1..], value[1..], "{line}");
    }

    // CreatePartitions through the first node: three more, one per node.
    admin(&["grow", &cluster.nodes[0].bootstrap(), "spread", "15"]);
    let deadline = Instant::now() + Duration::from_secs(20);
    let grown = loop {
        let md = converged(&cluster, "spread");
        if leaders(&md, "spread").len() == 15 {
            break md;
        }
        assert!(Instant::now() < deadline, "not grown: {md}");
        std::thread::sleep(Duration::from_millis(100));
    };
    let led = leaders(&grown, "spread");
    for node in 1..=3 {
        assert_eq!(led.iter().filter(|&&l| l == node).count(), 5, "{led:?}");
    }
    kcat(
        &cluster.nodes[1],
        &["-P", "-t", "spread", "-p", "14"],
        b"in-the-new-partition\n",
    );
    let out = kcat(
        &cluster.nodes[2],
        &[
            "-C",
            "-t",
            "spread",
            "-p",
            "14",
            "-o",
            "beginning",
            "-e",
            "-q",
        ],
        b"",
    );
    assert_eq!(
        String::from_utf8(out.stdout).unwrap(),
        "in-the-new-partition\n"
    );
}

/// The controller leader's node id as `node` reports it in DescribeQuorum
/// (waiting while the cluster has none).
fn controller_of(node: &Broker) -> usize {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let id = raw::Connection::open(node.addr).controller_leader();
        if id > 0 {
            return id as usize;
        }
        assert!(Instant::now() < deadline, "no controller");
        std::thread::sleep(Duration::from_millis(50));
    }
}

#[test]
fn killing_the_controller_leader_elects_another_and_the_node_catches_up_on_return() {
    let mut cluster = Cluster::start(3, 3, "");
    let old = controller_of(&cluster.nodes[0]);
    let survivor = if old == 1 { 1 } else { 0 };
    cluster.nodes[old - 1].kill9();
    let killed = Instant::now();
    // Through a surviving node, retried until a new leader serves it.
    admin(&[
        "create",
        &cluster.nodes[survivor].bootstrap(),
        "after-failover",
        "6",
        "30",
    ]);
    let failover = killed.elapsed();
    println!(
        "controller failover: CreateTopics served {} ms after kill -9 of the leader",
        failover.as_millis()
    );
    let new = controller_of(&cluster.nodes[survivor]);
    assert_ne!(new, old, "a new leader");
    // More changes while the old leader is away: it must catch up on them.
    admin(&[
        "create",
        &cluster.nodes[survivor].bootstrap(),
        "while-away",
        "3",
    ]);
    cluster.nodes[old - 1].restart();
    let md = converged(&cluster, "while-away");
    assert!(md["topics"].get("after-failover").is_some(), "{md}");
    assert_eq!(md["brokers"].as_array().unwrap().len(), 3, "{md}");
}

#[test]
fn a_fourth_node_joins_and_new_topics_use_it() {
    let mut cluster = Cluster::start(3, 3, "");
    cluster.add_broker("");
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        let md = metadata(&cluster.nodes[0]);
        if md["brokers"].as_array().unwrap().len() == 4 {
            break;
        }
        assert!(
            Instant::now() < deadline,
            "the fourth node is not listed: {md}"
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    admin(&["create", &cluster.nodes[3].bootstrap(), "four-ways", "8"]);
    let md = converged(&cluster, "four-ways");
    let leaders = leaders(&md, "four-ways");
    for node in 1..=4 {
        assert_eq!(
            leaders.iter().filter(|&&l| l == node).count(),
            2,
            "node {node} leads a quarter of {leaders:?}"
        );
    }
    // It serves its partitions: produce and read back through it.
    let input: String = (0..400).map(|i| format!("k{i}:v{i}\n")).collect();
    kcat(
        &cluster.nodes[3],
        &["-P", "-t", "four-ways", "-K:"],
        input.as_bytes(),
    );
    let out = kcat(
        &cluster.nodes[1],
        &["-C", "-t", "four-ways", "-o", "beginning", "-e", "-q"],
        b"",
    );
    assert_eq!(String::from_utf8(out.stdout).unwrap().lines().count(), 400);
}

#[test]
fn a_duplicate_node_id_and_a_disagreeing_voter_list_fail_fast() {
    // Three voters and a fourth node that is a broker only.
    let mut cluster = Cluster::start(4, 3, "");
    let voters = cluster.voters_toml();
    let imposter = |node_id: usize, voters: &str| {
        format!(
            "node_id = {node_id}\n[cluster]\nvoters = [{voters}]\nrpc_listen = \"127.0.0.1:{}\"\n",
            tests::free_port()
        )
    };
    // A second process claiming broker 4's id, at other addresses: the
    // controller refuses its registration while broker 4 lives.
    let duplicate = cluster.add_broker_unready("");
    duplicate.options.config_toml = imposter(4, &voters);
    duplicate.restart_unready();
    assert!(!duplicate.wait_exit(Duration::from_secs(30)).success());
    assert!(
        duplicate
            .log()
            .contains("node id 4 is already registered by a live broker"),
        "{}",
        duplicate.log()
    );
    // A second process claiming voter 2's id elsewhere: the voters say
    // where node 2 is, and it is not there.
    let voter_imposter = cluster.add_broker_unready("");
    voter_imposter.options.config_toml = imposter(2, &voters);
    voter_imposter.restart_unready();
    assert!(!voter_imposter.wait_exit(Duration::from_secs(30)).success());
    assert!(
        voter_imposter.log().contains("names node 2 at"),
        "{}",
        voter_imposter.log()
    );
    // A node configured with another voter list.
    let disagreeing = cluster.add_broker_unready("");
    disagreeing.options.config_toml = imposter(7, &format!("{voters}, \"9@127.0.0.1:1\""));
    disagreeing.restart_unready();
    assert!(!disagreeing.wait_exit(Duration::from_secs(30)).success());
    assert!(
        disagreeing.log().contains("the voters disagree"),
        "{}",
        disagreeing.log()
    );
    // The cluster did not notice.
    admin(&["create", &cluster.nodes[0].bootstrap(), "still-fine", "3"]);
    converged(&cluster, "still-fine");
}

#[test]
fn a_data_directory_of_another_cluster_is_refused() {
    let mut broker = Broker::start(tests::BrokerOptions::default());
    broker.stop();
    broker.options.config_toml = "cluster_id = \"another-cluster\"\n".to_string();
    broker.restart_unready();
    let status = broker.wait_exit(Duration::from_secs(30));
    assert!(!status.success());
    assert!(
        broker
            .log()
            .contains("belongs to cluster \"sluice-cluster\", not \"another-cluster\""),
        "{}",
        broker.log()
    );
}
