//! `kafkalab describe groups`: the tables of `kafka-consumer-groups.sh --describe`.
//!
//! Exact snapshots come from hand-made group descriptions, so they pin Kafka's format (column
//! sets, widths, `-` for missing values, the notes for empty, rebalancing and missing groups)
//! whatever the simulated coordinator does. Real runs of `scenarios/03-consumer-dies.ron` are
//! checked only for their shape, since the group behaviour is still being reworked.

use sim::report::{
    assignment_text, describe_consumer_groups, describe_group_members, describe_group_offsets, describe_group_state,
    GroupsView, Stream,
};
use sim::view::{AssignedPartition, GroupDescription, MemberDescription, OffsetDescription};
use std::path::Path;

/// A member of group `billing` on host `/10.0.0.{host}` owning `partitions` of `orders`.
fn member(member_id: &str, client_id: &str, host: u8, partitions: &[i32]) -> MemberDescription {
    MemberDescription {
        member_id: member_id.to_string(),
        client_id: client_id.to_string(),
        group_instance_id: None,
        host: format!("/10.0.0.{host}"),
        assignment: partitions
            .iter()
            .map(|p| AssignedPartition { topic: "orders".to_string(), partition: *p })
            .collect(),
    }
}

/// Partition `partition` of `orders` with `committed` and `log_end`, owned by `owner`.
fn offset(
    partition: i32,
    committed: Option<i64>,
    log_end: i64,
    owner: Option<&MemberDescription>,
) -> OffsetDescription {
    OffsetDescription {
        topic: "orders".to_string(),
        partition,
        committed_offset: committed,
        log_end_offset: log_end,
        lag: committed.map(|c| (log_end - c).max(0)),
        consumer_id: owner.map(|m| m.member_id.clone()),
        client_id: owner.map(|m| m.client_id.clone()),
        host: owner.map(|m| m.host.clone()),
    }
}

/// Group `billing`, stable in generation 2 on coordinator 2, with three members: billing-1
/// owns partitions 0 and 2, billing-2 owns 1 (nothing committed for it yet), and billing-3
/// owns nothing. Partition 3 has a committed offset but no owner.
fn stable_group() -> GroupDescription {
    let one = member("billing-1-4f1c9e0a-7d2b-4e8a-9b3c-5a6d7e8f9012", "billing-1", 5, &[2, 0]);
    let two = member("billing-2-0c1d2e3f-4a5b-4c6d-8e7f-901a2b3c4d5e", "billing-2", 6, &[1]);
    let three = member("billing-3-aa11bb22-cc33-4d44-8e55-ff6677889900", "billing-3", 7, &[]);
    GroupDescription {
        group: "billing".to_string(),
        state: "Stable".to_string(),
        generation_id: 2,
        protocol: "range".to_string(),
        coordinator: Some(2),
        offsets: vec![
            offset(0, Some(120), 166, Some(&one)),
            offset(1, None, 244, Some(&two)),
            offset(2, Some(277), 277, Some(&one)),
            offset(3, Some(90), 100, None),
            offset(4, None, 50, None),
        ],
        members: vec![one, two, three],
        last_rebalance_ms: Some(5_214),
    }
}

/// Group `audit`: every member left, the committed offsets stay.
fn empty_group() -> GroupDescription {
    GroupDescription {
        group: "audit".to_string(),
        state: "Empty".to_string(),
        generation_id: 4,
        protocol: String::new(),
        coordinator: Some(1),
        members: vec![],
        offsets: vec![offset(0, Some(10), 12, None), offset(1, None, 7, None)],
        last_rebalance_ms: Some(1_000),
    }
}

/// Group `billing` preparing a rebalance. The description still holds the previous
/// assignment; Kafka's coordinator leaves assignments and the assignor out of its answer until
/// the group is stable again, so the tables must too.
fn rebalancing_group() -> GroupDescription {
    GroupDescription { state: "PreparingRebalance".to_string(), ..stable_group() }
}

fn stdout(output: &sim::report::ToolOutput) -> String {
    output.stream(Stream::Stdout)
}

fn stderr(output: &sim::report::ToolOutput) -> String {
    output.stream(Stream::Stderr)
}

#[test]
fn offsets_view_of_a_stable_group() {
    let out = describe_group_offsets(&stable_group());
    assert_eq!(stderr(&out), "", "a stable group gets no note");
    insta::assert_snapshot!("offsets_stable", stdout(&out));
}

#[test]
fn offsets_view_orders_members_by_partition_count_then_unowned_commits() {
    let text = stdout(&describe_group_offsets(&stable_group()));
    let rows: Vec<Vec<&str>> = text.lines().skip(2).map(|l| l.split_whitespace().collect()).collect();
    let cells: Vec<(&str, &str, &str, &str)> = rows.iter().map(|r| (r[2], r[3], r[5], r[8])).collect();
    assert_eq!(
        cells,
        [
            // billing-1 has two partitions, so it comes first, its partitions in order.
            ("0", "120", "46", "billing-1"),
            ("2", "277", "0", "billing-1"),
            // Nothing is committed for partition 1: CURRENT-OFFSET and LAG are `-`.
            ("1", "-", "-", "billing-2"),
            // Committed but owned by nobody: the member columns are `-`.
            ("3", "90", "10", "-"),
        ]
    );
    // billing-3 owns nothing and partition 4 has no commit and no owner: neither has a row.
    assert!(!text.contains("billing-3"), "{text}");
}

#[test]
fn offsets_view_columns_grow_with_their_widest_value() {
    let text = stdout(&describe_group_offsets(&stable_group()));
    let header = text.lines().nth(1).unwrap();
    // GROUP and TOPIC are at least 15 wide; PARTITION 10; the offsets and LAG 15 each;
    // CONSUMER-ID as wide as the longest member id (46); HOST at least 15.
    let at = |name: &str| header.find(name).unwrap();
    assert_eq!(at("TOPIC"), 16);
    assert_eq!(at("PARTITION"), 32);
    assert_eq!(at("CURRENT-OFFSET"), 43);
    assert_eq!(at("LOG-END-OFFSET"), 59);
    assert_eq!(at("LAG"), 75);
    assert_eq!(at("CONSUMER-ID"), 91);
    assert_eq!(at("HOST"), 91 + 46 + 1);
    assert_eq!(at("CLIENT-ID"), 91 + 46 + 1 + 16);
    assert!(header.ends_with("CLIENT-ID"), "the last column is not padded");

    let mut long = stable_group();
    long.group = "billing-reconciliation-service".to_string();
    let text = stdout(&describe_group_offsets(&long));
    assert_eq!(text.lines().nth(1).unwrap().find("TOPIC"), Some(31));
}

#[test]
fn offsets_view_lag_is_not_clamped() {
    let mut group = stable_group();
    // A committed offset past the log end (after an unclean election truncated the log).
    group.offsets[0].committed_offset = Some(170);
    let text = stdout(&describe_group_offsets(&group));
    let row = text.lines().nth(2).unwrap();
    assert_eq!(row.split_whitespace().nth(5), Some("-4"), "{row}");
}

#[test]
fn members_view() {
    let out = describe_group_members(&stable_group(), false);
    assert_eq!(stderr(&out), "");
    insta::assert_snapshot!("members_stable", stdout(&out));
    // Kafka pads #PARTITIONS and adds a space even at the end of a line (the snapshot keeps
    // trailing spaces only inside the text).
    let text = stdout(&out);
    assert!(text.lines().skip(1).all(|line| line.ends_with(' ')), "{text:?}");
    assert!(text.ends_with("billing-3       0               \n"), "{text:?}");
}

#[test]
fn members_view_verbose_with_a_static_member() {
    let mut group = stable_group();
    group.members[1].group_instance_id = Some("billing-b".to_string());
    group.members[0].assignment.push(AssignedPartition { topic: "audit".to_string(), partition: 10 });
    group.members[0].assignment.push(AssignedPartition { topic: "audit".to_string(), partition: 9 });
    let out = describe_group_members(&group, true);
    insta::assert_snapshot!("members_verbose_static", stdout(&out));
    let text = stdout(&out);
    assert!(text.contains("GROUP-INSTANCE-ID"));
    // Topics sorted, partitions in numeric order, `-` for a member without partitions.
    assert!(text.contains("audit(9,10), orders(0,2)"), "{text}");
    assert!(text.lines().last().unwrap().ends_with("0               -"), "{text}");
}

#[test]
fn assignment_text_formats() {
    assert_eq!(assignment_text(&[]), "-");
    let tp = |topic: &str, partition| AssignedPartition { topic: topic.to_string(), partition };
    assert_eq!(assignment_text(&[tp("orders", 2), tp("orders", 0), tp("orders", 11)]), "orders(0,2,11)");
    assert_eq!(assignment_text(&[tp("b", 1), tp("a", 0)]), "a(0), b(1)");
}

#[test]
fn state_view() {
    let out = describe_group_state(&stable_group());
    assert_eq!(stderr(&out), "");
    insta::assert_snapshot!("state_stable", stdout(&out));
}

#[test]
fn an_empty_group_is_noted_on_standard_error() {
    let group = empty_group();
    let note = "\nConsumer group 'audit' has no active members.\n";

    // Offsets: the note, then the committed partitions without members.
    let out = describe_group_offsets(&group);
    assert_eq!(stderr(&out), note);
    insta::assert_snapshot!("offsets_empty", out.interleaved());

    // Members: the note, then (as Kafka since 3.8 does) a header with no rows.
    let out = describe_group_members(&group, false);
    assert_eq!(stderr(&out), note);
    assert_eq!(stdout(&out), "\nGROUP           CONSUMER-ID     HOST            CLIENT-ID       #PARTITIONS     \n");

    // State: the note, then the table with no strategy and no members.
    let out = describe_group_state(&group);
    assert_eq!(stderr(&out), note);
    insta::assert_snapshot!("state_empty", stdout(&out));

    // Without any committed offset there are no rows, so the offsets table is left out.
    let bare = GroupDescription { offsets: vec![], ..group };
    let out = describe_group_offsets(&bare);
    assert_eq!(stdout(&out), "");
    assert_eq!(stderr(&out), note);
}

#[test]
fn a_rebalancing_group_is_warned_about() {
    let group = rebalancing_group();
    let warning = "\nWarning: Consumer group 'billing' is rebalancing.\n";
    for view in [GroupsView::Offsets, GroupsView::Members { verbose: true }, GroupsView::State] {
        let out = describe_consumer_groups(std::slice::from_ref(&group), None, view);
        assert_eq!(stderr(&out), warning, "{view:?}");
        assert!(out.interleaved().starts_with(warning), "the warning comes first ({view:?})");
    }
    // While it rebalances nobody owns a partition: only the committed ones are listed.
    insta::assert_snapshot!("offsets_rebalancing", describe_group_offsets(&group).interleaved());
    // Every member is listed, none with partitions.
    let members = stdout(&describe_group_members(&group, true));
    let rows: Vec<&str> = members.lines().filter(|l| l.starts_with("billing ")).collect();
    assert_eq!(rows.len(), 3, "{members}");
    assert!(rows.iter().all(|row| row.ends_with(" 0               -")), "{members}");
    // And the assignor is not known until the group is stable.
    let state = stdout(&describe_group_state(&group));
    let row = state.lines().last().unwrap();
    assert!(row.contains("(2)                             PreparingRebalance"), "{row}");
}

#[test]
fn a_missing_group_does_not_exist() {
    let groups = [stable_group()];
    let names = ["nope".to_string()];
    let error = "\nError: Consumer group 'nope' does not exist.\n";
    let out = describe_consumer_groups(&groups, Some(&names), GroupsView::Offsets);
    assert_eq!(out.interleaved(), error);
    let out = describe_consumer_groups(&groups, Some(&names), GroupsView::State);
    assert_eq!(out.interleaved(), error);
    // Kafka's --members view prints its header even then.
    let out = describe_consumer_groups(&groups, Some(&names), GroupsView::Members { verbose: false });
    assert!(out.interleaved().starts_with(error));
    assert!(out.interleaved().ends_with("#PARTITIONS     \n"));
    assert_eq!(stderr(&out), "", "the error goes to standard output, as Kafka's printError does");

    // A group the coordinator does not know is `Dead`: the same error.
    let dead = GroupDescription { state: "Dead".to_string(), members: vec![], ..empty_group() };
    let out = describe_consumer_groups(&[dead], None, GroupsView::Offsets);
    assert_eq!(out.interleaved(), "", "--all-groups lists only groups that exist");
}

#[test]
fn groups_are_described_in_name_order() {
    let groups = [stable_group(), empty_group()];
    let all = describe_consumer_groups(&groups, None, GroupsView::State).interleaved();
    let audit = all.find("\naudit ").unwrap();
    let billing = all.find("\nbilling ").unwrap();
    assert!(audit < billing, "{all}");
    let names = ["billing".to_string(), "audit".to_string(), "billing".to_string()];
    let chosen = describe_consumer_groups(&groups, Some(&names), GroupsView::State).interleaved();
    assert_eq!(chosen, all, "--group names are described once each, in name order");
}

#[test]
fn no_coordinator_fails_the_command() {
    let lost = GroupDescription { state: "Unknown".to_string(), coordinator: None, ..stable_group() };
    let names = ["billing".to_string()];
    let out = describe_consumer_groups(&[lost, empty_group()], Some(&names), GroupsView::Offsets);
    assert_eq!(
        out.interleaved(),
        "\nError: Executing consumer group command failed due to \
         org.apache.kafka.common.errors.CoordinatorNotAvailableException: The coordinator is not available.\n"
    );
}

#[test]
fn run_report_prints_the_same_tables() {
    let groups = [stable_group()];
    let text = sim::report::describe_groups(&groups);
    for view in [GroupsView::State, GroupsView::Members { verbose: true }, GroupsView::Offsets] {
        let command = format!("$ kafka-consumer-groups.sh --describe --all-groups{}\n", view.options());
        let table = describe_consumer_groups(&groups, None, view).interleaved();
        assert!(text.contains(&format!("{command}{table}")), "{command}: {text}");
    }
    assert!(text.contains("kafkalab: group billing is in generation 2, last rebalance at 5.214s"), "{text}");
}

fn consumer_dies() -> sim::scenario::Scenario {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/03-consumer-dies.ron");
    sim::scenario::load_file(&path).unwrap_or_else(|e| panic!("{e}"))
}

/// The header line of a view, split into column names.
fn header_of(text: &str) -> Vec<String> {
    text.lines().find(|l| l.starts_with("GROUP")).unwrap_or_default().split_whitespace().map(str::to_string).collect()
}

/// The shape of the three views of group billing at the end of `03-consumer-dies`: one
/// offsets row per partition of `orders`, Kafka's headers, one member row per member.
#[test]
fn consumer_dies_views_have_kafkas_shape() {
    let scenario = consumer_dies();
    let seed = scenario.seed;
    let view = sim::report::view_at(scenario, seed, None).unwrap_or_else(|e| panic!("{e}"));
    let group = view.groups.iter().find(|g| g.group == "billing").expect("group billing is described");
    let names = ["billing".to_string()];

    let offsets = describe_consumer_groups(&view.groups, Some(&names), GroupsView::Offsets).interleaved();
    assert_eq!(
        header_of(&offsets),
        ["GROUP", "TOPIC", "PARTITION", "CURRENT-OFFSET", "LOG-END-OFFSET", "LAG", "CONSUMER-ID", "HOST", "CLIENT-ID"]
    );
    let rows: Vec<Vec<&str>> =
        offsets.lines().filter(|l| l.starts_with("billing ")).map(|l| l.split_whitespace().collect()).collect();
    let mut partitions: Vec<&str> = rows.iter().map(|r| r[2]).collect();
    partitions.sort_unstable();
    assert_eq!(partitions, ["0", "1", "2"], "one row per partition of orders:\n{offsets}");
    for row in &rows {
        assert_eq!(row.len(), 9, "every cell is filled, `-` when missing: {row:?}");
        assert_eq!(row[1], "orders");
        assert!(row[7].starts_with("/10.") || row[7] == "-", "HOST is an address: {row:?}");
    }

    let members = describe_consumer_groups(&view.groups, Some(&names), GroupsView::Members { verbose: true });
    let members = members.interleaved();
    assert_eq!(header_of(&members), ["GROUP", "CONSUMER-ID", "HOST", "CLIENT-ID", "#PARTITIONS", "ASSIGNMENT"]);
    let member_rows = members.lines().filter(|l| l.starts_with("billing ")).count();
    assert_eq!(member_rows, group.members.len(), "{members}");

    let state = describe_consumer_groups(&view.groups, Some(&names), GroupsView::State).interleaved();
    assert_eq!(header_of(&state), ["GROUP", "COORDINATOR", "(ID)", "ASSIGNMENT-STRATEGY", "STATE", "#MEMBERS"]);
    let row = state.lines().find(|l| l.starts_with("billing ")).expect("a state row");
    assert!(row.contains(":9092  ("), "the coordinator is host:port  (id): {row}");
    assert!(row.trim_end().ends_with(&group.members.len().to_string()), "{row}");
}

/// Before the crash both consumers are members; the view at `--at 10s` is taken mid-run, the
/// way `kafkalab describe groups --at 10s` takes it.
#[test]
fn consumer_dies_at_ten_seconds() {
    let scenario = consumer_dies();
    let seed = scenario.seed;
    let at = Some(std::time::Duration::from_secs(10));
    let view = sim::report::view_at(scenario, seed, at).unwrap_or_else(|e| panic!("{e}"));
    assert_eq!(view.time_ms, 10_000);
    let group = view.groups.iter().find(|g| g.group == "billing").expect("group billing is described");
    assert!(group.last_rebalance_ms.is_some_and(|ms| ms <= 10_000), "{group:?}");
    let clients: Vec<&str> = group.members.iter().map(|m| m.client_id.as_str()).collect();
    assert!(clients.contains(&"billing-1") && clients.contains(&"billing-2"), "{clients:?}");
    for m in &group.members {
        assert!(m.host.starts_with("/10."), "{m:?}");
    }
    let members = describe_consumer_groups(&view.groups, None, GroupsView::Members { verbose: false }).interleaved();
    assert_eq!(members.lines().filter(|l| l.starts_with("billing ")).count(), 2, "{members}");
}

/// `run --json` carries every member's assignment, host and `group_instance_id`, and each
/// group's latest rebalance.
#[test]
fn run_json_carries_members_and_rebalances() {
    let scenario = consumer_dies();
    let seed = scenario.seed;
    let report = sim::run(scenario, seed).unwrap_or_else(|e| panic!("{e}"));
    let json = serde_json::to_value(&report).unwrap();
    let group = &json["groups"][0];
    assert_eq!(group["group"], "billing");
    assert!(group["last_rebalance_ms"].is_u64(), "{group}");
    let members = group["members"].as_array().unwrap();
    assert!(!members.is_empty());
    for m in members {
        for field in ["member_id", "client_id", "group_instance_id", "host", "assignment"] {
            assert!(m.get(field).is_some(), "missing groups[].members[].{field}: {m}");
        }
    }
    let assigned: usize = members.iter().map(|m| m["assignment"].as_array().unwrap().len()).sum();
    assert_eq!(assigned, 3, "the three partitions of orders are assigned: {group}");
}
