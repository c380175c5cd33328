//! Consumer-group partition assignment, computed by the group leader.
//!
//! In Kafka's classic group protocol the coordinator broker does not decide who consumes what.
//! It collects every member's JoinGroup request, picks one member as leader and hands it the
//! full member list with each member's subscription. The leader runs a client-side assignor,
//! named by `partition.assignment.strategy`, and returns the result in its SyncGroup request;
//! the coordinator then passes each member its share.
//!
//! This module holds the four assignors the Java consumer ships:
//!
//! - the range assignor (`org.apache.kafka.clients.consumer.RangeAssignor`, protocol name
//!   `"range"`), which was the Java consumer's default for years and is still the first entry of
//!   the default strategy list ([`range_assign`]);
//! - the round-robin assignor (`RoundRobinAssignor`, `"roundrobin"`, [`round_robin_assign`]);
//! - the sticky assignor (`StickyAssignor`, `"sticky"`, [`sticky_assign`]), which keeps
//!   partitions where they were as far as balance allows;
//! - the cooperative sticky assignor (`CooperativeStickyAssignor`, `"cooperative-sticky"`,
//!   [`cooperative_sticky_assign`]), which computes the same sticky assignment and then holds
//!   back every partition that must first be revoked from its current owner (KIP-429).
//!
//! The rack-aware variants added by KIP-881 are not modelled: kafkalab brokers and clients carry
//! no rack, and without racks Kafka takes the plain paths reproduced here.
//!
//! Everything here is pure and deterministic: `BTreeMap`, `BTreeSet` and sorted vectors only, so
//! the same inputs always give the same output in the same order. Where Kafka's result depends on
//! the iteration order of a Java `HashMap`, the sticky assignors reproduce that order (see
//! `java_hash_map_order`) instead of leaving it to chance.

use crate::ids::{Topic, TopicPartition};
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet, VecDeque};

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
    pub const ALL: [Assignor; 4] =
        [Assignor::Range, Assignor::RoundRobin, Assignor::Sticky, Assignor::CooperativeSticky];

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
            Assignor::RoundRobin => round_robin_assign(members, partitions_per_topic),
            Assignor::Sticky => sticky_assign(members, partitions_per_topic),
            Assignor::CooperativeSticky => cooperative_sticky_assign(members, partitions_per_topic),
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

/// Starts an assignment with an empty list for every member.
///
/// # Panics
///
/// Panics, naming `caller`, if two members share a member id.
fn empty_assignment(members: &[MemberSubscription], caller: &str) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut assignment: BTreeMap<String, Vec<TopicPartition>> = BTreeMap::new();
    for member in members {
        let previous = assignment.insert(member.member_id.clone(), Vec::new());
        assert!(previous.is_none(), "{caller}: member id {:?} appears more than once in the group", member.member_id);
    }
    assignment
}

/// Rejects negative partition counts, naming `caller` in the panic message.
fn check_partition_counts(partitions_per_topic: &BTreeMap<String, i32>, caller: &str) {
    for (topic, &count) in partitions_per_topic {
        assert!(count >= 0, "{caller}: topic {topic:?} has a negative partition count ({count})");
    }
}

/// Kafka's RoundRobinAssignor.
///
/// Inputs and output have the same shapes as for [`range_assign`]: `members` in any order,
/// `partitions_per_topic` mapping each topic in the leader's metadata to its partition count, and
/// a result holding every member id with its partitions sorted by (topic, partition).
///
/// The rule, from `org.apache.kafka.clients.consumer.RoundRobinAssignor`:
///
/// 1. Every topic that at least one member subscribes to and that appears in
///    `partitions_per_topic` is listed by name (Java string order), and its partitions are laid
///    out one after another in partition order, giving one long list.
/// 2. The members are lined up in member order (static members by `group.instance.id` first,
///    then dynamic members by member id, as `AbstractPartitionAssignor.MemberInfo.compareTo`
///    orders them) and a pointer cycles over them. The pointer keeps its position from one
///    partition to the next, including across topics.
/// 3. For each partition in the list, the pointer skips members that do not subscribe to the
///    partition's topic, hands the partition to the member it stops at, and moves one step on.
///
/// When all members subscribe to the same topics, every member ends up within one partition of
/// every other, which is the point of the assignor: unlike range, the extra partitions of
/// successive topics go to successive members. When subscriptions differ, skipping can make the
/// result lopsided, as Kafka's own documentation shows. The assignor ignores what members owned
/// before, so partitions can move on every rebalance; the sticky assignors exist for that.
///
/// # Panics
///
/// Panics if two members share a member id or if a partition count is negative, as
/// [`range_assign`] does.
pub fn round_robin_assign(
    members: &[MemberSubscription],
    partitions_per_topic: &BTreeMap<String, i32>,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let mut assignment = empty_assignment(members, "round_robin_assign");
    check_partition_counts(partitions_per_topic, "round_robin_assign");

    let mut ordered: Vec<&MemberSubscription> = members.iter().collect();
    ordered.sort_by(|a, b| member_order(a, b));

    let mut topics: Vec<&str> =
        members.iter().flat_map(|m| m.topics.iter().map(String::as_str)).collect::<BTreeSet<_>>().into_iter().collect();
    topics.sort_by(|a, b| java_string_cmp(a, b));

    let mut pointer = 0;
    for topic in topics {
        let Some(&partition_count) = partitions_per_topic.get(topic) else {
            continue;
        };
        for partition in 0..partition_count {
            // The topic came from some member's subscription, so this loop finds a subscriber
            // within one turn of the circle.
            while !ordered[pointer].topics.iter().any(|t| t == topic) {
                pointer = (pointer + 1) % ordered.len();
            }
            let owned = assignment.get_mut(&ordered[pointer].member_id).expect("every member was entered above");
            owned.push(TopicPartition::new(topic, partition));
            pointer = (pointer + 1) % ordered.len();
        }
    }

    for owned in assignment.values_mut() {
        owned.sort();
    }
    assignment
}

/// Kafka's StickyAssignor (eager rebalance protocol).
///
/// Inputs and output have the same shapes as for [`range_assign`]. In addition the assignor
/// reads each member's `owned_partitions` and `generation`: for the eager sticky assignor these
/// stand for the previous assignment and generation that a Kafka member encodes in its
/// subscription user data.
///
/// The goals, in Kafka's order of priority, are that the assignment is as balanced as possible
/// (member sizes differ by at most one, or no member two or more partitions short of another
/// could take over any of that member's partitions) and that as few partitions as possible
/// change hands. The algorithm follows `AbstractStickyAssignor` (non-rack-aware path):
///
/// 1. Claims are validated. Claims on topics that no member subscribes to, that are missing from
///    `partitions_per_topic` or that have no partitions, and claims on partition numbers outside
///    the topic's range, are dropped. When two members claim the same partition, the one with
///    the higher generation keeps it (a missing generation counts as -1); with equal generations
///    neither keeps it and the partition is noted as having had several previous owners. The
///    members' claims are visited in the order Kafka's leader visits them, so that the rare case
///    of three or more claimants comes out as it does in Kafka.
/// 2. If every member subscribes to the same set of topics, the constrained builder runs. With
///    `P` partitions and `C` members, each member gets `floor(P/C)` (the min quota) or
///    `ceil(P/C)` (the max quota) partitions, and exactly `P mod C` members get the max quota.
///    Each member keeps as many of its valid claims as those quotas allow; the remaining
///    partitions are dealt out first to members below the min quota, round robin in member id
///    order, then one each to members at the min quota until `P mod C` members hold the max.
/// 3. Otherwise the general builder runs: every member keeps its valid claims on topics it still
///    subscribes to, free partitions go one at a time to the eligible member holding the fewest,
///    and partitions are then moved from heavier to lighter eligible members until the
///    assignment is balanced, avoiding moves that would send partitions of one topic back and
///    forth between two members.
///
/// Every member appears in the result, sorted lists as for the other assignors.
///
/// Wherever Kafka's result depends on the iteration order of its hash maps and sets, we
/// reproduce that order (see `java_hash_map_order` in this module's source). Compared with
/// Kafka's own `AbstractStickyAssignor` on thousands of generated groups, the results agree
/// except in these cases:
///
/// - Kafka can hand a partition to a member that does not subscribe to its topic: when the first
///   member it walks subscribes to nothing (its subscription comparison then passes), or when a
///   member that owned the partition in an older generation has since dropped the topic. On some
///   groups with differing subscriptions it fails with an exception or rebalances forever. We
///   always give a valid, balanced assignment.
/// - When Kafka's general builder would make a move that does not improve the balance (which is
///   what can make it loop), we move a different partition; see `GeneralBuilder::move_partition`.
///   This changes the result for about one group in a few thousand with differing subscriptions.
/// - A partition listed twice by one member counts once here, and a partition number beyond
///   the topic's count not at all; Kafka treats the former as two claimants and mishandles the
///   latter.
/// - Within one hash bucket, Kafka walks members in the order JoinGroup listed them; we use
///   member id order, so the result never depends on the order of `members`.
///
/// # Panics
///
/// Panics if two members share a member id or if a partition count is negative.
pub fn sticky_assign(
    members: &[MemberSubscription],
    partitions_per_topic: &BTreeMap<String, i32>,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let outcome = sticky_outcome(members, partitions_per_topic, "sticky_assign");
    keyed_by_member_id(&outcome.group, outcome.assignment)
}

/// Kafka's CooperativeStickyAssignor (cooperative rebalance protocol, KIP-429).
///
/// Inputs and output have the same shapes as for [`range_assign`]; `owned_partitions` are the
/// partitions each member currently owns (the `ownedPartitions` of its subscription) and
/// `generation` the generation in which it owned them.
///
/// Under the cooperative protocol a member keeps consuming its partitions while the group
/// rebalances, so a partition must never be handed to a new owner while its old owner may still
/// be consuming it. The assignor therefore computes exactly the assignment [`sticky_assign`]
/// would, and then withholds every partition that is transferring ownership: that partition is
/// left out of this round's assignment altogether. Its current owner, finding it missing from its
/// own assignment, revokes it and rejoins, and the follow-up rebalance hands it to its new owner,
/// which by then no member claims any more.
///
/// Which partitions count as transferring follows `CooperativeStickyAssignor` exactly:
///
/// - When the constrained builder ran (all subscriptions equal), a partition transfers if a
///   member validly owned it, had to give it up to meet its quota, and it went to another
///   member; or if two members claimed it in the same generation (it is then withheld whoever
///   gets it).
/// - When the general builder ran, a partition transfers if it went to a member that did not
///   list it in `owned_partitions` while some other member did list it there and did not keep
///   it. This compares the raw claims, so a partition that returns to a member which still
///   lists it from an older generation is not withheld, as in Kafka.
///
/// A partition that no member claims (brand new, or last owned by a member that has left the
/// group) is never withheld: nobody can still be consuming it. Because of the withholding, the
/// result is not balanced on its own and not every partition need be assigned; every partition
/// left out is one that some member claims, and the next rebalance (with each member's
/// `owned_partitions` updated) assigns it.
///
/// # Panics
///
/// Panics if two members share a member id or if a partition count is negative.
pub fn cooperative_sticky_assign(
    members: &[MemberSubscription],
    partitions_per_topic: &BTreeMap<String, i32>,
) -> BTreeMap<String, Vec<TopicPartition>> {
    let StickyOutcome { group, mut assignment, transferring } =
        sticky_outcome(members, partitions_per_topic, "cooperative_sticky_assign");
    let transferring = transferring.unwrap_or_else(|| transferring_by_claims(&group, &assignment));
    for (partition, &member) in &transferring {
        assignment[member].remove(partition);
    }
    keyed_by_member_id(&group, assignment)
}

/// Java's `String.hashCode`: a polynomial in 31 over the UTF-16 code units, wrapping on overflow.
fn java_string_hash(s: &str) -> i32 {
    s.encode_utf16().fold(0i32, |hash, unit| hash.wrapping_mul(31).wrapping_add(i32::from(unit)))
}

/// Java's `TopicPartition.hashCode`: `31 * (31 + partition) + topic.hashCode()`, wrapping.
fn java_topic_partition_hash(partition: &TopicPartition) -> i32 {
    31i32.wrapping_mul(31i32.wrapping_add(partition.partition)).wrapping_add(java_string_hash(&partition.topic))
}

/// The bits of a key's hash code that a `java.util.HashMap` uses to pick its bucket: the hash
/// XORed with itself shifted right (unsigned) by 16 bits.
fn java_hash_spread(hash: i32) -> usize {
    // Reinterpreting the signed hash as unsigned bits is what Java's `>>>` works on.
    let bits = hash as u32;
    (bits ^ (bits >> 16)) as usize
}

/// The bucket count of a new `java.util.HashMap` (or `HashSet`) built with the default
/// constructor, once it holds its first key.
const JAVA_HASH_INITIAL_CAPACITY: usize = 16;

/// The bucket count of a Java hash table after inserting a key with hash bits `new` into a table
/// of `capacity` buckets already holding keys with hash bits `existing`.
///
/// The table doubles when the number of keys exceeds three quarters of the bucket count, and
/// also when a bucket receives a ninth key while the table has fewer than 64 buckets (Java
/// would turn such a bucket into a tree only in larger tables). Removing keys never shrinks it.
fn java_hash_capacity_after_insert(capacity: usize, existing: &[usize], new: usize) -> usize {
    const TREEIFY_THRESHOLD: usize = 8;
    const MIN_TREEIFY_CAPACITY: usize = 64;
    let mask = capacity - 1;
    let mut capacity = capacity;
    let already_there = existing.iter().filter(|&&s| s & mask == new & mask).count();
    if already_there >= TREEIFY_THRESHOLD && capacity < MIN_TREEIFY_CAPACITY {
        capacity *= 2;
    }
    if existing.len() + 1 > capacity / 4 * 3 {
        capacity *= 2;
    }
    capacity
}

/// The order in which a `java.util.HashMap<String, _>`, built with the default constructor and
/// filled with `keys` in the given order, iterates its keys. Returns positions into `keys`.
///
/// Kafka's sticky assignors walk their members through such maps (the leader's map from member
/// id to subscription, and maps derived from it), and in the constrained builder the walk order
/// decides which members keep an extra partition when more members own enough for one than
/// there are extras to give. Reproducing the walk makes our choice the same as Kafka's.
///
/// A Java `HashMap` stores a key in bucket `spread & (capacity - 1)` (see [`java_hash_spread`]),
/// grows as [`java_hash_capacity_after_insert`] describes, and iterates buckets in index order
/// and, within a bucket, keys in insertion order. Doubling splits each bucket in two without
/// reordering, so only the final capacity matters.
///
/// Not modelled: in tables of 64 or more buckets, a bucket holding nine or more keys becomes a
/// tree, which moves one of its keys to the front. That needs nine member ids agreeing in their
/// low six hash bits, which kafkalab's groups never produce.
fn java_hash_map_order(keys: &[&str]) -> Vec<usize> {
    let spread: Vec<usize> = keys.iter().map(|key| java_hash_spread(java_string_hash(key))).collect();
    let mut capacity = JAVA_HASH_INITIAL_CAPACITY;
    for inserted in 0..keys.len() {
        capacity = java_hash_capacity_after_insert(capacity, &spread[..inserted], spread[inserted]);
    }
    let mask = capacity - 1;
    let mut order: Vec<usize> = (0..keys.len()).collect();
    // A stable sort keeps insertion order within a bucket.
    order.sort_by_key(|&i| spread[i] & mask);
    order
}

/// A stand-in for one of the `HashSet<TopicPartition>` in which Kafka's `PartitionMovements`
/// records the partitions of one topic moved from one member to another, keeping what decides
/// the set's iteration order: its partitions in insertion order and its bucket count.
struct MovementSet {
    /// The partitions, in insertion order, each with its hash bits.
    entries: Vec<(TopicPartition, usize)>,
    /// The bucket count of the Java set.
    capacity: usize,
}

impl MovementSet {
    fn new() -> Self {
        MovementSet { entries: Vec::new(), capacity: JAVA_HASH_INITIAL_CAPACITY }
    }

    fn insert(&mut self, partition: TopicPartition) {
        let spread = java_hash_spread(java_topic_partition_hash(&partition));
        let existing: Vec<usize> = self.entries.iter().map(|&(_, s)| s).collect();
        self.capacity = java_hash_capacity_after_insert(self.capacity, &existing, spread);
        self.entries.push((partition, spread));
    }

    fn remove(&mut self, partition: &TopicPartition) {
        self.entries.retain(|(p, _)| p != partition);
    }

    /// The partition Java's `iterator().next()` returns: lowest bucket, earliest inserted.
    fn first(&self) -> Option<&TopicPartition> {
        let mask = self.capacity - 1;
        self.entries.iter().enumerate().min_by_key(|&(i, (_, spread))| (spread & mask, i)).map(|(_, (p, _))| p)
    }
}

/// Orders partitions by topic name (Java string order) and then partition number, as Kafka's
/// sticky assignors list free partitions.
fn topic_then_partition(a: &TopicPartition, b: &TopicPartition) -> Ordering {
    java_string_cmp(&a.topic, &b.topic).then(a.partition.cmp(&b.partition))
}

/// Orders partitions by partition number and then topic name, the order in which the
/// constrained builder lets a member keep its owned partitions.
fn partition_then_topic(a: &TopicPartition, b: &TopicPartition) -> Ordering {
    a.partition.cmp(&b.partition).then_with(|| java_string_cmp(&a.topic, &b.topic))
}

/// The group as the sticky assignors see it.
///
/// Members are indexed by their position in `members`, which is sorted by member id in Java
/// string order; every index-ordered walk is therefore a member-id-ordered walk, which is the
/// tie-break Kafka uses wherever it sorts members.
struct StickyGroup<'a> {
    /// The members, sorted by member id.
    members: Vec<&'a MemberSubscription>,
    /// Each member's subscribed topics, as a set.
    subscriptions: Vec<BTreeSet<&'a str>>,
    /// The topics that take part: subscribed by at least one member, present in the metadata
    /// and with at least one partition (Kafka's leader leaves out the others). Sorted by name in
    /// Java string order, with their partition counts.
    topics: Vec<(&'a str, i32)>,
    /// The order in which Kafka's leader walks the members: its `HashMap` iteration order, with
    /// members entered in member id order (see [`java_hash_map_order`]).
    walk: Vec<usize>,
}

impl<'a> StickyGroup<'a> {
    fn new(members: &'a [MemberSubscription], partitions_per_topic: &'a BTreeMap<String, i32>) -> Self {
        let mut sorted: Vec<&MemberSubscription> = members.iter().collect();
        sorted.sort_by(|a, b| java_string_cmp(&a.member_id, &b.member_id));
        let subscriptions: Vec<BTreeSet<&str>> =
            sorted.iter().map(|m| m.topics.iter().map(String::as_str).collect()).collect();
        let mut topics: Vec<(&str, i32)> = partitions_per_topic
            .iter()
            .filter(|&(topic, &count)| count > 0 && subscriptions.iter().any(|s| s.contains(topic.as_str())))
            .map(|(topic, &count)| (topic.as_str(), count))
            .collect();
        topics.sort_by(|a, b| java_string_cmp(a.0, b.0));
        let ids: Vec<&str> = sorted.iter().map(|m| m.member_id.as_str()).collect();
        let walk = java_hash_map_order(&ids);
        StickyGroup { members: sorted, subscriptions, topics, walk }
    }

    /// The partition count of `topic` if it takes part in the assignment.
    fn partition_count(&self, topic: &str) -> Option<i32> {
        self.topics.iter().find(|(t, _)| *t == topic).map(|&(_, count)| count)
    }

    /// Whether `partition` exists among the topics that take part.
    fn exists(&self, partition: &TopicPartition) -> bool {
        self.partition_count(&partition.topic).is_some_and(|count| (0..count).contains(&partition.partition))
    }

    /// Whether every member subscribes to the same set of topics (`allSubscriptionsEqual`).
    ///
    /// Kafka compares the raw subscriptions, including topics missing from the metadata. (Kafka
    /// also lets a first member with an empty subscription slip through the comparison, which
    /// would hand partitions to a member that subscribes to nothing; a plain set comparison
    /// avoids that.)
    fn all_subscriptions_equal(&self) -> bool {
        self.subscriptions.windows(2).all(|pair| pair[0] == pair[1])
    }

    /// Every partition that takes part, by topic name and then partition number.
    fn all_partitions(&self) -> Vec<TopicPartition> {
        self.topics.iter().flat_map(|&(topic, count)| (0..count).map(move |p| TopicPartition::new(topic, p))).collect()
    }
}

/// The members' claims on their previously owned partitions, after validation.
struct Claims {
    /// Per member index, the partitions it validly owned.
    owned: Vec<BTreeSet<TopicPartition>>,
    /// Partitions that two members claimed in the same generation.
    multiple_owners: BTreeSet<TopicPartition>,
}

/// A member's generation, with Kafka's `DEFAULT_GENERATION` (-1) standing in for an unknown one.
fn generation_of(member: &MemberSubscription) -> i32 {
    member.generation.unwrap_or(-1)
}

/// Validates the members' claims, after `AbstractStickyAssignor.allSubscriptionsEqual`.
///
/// Members are visited in the leader's walk order. A claim on a partition that does not take
/// part is dropped. A claim on a partition nobody has claimed yet is accepted. A claim on a
/// partition already accepted for another member is settled by generation: a higher generation
/// takes it over, a lower one is ignored, and an equal one takes it away from the earlier
/// claimant without being accepted itself, marking the partition as having several previous
/// owners (a later claimant compares itself with this most recent one).
///
/// Repeated entries in one member's list count once; Kafka would treat the repeat as a second
/// claimant of equal generation and drop the partition, which helps nobody.
fn validate_claims(group: &StickyGroup) -> Claims {
    let mut owned = vec![BTreeSet::new(); group.members.len()];
    let mut multiple_owners = BTreeSet::new();
    let mut last_claimant: BTreeMap<TopicPartition, usize> = BTreeMap::new();
    for &member in &group.walk {
        let generation = generation_of(group.members[member]);
        let claims: BTreeSet<&TopicPartition> = group.members[member].owned_partitions.iter().collect();
        for partition in claims.into_iter().filter(|p| group.exists(p)) {
            match last_claimant.get(partition).copied() {
                None => {
                    owned[member].insert(partition.clone());
                    last_claimant.insert(partition.clone(), member);
                }
                Some(other) => {
                    let other_generation = generation_of(group.members[other]);
                    match generation.cmp(&other_generation) {
                        Ordering::Equal => {
                            multiple_owners.insert(partition.clone());
                            owned[other].remove(partition);
                            last_claimant.insert(partition.clone(), member);
                        }
                        Ordering::Greater => {
                            owned[other].remove(partition);
                            owned[member].insert(partition.clone());
                            last_claimant.insert(partition.clone(), member);
                        }
                        Ordering::Less => {}
                    }
                }
            }
        }
    }
    Claims { owned, multiple_owners }
}

/// What the shared sticky computation produces.
struct StickyOutcome<'a> {
    group: StickyGroup<'a>,
    /// Per member index, the partitions assigned to it.
    assignment: Vec<BTreeSet<TopicPartition>>,
    /// The partitions transferring ownership and the member each is going to, when the
    /// constrained builder tracked them; `None` after the general builder, whose transfers are
    /// worked out from the claims afterwards (as Kafka does).
    transferring: Option<BTreeMap<TopicPartition, usize>>,
}

/// The assignment by member index turned into the public shape: keyed by member id, each list
/// sorted by (topic, partition).
fn keyed_by_member_id(
    group: &StickyGroup,
    assignment: Vec<BTreeSet<TopicPartition>>,
) -> BTreeMap<String, Vec<TopicPartition>> {
    group
        .members
        .iter()
        .zip(assignment)
        .map(|(m, partitions)| (m.member_id.clone(), partitions.into_iter().collect()))
        .collect()
}

/// The computation shared by [`sticky_assign`] and [`cooperative_sticky_assign`]
/// (`AbstractStickyAssignor.assignPartitions`).
fn sticky_outcome<'a>(
    members: &'a [MemberSubscription],
    partitions_per_topic: &'a BTreeMap<String, i32>,
    caller: &str,
) -> StickyOutcome<'a> {
    empty_assignment(members, caller);
    check_partition_counts(partitions_per_topic, caller);
    let group = StickyGroup::new(members, partitions_per_topic);
    let claims = validate_claims(&group);
    if group.all_subscriptions_equal() {
        let (assignment, transferring) = constrained_assign(&group, &claims);
        StickyOutcome { group, assignment, transferring: Some(transferring) }
    } else {
        let assignment = GeneralBuilder::new(&group, claims).build();
        StickyOutcome { group, assignment, transferring: None }
    }
}

/// The constrained builder of `AbstractStickyAssignor`, used when all subscriptions are equal.
///
/// Returns the assignment by member index and the partitions transferring ownership, each with
/// the member it goes to.
fn constrained_assign(
    group: &StickyGroup,
    claims: &Claims,
) -> (Vec<BTreeSet<TopicPartition>>, BTreeMap<TopicPartition, usize>) {
    let member_count = group.members.len();
    let mut assignment = vec![BTreeSet::new(); member_count];
    let mut transferring = BTreeMap::new();
    if member_count == 0 {
        return (assignment, transferring);
    }

    let total: usize = group.topics.iter().map(|&(_, count)| count as usize).sum();
    let min_quota = total / member_count;
    let max_quota = total.div_ceil(member_count);
    // How many members end with the max quota (none when the quotas are equal).
    let expected_over_min = total % member_count;
    let mut current_over_min = 0;

    // Partitions a member validly owned but gave up to stay within its quota, with that member.
    let mut maybe_revoked: BTreeMap<TopicPartition, usize> = BTreeMap::new();
    // Members below the min quota, and members at it that may still take one more.
    let mut under_min: Vec<usize> = Vec::new();
    let mut exactly_min: VecDeque<usize> = VecDeque::new();
    let mut assigned: BTreeSet<TopicPartition> = BTreeSet::new();

    // Kafka walks the members in its HashMap's order here. That order matters when more members
    // own the max quota or more than there are extra partitions: the first ones walked keep the
    // max quota and the later ones drop to the min quota.
    for &member in &group.walk {
        let mut owned: Vec<TopicPartition> =
            claims.owned[member].iter().filter(|p| !claims.multiple_owners.contains(*p)).cloned().collect();
        owned.sort_by(partition_then_topic);

        let keep = if owned.len() < min_quota {
            under_min.push(member);
            owned.len()
        } else if owned.len() >= max_quota && current_over_min < expected_over_min {
            current_over_min += 1;
            if current_over_min == expected_over_min {
                // Every extra partition is spoken for, so nobody at the min quota may take one.
                exactly_min.clear();
            }
            max_quota
        } else {
            if current_over_min < expected_over_min {
                exactly_min.push_back(member);
            }
            min_quota
        };

        for (position, partition) in owned.into_iter().enumerate() {
            if position < keep {
                assigned.insert(partition.clone());
                assignment[member].insert(partition);
            } else {
                maybe_revoked.insert(partition, member);
            }
        }
    }

    // Member indices follow member id order, so sorting indices sorts by member id.
    under_min.sort_unstable();
    exactly_min.make_contiguous().sort_unstable();

    let mut unassigned: Vec<TopicPartition> =
        group.all_partitions().into_iter().filter(|p| !assigned.contains(p)).collect();
    unassigned.sort_by(topic_then_partition);

    // Deal the free partitions: round robin over the members below the min quota while there are
    // any, then one each to members at the min quota.
    let mut cursor = 0;
    for partition in unassigned {
        let member = if cursor < under_min.len() {
            cursor += 1;
            under_min[cursor - 1]
        } else if !under_min.is_empty() {
            cursor = 1;
            under_min[0]
        } else {
            exactly_min.pop_front().expect("constrained_assign: a partition is left over but every member is full")
        };

        let transfers = maybe_revoked.get(&partition).is_some_and(|&owner| owner != member)
            || claims.multiple_owners.contains(&partition);
        if transfers {
            transferring.insert(partition.clone(), member);
        }
        assignment[member].insert(partition);

        if assignment[member].len() == min_quota {
            // The member came from the round robin over `under_min` (members taken from
            // `exactly_min` already had the min quota), and it is now filled to the min quota.
            // Kafka also counts the members reaching the max quota here, but only to log a
            // warning should the count come out wrong.
            cursor -= 1;
            under_min.remove(cursor);
            exactly_min.push_back(member);
        }
    }
    debug_assert!(assignment.iter().all(|a| a.len() == min_quota || a.len() == max_quota));
    debug_assert_eq!(assignment.iter().filter(|a| a.len() > min_quota).count(), expected_over_min);
    (assignment, transferring)
}

/// The general builder of `AbstractStickyAssignor`, used when subscriptions differ.
struct GeneralBuilder<'g, 'a> {
    group: &'g StickyGroup<'a>,
    /// Per topic index (positions in `group.topics`), the members subscribing to it.
    potential_members: Vec<Vec<usize>>,
    /// Per member, the indices of the taking-part topics it subscribes to.
    member_topics: Vec<Vec<usize>>,
    /// Per member, the most partitions it could hold: all partitions of its topics.
    max_size: Vec<usize>,
    /// Per member, its current partitions.
    current: Vec<BTreeSet<TopicPartition>>,
    /// The current member of every assigned partition.
    owner: BTreeMap<TopicPartition, usize>,
    /// Per topic index, how many of the topic's partitions each member holds.
    topic_holders: Vec<BTreeMap<usize, usize>>,
    /// The member an older generation's claim points to, per partition (`prevAssignment`).
    previous_owner: BTreeMap<TopicPartition, usize>,
    /// Partitions moved during rebalancing, each with the member it was taken from first.
    moved_from: BTreeMap<TopicPartition, usize>,
    /// The same moves grouped as Kafka's `PartitionMovements` groups them: by topic, first
    /// member and current member.
    movement_sets: BTreeMap<(Topic, usize, usize), MovementSet>,
    /// Whether a member must give up a partition of a topic it no longer subscribes to.
    revocation_required: bool,
    /// Claims, as validated.
    claims: Claims,
}

impl<'g, 'a> GeneralBuilder<'g, 'a> {
    fn new(group: &'g StickyGroup<'a>, claims: Claims) -> Self {
        let member_count = group.members.len();
        let mut potential_members = vec![Vec::new(); group.topics.len()];
        let mut member_topics = vec![Vec::new(); member_count];
        let mut max_size = vec![0; member_count];
        for (topic_index, &(topic, count)) in group.topics.iter().enumerate() {
            for (member, subscription) in group.subscriptions.iter().enumerate() {
                if subscription.contains(topic) {
                    potential_members[topic_index].push(member);
                    member_topics[member].push(topic_index);
                    max_size[member] += count as usize;
                }
            }
        }

        // Older generations' claims, kept for `performReassignments`, which gives a partition
        // back to such a claimant when that helps the balance. Kafka walks the members in its
        // HashMap order and keeps the highest generation, the first one seen on a tie.
        let max_generation = group.members.iter().copied().map(generation_of).max().unwrap_or(-1);
        let mut previous: BTreeMap<TopicPartition, (usize, i32)> = BTreeMap::new();
        for &member in &group.walk {
            let generation = match group.members[member].generation {
                Some(g) if g < max_generation => g,
                None if max_generation > -1 => -1,
                _ => continue,
            };
            for partition in &group.members[member].owned_partitions {
                if previous.get(partition).is_none_or(|&(_, g)| generation > g) {
                    previous.insert(partition.clone(), (member, generation));
                }
            }
        }
        let previous_owner = previous.into_iter().map(|(p, (member, _))| (p, member)).collect();

        GeneralBuilder {
            group,
            potential_members,
            member_topics,
            max_size,
            current: vec![BTreeSet::new(); member_count],
            owner: BTreeMap::new(),
            topic_holders: vec![BTreeMap::new(); group.topics.len()],
            previous_owner,
            moved_from: BTreeMap::new(),
            movement_sets: BTreeMap::new(),
            revocation_required: false,
            claims,
        }
    }

    fn topic_index(&self, topic: &str) -> usize {
        self.group.topics.iter().position(|(t, _)| *t == topic).expect("only taking-part topics are assigned")
    }

    fn size(&self, member: usize) -> usize {
        self.current[member].len()
    }

    fn give(&mut self, partition: TopicPartition, member: usize) {
        let topic = self.topic_index(&partition.topic);
        *self.topic_holders[topic].entry(member).or_default() += 1;
        self.owner.insert(partition.clone(), member);
        self.current[member].insert(partition);
    }

    fn take(&mut self, partition: &TopicPartition, member: usize) {
        let topic = self.topic_index(&partition.topic);
        let held = self.topic_holders[topic].get_mut(&member).expect("the member holds the partition");
        *held -= 1;
        if *held == 0 {
            self.topic_holders[topic].remove(&member);
        }
        self.owner.remove(partition);
        self.current[member].remove(partition);
    }

    fn build(mut self) -> Vec<BTreeSet<TopicPartition>> {
        // Keep every valid claim on a topic the member still subscribes to.
        let owned = std::mem::take(&mut self.claims.owned);
        for (member, partitions) in owned.into_iter().enumerate() {
            for partition in partitions {
                if self.group.subscriptions[member].contains(partition.topic.as_str()) {
                    self.give(partition, member);
                } else {
                    self.revocation_required = true;
                }
            }
        }

        // Topics with fewer potential members come first, then by name (`TopicComparator`).
        let mut topic_order: Vec<usize> = (0..self.group.topics.len()).collect();
        topic_order.sort_by(|&a, &b| {
            self.potential_members[a]
                .len()
                .cmp(&self.potential_members[b].len())
                .then_with(|| java_string_cmp(self.group.topics[a].0, self.group.topics[b].0))
        });
        let sorted_partitions: Vec<TopicPartition> = topic_order
            .iter()
            .flat_map(|&t| {
                let (topic, count) = self.group.topics[t];
                (0..count).map(move |p| TopicPartition::new(topic, p))
            })
            .collect();
        let unassigned: Vec<TopicPartition> =
            sorted_partitions.iter().filter(|p| !self.owner.contains_key(*p)).cloned().collect();

        // Each free partition goes to the subscriber holding the fewest partitions, ties going
        // to the smaller member id. Every taking-part topic has a subscriber.
        for partition in &unassigned {
            let topic = self.topic_index(&partition.topic);
            let member = self.lightest(topic, None);
            self.give(partition.clone(), member);
        }

        // Partitions of a topic with a single subscriber cannot move, and members that hold all
        // they could and nothing movable take no part in the rebalancing.
        let movable = |p: &TopicPartition| self.potential_members[self.topic_index(&p.topic)].len() >= 2;
        let reassignable_new: Vec<TopicPartition> = unassigned.iter().filter(|p| movable(p)).cloned().collect();
        let reassignable_all: Vec<TopicPartition> = sorted_partitions.iter().filter(|p| movable(p)).cloned().collect();
        let participating: Vec<bool> = (0..self.group.members.len())
            .map(|m| self.size(m) < self.max_size[m] || self.current[m].iter().any(&movable))
            .collect();

        // If no member has to give anything up, first try to balance by moving only the
        // partitions that were free, then with all movable partitions.
        if !self.revocation_required {
            self.reassign(&reassignable_new, &participating);
        }
        self.reassign(&reassignable_all, &participating);
        self.current
    }

    /// The subscriber of `topic` with the fewest partitions, the smaller member id on a tie (the
    /// first such member in Kafka's `sortedCurrentSubscriptions`), among the participating
    /// members if `participating` is given and among all members otherwise.
    fn lightest(&self, topic: usize, participating: Option<&[bool]>) -> usize {
        *self.potential_members[topic]
            .iter()
            .filter(|&&m| participating.is_none_or(|p| p[m]))
            .min_by_key(|&&m| (self.size(m), m))
            .expect("a movable topic has participating subscribers")
    }

    /// Whether the assignment is balanced among the participating members (`isBalanced`): sizes
    /// within one of each other, or no member below its maximum could take over a partition of
    /// its topics from a member holding two or more partitions more than it does.
    fn is_balanced(&self, participating: &[bool]) -> bool {
        let sizes = || (0..self.group.members.len()).filter(|&m| participating[m]).map(|m| self.size(m));
        let (Some(min), Some(max)) = (sizes().min(), sizes().max()) else {
            return true;
        };
        if min + 1 >= max {
            return true;
        }

        // Per topic, the largest holder of one of its partitions (size and member) and the
        // largest size among the other holders.
        let largest: Vec<(usize, usize, usize)> = self
            .topic_holders
            .iter()
            .map(|holders| {
                let mut top = (0, usize::MAX);
                let mut runner_up = 0;
                for &holder in holders.keys() {
                    let size = self.size(holder);
                    if size > top.0 {
                        runner_up = top.0;
                        top = (size, holder);
                    } else {
                        runner_up = runner_up.max(size);
                    }
                }
                (top.0, top.1, runner_up)
            })
            .collect();
        (0..self.group.members.len()).filter(|&m| participating[m] && self.size(m) < self.max_size[m]).all(|member| {
            self.member_topics[member].iter().all(|&topic| {
                let (top_size, top_member, runner_up) = largest[topic];
                let largest_other = if top_member == member { runner_up } else { top_size };
                self.size(member) + 1 >= largest_other
            })
        })
    }

    /// Moves partitions from heavier to lighter members until balanced (`performReassignments`).
    ///
    /// Passes over `partitions` repeat while they change something. For each partition, unless
    /// the assignment is already balanced: if an older generation's claimant of the partition
    /// subscribes to its topic and holds at least two fewer partitions than the current holder,
    /// the partition goes back to it; otherwise, if some subscriber holds at least two fewer, the
    /// partition goes to the lightest subscriber. Every move takes one partition from a member
    /// to one holding at least two fewer, which strictly lowers the sum of size differences over
    /// all pairs of members, so the loop ends; and it ends only when no such move is left, which
    /// is exactly the balance criterion.
    fn reassign(&mut self, partitions: &[TopicPartition], participating: &[bool]) {
        loop {
            let mut modified = false;
            for partition in partitions {
                if self.is_balanced(participating) {
                    break;
                }
                let holder = self.owner[partition];
                let topic = self.topic_index(&partition.topic);

                if let Some(&previous) = self.previous_owner.get(partition) {
                    // Kafka does not check that the older claimant still subscribes to the
                    // topic (or still takes part); we do, so that nobody gets a partition it
                    // did not subscribe to.
                    let eligible = previous != holder
                        && participating[previous]
                        && self.group.subscriptions[previous].contains(partition.topic.as_str());
                    if eligible && self.size(holder) > self.size(previous) + 1 {
                        self.move_partition(partition, previous);
                        modified = true;
                        continue;
                    }
                }

                let lightest = self.lightest(topic, Some(participating));
                if self.size(holder) > self.size(lightest) + 1 {
                    self.move_partition(partition, lightest);
                    modified = true;
                }
            }
            if !modified {
                break;
            }
        }
    }

    /// Moves `partition`, or another partition of its topic, to member `to`.
    ///
    /// Kafka's `PartitionMovements` keeps the rebalancing sticky by avoiding moves that undo
    /// each other: when a partition of a topic is about to move from member A to member B (A
    /// being where it was before this rebalance started moving it) while another partition of
    /// the topic has already moved from B to A, Kafka sends that other partition back to B
    /// instead (`getTheActualPartitionToBeMoved`), picking the first partition of its movement
    /// set in Java `HashSet` order.
    ///
    /// We do the same with one safeguard. The partition Kafka picks sits on A, which need not be
    /// the member `partition` is on, and a move from A need not improve the balance; Kafka's
    /// rebalancing can then go round in circles forever. We follow Kafka's pick whenever A holds
    /// at least two partitions more than `to`, so that the move helps. Otherwise we move one of
    /// the holder's own partitions of the topic: one that came from `to` earlier in this
    /// rebalance if there is one (it simply goes back), else the first (in partition order) whose
    /// move would not run opposite to an earlier move of the topic between the same two members
    /// (counting each partition from where it started), else `partition` itself. Every move thus
    /// takes a partition from a member to one holding at least two fewer, which is what
    /// [`GeneralBuilder::reassign`] relies on to finish.
    fn move_partition(&mut self, partition: &TopicPartition, to: usize) {
        let holder = self.owner[partition];
        let topic = partition.topic.clone();
        let origin = |p: &TopicPartition| self.moved_from.get(p).copied().unwrap_or(holder);
        let first_moved = |from: usize, into: usize| {
            self.movement_sets.get(&(topic.clone(), from, into)).and_then(MovementSet::first).cloned()
        };

        let kafka_choice = match first_moved(to, origin(partition)) {
            None => Some(partition.clone()),
            Some(other) if self.size(self.owner[&other]) > self.size(to) + 1 => Some(other),
            Some(_) => None,
        };
        let chosen = kafka_choice.unwrap_or_else(|| {
            let candidates: Vec<&TopicPartition> = self.current[holder].iter().filter(|p| p.topic == topic).collect();
            first_moved(to, holder)
                .or_else(|| candidates.iter().find(|p| first_moved(to, origin(p)).is_none()).map(|p| (*p).clone()))
                .unwrap_or_else(|| partition.clone())
        });
        self.relocate(chosen, to);
    }

    /// Moves `partition` from its current member to `to`, keeping the movement records as
    /// Kafka's `PartitionMovements.movePartition` does: a partition's record names the member it
    /// was first taken from and the member it is on now, and disappears when it returns.
    fn relocate(&mut self, partition: TopicPartition, to: usize) {
        let holder = self.owner[&partition];
        let first = match self.moved_from.remove(&partition) {
            Some(first) => {
                let key = (partition.topic.clone(), first, holder);
                if let Some(set) = self.movement_sets.get_mut(&key) {
                    set.remove(&partition);
                    if set.entries.is_empty() {
                        self.movement_sets.remove(&key);
                    }
                }
                first
            }
            None => holder,
        };
        if first != to {
            self.moved_from.insert(partition.clone(), first);
            self.movement_sets
                .entry((partition.topic.clone(), first, to))
                .or_insert_with(MovementSet::new)
                .insert(partition.clone());
        }
        self.take(&partition, holder);
        self.give(partition, to);
    }
}

/// The partitions transferring ownership after the general builder, worked out from the raw
/// claims as `CooperativeStickyAssignor.computePartitionsTransferringOwnership` does: a
/// partition assigned to a member that did not list it among its owned partitions, which some
/// member listed but was not assigned.
fn transferring_by_claims(
    group: &StickyGroup,
    assignment: &[BTreeSet<TopicPartition>],
) -> BTreeMap<TopicPartition, usize> {
    let mut revoked: BTreeSet<&TopicPartition> = BTreeSet::new();
    for (member, assigned) in group.members.iter().zip(assignment) {
        revoked.extend(member.owned_partitions.iter().filter(|p| !assigned.contains(*p)));
    }
    let mut transferring = BTreeMap::new();
    for (index, (member, assigned)) in group.members.iter().zip(assignment).enumerate() {
        for partition in assigned {
            if !member.owned_partitions.contains(partition) && revoked.contains(partition) {
                transferring.insert(partition.clone(), index);
            }
        }
    }
    transferring
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
                prop_assert!(owned.iter().all(|tp| partitions.contains_key(tp.topic.as_str())));
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

    // ---------------------------------------------------------------------------------------
    // Round robin, sticky and cooperative sticky.
    // ---------------------------------------------------------------------------------------

    /// A member that owned `owned` in generation `generation`.
    fn owning(member_id: &str, topics: &[&str], owned: &[(&str, i32)], generation: i32) -> MemberSubscription {
        MemberSubscription { owned_partitions: tps(owned), generation: Some(generation), ..dynamic(member_id, topics) }
    }

    /// The group that follows `members` after each member received `assignment` in
    /// `generation`: every member now owns what it was assigned.
    fn after(
        members: &[MemberSubscription],
        assignment: &BTreeMap<String, Vec<TopicPartition>>,
        generation: i32,
    ) -> Vec<MemberSubscription> {
        members
            .iter()
            .map(|m| MemberSubscription {
                owned_partitions: assignment[&m.member_id].clone(),
                generation: Some(generation),
                ..m.clone()
            })
            .collect()
    }

    #[test]
    fn round_robin_deals_in_turn_and_skips_members_not_subscribed() {
        // audit-0 and audit-1 go to m-a and m-b; the pointer then stands at m-c, which takes
        // orders-0, and carries on round the circle.
        let members =
            [dynamic("m-a", &["audit", "orders"]), dynamic("m-b", &["audit", "orders"]), dynamic("m-c", &["orders"])];
        let result = round_robin_assign(&members, &counts(&[("audit", 2), ("orders", 4)]));
        assert_eq!(result["m-a"], tps(&[("audit", 0), ("orders", 1)]));
        assert_eq!(result["m-b"], tps(&[("audit", 1), ("orders", 2)]));
        assert_eq!(result["m-c"], tps(&[("orders", 0), ("orders", 3)]));
    }

    #[test]
    fn round_robin_with_identical_subscriptions_alternates_across_topics() {
        // Kafka's documented example: unlike range, the extra partition of t0 goes to c0 and
        // that of t1 to c1.
        let members = [dynamic("c1", &["t0", "t1"]), dynamic("c0", &["t0", "t1"])];
        let result = round_robin_assign(&members, &counts(&[("t0", 3), ("t1", 3)]));
        assert_eq!(result["c0"], tps(&[("t0", 0), ("t0", 2), ("t1", 1)]));
        assert_eq!(result["c1"], tps(&[("t0", 1), ("t1", 0), ("t1", 2)]));
    }

    #[test]
    fn round_robin_with_nested_subscriptions_can_be_lopsided() {
        // Kafka's documented example of the imbalance that skipping causes.
        let members = [dynamic("c0", &["t0"]), dynamic("c1", &["t0", "t1"]), dynamic("c2", &["t0", "t1", "t2"])];
        let result = round_robin_assign(&members, &counts(&[("t0", 1), ("t1", 2), ("t2", 3)]));
        assert_eq!(result["c0"], tps(&[("t0", 0)]));
        assert_eq!(result["c1"], tps(&[("t1", 0)]));
        assert_eq!(result["c2"], tps(&[("t1", 1), ("t2", 0), ("t2", 1), ("t2", 2)]));
    }

    #[test]
    fn round_robin_puts_static_members_first_by_instance_id() {
        let members = [
            dynamic("m-a", &["orders"]),
            static_member("m-z", "instance-2", &["orders"]),
            static_member("m-y", "instance-1", &["orders"]),
        ];
        let result = round_robin_assign(&members, &counts(&[("orders", 5)]));
        assert_eq!(result["m-y"], tps(&[("orders", 0), ("orders", 3)]));
        assert_eq!(result["m-z"], tps(&[("orders", 1), ("orders", 4)]));
        assert_eq!(result["m-a"], tps(&[("orders", 2)]));
    }

    /// Kafka's documented sticky example: three members subscribed to four topics of two
    /// partitions each.
    fn four_topics() -> BTreeMap<String, i32> {
        counts(&[("t0", 2), ("t1", 2), ("t2", 2), ("t3", 2)])
    }

    #[test]
    fn sticky_deals_a_fresh_group_like_kafka() {
        // With nothing owned, the constrained builder deals the partitions round robin to members
        // below the min quota of 2 and then one each to c0 and c1, which reach the max of 3.
        let topics = ["t0", "t1", "t2", "t3"];
        let members = [dynamic("c0", &topics), dynamic("c1", &topics), dynamic("c2", &topics)];
        let result = sticky_assign(&members, &four_topics());
        assert_eq!(result["c0"], tps(&[("t0", 0), ("t1", 1), ("t3", 0)]));
        assert_eq!(result["c1"], tps(&[("t0", 1), ("t2", 0), ("t3", 1)]));
        assert_eq!(result["c2"], tps(&[("t1", 0), ("t2", 1)]));
        // Nobody owned anything, so the cooperative assignor has nothing to withhold.
        assert_eq!(cooperative_sticky_assign(&members, &four_topics()), result);
    }

    #[test]
    fn sticky_keeps_everything_when_nothing_changed() {
        let topics = ["t0", "t1", "t2", "t3"];
        let members = [dynamic("c0", &topics), dynamic("c1", &topics), dynamic("c2", &topics)];
        let first = sticky_assign(&members, &four_topics());
        let again = after(&members, &first, 1);
        assert_eq!(sticky_assign(&again, &four_topics()), first);
        assert_eq!(cooperative_sticky_assign(&again, &four_topics()), first);
    }

    #[test]
    fn sticky_moves_only_the_partitions_of_a_member_that_left() {
        // c1 leaves; c0 and c2 keep all they had and split c1's three partitions.
        let topics = ["t0", "t1", "t2", "t3"];
        let members = [
            owning("c0", &topics, &[("t0", 0), ("t1", 1), ("t3", 0)], 1),
            owning("c2", &topics, &[("t1", 0), ("t2", 1)], 1),
        ];
        let result = sticky_assign(&members, &four_topics());
        assert_eq!(result["c0"], tps(&[("t0", 0), ("t0", 1), ("t1", 1), ("t3", 0)]));
        assert_eq!(result["c2"], tps(&[("t1", 0), ("t2", 0), ("t2", 1), ("t3", 1)]));
        // The partitions c1 had are owned by nobody now, so nothing is withheld.
        assert_eq!(cooperative_sticky_assign(&members, &four_topics()), result);
    }

    #[test]
    fn sticky_gives_a_joining_member_one_partition_from_each() {
        // Six partitions over three members: each old member keeps its first two (in partition
        // order) and gives up its third to the newcomer.
        let members = [
            owning("m-a", &["t"], &[("t", 0), ("t", 1), ("t", 2)], 4),
            owning("m-b", &["t"], &[("t", 3), ("t", 4), ("t", 5)], 4),
            dynamic("m-c", &["t"]),
        ];
        let partitions = counts(&[("t", 6)]);
        let result = sticky_assign(&members, &partitions);
        assert_eq!(result["m-a"], tps(&[("t", 0), ("t", 1)]));
        assert_eq!(result["m-b"], tps(&[("t", 3), ("t", 4)]));
        assert_eq!(result["m-c"], tps(&[("t", 2), ("t", 5)]));

        // Cooperatively, m-c waits a round while m-a and m-b revoke t-2 and t-5.
        let first = cooperative_sticky_assign(&members, &partitions);
        assert_eq!(first["m-a"], tps(&[("t", 0), ("t", 1)]));
        assert_eq!(first["m-b"], tps(&[("t", 3), ("t", 4)]));
        assert_eq!(first["m-c"], Vec::<TopicPartition>::new());
        let second = cooperative_sticky_assign(&after(&members, &first, 5), &partitions);
        assert_eq!(second, result);
    }

    #[test]
    fn sticky_fills_a_newcomer_from_the_member_over_its_quota() {
        // Five partitions over three members: quotas 1 and 2, with two members at 2. m-a owns
        // three and keeps its first two; m-b keeps both; m-c receives t-2.
        let members = [
            owning("m-a", &["t"], &[("t", 0), ("t", 1), ("t", 2)], 1),
            owning("m-b", &["t"], &[("t", 3), ("t", 4)], 1),
            dynamic("m-c", &["t"]),
        ];
        let partitions = counts(&[("t", 5)]);
        let result = sticky_assign(&members, &partitions);
        assert_eq!(result["m-a"], tps(&[("t", 0), ("t", 1)]));
        assert_eq!(result["m-b"], tps(&[("t", 3), ("t", 4)]));
        assert_eq!(result["m-c"], tps(&[("t", 2)]));
    }

    #[test]
    fn cooperative_withholds_a_moving_partition_for_one_round() {
        // Same group as above. Round one: t-2 must leave m-a first, so m-c gets nothing yet.
        let members = [
            owning("m-a", &["t"], &[("t", 0), ("t", 1), ("t", 2)], 1),
            owning("m-b", &["t"], &[("t", 3), ("t", 4)], 1),
            dynamic("m-c", &["t"]),
        ];
        let partitions = counts(&[("t", 5)]);
        let first = cooperative_sticky_assign(&members, &partitions);
        assert_eq!(first["m-a"], tps(&[("t", 0), ("t", 1)]));
        assert_eq!(first["m-b"], tps(&[("t", 3), ("t", 4)]));
        assert_eq!(first["m-c"], Vec::<TopicPartition>::new());

        // Round two: m-a has revoked t-2 and owns t-0 and t-1; nobody owns t-2, so m-c gets it.
        let second_round = after(&members, &first, 2);
        assert_eq!(second_round[0].owned_partitions, tps(&[("t", 0), ("t", 1)]));
        let second = cooperative_sticky_assign(&second_round, &partitions);
        assert_eq!(second["m-a"], tps(&[("t", 0), ("t", 1)]));
        assert_eq!(second["m-b"], tps(&[("t", 3), ("t", 4)]));
        assert_eq!(second["m-c"], tps(&[("t", 2)]));
        assert_eq!(second, sticky_assign(&members, &partitions));
    }

    #[test]
    fn the_higher_generation_wins_a_contested_partition() {
        // m-a and m-b both claim t-1. Whoever has the higher generation keeps it, and with it a
        // full quota of two; the other keeps what remains of its claims.
        let partitions = counts(&[("t", 4)]);
        let newer_a = [
            owning("m-a", &["t"], &[("t", 0), ("t", 1)], 5),
            owning("m-b", &["t"], &[("t", 1), ("t", 2), ("t", 3)], 4),
        ];
        let result = sticky_assign(&newer_a, &partitions);
        assert_eq!(result["m-a"], tps(&[("t", 0), ("t", 1)]));
        assert_eq!(result["m-b"], tps(&[("t", 2), ("t", 3)]));

        let newer_b = [
            owning("m-a", &["t"], &[("t", 0), ("t", 1)], 4),
            owning("m-b", &["t"], &[("t", 1), ("t", 2), ("t", 3)], 5),
        ];
        // m-b keeps its first two by partition number, t-1 and t-2, and gives up t-3, which goes
        // to m-a; m-a validly owned only t-0.
        let result = sticky_assign(&newer_b, &partitions);
        assert_eq!(result["m-a"], tps(&[("t", 0), ("t", 3)]));
        assert_eq!(result["m-b"], tps(&[("t", 1), ("t", 2)]));
        // Cooperatively, t-3 must first leave m-b.
        let cooperative = cooperative_sticky_assign(&newer_b, &partitions);
        assert_eq!(cooperative["m-a"], tps(&[("t", 0)]));
        assert_eq!(cooperative["m-b"], tps(&[("t", 1), ("t", 2)]));
    }

    #[test]
    fn equal_generations_both_lose_a_contested_partition() {
        // Both claim t-1 in generation 3: neither keeps it. It is free, and goes to m-a, which is
        // below its quota; but since two members may still be consuming it, the cooperative
        // assignor withholds it until they have both let go.
        let members = [
            owning("m-a", &["t"], &[("t", 0), ("t", 1)], 3),
            owning("m-b", &["t"], &[("t", 1), ("t", 2), ("t", 3)], 3),
        ];
        let partitions = counts(&[("t", 4)]);
        let result = sticky_assign(&members, &partitions);
        assert_eq!(result["m-a"], tps(&[("t", 0), ("t", 1)]));
        assert_eq!(result["m-b"], tps(&[("t", 2), ("t", 3)]));
        let cooperative = cooperative_sticky_assign(&members, &partitions);
        assert_eq!(cooperative["m-a"], tps(&[("t", 0)]));
        assert_eq!(cooperative["m-b"], tps(&[("t", 2), ("t", 3)]));
    }

    #[test]
    fn claims_on_vanished_or_unsubscribed_partitions_are_ignored() {
        // m-a claims a partition of a deleted topic, one of a topic nobody subscribes to any
        // more, and one beyond the topic's partition count. None of them count, and nothing is
        // withheld for them.
        let members = [
            owning("m-a", &["t"], &[("gone", 0), ("u", 0), ("t", 7), ("t", 0)], 2),
            owning("m-b", &["t"], &[("t", 1)], 2),
        ];
        let partitions = counts(&[("t", 2), ("u", 3)]);
        let result = sticky_assign(&members, &partitions);
        assert_eq!(result["m-a"], tps(&[("t", 0)]));
        assert_eq!(result["m-b"], tps(&[("t", 1)]));
        assert_eq!(cooperative_sticky_assign(&members, &partitions), result);
    }

    #[test]
    fn the_constrained_walk_follows_javas_hash_map_order() {
        // Six partitions over four members leaves room for only two members at the max quota of
        // 2, but m-a, m-b and m-c each own two. Kafka walks its member map in hash order, which
        // for these ids is m-a, m-c, m-b, m-d, so m-a and m-c keep both of theirs and m-b gives
        // one up. (Checked against Kafka's own AbstractStickyAssignor.)
        let members = [
            owning("m-a", &["t"], &[("t", 0), ("t", 1)], 1),
            owning("m-b", &["t"], &[("t", 2), ("t", 3)], 1),
            owning("m-c", &["t"], &[("t", 4), ("t", 5)], 1),
            dynamic("m-d", &["t"]),
        ];
        let partitions = counts(&[("t", 6)]);
        let result = sticky_assign(&members, &partitions);
        assert_eq!(result["m-a"], tps(&[("t", 0), ("t", 1)]));
        assert_eq!(result["m-b"], tps(&[("t", 2)]));
        assert_eq!(result["m-c"], tps(&[("t", 4), ("t", 5)]));
        assert_eq!(result["m-d"], tps(&[("t", 3)]));
        assert_eq!(cooperative_sticky_assign(&members, &partitions)["m-d"], Vec::<TopicPartition>::new());
    }

    #[test]
    fn sticky_with_different_subscriptions_follows_kafkas_example() {
        // Kafka's second documented sticky example: c0 reads t0, c1 t0 and t1, c2 all three.
        // Topics with fewer possible members are placed first, each partition going to the
        // lightest member that can take it.
        let partitions = counts(&[("t0", 1), ("t1", 2), ("t2", 3)]);
        let members = [dynamic("c0", &["t0"]), dynamic("c1", &["t0", "t1"]), dynamic("c2", &["t0", "t1", "t2"])];
        let result = sticky_assign(&members, &partitions);
        assert_eq!(result["c0"], tps(&[("t0", 0)]));
        assert_eq!(result["c1"], tps(&[("t1", 0), ("t1", 1)]));
        assert_eq!(result["c2"], tps(&[("t2", 0), ("t2", 1), ("t2", 2)]));

        // When c0 leaves, only its partition moves (round robin would move three).
        let without_c0 = after(&members[1..], &result, 1);
        let result = sticky_assign(&without_c0, &partitions);
        assert_eq!(result["c1"], tps(&[("t0", 0), ("t1", 0), ("t1", 1)]));
        assert_eq!(result["c2"], tps(&[("t2", 0), ("t2", 1), ("t2", 2)]));
    }

    #[test]
    fn the_general_builder_moves_partitions_to_a_new_subscriber() {
        // m-a reads x and y and owns all four partitions of x; m-b joins reading x only. y's
        // single partition can only go to m-a, and two of x's move to m-b for balance.
        let members =
            [owning("m-a", &["x", "y"], &[("x", 0), ("x", 1), ("x", 2), ("x", 3)], 1), dynamic("m-b", &["x"])];
        let partitions = counts(&[("x", 4), ("y", 1)]);
        let result = sticky_assign(&members, &partitions);
        assert_eq!(result["m-a"], tps(&[("x", 2), ("x", 3), ("y", 0)]));
        assert_eq!(result["m-b"], tps(&[("x", 0), ("x", 1)]));

        // Cooperatively, x-0 and x-1 are withheld while m-a still owns them.
        let first = cooperative_sticky_assign(&members, &partitions);
        assert_eq!(first["m-a"], tps(&[("x", 2), ("x", 3), ("y", 0)]));
        assert_eq!(first["m-b"], Vec::<TopicPartition>::new());
        assert_eq!(cooperative_sticky_assign(&after(&members, &first, 2), &partitions), result);
    }

    #[test]
    fn the_general_builder_returns_partitions_to_an_older_generations_owner() {
        // m-b still lists x-0 and x-1 from generation 1, which m-a took over in generation 2.
        // m-a's claim wins, but when balance calls for moving partitions to m-b, Kafka moves
        // back the ones m-b had before. The cooperative assignor does not withhold them, because
        // m-b lists them as owned: Kafka compares raw claims here.
        let members = [
            owning("m-a", &["x", "ghost"], &[("x", 0), ("x", 1), ("x", 2), ("x", 3)], 2),
            owning("m-b", &["x"], &[("x", 0), ("x", 1)], 1),
        ];
        let partitions = counts(&[("x", 4)]);
        let result = sticky_assign(&members, &partitions);
        assert_eq!(result["m-a"], tps(&[("x", 2), ("x", 3)]));
        assert_eq!(result["m-b"], tps(&[("x", 0), ("x", 1)]));
        assert_eq!(cooperative_sticky_assign(&members, &partitions), result);
    }

    #[test]
    fn sticky_assignors_reject_duplicate_member_ids() {
        let members = [dynamic("m-a", &["t"]), dynamic("m-a", &["t"])];
        for assignor in [Assignor::RoundRobin, Assignor::Sticky, Assignor::CooperativeSticky] {
            let outcome = std::panic::catch_unwind(|| assignor.assign(&members, &counts(&[("t", 1)])));
            assert!(outcome.is_err(), "{assignor:?} accepted a duplicate member id");
        }
    }

    #[test]
    fn assign_dispatches_to_each_assignor() {
        let members = [dynamic("m-a", &["t", "u"]), dynamic("m-b", &["t", "u"])];
        let partitions = counts(&[("t", 3), ("u", 3)]);
        assert_eq!(Assignor::Range.assign(&members, &partitions), range_assign(&members, &partitions));
        assert_eq!(Assignor::RoundRobin.assign(&members, &partitions), round_robin_assign(&members, &partitions));
        assert_eq!(Assignor::Sticky.assign(&members, &partitions), sticky_assign(&members, &partitions));
        assert_eq!(
            Assignor::CooperativeSticky.assign(&members, &partitions),
            cooperative_sticky_assign(&members, &partitions)
        );
        // Range gives m-a the extra partition of both topics; round robin does not.
        assert_ne!(range_assign(&members, &partitions), round_robin_assign(&members, &partitions));
    }

    #[test]
    fn java_string_hash_matches_java() {
        // Values printed by Java's String.hashCode.
        assert_eq!(java_string_hash(""), 0);
        assert_eq!(java_string_hash("hello"), 99_162_322);
        assert_eq!(java_string_hash("consumer-1-3f2a"), 332_919_317);
        // U+10000 hashes as its two UTF-16 surrogates.
        assert_eq!(java_string_hash("\u{10000}x"), 54_885_496);
        // "Aa" and "BB" famously collide.
        assert_eq!(java_string_hash("Aa"), java_string_hash("BB"));
    }

    #[test]
    fn java_hash_map_order_matches_java() {
        // Each case: keys in insertion order, then the order in which Java 17's HashMap iterated
        // them.
        let cases: [(&str, &str); 5] = [
            ("m-a,m-b,m-c", "m-a,m-c,m-b"),
            ("c-1,c-2,c-3,c-4,c-5", "c-1,c-3,c-2,c-5,c-4"),
            // Fourteen keys: the table has grown to 32 buckets.
            (
                "c-0,c-1,c-2,c-3,c-4,c-5,c-6,c-7,c-8,consumer-1,consumer-10,consumer-11,consumer-2,consumer-3",
                "consumer-11,consumer-10,c-1,c-0,c-3,c-2,c-5,c-4,consumer-3,c-7,consumer-2,c-6,consumer-1,c-8",
            ),
            // Nine keys with one hash code: the ninth in one bucket doubles the table to 32
            // buckets although twelve keys would fit in 16, which moves q and x behind them.
            (
                "AaAaAaAa,AaAaAaBB,AaAaBBAa,AaAaBBBB,AaBBAaAa,AaBBAaBB,AaBBBBAa,AaBBBBBB,BBAaAaAa,a,q,x",
                "a,AaAaAaAa,AaAaAaBB,AaAaBBAa,AaAaBBBB,AaBBAaAa,AaBBAaBB,AaBBBBAa,AaBBBBBB,BBAaAaAa,q,x",
            ),
            // Eight such keys stay in a table of 16 buckets.
            (
                "AaAaAaAa,AaAaAaBB,AaAaBBAa,AaAaBBBB,AaBBAaAa,AaBBAaBB,AaBBBBAa,AaBBBBBB,a,q,x",
                "a,q,x,AaAaAaAa,AaAaAaBB,AaAaBBAa,AaAaBBBB,AaBBAaAa,AaBBAaBB,AaBBBBAa,AaBBBBBB",
            ),
        ];
        for (inserted, expected) in cases {
            let keys: Vec<&str> = inserted.split(',').collect();
            let order: Vec<&str> = java_hash_map_order(&keys).into_iter().map(|i| keys[i]).collect();
            assert_eq!(order.join(","), expected);
        }
    }

    /// The topics of the scenario generator; bit 3 of a subscription mask stands for [`GHOST`].
    const SCENARIO_TOPICS: [&str; 3] = ["t-a", "t-b", "t-c"];

    /// The topic names a subscription mask selects.
    fn mask_topics(mask: u8) -> Vec<String> {
        SCENARIO_TOPICS
            .iter()
            .chain(std::iter::once(&GHOST))
            .enumerate()
            .filter(|(bit, _)| mask & (1 << bit) != 0)
            .map(|(_, t)| t.to_string())
            .collect()
    }

    /// A group in the middle of its life, with the metadata the leader sees.
    #[derive(Clone, Debug)]
    struct Scenario {
        members: Vec<MemberSubscription>,
        counts: BTreeMap<String, i32>,
    }

    /// Groups of up to eight members (plus up to two newcomers) over up to three topics of up
    /// to twelve partitions, whose owned partitions come from a previous round.
    ///
    /// A previous group is assigned by a randomly chosen assignor, in one generation. Then some
    /// members leave, newcomers join with nothing owned, partition counts change (even
    /// downwards, or to zero, so that some claims become invalid), and unless `uniform` some
    /// members change subscriptions. With `uniform`, every member subscribes to the same topics.
    /// With `messy`, a few extra claims with other generations are added, so that claims may
    /// conflict; without it, claims are distinct and all from one generation.
    fn arb_scenario(uniform: bool, messy: bool) -> impl Strategy<Value = Scenario> {
        (
            proptest::collection::vec(("[a-h]", any::<bool>(), 0u8..16), 0..=8),
            1u8..16,
            proptest::collection::vec(0i32..=12, SCENARIO_TOPICS.len()),
            0usize..Assignor::ALL.len(),
            (any::<u8>(), any::<u8>()),
            proptest::collection::vec(("[i-l]", 0u8..16), 0..=2),
            proptest::collection::vec(prop_oneof![3 => Just(None), 1 => (0i32..=12).prop_map(Some)], 3),
            proptest::collection::vec(prop_oneof![4 => Just(None), 1 => (0u8..16).prop_map(Some)], 8),
            1i32..5,
            proptest::collection::vec((0usize..10, 0usize..4, 0i32..14, 0usize..4), 0..6),
        )
            .prop_map(
                move |(
                    previous,
                    shared_mask,
                    previous_counts,
                    previous_assignor,
                    (leave_a, leave_b),
                    newcomers,
                    count_changes,
                    subscription_changes,
                    generation,
                    extra_claims,
                )| {
                    let mask = |own: u8| if uniform { shared_mask } else { own };
                    let mut seen = BTreeSet::new();
                    let mut members: Vec<MemberSubscription> = previous
                        .into_iter()
                        .filter(|(id, _, _)| seen.insert(id.clone()))
                        .map(|(id, is_static, own_mask)| MemberSubscription {
                            member_id: format!("m-{id}"),
                            group_instance_id: is_static.then(|| format!("inst-{id}")),
                            topics: mask_topics(mask(own_mask)),
                            owned_partitions: Vec::new(),
                            generation: None,
                        })
                        .collect();
                    let mut counts: BTreeMap<String, i32> =
                        SCENARIO_TOPICS.iter().zip(previous_counts).map(|(t, n)| (t.to_string(), n)).collect();

                    let previous_assignment = Assignor::ALL[previous_assignor].assign(&members, &counts);
                    members = after(&members, &previous_assignment, generation);

                    let leaving = leave_a & leave_b;
                    members = members
                        .into_iter()
                        .enumerate()
                        .filter(|(i, _)| leaving & (1 << i) == 0)
                        .map(|(_, m)| m)
                        .collect();
                    if !uniform {
                        for (member, change) in members.iter_mut().zip(subscription_changes) {
                            if let Some(new_mask) = change {
                                member.topics = mask_topics(new_mask);
                            }
                        }
                    }
                    for (id, own_mask) in newcomers {
                        if seen.insert(id.clone()) {
                            members.push(MemberSubscription {
                                member_id: format!("n-{id}"),
                                group_instance_id: None,
                                topics: mask_topics(mask(own_mask)),
                                owned_partitions: Vec::new(),
                                generation: None,
                            });
                        }
                    }
                    for (count, change) in counts.values_mut().zip(count_changes) {
                        if let Some(new_count) = change {
                            *count = new_count;
                        }
                    }
                    if messy && !members.is_empty() {
                        for (member, topic, partition, generation_choice) in extra_claims {
                            let index = member % members.len();
                            let topic = SCENARIO_TOPICS.get(topic).copied().unwrap_or(GHOST);
                            members[index].owned_partitions.push(TopicPartition::new(topic, partition));
                            members[index].generation = match generation_choice {
                                0 => None,
                                1 => Some(generation - 1),
                                2 => Some(generation + 1),
                                _ => Some(generation),
                            };
                        }
                    }
                    Scenario { members, counts }
                },
            )
    }

    /// Scenarios with messy claims, with uniform subscriptions half of the time.
    fn arb_messy_scenario() -> impl Strategy<Value = Scenario> {
        any::<bool>().prop_flat_map(|uniform| arb_scenario(uniform, true))
    }

    /// The partitions that must be assigned: every partition of a topic that some member
    /// subscribes to and that exists in the metadata.
    fn subscribed_partitions(
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
    ) -> Vec<TopicPartition> {
        partitions
            .iter()
            .filter(|(topic, _)| members.iter().any(|m| m.topics.contains(topic)))
            .flat_map(|(topic, &count)| (0..count).map(move |p| TopicPartition::new(topic.clone(), p)))
            .collect()
    }

    /// Checks that `result` names exactly the members, that its lists are sorted, and that every
    /// assigned partition exists, is subscribed to by its member and is assigned once. Returns
    /// the subscribed partitions left unassigned.
    fn check_valid(
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
        result: &BTreeMap<String, Vec<TopicPartition>>,
    ) -> Result<Vec<TopicPartition>, TestCaseError> {
        let member_ids: BTreeSet<&str> = members.iter().map(|m| m.member_id.as_str()).collect();
        let result_ids: BTreeSet<&str> = result.keys().map(String::as_str).collect();
        prop_assert_eq!(member_ids, result_ids);
        let mut assigned = BTreeSet::new();
        for member in members {
            let owned = &result[&member.member_id];
            prop_assert!(owned.windows(2).all(|w| w[0] < w[1]), "unsorted list {:?}", owned);
            for tp in owned {
                prop_assert!(
                    member.topics.iter().any(|t| *t == tp.topic),
                    "{} got {} without subscribing",
                    member.member_id,
                    tp
                );
                prop_assert!(
                    partitions.get(tp.topic.as_str()).is_some_and(|&n| (0..n).contains(&tp.partition)),
                    "{}",
                    tp
                );
                prop_assert!(assigned.insert(tp.clone()), "{} assigned twice", tp);
            }
        }
        Ok(subscribed_partitions(members, partitions).into_iter().filter(|tp| !assigned.contains(tp)).collect())
    }

    /// Whether some member lists `partition` among its owned partitions.
    fn claimed_by_anyone(members: &[MemberSubscription], partition: &TopicPartition) -> bool {
        members.iter().any(|m| m.owned_partitions.contains(partition))
    }

    /// Checks Kafka's balance criterion on a complete assignment: no member that could hold more
    /// has two or more partitions fewer than the holder of any partition it subscribes to.
    fn check_balanced(
        members: &[MemberSubscription],
        partitions: &BTreeMap<String, i32>,
        result: &BTreeMap<String, Vec<TopicPartition>>,
    ) -> Result<(), TestCaseError> {
        let holder: BTreeMap<&TopicPartition, &str> =
            result.iter().flat_map(|(id, owned)| owned.iter().map(move |tp| (tp, id.as_str()))).collect();
        for member in members {
            let size = result[&member.member_id].len();
            for tp in subscribed_partitions(std::slice::from_ref(member), partitions) {
                let other = holder[&tp];
                prop_assert!(
                    size + 1 >= result[other].len(),
                    "{} holds {} while {} holding {} could take {}",
                    member.member_id,
                    size,
                    other,
                    result[other].len(),
                    tp
                );
            }
        }
        Ok(())
    }

    /// The sizes of the members' assignments differ by at most one.
    fn within_one(result: &BTreeMap<String, Vec<TopicPartition>>) -> bool {
        let sizes = result.values().map(Vec::len);
        sizes.clone().max().unwrap_or(0) <= sizes.min().unwrap_or(0) + 1
    }

    /// The scenario's group after one more rebalance, each member owning `assignment`.
    fn next_round(scenario: &Scenario, assignment: &BTreeMap<String, Vec<TopicPartition>>) -> Vec<MemberSubscription> {
        let generation = scenario.members.iter().filter_map(|m| m.generation).max().unwrap_or(0) + 1;
        after(&scenario.members, assignment, generation)
    }

    proptest! {
        #[test]
        fn every_assignor_covers_fresh_groups(members in arb_group(), partitions in arb_counts()) {
            for assignor in Assignor::ALL {
                let result = assignor.assign(&members, &partitions);
                let missing = check_valid(&members, &partitions, &result)?;
                prop_assert!(missing.is_empty(), "{:?} left out {:?}", assignor, missing);
            }
        }

        #[test]
        fn every_assignor_assigns_each_subscribed_partition_once(scenario in arb_messy_scenario()) {
            let Scenario { members, counts } = &scenario;
            for assignor in [Assignor::Range, Assignor::RoundRobin, Assignor::Sticky] {
                let missing = check_valid(members, counts, &assignor.assign(members, counts))?;
                prop_assert!(missing.is_empty(), "{:?} left out {:?}", assignor, missing);
            }
            // The cooperative assignor may leave partitions out, but only ones being revoked.
            let missing = check_valid(members, counts, &cooperative_sticky_assign(members, counts))?;
            for tp in missing {
                prop_assert!(claimed_by_anyone(members, &tp), "{} withheld though nobody owns it", tp);
            }
        }

        #[test]
        fn results_do_not_depend_on_member_order(scenario in arb_messy_scenario()) {
            let mut reversed = scenario.members.clone();
            reversed.reverse();
            let mut rotated = scenario.members.clone();
            rotated.rotate_left(scenario.members.len() / 2);
            for assignor in Assignor::ALL {
                let result = assignor.assign(&scenario.members, &scenario.counts);
                prop_assert_eq!(&result, &assignor.assign(&reversed, &scenario.counts));
                prop_assert_eq!(&result, &assignor.assign(&rotated, &scenario.counts));
            }
        }

        #[test]
        fn identical_subscriptions_are_balanced(scenario in arb_scenario(true, true)) {
            let Scenario { members, counts } = &scenario;
            prop_assert!(within_one(&round_robin_assign(members, counts)));
            let sticky = sticky_assign(members, counts);
            prop_assert!(within_one(&sticky));
            // Range balances each topic separately (the existing tests check that); the
            // cooperative assignor only withholds, so nobody exceeds the max quota.
            let total = subscribed_partitions(members, counts).len();
            let max_quota = if members.is_empty() { 0 } else { total.div_ceil(members.len()) };
            let cooperative = cooperative_sticky_assign(members, counts);
            prop_assert!(cooperative.values().all(|owned| owned.len() <= max_quota));
        }

        #[test]
        fn round_robin_with_identical_subscriptions_deals_in_member_order(scenario in arb_scenario(true, false)) {
            let Scenario { members, counts } = &scenario;
            let result = round_robin_assign(members, counts);
            let mut ordered: Vec<&MemberSubscription> = members.iter().collect();
            ordered.sort_by(|a, b| member_order(a, b));
            for (k, tp) in subscribed_partitions(members, counts).iter().enumerate() {
                prop_assert!(result[&ordered[k % ordered.len()].member_id].contains(tp));
            }
        }

        #[test]
        fn sticky_with_different_subscriptions_is_balanced(scenario in arb_scenario(false, true)) {
            let sticky = sticky_assign(&scenario.members, &scenario.counts);
            check_balanced(&scenario.members, &scenario.counts, &sticky)?;
        }

        #[test]
        fn sticky_keeps_as_many_owned_partitions_as_balance_allows(scenario in arb_scenario(true, false)) {
            // With identical subscriptions and distinct claims from one generation, member m
            // validly owns o(m) partitions (its claims that still exist). With P partitions over
            // C members, every member ends with min = floor(P/C) or min + 1, and exactly P mod C
            // members with min + 1. So member m can keep at most min(o(m), min) partitions, plus
            // one more if it is among the P mod C members allowed the extra, which only helps a
            // member with o(m) > min. No assignment can therefore keep more than
            //     sum of min(o(m), min)  +  min(P mod C, number of members with o(m) > min),
            // and the sticky assignors keep exactly that, with every member keeping at least
            // min(o(m), min).
            let Scenario { members, counts } = &scenario;
            prop_assume!(!members.is_empty());
            let total = subscribed_partitions(members, counts).len();
            let min_quota = total / members.len();
            let extra_slots = total % members.len();
            let valid_owned = |m: &MemberSubscription| -> BTreeSet<TopicPartition> {
                m.owned_partitions
                    .iter()
                    .filter(|tp| counts.get(tp.topic.as_str()).is_some_and(|&n| (0..n).contains(&tp.partition)))
                    .filter(|tp| m.topics.iter().any(|t| *t == tp.topic))
                    .cloned()
                    .collect()
            };
            let bound: usize = members.iter().map(|m| valid_owned(m).len().min(min_quota)).sum::<usize>()
                + extra_slots.min(members.iter().filter(|m| valid_owned(m).len() > min_quota).count());

            let sticky = sticky_assign(members, counts);
            let cooperative = cooperative_sticky_assign(members, counts);
            let mut kept_total = 0;
            for member in members {
                let owned = valid_owned(member);
                let kept = sticky[&member.member_id].iter().filter(|tp| owned.contains(*tp)).count();
                prop_assert!(kept >= owned.len().min(min_quota), "{} kept only {}", member.member_id, kept);
                // The cooperative assignor never withholds what a member keeps.
                let kept_cooperatively =
                    cooperative[&member.member_id].iter().filter(|tp| owned.contains(*tp)).count();
                prop_assert_eq!(kept, kept_cooperatively);
                kept_total += kept;
            }
            prop_assert_eq!(kept_total, bound);
        }

        #[test]
        fn cooperative_is_sticky_less_partitions_others_still_own(scenario in arb_messy_scenario()) {
            let Scenario { members, counts } = &scenario;
            let sticky = sticky_assign(members, counts);
            let cooperative = cooperative_sticky_assign(members, counts);
            for member in members {
                let id = &member.member_id;
                let withheld: Vec<&TopicPartition> =
                    sticky[id].iter().filter(|tp| !cooperative[id].contains(*tp)).collect();
                prop_assert!(cooperative[id].iter().all(|tp| sticky[id].contains(tp)));
                // A withheld partition is one some member still claims.
                for tp in withheld {
                    prop_assert!(claimed_by_anyone(members, tp), "{} withheld from {} for no one", tp, id);
                }
                // A partition handed out is one the member claims itself or nobody claims.
                for tp in &cooperative[id] {
                    prop_assert!(
                        member.owned_partitions.contains(tp) || !claimed_by_anyone(members, tp),
                        "{} given to {} while another member owns it",
                        tp,
                        id
                    );
                }
            }
        }

        #[test]
        fn cooperative_never_hands_over_a_partition_another_member_owns(
            scenario in any::<bool>().prop_flat_map(|uniform| arb_scenario(uniform, false)),
        ) {
            // With distinct claims from one generation, the literal statement holds.
            let Scenario { members, counts } = &scenario;
            let cooperative = cooperative_sticky_assign(members, counts);
            for member in members {
                for tp in &cooperative[&member.member_id] {
                    let other_owner = members
                        .iter()
                        .find(|m| m.member_id != member.member_id && m.owned_partitions.contains(tp));
                    prop_assert!(
                        other_owner.is_none(),
                        "{} given to {} but owned by {:?}",
                        tp,
                        member.member_id,
                        other_owner
                    );
                }
            }
        }

        #[test]
        fn sticky_leaves_its_own_result_alone(scenario in arb_messy_scenario()) {
            let sticky = sticky_assign(&scenario.members, &scenario.counts);
            let again = next_round(&scenario, &sticky);
            prop_assert_eq!(&sticky_assign(&again, &scenario.counts), &sticky);
            prop_assert_eq!(&cooperative_sticky_assign(&again, &scenario.counts), &sticky);
        }

        #[test]
        fn cooperative_settles_in_round_two_with_identical_subscriptions(scenario in arb_scenario(true, true)) {
            // Round one withholds the moving partitions; once their owners have let go, round
            // two assigns them. With identical subscriptions round two withholds nothing, takes
            // nothing from anyone, and agrees with the sticky assignor on the same input: every
            // member owns at most the max quota, and no more than P mod C members own that many,
            // so the constrained builder lets every member keep all it owns.
            let first = cooperative_sticky_assign(&scenario.members, &scenario.counts);
            let second_round = next_round(&scenario, &first);
            let second = cooperative_sticky_assign(&second_round, &scenario.counts);
            let missing = check_valid(&second_round, &scenario.counts, &second)?;
            prop_assert!(missing.is_empty(), "round two still withholds {:?}", missing);
            prop_assert_eq!(&second, &sticky_assign(&second_round, &scenario.counts));
            for (id, owned) in &first {
                prop_assert!(owned.iter().all(|tp| second[id].contains(tp)), "{} lost a partition in round two", id);
            }
        }

        #[test]
        fn cooperative_settles_within_a_few_rounds(scenario in arb_scenario(false, true)) {
            // With different subscriptions the general builder may still move a partition in
            // round two (Kafka's does too), which then waits for round three. Over hundreds of
            // thousands of generated groups no case needed more than three rounds; four are
            // allowed here. The settled result is the sticky assignment of its own input.
            let mut members = scenario.members.clone();
            let mut settled = false;
            for _ in 0..4 {
                let cooperative = cooperative_sticky_assign(&members, &scenario.counts);
                if cooperative == sticky_assign(&members, &scenario.counts) {
                    settled = true;
                    check_balanced(&members, &scenario.counts, &cooperative)?;
                    break;
                }
                let round = Scenario { members, counts: scenario.counts.clone() };
                members = next_round(&round, &cooperative);
            }
            prop_assert!(settled, "still withholding partitions after four rounds");
        }
    }
}
