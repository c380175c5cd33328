//! The simulator's side of consumer groups: the consumer's scenario syntax (`assign`,
//! `processing`, `commit`, `seeks`) and its validation errors, the group expectations
//! (`Rebalances` bounds, `UnprocessedRecords`, `RedeliveredRecords`, `UnownedTime`,
//! `PollTimeouts`, `CommitFailures`) and how they read a trace, and whole runs that exercise
//! them.

use cluster::event::Event;
use cluster::ids::TopicPartition;
use sim::check::{expectation_name, redelivered_records, unowned_time, unprocessed_records};
use sim::scenario::{
    parse_str, ClientSpec, CommitSpec, ConsumerSpec, Expectation, ScenarioError, SeekSpec, Span, Timed,
};
use sim::trace::{TraceBody, TraceRecord};
use std::collections::{BTreeMap, BTreeSet};

/// A valid scenario with one subscribing consumer and one assigning consumer. Each test edits
/// one piece of it.
const BASE: &str = r#"Scenario(
    name: "groups",
    seed: 5,
    duration: "30s",
    cluster: (brokers: 3),
    topics: [
        (name: "orders", partitions: 3, replication_factor: 3),
        (name: "audit", partitions: 1, replication_factor: 1),
    ],
    clients: [
        Producer(id: "checkout", topic: "orders", rate_per_sec: 20.0, configs: {"enable.idempotence": "false"}),
        Consumer(id: "billing-1", group: "billing", topics: ["orders"], processing: "5ms", commit: AfterProcessing,
                 configs: {"auto.offset.reset": "earliest", "enable.auto.commit": "false"}),
        Consumer(id: "reader", assign: [("orders", 0), ("orders", 1)], seeks: [At("10s", ToBeginning)],
                 configs: {"auto.offset.reset": "earliest"}),
    ],
    expect: [Rebalances(group: "billing", at_least: 1)],
)
"#;

/// `BASE` with `from` replaced by `to`; `from` must occur exactly once.
fn edit(from: &str, to: &str) -> String {
    assert_eq!(BASE.matches(from).count(), 1, "{from:?} must occur once in BASE");
    BASE.replace(from, to)
}

/// The (line, column) of the first occurrence of `needle` in `source`, both from 1, the
/// column counting characters, as scenario errors report positions.
fn position(source: &str, needle: &str) -> (usize, usize) {
    let offset = source.find(needle).unwrap_or_else(|| panic!("{needle:?} is not in the source"));
    let before = &source[..offset];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |n| n + 1);
    (line, before[line_start..].chars().count() + 1)
}

/// A validation error's parts.
#[derive(Debug)]
struct Invalid {
    line: usize,
    column: usize,
    field: String,
    message: String,
    suggestion: Option<String>,
    display: String,
}

/// Parses `source` as `t.ron` expecting a validation error.
fn invalid(source: &str) -> Invalid {
    match parse_str(source, "t.ron") {
        Err(error @ ScenarioError::Invalid { .. }) => {
            let display = error.to_string();
            let ScenarioError::Invalid { line, column, field, message, suggestion, .. } = error else { unreachable!() };
            Invalid { line, column, field, message, suggestion, display }
        }
        other => panic!("expected a validation error, got {other:?}"),
    }
}

/// Parses `source` as `t.ron` expecting a syntax error.
fn syntax(source: &str) -> ScenarioError {
    match parse_str(source, "t.ron") {
        Err(error @ ScenarioError::Syntax { .. }) => error,
        other => panic!("expected a syntax error, got {other:?}"),
    }
}

/// Asserts `error` points at the first occurrence of `needle` in `source` and names `field`,
/// and that its one-line display starts with the file, line and column.
fn assert_at(error: &Invalid, source: &str, needle: &str, field: &str) {
    let (line, column) = position(source, needle);
    assert_eq!((error.line, error.column), (line, column), "{error:?} should point at {needle:?}");
    assert_eq!(error.field, field, "{error:?}");
    assert!(error.display.starts_with(&format!("t.ron:{line}:{column}: ")), "{}", error.display);
    assert!(error.display.contains(&format!(" in {field}")), "{}", error.display);
}

fn consumer(source: &str, index: usize) -> ConsumerSpec {
    let scenario = parse_str(source, "t.ron").unwrap_or_else(|e| panic!("{e}"));
    match &scenario.clients[index] {
        ClientSpec::Consumer(c) => c.clone(),
        ClientSpec::Producer(_) => panic!("client {index} is a producer"),
    }
}

// ---------------------------------------------------------------------------------------------
// Syntax.

#[test]
fn the_new_consumer_fields_parse_with_their_defaults() {
    let billing = consumer(BASE, 1);
    assert_eq!(billing.group, "billing");
    assert_eq!(billing.topics, vec!["orders".to_string()]);
    assert!(billing.assign.is_empty());
    assert_eq!(billing.processing, Span::from_millis(5));
    assert_eq!(billing.commit, CommitSpec::AfterProcessing);
    assert!(billing.seeks.is_empty());
    assert!(billing.subscribes());

    let reader = consumer(BASE, 2);
    assert_eq!(reader.group, "", "an assign consumer may leave the group out");
    assert_eq!(reader.assign, vec![("orders".to_string(), 0), ("orders".to_string(), 1)]);
    assert_eq!(reader.processing, Span::ZERO);
    assert_eq!(reader.commit, CommitSpec::Auto);
    assert_eq!(reader.seeks, vec![Timed::At(Span::from_secs(10), SeekSpec::ToBeginning)]);
    assert!(!reader.subscribes());
    assert_eq!(reader.read_topics(), vec!["orders".to_string()]);

    let seeks = edit(
        r#"seeks: [At("10s", ToBeginning)]"#,
        r#"seeks: [At("10s", ToBeginning), At("12s", ToEnd), At("15s", ToOffset("orders", 0, 42)), At("20s", ToTimestamp("5s"))]"#,
    );
    assert_eq!(
        consumer(&seeks, 2).seeks,
        vec![
            Timed::At(Span::from_secs(10), SeekSpec::ToBeginning),
            Timed::At(Span::from_secs(12), SeekSpec::ToEnd),
            Timed::At(Span::from_secs(15), SeekSpec::ToOffset("orders".into(), 0, 42)),
            Timed::At(Span::from_secs(20), SeekSpec::ToTimestamp(Span::from_secs(5))),
        ]
    );
    // A consumer without a group (assign only) adds no group to the scenario.
    let scenario = parse_str(BASE, "t.ron").unwrap();
    assert_eq!(scenario.groups(), BTreeSet::from(["billing"]));
}

#[test]
fn the_canonical_form_round_trips_the_new_fields() {
    let source = edit(r#"seeks: [At("10s", ToBeginning)]"#, r#"seeks: [At("15s", ToOffset("orders", 0, 42))]"#);
    let scenario = parse_str(&source, "t.ron").unwrap();
    let digest = scenario.digest_input();
    assert_eq!(parse_str(&digest, "digest.ron").unwrap(), scenario, "{digest}");
    // Defaults are left out, so scenarios without the new fields keep their canonical text.
    assert!(!digest.contains("processing:\"0s\""), "{digest}");
    assert!(!digest.contains("commit:Auto"), "{digest}");
}

#[test]
fn misspelt_commit_modes_and_spans_are_syntax_errors_with_hints() {
    let error = syntax(&edit("commit: AfterProcessing", "commit: AfterProcesing"));
    let text = error.to_string();
    assert!(text.contains("unknown variant `AfterProcesing` for commit"), "{text}");
    assert_eq!(error.suggestion(), Some("did you mean `AfterProcessing`?"));

    let error = syntax(&edit(r#"processing: "5ms""#, "processing: 5"));
    assert!(error.to_string().contains("found the number 5"), "{error}");

    let error = syntax(&edit("ToBeginning", "ToBegining"));
    assert!(error.to_string().contains("unknown variant `ToBegining` for a seek"), "{error}");
    assert_eq!(error.suggestion(), Some("did you mean `ToBeginning`?"));

    let error = syntax(&edit("expect: [", "expect: [UnownedTime(group: \"billing\", at_most: 2), "));
    assert!(error.to_string().contains("found the number 2"), "{error}");
}

// ---------------------------------------------------------------------------------------------
// Validation of subscribe, assign and group.

#[test]
fn subscribing_and_assigning_are_exclusive() {
    let source = edit(r#"Consumer(id: "reader", assign"#, r#"Consumer(id: "reader", topics: ["audit"], assign"#);
    let error = invalid(&source);
    assert_at(&error, &source, r#"[("orders", 0)"#, "clients[2].assign");
    assert_eq!(error.message, "consumer \"reader\" both subscribes to topics and assigns partitions");
    assert!(error.suggestion.as_deref().unwrap().contains("either subscribe or assign"), "{error:?}");
}

#[test]
fn a_consumer_must_subscribe_or_assign() {
    let source = edit(r#"assign: [("orders", 0), ("orders", 1)], "#, "");
    let error = invalid(&source);
    // Neither field is written, so the error points at the consumer itself.
    assert_at(&error, &source, r#"Consumer(id: "reader""#, "clients[2].topics");
    assert_eq!(error.message, "consumer \"reader\" subscribes to no topics");
    assert!(error.suggestion.as_deref().unwrap().contains("assign: [(\"orders\", 0)]"), "{error:?}");
}

#[test]
fn subscribing_needs_a_group() {
    let source = edit(r#"group: "billing", topics"#, "topics");
    let error = invalid(&source);
    // No group is written, so the error points at the consumer itself.
    assert_at(&error, &source, r#"Consumer(id: "billing-1""#, "clients[1].group");
    assert_eq!(error.message, "consumer \"billing-1\" subscribes to topics, which needs a consumer group");
    assert!(error.suggestion.as_deref().unwrap().contains("group: \"billing\""), "{error:?}");

    let source = edit(r#"group: "billing", topics"#, r#"group: "  ", topics"#);
    let error = invalid(&source);
    assert_at(&error, &source, r#""  ""#, "clients[1].group");
    assert_eq!(error.message, "the consumer group name is blank");
}

#[test]
fn assigned_partitions_must_exist_once() {
    let source = edit(r#"("orders", 1)]"#, r#"("ordres", 1)]"#);
    let error = invalid(&source);
    assert_at(&error, &source, r#""ordres""#, "clients[2].assign[1]");
    assert_eq!(error.message, "unknown topic \"ordres\"");
    assert_eq!(error.suggestion.as_deref(), Some("did you mean \"orders\"?"));

    let source = edit(r#"("orders", 1)]"#, r#"("orders", 7)]"#);
    let error = invalid(&source);
    assert_at(&error, &source, "7)]", "clients[2].assign[1]");
    assert_eq!(error.message, "topic \"orders\" has no partition 7");
    assert_eq!(error.suggestion.as_deref(), Some("its partitions are numbered 0 to 2"));

    let source = edit(r#"("orders", 1)]"#, r#"("orders", 0)]"#);
    let error = invalid(&source);
    assert_at(&error, &source, r#"("orders", 0)]"#, "clients[2].assign[1]");
    assert_eq!(error.message, "partition orders-0 is assigned twice (first in assign[0])");
}

// ---------------------------------------------------------------------------------------------
// Validation of commits.

#[test]
fn manual_commit_modes_need_auto_commit_off() {
    for mode in ["BeforeProcessing", "AfterProcessing"] {
        // enable.auto.commit left out: Kafka's default for a consumer with a group is true.
        let source = edit(r#""enable.auto.commit": "false""#, r#""session.timeout.ms": "10000""#)
            .replace("commit: AfterProcessing", &format!("commit: {mode}"));
        let error = invalid(&source);
        assert_at(&error, &source, mode, "clients[1].commit");
        assert_eq!(
            error.message,
            format!("commit: {mode} commits by hand and needs enable.auto.commit off, but it is true by default")
        );
        assert_eq!(
            error.suggestion.as_deref(),
            Some("add \"enable.auto.commit\": \"false\" to the consumer's configs")
        );
    }
    let source = edit(r#""enable.auto.commit": "false""#, r#""enable.auto.commit": "true""#);
    let error = invalid(&source);
    assert_at(&error, &source, "AfterProcessing", "clients[1].commit");
    assert!(error.message.ends_with("but it is set to true"), "{error:?}");
    // Auto with auto-commit on is the ordinary case.
    let source = edit("commit: AfterProcessing", "commit: Auto")
        .replace(r#""enable.auto.commit": "false""#, r#""enable.auto.commit": "true""#);
    assert!(parse_str(&source, "t.ron").is_ok());
}

#[test]
fn committing_needs_a_group() {
    let source = edit(r#"seeks: [At("10s", ToBeginning)]"#, r#"commit: BeforeProcessing"#);
    let error = invalid(&source);
    assert_at(&error, &source, "BeforeProcessing", "clients[2].commit");
    assert_eq!(
        error.message,
        "consumer \"reader\" commits offsets (BeforeProcessing) but has no group to commit them to"
    );
    assert_eq!(error.suggestion.as_deref(), Some("name a group, e.g. group: \"audit\", or remove commit"));

    // Kafka refuses enable.auto.commit=true without a group (KIP-289) ...
    let source = edit(
        r#"configs: {"auto.offset.reset": "earliest"}),"#,
        r#"configs: {"auto.offset.reset": "earliest", "enable.auto.commit": "true"}),"#,
    );
    let error = invalid(&source);
    assert_at(&error, &source, r#""enable.auto.commit": "true""#, "clients[2].configs");
    assert_eq!(
        error.message,
        "enable.auto.commit cannot be true for consumer \"reader\", which has no group to commit to"
    );
    assert_eq!(
        error.suggestion.as_deref(),
        Some("set \"enable.auto.commit\": \"false\", or name a group, e.g. group: \"audit\"")
    );

    // ... but leaving it out turns auto-commit off for a consumer without a group, and an
    // assign consumer with a group commits there.
    assert!(parse_str(BASE, "t.ron").is_ok());
    let with_group = edit(r#"Consumer(id: "reader", assign"#, r#"Consumer(id: "reader", group: "audit", assign"#);
    let scenario = parse_str(&with_group, "t.ron").unwrap();
    assert_eq!(scenario.groups(), BTreeSet::from(["audit", "billing"]));
}

// ---------------------------------------------------------------------------------------------
// Validation of seeks.

#[test]
fn seeks_happen_within_the_run_on_partitions_the_consumer_reads() {
    let source = edit(r#"At("10s", ToBeginning)"#, r#"At("31s", ToBeginning)"#);
    let error = invalid(&source);
    assert_at(&error, &source, r#""31s""#, "clients[2].seeks[0][0]");
    assert_eq!(error.message, "the seek at 31s is after the end of the run (30s)");
    assert_eq!(error.suggestion.as_deref(), Some("use a time of at most 30s, or lengthen duration"));

    let source = edit("ToBeginning", r#"ToOffset("order", 0, 5)"#);
    let error = invalid(&source);
    assert_at(&error, &source, r#""order""#, "clients[2].seeks[0]");
    assert_eq!(error.message, "unknown topic \"order\"");
    assert_eq!(error.suggestion.as_deref(), Some("did you mean \"orders\"?"));

    let source = edit("ToBeginning", r#"ToOffset("orders", 3, 5)"#);
    let error = invalid(&source);
    assert_at(&error, &source, "3, 5)", "clients[2].seeks[0]");
    assert_eq!(error.message, "topic \"orders\" has no partition 3");

    let source = edit("ToBeginning", r#"ToOffset("orders", 0, -5)"#);
    let error = invalid(&source);
    assert_at(&error, &source, "-5", "clients[2].seeks[0]");
    assert_eq!(error.message, "offset -5 is negative");
    assert!(error.suggestion.is_some());

    let source = edit("ToBeginning", r#"ToOffset("orders", 2, 5)"#);
    let error = invalid(&source);
    assert_at(&error, &source, r#"ToOffset("orders", 2, 5)"#, "clients[2].seeks[0]");
    assert_eq!(error.message, "consumer \"reader\" does not assign orders-2, so it cannot seek it");
    assert_eq!(error.suggestion.as_deref(), Some("add (\"orders\", 2) to its assign list"));

    let source =
        edit("commit: AfterProcessing,", r#"commit: AfterProcessing, seeks: [At("5s", ToOffset("audit", 0, 1))],"#);
    let error = invalid(&source);
    assert_eq!(error.field, "clients[1].seeks[0]");
    assert_eq!(error.message, "consumer \"billing-1\" does not subscribe to audit-0, so it cannot seek it");

    // Any partition of a subscribed topic may be sought: the group decides who owns it.
    let ok = edit(
        "commit: AfterProcessing,",
        r#"commit: AfterProcessing, seeks: [At("5s", ToOffset("orders", 2, 1)), At("6s", ToTimestamp("1s"))],"#,
    );
    assert!(parse_str(&ok, "t.ron").is_ok());
}

// ---------------------------------------------------------------------------------------------
// Validation of the group expectations.

#[test]
fn group_expectations_name_existing_groups() {
    for expectation in [
        r#"UnprocessedRecords(group: "biling", at_most: 0)"#,
        r#"RedeliveredRecords(group: "biling", at_least: 1)"#,
        r#"UnownedTime(group: "biling", at_most: "2s")"#,
        r#"PollTimeouts(group: "biling", at_least: 1)"#,
        r#"CommitFailures(group: "biling", at_least: 1)"#,
        r#"Rebalances(group: "biling", at_most: 3)"#,
    ] {
        let source = edit(r#"Rebalances(group: "billing", at_least: 1)"#, expectation);
        let error = invalid(&source);
        assert_at(&error, &source, r#""biling""#, "expect[0]");
        assert_eq!(error.message, "no consumer belongs to group \"biling\"", "{expectation}");
        assert_eq!(error.suggestion.as_deref(), Some("did you mean \"billing\"?"));
    }
}

#[test]
fn bounded_expectations_need_a_bound_that_can_hold() {
    for (expectation, name) in [
        (r#"Rebalances(group: "billing")"#, "Rebalances"),
        (r#"UnprocessedRecords(group: "billing")"#, "UnprocessedRecords"),
        (r#"RedeliveredRecords(group: "billing")"#, "RedeliveredRecords"),
        (r#"UnownedTime(group: "billing")"#, "UnownedTime"),
    ] {
        let source = edit(r#"Rebalances(group: "billing", at_least: 1)"#, expectation);
        let error = invalid(&source);
        assert_at(&error, &source, name, "expect[0]");
        assert_eq!(error.message, format!("{name} gives neither at_least nor at_most, so it checks nothing"));
        assert!(error.suggestion.as_deref().unwrap().starts_with("add a bound, e.g. at_least:"), "{error:?}");
    }
    let source = edit(
        r#"Rebalances(group: "billing", at_least: 1)"#,
        r#"UnownedTime(group: "billing", at_least: "3s", at_most: "2s")"#,
    );
    let error = invalid(&source);
    assert_at(&error, &source, r#""3s""#, "expect[0]");
    assert_eq!(error.message, "UnownedTime wants at least 3s but at most 2s, which nothing satisfies");
    assert_eq!(error.suggestion.as_deref(), Some("lower at_least or raise at_most"));
}

#[test]
fn group_expectations_parse_and_print_as_written() {
    let list = r#"Rebalances(group: "billing", at_least: 1), Rebalances(group: "billing", at_least: 1, at_most: 4), UnprocessedRecords(group: "billing", at_most: 0), RedeliveredRecords(group: "billing", at_least: 2, at_most: 9), UnownedTime(group: "billing", at_most: "1500ms"), PollTimeouts(group: "billing", at_least: 1), CommitFailures(group: "billing", at_least: 2)"#;
    let source = edit(r#"Rebalances(group: "billing", at_least: 1)"#, list);
    let scenario = parse_str(&source, "t.ron").unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(
        scenario.expect[0],
        Expectation::Rebalances { group: "billing".into(), at_least: Some(1), at_most: None }
    );
    assert_eq!(
        scenario.expect[4],
        Expectation::UnownedTime { group: "billing".into(), at_least: None, at_most: Some(Span::from_millis(1_500)) }
    );
    let names: Vec<String> = scenario.expect.iter().map(expectation_name).collect();
    assert_eq!(
        names,
        [
            r#"Rebalances(group: "billing", at_least: 1)"#,
            r#"Rebalances(group: "billing", at_least: 1, at_most: 4)"#,
            r#"UnprocessedRecords(group: "billing", at_most: 0)"#,
            r#"RedeliveredRecords(group: "billing", at_least: 2, at_most: 9)"#,
            r#"UnownedTime(group: "billing", at_most: "1500ms")"#,
            r#"PollTimeouts(group: "billing", at_least: 1)"#,
            r#"CommitFailures(group: "billing", at_least: 2)"#,
        ]
    );
    // Each name is itself valid scenario text for the expectation.
    let reparsed = edit(r#"Rebalances(group: "billing", at_least: 1)"#, &names.join(", "));
    assert_eq!(parse_str(&reparsed, "t.ron").unwrap().expect, scenario.expect);
    for e in &scenario.expect {
        assert_eq!(e.group(), Some("billing"));
    }
}

// ---------------------------------------------------------------------------------------------
// The expectations' computations over a trace.

fn tp(partition: i32) -> TopicPartition {
    TopicPartition::new("orders", partition)
}

/// A trace built from `(time in ms, node, event)`.
fn trace(events: Vec<(u64, &str, Event)>) -> Vec<TraceRecord> {
    events
        .into_iter()
        .enumerate()
        .map(|(seq, (ms, node, event))| TraceRecord {
            seq: seq as u64,
            time_ns: ms * 1_000_000,
            node: node.into(),
            body: TraceBody::Event(event),
        })
        .collect()
}

fn acked(partition: i32, offset: i64, id: &str) -> Event {
    Event::SendAcked { producer: "checkout".into(), tp: tp(partition), offset, value: id.into() }
}

fn processed(consumer: &str, group: &str, partition: i32, records: &[(i64, &str)]) -> Event {
    Event::Processed {
        consumer: consumer.into(),
        group: group.into(),
        tp: tp(partition),
        records: records.iter().map(|(o, id)| (*o, (*id).into())).collect(),
    }
}

fn assigned(consumer: &str, generation_id: i32, partitions: &[i32]) -> Event {
    Event::PartitionsAssigned {
        consumer: consumer.into(),
        group: "billing".into(),
        generation_id,
        partitions: partitions.iter().map(|p| tp(*p)).collect(),
    }
}

fn revoked(consumer: &str, partitions: &[i32]) -> Event {
    Event::PartitionsRevoked {
        consumer: consumer.into(),
        group: "billing".into(),
        partitions: partitions.iter().map(|p| tp(*p)).collect(),
    }
}

#[test]
fn unprocessed_records_are_acknowledged_below_the_commit_and_never_processed() {
    let records = trace(vec![
        (100, "checkout", acked(0, 0, "s0")),
        (110, "checkout", acked(0, 1, "s1")),
        (120, "checkout", acked(0, 2, "s2")),
        (125, "checkout", acked(0, 3, "s3")),
        (130, "checkout", acked(1, 0, "s4")),
        (131, "checkout", acked(1, -1, "s5")),
        (140, "checkout", acked(1, 0, "s4")),
        (500, "billing-1", processed("billing-1", "billing", 0, &[(0, "s0")])),
        // Another group's processing does not count for billing.
        (600, "audit-1", processed("audit-1", "audit", 0, &[(1, "s1")])),
    ]);
    let topics = BTreeSet::from(["orders".to_string()]);
    let committed = BTreeMap::from([(tp(0), 3), (tp(1), 1)]);
    let found = unprocessed_records(&records, "billing", &topics, &committed);
    let ids: Vec<(String, i64, &str)> = found.iter().map(|u| (u.tp.to_string(), u.offset, u.id.as_str())).collect();
    // s3 is at the committed offset (not below), s5 has no offset, s4 was acknowledged twice.
    assert_eq!(ids, [("orders-0".into(), 1, "s1"), ("orders-0".into(), 2, "s2"), ("orders-1".into(), 0, "s4")]);
    // Without a commit nothing was skipped, and topics the group does not read do not count.
    assert!(unprocessed_records(&records, "billing", &topics, &BTreeMap::new()).is_empty());
    assert!(unprocessed_records(&records, "billing", &BTreeSet::new(), &committed).is_empty());
}

#[test]
fn redelivered_records_are_processed_twice_by_the_group() {
    let records = trace(vec![
        (1_000, "billing-1", processed("billing-1", "billing", 0, &[(0, "s0"), (1, "s1")])),
        (2_000, "billing-2", processed("billing-2", "billing", 1, &[(0, "s9")])),
        (5_250, "billing-2", processed("billing-2", "billing", 0, &[(1, "s1"), (2, "s2")])),
        (6_000, "audit-1", processed("audit-1", "audit", 0, &[(0, "s0")])),
    ]);
    let (found, distinct) = redelivered_records(&records, "billing");
    assert_eq!(distinct, 4);
    assert_eq!(found.len(), 1);
    assert_eq!((found[0].tp.clone(), found[0].offset, found[0].id.as_str()), (tp(0), 1, "s1"));
    assert_eq!(found[0].processed_by, vec![("billing-1".to_string(), 1_000), ("billing-2".to_string(), 5_250)]);
    let (found, distinct) = redelivered_records(&records, "audit");
    assert!(found.is_empty());
    assert_eq!(distinct, 1);
}

#[test]
fn unowned_time_runs_from_revocation_to_the_next_assignment() {
    let ms = 1_000_000;
    let records = trace(vec![
        // Generation 1: billing-1 owns 0 and 1, billing-2 owns 2.
        (1_000, "billing-1", assigned("billing-1", 1, &[0, 1])),
        (1_000, "billing-2", assigned("billing-2", 1, &[2])),
        // An eager rebalance: everyone revokes everything ...
        (10_000, "billing-1", revoked("billing-1", &[0, 1])),
        (10_100, "billing-2", revoked("billing-2", &[2])),
        // ... and generation 2 hands the partitions out again 3 s later.
        (13_000, "billing-1", assigned("billing-1", 2, &[0])),
        (13_100, "billing-2", assigned("billing-2", 2, &[1, 2])),
        // billing-1 revokes a partition it no longer owns: nothing changes.
        (14_000, "billing-1", revoked("billing-1", &[1])),
        // billing-2 loses partition 2 and nobody takes it until the end.
        (
            20_000,
            "billing-2",
            Event::PartitionsLost {
                consumer: "billing-2".into(),
                group: "billing".into(),
                partitions: vec![tp(2)],
                reason: "session expired".into(),
            },
        ),
    ]);
    let per_partition = unowned_time(&records, "billing", 30_000 * ms);
    assert_eq!(
        per_partition,
        BTreeMap::from([(tp(0), 3_000 * ms), (tp(1), 3_100 * ms), (tp(2), (3_000 + 10_000) * ms)])
    );
    assert!(unowned_time(&records, "audit", 30_000 * ms).is_empty());
    // A partition revoked before it was ever assigned does not count.
    let early =
        trace(vec![(500, "billing-1", revoked("billing-1", &[0])), (900, "billing-1", assigned("billing-1", 1, &[0]))]);
    assert!(unowned_time(&early, "billing", 30_000 * ms).is_empty());
}

// ---------------------------------------------------------------------------------------------
// Whole runs. These need the consumer rewrite: the rebalance listener events, processing time,
// manual commits and seeks.

/// A group of two consumers on a three-partition topic; billing-2 crashes at 12 s. Each record
/// takes 100 ms to process and a poll returns at most 20, so the consumers lag behind the
/// producer and the crash falls in the middle of a batch.
fn crash_scenario(commit: &str, expect: &str) -> String {
    format!(
        r#"Scenario(
    name: "delivery semantics",
    seed: 11,
    kafka_version: "3.9",
    duration: "40s",
    cluster: (brokers: 3),
    topics: [(name: "orders", partitions: 3, replication_factor: 3)],
    clients: [
        Producer(id: "checkout", topic: "orders", rate_per_sec: 60.0, configs: {{"enable.idempotence": "false"}}),
        Consumer(id: "billing-1", group: "billing", topics: ["orders"], processing: "100ms", commit: {commit},
                 configs: {{"auto.offset.reset": "earliest", "enable.auto.commit": "false", "session.timeout.ms": "10000",
                           "max.poll.records": "20"}}),
        Consumer(id: "billing-2", group: "billing", topics: ["orders"], processing: "100ms", commit: {commit},
                 configs: {{"auto.offset.reset": "earliest", "enable.auto.commit": "false", "session.timeout.ms": "10000",
                           "max.poll.records": "20"}}),
    ],
    faults: [At("12s", Crash(Client("billing-2")))],
    expect: [{expect}],
)"#
    )
}

fn run(source: &str) -> (sim::report::RunReport, Vec<TraceRecord>) {
    let scenario = parse_str(source, "groups_plumbing.rs").unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario.seed;
    sim::run_traced(scenario, seed).unwrap_or_else(|e| panic!("{e}"))
}

fn assert_passed(report: &sim::report::RunReport) {
    let failed: Vec<String> =
        report.expectations.iter().filter(|e| !e.passed).map(|e| format!("{}: {}", e.name, e.detail)).collect();
    assert!(failed.is_empty(), "expectations failed:\n{}", failed.join("\n"));
}

#[test]
fn committing_before_processing_loses_records_when_a_consumer_crashes() {
    let (report, _) = run(&crash_scenario(
        "BeforeProcessing",
        r#"UnprocessedRecords(group: "billing", at_least: 1), Rebalances(group: "billing", at_least: 2)"#,
    ));
    assert_passed(&report);
    let detail = &report.expectations[0].detail;
    assert!(detail.contains("were never processed, e.g. "), "{detail}");
}

#[test]
fn committing_after_processing_redelivers_instead_of_losing() {
    let (report, _) = run(&crash_scenario(
        "AfterProcessing",
        r#"UnprocessedRecords(group: "billing", at_most: 0), RedeliveredRecords(group: "billing", at_least: 1)"#,
    ));
    assert_passed(&report);
    let detail = &report.expectations[1].detail;
    assert!(detail.contains("billing-2 at ") && detail.contains("billing-1 at "), "{detail}");
}

/// Three consumers with the given assignment strategy; the third joins at 10 s.
fn join_scenario(strategy: &str) -> String {
    let consumer = |id: &str, start: &str| {
        format!(
            r#"Consumer(id: "{id}", group: "billing", topics: ["orders"], start: "{start}",
                 configs: {{"auto.offset.reset": "earliest", "partition.assignment.strategy": "{strategy}"}}),"#
        )
    };
    format!(
        r#"Scenario(
    name: "a member joins",
    seed: 21,
    duration: "30s",
    cluster: (brokers: 3),
    topics: [(name: "orders", partitions: 6, replication_factor: 3)],
    clients: [
        Producer(id: "checkout", topic: "orders", rate_per_sec: 40.0, configs: {{"enable.idempotence": "false"}}),
        {}
        {}
        {}
    ],
    expect: [Rebalances(group: "billing", at_least: 2), PollTimeouts(group: "billing", at_least: 0)],
)"#,
        consumer("billing-1", "0s"),
        consumer("billing-2", "0s"),
        consumer("billing-3", "10s"),
    )
}

#[test]
fn the_cooperative_protocol_leaves_only_the_moving_partitions_unowned() {
    let unowned = |strategy: &str| {
        let (report, records) = run(&join_scenario(strategy));
        assert_passed(&report);
        unowned_time(&records, "billing", report.sim_time_ms * 1_000_000)
    };
    // Eager: every member gives up every partition before it rejoins (stop the world).
    let eager = unowned("range");
    assert_eq!(eager.len(), 6, "{eager:?}");
    // Cooperative (KIP-429): only the two partitions the sticky assignor moves to billing-3 are
    // revoked; the other four are consumed throughout. Their unowned time is not necessarily
    // shorter: the follow-up rebalance waits for the other members' next heartbeat.
    let cooperative = unowned("cooperative-sticky");
    assert_eq!(cooperative.len(), 2, "{cooperative:?}");
    // The same through the expectation's detail.
    let source = join_scenario("cooperative-sticky")
        .replace("PollTimeouts(group: \"billing\", at_least: 0)", "UnownedTime(group: \"billing\", at_least: \"1ms\")");
    let (report, _) = run(&source);
    assert_passed(&report);
    let detail = &report.expectations[1].detail;
    assert!(detail.contains("of unowned partition time over 2 partition(s) of group billing"), "{detail}");
}

#[test]
fn slow_processing_exceeds_the_poll_interval_and_stale_commits_fail() {
    let source = crash_scenario(
        "AfterProcessing",
        r#"PollTimeouts(group: "billing", at_least: 1), CommitFailures(group: "billing", at_least: 1)"#,
    )
    // A poll's 20 records take 2 s to process, longer than max.poll.interval.ms.
    .replace(r#""max.poll.records": "20""#, r#""max.poll.records": "20", "max.poll.interval.ms": "1500""#)
    .replace(r#"faults: [At("12s", Crash(Client("billing-2")))],"#, "");
    let (report, _) = run(&source);
    assert_passed(&report);
    assert!(report.expectations[1].detail.contains("refused: "), "{:?}", report.expectations[1]);
}

#[test]
fn an_assign_consumer_without_a_group_seeks_back_and_reads_again() {
    let source = BASE.replace(
        r#"expect: [Rebalances(group: "billing", at_least: 1)],"#,
        r#"expect: [RedeliveredRecords(group: "billing", at_most: 0)],"#,
    );
    let (report, records) = run(&source);
    assert_passed(&report);
    let seeks: Vec<&TraceRecord> = records
        .iter()
        .filter(|r| matches!(&r.body, TraceBody::Event(Event::Seeked { consumer, .. }) if consumer == "reader"))
        .collect();
    assert!(!seeks.is_empty(), "the reader seeks at 10s");
    assert!(seeks.iter().all(|r| r.time_ms() >= 10_000), "no seek before its time");
    // Without a group it commits nothing.
    assert!(!records
        .iter()
        .any(|r| matches!(&r.body, TraceBody::Event(Event::OffsetCommitted { group, .. }) if group.is_empty())));
    // The reader read orders-0 from the start twice: before and after the seek.
    let reads = |partition: i32| {
        records
            .iter()
            .filter(|r| matches!(&r.body, TraceBody::Event(Event::Polled { consumer, tp, records }) if consumer == "reader" && tp.partition == partition && records.first().is_some_and(|(o, _)| *o == 0)))
            .count()
    };
    assert!(reads(0) >= 2, "orders-0 from offset 0 {} time(s)", reads(0));
}

#[test]
fn a_coordinator_target_must_name_a_consumer_group() {
    let source = BASE.replace(
        r#"expect: [Rebalances(group: "billing", at_least: 1)],"#,
        r#"faults: [At("5s", Crash(Coordinator("biling")))],
    expect: [Rebalances(group: "billing", at_least: 1)],"#,
    );
    let error = parse_str(&source, "coordinator.ron").unwrap_err().to_string();
    assert!(error.contains("unknown consumer group \"biling\""), "{error}");
    assert!(error.contains("did you mean \"billing\"?"), "{error}");
    assert!(error.contains("coordinator.ron:"), "the error names the file and line: {error}");
}
