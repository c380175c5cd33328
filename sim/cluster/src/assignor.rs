//! Consumer-group partition assignment, computed by the group leader.
//!
//! In Kafka's classic group protocol the coordinator broker does not decide who consumes what.
//! It collects every member's JoinGroup request, picks one member as leader and hands it the
//! full member list with each member's subscription. The leader runs a client-side assignor,
//! named by `partition.assignment.strategy`, and returns the result in its SyncGroup request;
//! the coordinator then passes each member its share.
//!
//! This module holds the assignors kafkalab models. For now that is the range assignor
//! (`org.apache.kafka.clients.consumer.RangeAssignor`, protocol name `"range"`), which was the
//! Java consumer's default for years and is still the first entry of the default strategy list.
//! The rack-aware variant added by KIP-881 is not modelled: kafkalab brokers and clients carry no
//! rack, and without racks Kafka takes the plain path reproduced here.
//!
//! Everything here is pure and deterministic: `BTreeMap` and sorted vectors only, so the same
//! inputs always give the same output in the same order.

use crate::ids::TopicPartition;
use std::cmp::Ordering;
use std::collections::BTreeMap;

/// One group member's subscription as the group leader sees it in JoinGroup.
///
/// `member_id` is the id the coordinator assigned to the member (in Kafka, the client id
/// followed by a dash and a UUID). `group_instance_id` is the member's `group.instance.id` if
/// it is a static member (KIP-345) and `None` for a dynamic member. `topics` is the list of
/// topic names the member subscribes to; its order does not matter and repeats are harmless.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct MemberSubscription {
    /// The member id the group coordinator gave this member.
    pub member_id: String,
    /// The static membership id (`group.instance.id`), if the member configured one.
    pub group_instance_id: Option<String>,
    /// The topics the member subscribes to, by name.
    pub topics: Vec<String>,
    /// The partitions the member owned before this rebalance: the `ownedPartitions` of the
    /// cooperative protocol (KIP-429), or for the eager sticky assignor the previous assignment
    /// it carries in its user data. Empty for a new member.
    pub owned_partitions: Vec<TopicPartition>,
    /// The generation in which the member owned them (KIP-792); `None` when unknown, which the
    /// sticky assignors treat as Kafka's `DEFAULT_GENERATION` (-1).
    pub generation: Option<i32>,
}

/// How members give up partitions during a rebalance (`ConsumerPartitionAssignor.RebalanceProtocol`).
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum RebalanceProtocol {
    /// Every member revokes all its partitions before rejoining.
    Eager,
    /// Members keep what they own; a moving partition is revoked in one rebalance and assigned
    /// in the next (KIP-429).
    Cooperative,
}

/// The client-side assignors Kafka ships, by `partition.assignment.strategy`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub enum Assignor {
    /// `org.apache.kafka.clients.consumer.RangeAssignor`, protocol name `range`.
    Range,
    /// `org.apache.kafka.clients.consumer.RoundRobinAssignor`, protocol name `roundrobin`.
    RoundRobin,
    /// `org.apache.kafka.clients.consumer.StickyAssignor`, protocol name `sticky`.
    Sticky,
    /// `org.apache.kafka.clients.consumer.CooperativeStickyAssignor`, protocol name
    /// `cooperative-sticky`.
    CooperativeSticky,
}

impl Assignor {
    /// Every assignor, in the order Kafka's documentation lists them.
    pub const ALL: [Assignor; 4] = [Assignor::Range, Assignor::RoundRobin, Assignor::Sticky, Assignor::CooperativeSticky];

    /// The protocol name sent in JoinGroup (`ConsumerPartitionAssignor.name()`).
    pub fn name(self) -> &'static str {
        match self {
            Assignor::Range => RANGE,
            Assignor::RoundRobin => "roundrobin",
            Assignor::Sticky => "sticky",
            Assignor::CooperativeSticky => "cooperative-sticky",
        }
    }

    /// The Java class name a `partition.assignment.strategy` list may use.
    pub fn class_name(self) -> &'static str {
        match self {
            Assignor::Range => "org.apache.kafka.clients.consumer.RangeAssignor",
            Assignor::RoundRobin => "org.apache.kafka.clients.consumer.RoundRobinAssignor",
            Assignor::Sticky => "org.apache.kafka.clients.consumer.StickyAssignor",
            Assignor::CooperativeSticky => "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
        }
    }

    /// Parses a protocol name or a class name; `None` for anything else.
    pub fn from_name(name: &str) -> Option<Assignor> {
        let name = name.trim();
        Assignor::ALL.into_iter().find(|a| a.name() == name || a.class_name() == name)
    }

    /// The rebalance protocols the assignor supports (`supportedProtocols()`): only
    /// CooperativeSticky supports cooperative rebalancing.
    pub fn supported_protocols(self) -> &'static [RebalanceProtocol] {
        match self {
            Assignor::CooperativeSticky => &[RebalanceProtocol::Eager, RebalanceProtocol::Cooperative],
            _ => &[RebalanceProtocol::Eager],
        }
    }

    /// Runs the assignor. `members` in any order; `partitions_per_topic` maps each topic in the
    /// leader's metadata to its partition count. The result has every member id, each with its
    /// partitions sorted by (topic, partition).
    pub fn assign(
        self,
        members: &[MemberSubscription],
        partitions_per_topic: &BTreeMap<String, i32>,
    ) -> BTreeMap<String, Vec<TopicPartition>> {
        match self {
            Assignor::Range => range_assign(members, partitions_per_topic),
            // Filled in by the assignor work; range stands in until then.
            Assignor::RoundRobin | Assignor::Sticky | Assignor::CooperativeSticky => {
                range_assign(members, partitions_per_topic)
            }
        }
    }
}

/// The protocol name the range assignor advertises in JoinGroup, as returned by
/// `RangeAssignor.name()` in Kafka.
pub const RANGE: &str = "range";

/// Compares two strings the way Java's `String.compareTo` does.
///
/// Java compares strings by their UTF-16 code units, while Rust's `str` ordering compares UTF-8
/// bytes, which amounts to comparing code points. The two agree except when a character outside
/// the Basic Multilingual Plane (encoded in UTF-16 as a surrogate pair starting at 0xD800) is
/// compared with a character from U+E000 to U+FFFF. Member ids and instance ids are almost always
/// ASCII, but following Java exactly costs nothing and keeps the order identical to Kafka's for
/// every input.
fn java_string_cmp(a: &str, b: &str) -> Ordering {
    a.encode_utf16().cmp(b.encode_utf16())
}

/// The order in which the range assignor lines members up, after Kafka's
/// `AbstractPartitionAssignor.MemberInfo.compareTo` (introduced with static membership,
/// KIP-345).
///
/// Static members (those with a `group_instance_id`) come first, ordered by instance id, and
/// dynamic members follow, ordered by member id. Ordering static members by their stable
/// instance id means a static member that restarts with a new member id keeps its place, and
/// therefore its partitions.
///
/// Kafka's comparison returns "equal" for two members with the same instance id and leaves their
/// relative order to whatever order the leader's map produced. A group never holds two members
/// with the same instance id (the coordinator fences the older one), but to stay deterministic
/// even then we break that tie by member id.
fn member_order(a: &MemberSubscription, b: &MemberSubscription) -> Ordering {
    match (&a.group_instance_id, &b.group_instance_id) {
        (Some(x), Some(y)) => java_string_cmp(x, y).then_with(|| java_string_cmp(&a.member_id, &b.member_id)),
        (Some(_), None) => Ordering::Less,
        (None, Some(_)) => Ordering::Greater,
        (None, None) => java_string_cmp(&a.member_id, &b.member_id),
    }
}

/// Kafka's RangeAssignor.
///
/// Inputs: `members` is every member of the group with its subscription, in any order, and
/// `partitions_per_topic` maps each topic the leader found in metadata to its partition count.
/// The result maps every member id to the partitions it should consume, sorted by topic name and
/// then partition number. Every member appears in the result, with an empty list if it gets
/// nothing.
///
/// The rule, from `org.apache.kafka.clients.consumer.RangeAssignor` (non-rack-aware path), is
/// applied one topic at a time, for each topic of `partitions_per_topic` in name order:
///
/// 1. The topic's subscribers are lined up in member order (see `MemberInfo.compareTo`: static
///    members by `group.instance.id` first, then dynamic members by member id).
/// 2. With `P` partitions and `C` subscribers, let `n = P / C` and `r = P % C`. The subscriber at
///    position `i` (from 0) receives a contiguous block of `n + 1` partitions if `i < r` and of
///    `n` partitions otherwise, the blocks following one another from partition 0 upwards.
///
/// So for each topic the first `r` subscribers get one partition more than the rest, and when
/// there are more subscribers than partitions the last `C - P` get none of that topic. Because
/// the same members win the extra partition on every topic, range assignment can be lopsided
/// across many topics, but it lines up partition `k` of co-partitioned topics on the same member,
/// which is what joins between such topics rely on.
///
/// A topic that a member subscribes to but that is missing from `partitions_per_topic` (not yet
/// created, or not in the leader's metadata) is skipped, as Kafka does. A topic in
/// `partitions_per_topic` that nobody subscribes to is ignored. A count of zero assigns nothing.
///
/// # Panics
///
/// Panics if two members share a member id, since the coordinator never produces such a group
/// and the result map could not represent it, or if a partition count is negative.
pub fn range_assign(
    members: &[MemberSubscription],
    partitions_per_topic: &BTreeMap<String, i32>,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut assignment: BTreeMap<String, Vec<TopicPartition>> = BTreeMap::new();
    for member in members {
        let previous = assignment.insert(member.member_id.clone(), Vec::new());
        assert!(
            previous.is_none(),
            "range_assign: member id {:?} appears more than once in the group",
            member.member_id
        );
    }

    let mut ordered: Vec<&MemberSubscription> = members.iter().collect();
    ordered.sort_by(|a, b| member_order(a, b));

    for (topic, &partition_count) in partitions_per_topic {
        assert!(
            partition_count >= 0,
            "range_assign: topic {topic:?} has a negative partition count ({partition_count})"
        );
        let subscribers: Vec<&MemberSubscription> =
            ordered.iter().copied().filter(|member| member.topics.iter().any(|t| t == topic)).collect();
        if subscribers.is_empty() {
            continue;
        }

        // A group's member count always fits in an i32 (Kafka counts members with a Java int).
        let consumer_count = i32::try_from(subscribers.len()).expect("range_assign: more than i32::MAX members");
        let per_member = partition_count / consumer_count;
        let with_extra = partition_count % consumer_count;

        let mut next_partition = 0;
        for (position, member) in (0..).zip(subscribers) {
            let share = per_member + i32::from(position < with_extra);
            let owned =
                assignment.get_mut(&member.member_id).expect("every member was entered in the assignment above");
            owned.extend(
                (next_partition..next_partition + share).map(|partition| TopicPartition::new(topic.clone(), partition)),
            );
            next_partition += share;
        }
        debug_assert_eq!(next_partition, partition_count);
    }

    // Topics are visited in name order and each block is ascending, so the lists are already in
    // (topic, partition) order; sorting anyway keeps that promise independent of the loop above.
    for owned in assignment.values_mut() {
        owned.sort();
    }
    assignment
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;
    use std::collections::BTreeSet;

    /// A dynamic member subscribing to `topics`.
    fn dynamic(member_id: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription {
            member_id: member_id.to_string(),
            group_instance_id: None,
            topics: topics.iter().map(|t| t.to_string()).collect(),
            owned_partitions: Vec::new(),
            generation: None,
        }
    }

    /// A static member with `group.instance.id` set to `instance_id`.
    fn static_member(member_id: &str, instance_id: &str, topics: &[&str]) -> MemberSubscription {
        MemberSubscription { group_instance_id: Some(instance_id.to_string()), ..dynamic(member_id, topics) }
    }

    /// A `partitions_per_topic` map from `(topic, count)` pairs.
    fn counts(pairs: &[(&str, i32)]) -> BTreeMap<String, i32> {
        pairs.iter().map(|&(t, n)| (t.to_string(), n)).collect()
    }

    /// Topic-partitions from `(topic, partition)` pairs.
    fn tps(pairs: &[(&str, i32)]) -> Vec<TopicPartition> {
        pairs.iter().map(|&(t, p)| TopicPartition::new(t, p)).collect()
    }

    #[test]
    fn the_protocol_name_is_range() {
        assert_eq!(RANGE, "range");
    }

    #[test]
    fn three_partitions_over_two_members() {
        let members = [dynamic("m-a", &["orders"]), dynamic("m-b", &["orders"])];
        let result = range_assign(&members, &counts(&[("orders", 3)]));
        assert_eq!(result["m-a"], tps(&[("orders", 0), ("orders", 1)]));
        assert_eq!(result["m-b"], tps(&[("orders", 2)]));
        assert_eq!(result.len(), 2);
    }

    #[test]
    fn more_members_than_partitions_leaves_one_idle() {
        // The classic lesson: a group cannot usefully grow beyond the partition count, and the
        // surplus member sits idle with an empty assignment.
        let members = [dynamic("m-a", &["orders"]), dynamic("m-b", &["orders"]), dynamic("m-c", &["orders"])];
        let result = range_assign(&members, &counts(&[("orders", 2)]));
        assert_eq!(result["m-a"], tps(&[("orders", 0)]));
        assert_eq!(result["m-b"], tps(&[("orders", 1)]));
        assert_eq!(result["m-c"], Vec::<TopicPartition>::new());
        assert_eq!(result.len(), 3);
    }

    #[test]
    fn two_topics_with_different_subscribers() {
        // audit has 2 partitions shared by m-a and m-b; orders has 4 shared by all three.
        let members =
            [dynamic("m-a", &["audit", "orders"]), dynamic("m-b", &["audit", "orders"]), dynamic("m-c", &["orders"])];
        let result = range_assign(&members, &counts(&[("audit", 2), ("orders", 4)]));
        assert_eq!(result["m-a"], tps(&[("audit", 0), ("orders", 0), ("orders", 1)]));
        assert_eq!(result["m-b"], tps(&[("audit", 1), ("orders", 2)]));
        assert_eq!(result["m-c"], tps(&[("orders", 3)]));
    }

    #[test]
    fn the_same_members_win_the_extra_partition_on_every_topic() {
        // Two members, two topics of three partitions each: the first member in order gets the
        // extra partition of both topics, which is range assignment's known imbalance.
        let members = [dynamic("c1", &["t0", "t1"]), dynamic("c0", &["t0", "t1"])];
        let result = range_assign(&members, &counts(&[("t0", 3), ("t1", 3)]));
        assert_eq!(result["c0"], tps(&[("t0", 0), ("t0", 1), ("t1", 0), ("t1", 1)]));
        assert_eq!(result["c1"], tps(&[("t0", 2), ("t1", 2)]));
    }

    #[test]
    fn static_members_come_first_ordered_by_instance_id() {
        // Member ids alone would put m-a first; static membership overrides that, and among
        // static members the instance id decides, not the member id.
        let members = [
            dynamic("m-a", &["orders"]),
            static_member("m-z", "instance-2", &["orders"]),
            static_member("m-y", "instance-1", &["orders"]),
            dynamic("m-b", &["orders"]),
        ];
        let result = range_assign(&members, &counts(&[("orders", 6)]));
        assert_eq!(result["m-y"], tps(&[("orders", 0), ("orders", 1)]));
        assert_eq!(result["m-z"], tps(&[("orders", 2), ("orders", 3)]));
        assert_eq!(result["m-a"], tps(&[("orders", 4)]));
        assert_eq!(result["m-b"], tps(&[("orders", 5)]));
    }

    #[test]
    fn a_restarted_static_member_keeps_its_partitions() {
        // The static member comes back under a new member id that now sorts last; its instance
        // id still puts it first, so it keeps the same partitions.
        let before = [static_member("consumer-1-aaa", "host-1", &["orders"]), dynamic("consumer-2-bbb", &["orders"])];
        let after = [static_member("consumer-1-zzz", "host-1", &["orders"]), dynamic("consumer-2-bbb", &["orders"])];
        let partitions = counts(&[("orders", 4)]);
        assert_eq!(
            range_assign(&before, &partitions)["consumer-1-aaa"],
            range_assign(&after, &partitions)["consumer-1-zzz"]
        );
    }

    #[test]
    fn member_ids_compare_like_java_strings() {
        // U+FF61 is a single UTF-16 unit 0xFF61; U+10000 is the surrogate pair 0xD800 0xDC00.
        // Java therefore sorts U+10000 first, while Rust's byte order would sort U+FF61 first.
        let bmp = "\u{FF61}";
        let astral = "\u{10000}";
        assert!(bmp < astral, "Rust's own order, for contrast");
        let members = [dynamic(bmp, &["t"]), dynamic(astral, &["t"])];
        let result = range_assign(&members, &counts(&[("t", 1)]));
        assert_eq!(result[astral], tps(&[("t", 0)]));
        assert_eq!(result[bmp], Vec::<TopicPartition>::new());
    }

    #[test]
    fn member_ids_compare_as_plain_strings_not_numbers() {
        // "m-10" sorts before "m-9" because the comparison is character by character.
        let members = [dynamic("m-9", &["t"]), dynamic("m-10", &["t"])];
        let result = range_assign(&members, &counts(&[("t", 1)]));
        assert_eq!(result["m-10"], tps(&[("t", 0)]));
        assert_eq!(result["m-9"], Vec::<TopicPartition>::new());
    }

    #[test]
    fn subscribed_topics_missing_from_metadata_are_skipped() {
        let members = [dynamic("m-a", &["orders", "not-yet-created"]), dynamic("m-b", &["not-yet-created"])];
        let result = range_assign(&members, &counts(&[("orders", 2)]));
        assert_eq!(result["m-a"], tps(&[("orders", 0), ("orders", 1)]));
        assert_eq!(result["m-b"], Vec::<TopicPartition>::new());
    }

    #[test]
    fn topics_nobody_subscribes_to_are_not_assigned() {
        let members = [dynamic("m-a", &["orders"])];
        let result = range_assign(&members, &counts(&[("audit", 3), ("orders", 1)]));
        assert_eq!(result["m-a"], tps(&[("orders", 0)]));
    }

    #[test]
    fn members_without_subscriptions_still_appear() {
        let members = [dynamic("m-a", &[]), dynamic("m-b", &["orders"])];
        let result = range_assign(&members, &counts(&[("orders", 1)]));
        assert_eq!(result["m-a"], Vec::<TopicPartition>::new());
        assert_eq!(result["m-b"], tps(&[("orders", 0)]));
    }

    #[test]
    fn a_topic_with_zero_partitions_assigns_nothing() {
        let members = [dynamic("m-a", &["empty"])];
        let result = range_assign(&members, &counts(&[("empty", 0)]));
        assert_eq!(result["m-a"], Vec::<TopicPartition>::new());
    }

    #[test]
    fn repeated_topics_in_a_subscription_count_once() {
        let members = [dynamic("m-a", &["orders", "orders"]), dynamic("m-b", &["orders"])];
        let result = range_assign(&members, &counts(&[("orders", 2)]));
        assert_eq!(result["m-a"], tps(&[("orders", 0)]));
        assert_eq!(result["m-b"], tps(&[("orders", 1)]));
    }

    #[test]
    fn an_empty_group_gets_an_empty_assignment() {
        assert!(range_assign(&[], &counts(&[("orders", 3)])).is_empty());
    }

    #[test]
    #[should_panic(expected = "appears more than once")]
    fn duplicate_member_ids_are_rejected() {
        let members = [dynamic("m-a", &["t"]), dynamic("m-a", &["t"])];
        range_assign(&members, &counts(&[("t", 1)]));
    }

    #[test]
    #[should_panic(expected = "negative partition count")]
    fn negative_partition_counts_are_rejected() {
        range_assign(&[dynamic("m-a", &["t"])], &counts(&[("t", -1)]));
    }

    /// The topics the property tests draw from. `ghost` is never given a partition count, so
    /// subscribing to it exercises the "missing from metadata" rule.
    const TOPICS: [&str; 4] = ["alpha", "beta", "gamma", "delta"];
    const GHOST: &str = "ghost";

    /// A random group: distinct member ids, some static members, and per member a bit mask of
    /// which of [`TOPICS`] (bits 0 to 3) and [`GHOST`] (bit 4) it subscribes to.
    fn arb_group() -> impl Strategy<Value = Vec<MemberSubscription>> {
        proptest::collection::vec(("[a-d]{1,3}", any::<bool>(), 0u8..32), 0..8).prop_map(|raw| {
            let mut seen = BTreeSet::new();
            raw.into_iter()
                .filter(|(id, _, _)| seen.insert(id.clone()))
                .map(|(id, is_static, mask)| {
                    let topics = TOPICS
                        .iter()
                        .chain(std::iter::once(&GHOST))
                        .enumerate()
                        .filter(|(bit, _)| mask & (1 << bit) != 0)
                        .map(|(_, t)| t.to_string())
                        .collect();
                    MemberSubscription {
                        // Derive the instance id from the member id in reverse so that the
                        // two orders differ, while staying unique.
                        group_instance_id: is_static.then(|| format!("inst-{}", id.chars().rev().collect::<String>())),
                        member_id: id,
                        topics,
                        owned_partitions: Vec::new(),
                        generation: None,
                    }
                })
                .collect()
        })
    }

    /// Random partition counts (0 to 11) for each of [`TOPICS`].
    fn arb_counts() -> impl Strategy<Value = BTreeMap<String, i32>> {
        proptest::collection::vec(0i32..12, TOPICS.len())
            .prop_map(|ns| TOPICS.iter().zip(ns).map(|(t, n)| (t.to_string(), n)).collect())
    }

    proptest! {
        #[test]
        fn every_partition_goes_to_exactly_one_subscriber_and_shares_are_even(
            members in arb_group(),
            partitions in arb_counts(),
        ) {
            let result = range_assign(&members, &partitions);

            // Every member, and only members, appear in the result.
            let member_ids: BTreeSet<&str> =
                members.iter().map(|m| m.member_id.as_str()).collect();
            let result_ids: BTreeSet<&str> = result.keys().map(String::as_str).collect();
            prop_assert_eq!(&member_ids, &result_ids);

            for (topic, &count) in &partitions {
                let subscribers: Vec<&MemberSubscription> =
                    members.iter().filter(|m| m.topics.contains(topic)).collect();

                // Who owns each partition of this topic.
                let mut owners: BTreeMap<i32, Vec<&str>> = BTreeMap::new();
                for (member_id, owned) in &result {
                    for tp in owned.iter().filter(|tp| &tp.topic == topic) {
                        owners.entry(tp.partition).or_default().push(member_id);
                    }
                }

                if subscribers.is_empty() {
                    prop_assert!(owners.is_empty(), "unsubscribed topic {} was assigned", topic);
                    continue;
                }

                // Exactly the partitions 0..count, each exactly once, each to a subscriber.
                prop_assert_eq!(owners.keys().copied().collect::<Vec<_>>(), (0..count).collect::<Vec<_>>());
                for (partition, who) in &owners {
                    prop_assert_eq!(who.len(), 1, "{}-{} owned by {:?}", topic, partition, who);
                    let owner = members.iter().find(|m| m.member_id == who[0]).unwrap();
                    prop_assert!(owner.topics.contains(topic));
                }

                // Shares of this topic among its subscribers differ by at most one.
                let shares: Vec<usize> = subscribers
                    .iter()
                    .map(|m| result[&m.member_id].iter().filter(|tp| &tp.topic == topic).count())
                    .collect();
                let most = *shares.iter().max().unwrap();
                let least = *shares.iter().min().unwrap();
                prop_assert!(most - least <= 1, "uneven shares {:?} for {}", shares, topic);
            }

            // Nothing outside the metadata is ever assigned, and every list is sorted.
            for owned in result.values() {
                prop_assert!(owned.iter().all(|tp| partitions.contains_key(&tp.topic)));
                prop_assert!(owned.windows(2).all(|w| w[0] < w[1]));
            }
        }

        #[test]
        fn the_result_does_not_depend_on_input_order(
            members in arb_group(),
            partitions in arb_counts(),
        ) {
            let mut reversed = members.clone();
            reversed.reverse();
            prop_assert_eq!(range_assign(&members, &partitions), range_assign(&reversed, &partitions));
        }

        #[test]
        fn each_topic_is_split_into_contiguous_blocks_in_member_order(
            members in arb_group(),
            partitions in arb_counts(),
        ) {
            let result = range_assign(&members, &partitions);
            let mut ordered: Vec<&MemberSubscription> = members.iter().collect();
            ordered.sort_by(|a, b| member_order(a, b));
            for topic in partitions.keys() {
                // Walking the subscribers in member order, their blocks must follow on from one
                // another without gaps, starting at partition 0.
                let mut next = 0;
                for member in ordered.iter().filter(|m| m.topics.contains(topic)) {
                    let block: Vec<i32> = result[&member.member_id]
                        .iter()
                        .filter(|tp| &tp.topic == topic)
                        .map(|tp| tp.partition)
                        .collect();
                    let expected: Vec<i32> = (next..next + block.len() as i32).collect();
                    prop_assert_eq!(&block, &expected);
                    next += block.len() as i32;
                }
            }
        }
    }
}
