//! Snapshots of what `kafkalab run` prints for the first scenario, text and JSON, with the
//! wall-clock figures (the only parts that vary between machines) left out, and of what
//! `kafkalab dump-log` prints for the storage scenarios.

use std::path::Path;

fn first_report() -> sim::report::RunReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/01-first-cluster.ron");
    let scenario = sim::scenario::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario.seed;
    sim::run(scenario, seed).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn run_text_for_the_first_scenario() {
    let report = first_report();
    insta::assert_snapshot!("run_01_first_cluster", sim::report::render_text(&report, false));
}

#[test]
fn run_json_has_the_contract_fields() {
    let report = first_report();
    let mut json = serde_json::to_value(&report).unwrap();
    for field in [
        "scenario",
        "seed",
        "digest",
        "sim_time_ms",
        "wall_time_ms",
        "events",
        "topics",
        "groups",
        "anomalies",
        "expectations",
    ] {
        assert!(json.get(field).is_some(), "missing {field}");
    }
    let partition = &json["topics"][0]["partitions"][0];
    for field in [
        "partition",
        "leader",
        "leader_epoch",
        "replicas",
        "isr",
        "log_start_offset",
        "high_watermark",
        "log_end_offset",
        "segments",
        "size_bytes",
    ] {
        assert!(partition.get(field).is_some(), "missing topics[].partitions[].{field}");
    }
    let group = &json["groups"][0];
    for field in ["group", "state", "generation_id", "protocol", "members", "offsets"] {
        assert!(group.get(field).is_some(), "missing groups[].{field}");
    }
    for field in ["member_id", "client_id", "group_instance_id", "assignment"] {
        assert!(group["members"][0].get(field).is_some(), "missing groups[].members[].{field}");
    }
    for field in ["leader_id", "leader_epoch", "high_watermark", "voters", "observers"] {
        assert!(json["quorum"].get(field).is_some(), "missing quorum.{field}");
    }
    for field in ["node_id", "log_end_offset", "lag", "role"] {
        assert!(json["quorum"]["voters"][0].get(field).is_some(), "missing quorum.voters[].{field}");
    }
    assert_eq!(json["quorum"]["voters"][0]["role"], "Leader", "the lone controller leads");
    assert_eq!(json["quorum"]["leader_id"], 3000);
    for field in ["topic", "partition", "committed_offset", "log_end_offset", "lag"] {
        assert!(group["offsets"][0].get(field).is_some(), "missing groups[].offsets[].{field}");
    }
    assert!(json["anomalies"].get("lost_acked_writes").is_some());
    assert!(json["anomalies"].get("duplicates").is_some());
    // Wall-clock figures vary; everything else is deterministic and snapshotted.
    let object = json.as_object_mut().unwrap();
    object.remove("wall_time_ms");
    object.remove("speedup");
    insta::assert_json_snapshot!("run_01_first_cluster_json", json);
}

fn dump(file: &str, at_ms: u64, topic: &str, broker: i32) -> String {
    dump_seeded(file, None, at_ms, topic, broker)
}

/// Like [`dump`], with `seed` instead of the scenario's own when given.
fn dump_seeded(file: &str, seed: Option<u64>, at_ms: u64, topic: &str, broker: i32) -> String {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(file);
    let scenario = sim::scenario::load_file(&path).unwrap_or_else(|e| panic!("{e}"));
    let seed = seed.unwrap_or(scenario.seed);
    let at = Some(std::time::Duration::from_millis(at_ms));
    let dump = sim::dump_log(scenario, seed, at, topic, 0, Some(broker)).unwrap_or_else(|e| panic!("{e}"));
    sim::dump::render_text(&dump)
}

/// After the first cleaning: offsets 0-2 are gone, the tombstone at 4 carries its delete
/// horizon, and the active segment at 6 is untouched and not yet flushed.
#[test]
fn dump_log_after_the_first_cleaning() {
    insta::assert_snapshot!("dump_04_at_12s", dump("04-compaction-keeps-latest.ron", 12_000, "prices", 1));
}

/// Just after all brokers lost power: broker 2's disk ends with the rolled segments and a
/// torn batch that recovery will cut. Which file a power loss tears depends on the seed; seed
/// 1 tears the log on every broker.
#[test]
fn dump_log_after_a_power_loss_shows_the_torn_write() {
    let text = dump_seeded("06-power-loss-loses-unflushed-tail.ron", Some(1), 12_010, "payments", 2);
    assert!(text.contains("invalid bytes at the end"), "{text}");
    let tail: Vec<&str> =
        text.lines().filter(|l| l.starts_with("Dumping") || l.starts_with('#') || l.starts_with("Found")).collect();
    insta::assert_snapshot!("dump_06_after_power_loss", tail.join("\n"));
}
