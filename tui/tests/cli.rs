//! The `kafkalab` binary as a user runs it: exit statuses and error messages.

use std::path::PathBuf;
use std::process::Command;

fn kafkalab() -> Command {
    Command::new(env!("CARGO_BIN_EXE_kafkalab"))
}

fn scenario(name: &str) -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(name)
}

#[test]
fn run_exits_zero_when_the_expected_loss_is_found() {
    let out = kafkalab().arg("run").arg(scenario("02-acks-one-loses-data.ron")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("[PASS] LostAckedWrites(at_least: 1)"), "{stdout}");
    assert!(stdout.contains("lost acknowledged write:"), "{stdout}");
    assert!(stdout.contains("speed: simulated 40.000s"), "{stdout}");
}

#[test]
fn run_exits_one_when_an_expectation_fails() {
    let dir = tempdir();
    let source = std::fs::read_to_string(scenario("02-acks-one-loses-data.ron")).unwrap();
    let wrong = dir.join("wrong.ron");
    std::fs::write(&wrong, source.replace("LostAckedWrites(at_least: 1)", "NoLostAckedWrites")).unwrap();
    let out = kafkalab().arg("run").arg(&wrong).output().unwrap();
    assert_eq!(out.status.code(), Some(1));
    assert!(String::from_utf8_lossy(&out.stdout).contains("[FAIL] NoLostAckedWrites"));
}

#[test]
fn bad_input_exits_two_and_names_file_line_and_field() {
    let dir = tempdir();
    let source = std::fs::read_to_string(scenario("01-first-cluster.ron")).unwrap();
    let bad = dir.join("typo.ron");
    std::fs::write(&bad, source.replace("\"min.insync.replicas\"", "\"min.insync.replica\"")).unwrap();
    let out = kafkalab().arg("run").arg(&bad).output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("typo.ron:11:"), "names file and line: {stderr}");
    assert!(stderr.contains("min.insync.replicas"), "suggests the fix: {stderr}");

    let missing = kafkalab().arg("run").arg(dir.join("nope.ron")).output().unwrap();
    assert_eq!(missing.status.code(), Some(2));
    let usage = kafkalab().arg("run").output().unwrap();
    assert_eq!(usage.status.code(), Some(2));
}

#[test]
fn events_tell_the_story_of_the_run() {
    let out = kafkalab().args(["run", "--events"]).arg(scenario("02-acks-one-loses-data.ron")).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0));
    let crash = stdout.find("FAULT: kill -9 broker").expect("the kill is in the feed");
    let election = stdout.find("elected leader (leader epoch 1").expect("a follower is elected in epoch 1");
    let truncation = stdout.find("log truncated").expect("the restarted broker truncates its log");
    assert!(crash < election && election < truncation, "{stdout}");
}

#[test]
fn json_output_is_one_object_with_the_seed_used() {
    let out = kafkalab().args(["run", "--json", "--seed", "9"]).arg(scenario("03-consumer-dies.ron")).output().unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
    assert_eq!(json["seed"], 9);
    assert_eq!(json["scenario"], "a consumer dies");
    assert!(json["digest"].as_str().is_some_and(|d| d.len() == 16));
}

fn tempdir() -> PathBuf {
    let dir = std::env::temp_dir().join(format!("kafkalab-cli-{}-{}", std::process::id(), rand_suffix()));
    std::fs::create_dir_all(&dir).unwrap();
    dir
}

fn rand_suffix() -> u64 {
    use std::sync::atomic::{AtomicU64, Ordering};
    static NEXT: AtomicU64 = AtomicU64::new(0);
    NEXT.fetch_add(1, Ordering::Relaxed)
}

#[test]
fn dump_log_prints_the_segments_like_kafka_dump_log() {
    let out = kafkalab()
        .args(["dump-log", "--topic", "prices", "--partition", "0", "--at", "12s"])
        .arg(scenario("04-compaction-keeps-latest.ron"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert!(stdout.contains("Dumping prices-0/00000000000000000000.log"), "{stdout}");
    assert!(stdout.contains("baseOffset: 3 lastOffset: 3 count: 1"), "the cleaner removed 0-2: {stdout}");
    assert!(stdout.contains("key: b payload: null"), "the tombstone is still there at 12s: {stdout}");

    let out = kafkalab()
        .args(["dump-log", "--topic", "prices", "--partition", "0", "--broker", "2", "--json"])
        .arg(scenario("04-compaction-keeps-latest.ron"))
        .output()
        .unwrap();
    let json: serde_json::Value = serde_json::from_slice(&out.stdout).expect("stdout is one JSON object");
    let offsets: Vec<i64> = json["records"].as_array().unwrap().iter().map(|r| r["offset"].as_i64().unwrap()).collect();
    assert_eq!(offsets, [5, 6, 7, 8]);
    assert_eq!(json["broker"], 2);
    let segments = json["segments"].as_array().unwrap();
    assert!(segments.last().unwrap()["active"].as_bool().unwrap());
    assert!(segments.iter().all(|s| s["base_offset"].is_i64() && s["size_bytes"].is_u64()));
    assert!(json["records"][0]["leader_epoch"].is_i64() && json["records"][0]["timestamp_ms"].is_i64());
}

#[test]
fn dump_log_names_the_fix_for_a_wrong_partition() {
    let out = kafkalab()
        .args(["dump-log", "--topic", "prices", "--partition", "4"])
        .arg(scenario("04-compaction-keeps-latest.ron"))
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("04-compaction-keeps-latest.ron") && stderr.contains("--partition 0 to 0"), "{stderr}");
}

#[test]
fn run_record_writes_a_recording_that_verifies_and_is_never_overwritten() {
    let dir = tempdir();
    let file = dir.join("first.klrec");
    let out = kafkalab().arg("run").arg(scenario("01-first-cluster.ron")).arg("--record").arg(&file).output().unwrap();
    let stdout = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{stdout}\n{}", String::from_utf8_lossy(&out.stderr));
    assert!(stdout.contains("recording: ") && stdout.contains("kafkalab replay"), "{stdout}");
    let digest = stdout.lines().find(|l| l.contains("digest")).unwrap().to_string();

    let out = kafkalab().arg("replay").arg(&file).arg("--verify").output().unwrap();
    let verdict = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{verdict}");
    assert!(verdict.starts_with("verified: the re-executed run matches all"), "{verdict}");
    let recorded_digest = verdict.trim().rsplit(' ').next().unwrap();
    assert!(digest.contains(recorded_digest), "{digest} vs {verdict}");

    // A second run refuses to overwrite the file, and says so.
    let before = std::fs::read(&file).unwrap();
    let out = kafkalab().arg("run").arg(scenario("01-first-cluster.ron")).arg("--record").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("never overwrites"), "{stderr}");
    assert_eq!(std::fs::read(&file).unwrap(), before);
}

#[test]
fn replay_of_a_file_that_is_not_a_recording_names_it() {
    let dir = tempdir();
    let file = dir.join("not-a-recording.klrec");
    std::fs::write(&file, "hello").unwrap();
    let out = kafkalab().arg("replay").arg(&file).output().unwrap();
    assert_eq!(out.status.code(), Some(2));
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(stderr.contains("not-a-recording.klrec") && stderr.contains("recording"), "{stderr}");
}

#[test]
fn a_recording_from_an_older_build_loads_and_verify_names_where_the_runs_part() {
    // Recorded on 22 November 2026, before the records took Kafka's v2 byte layout and before
    // idle nodes stopped being woken every millisecond (which changed every run's schedule
    // from its first moments). It must keep loading (the format is versioned and views gain
    // fields only with defaults), and re-executing it parts from the recording: verify says
    // where, and why that can happen.
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/data/44-lesson-older-build.klrec");
    let out = kafkalab().arg("replay").arg(&file).arg("--verify").output().unwrap();
    let verdict = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(1), "{verdict}{}", String::from_utf8_lossy(&out.stderr));
    assert!(verdict.starts_with("diverged at record "), "{verdict}");
    assert!(verdict.contains("recorded:") && verdict.contains("re-executed:"), "both records side by side: {verdict}");
    assert!(verdict.contains("only in the build that recorded it"), "{verdict}");
}

#[test]
fn the_books_recording_still_loads_and_verifies() {
    // The book's recording, made with this build's simulation: it must keep loading, and
    // verifying it checks that the lesson still runs the same way; the book shows that
    // transcript. A change to the simulation that alters this lesson's run must record it
    // again (`kafkalab run scenarios/44-lesson-leader-crash-in-chapters.ron --record ...`).
    let file = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../book/recordings/44-lesson.klrec");
    let out = kafkalab().arg("replay").arg(&file).arg("--verify").output().unwrap();
    let verdict = String::from_utf8_lossy(&out.stdout);
    assert_eq!(out.status.code(), Some(0), "{verdict}{}", String::from_utf8_lossy(&out.stderr));
    assert!(verdict.starts_with("verified:"), "{verdict}");
}

#[test]
fn a_reader_that_stops_early_ends_the_run_quietly() {
    // `kafkalab dump-log ... | head -1`: the pipe closes after the first line.
    use std::io::{BufRead, BufReader};
    use std::process::Stdio;
    let mut child = kafkalab()
        .args([
            "dump-log",
            "scenarios/06-power-loss-loses-unflushed-tail.ron",
            "--topic",
            "payments",
            "--partition",
            "0",
        ])
        .current_dir(PathBuf::from(env!("CARGO_MANIFEST_DIR")).join(".."))
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let mut first = String::new();
    BufReader::new(child.stdout.take().unwrap()).read_line(&mut first).unwrap();
    assert!(first.starts_with("# broker"), "{first}");
    let out = child.wait_with_output().unwrap();
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!stderr.contains("panicked"), "{stderr}");
    assert_eq!(stderr, "", "nothing on standard error");
}
