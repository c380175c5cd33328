//! Scenario files: what to run, written in RON.
//!
//! A scenario names a cluster (brokers and their configs), topics, producer and consumer
//! clients, faults to inject at given times, narration lines for the event feed, and
//! expectations checked when the run ends. A minimal file looks like this:
//!
//! ```ron
//! Scenario(
//!     name: "first cluster",
//!     seed: 42,
//!     duration: "30s",
//!     cluster: (brokers: 3),
//!     topics: [(name: "orders", partitions: 3, replication_factor: 3)],
//!     clients: [
//!         Producer(id: "checkout", topic: "orders", rate_per_sec: 50.0,
//!                  configs: {"enable.idempotence": "false"}),
//!     ],
//!     faults: [At("10s", Crash(Leader("orders", 0))), At("20s", Restart(LastCrashed))],
//! )
//! ```
//!
//! A consumer either subscribes to topics as a member of a group or assigns itself partitions,
//! and may model its application: processing time per record, when it commits and scripted
//! seeks (see [`ConsumerSpec`]). The group expectations (`Rebalances`, `UnprocessedRecords`,
//! `RedeliveredRecords`, `UnownedTime`, `PollTimeouts`, `CommitFailures`, ...) are listed with
//! [`Expectation`].
//!
//! Loading happens in two steps. [`parse_str`] turns the text into a [`Scenario`] (syntax and
//! shape errors come straight from the RON parser, reworded), then [`Scenario::validate`] checks
//! the meaning: names that must exist, numbers that must be in range, and every config map,
//! which goes through the typed parsers of [`cluster::config`]. Every error is a
//! [`ScenarioError`] that prints as `file:line:column: message in field (suggestion)`, with the
//! position of the offending text in the file.
//!
//! Two RON extensions are always on: `unwrap_variant_newtypes`, so a client may be written
//! `Producer(id: "p", ...)` as well as RON's classic `Producer((id: "p", ...))` (a file may mix
//! both), and `implicit_some`, so an optional field may be written `key: "k"` as well as
//! `key: Some("k")`.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::path::Path;
use std::str::FromStr;

use cluster::config::{BrokerConfig, ConfigError, ConsumerConfig, ProducerConfig, TopicConfig};
use cluster::era::KafkaVersion;
use ron::extensions::Extensions;
use serde::{Deserialize, Deserializer, Serialize, Serializer};

/// The Kafka versions whose behaviour kafkalab can simulate, as accepted in `kafka_version`,
/// oldest first (see [`cluster::era`] for what each one switches).
pub const SUPPORTED_KAFKA_VERSIONS: &[&str] = &["0.10", "0.11", "2.0", "2.8", "3.6", "3.9", "4.0", "4.5"];

/// The most brokers a scenario may have.
pub const MAX_BROKERS: i32 = 9;

/// The longest `extra` or `jitter` a `Latency` fault may add (one minute): a link slower than
/// every Kafka timeout is a cut link, which `Partition`, `OneWay` and `Isolate` say plainly.
pub const MAX_ADDED_LATENCY: Span = Span::from_secs(60);

/// The longest run a scenario may ask for: one hour of simulated time.
pub const MAX_DURATION: Span = Span(3_600_000);

/// Kafka's limit on the length of a topic name (`Topic.MAX_NAME_LENGTH`).
pub const MAX_TOPIC_NAME_LEN: usize = 249;

/// Edit distance up to which a misspelt name gets a "did you mean" suggestion.
const SUGGESTION_DISTANCE: usize = 3;

/// Nesting depth beyond which the source locator stops descending (ron's own default limit).
const MAX_DEPTH: usize = 128;

fn default_kafka_version() -> String {
    KafkaVersion::CURRENT.as_str().to_string()
}

/// A whole scenario file.
///
/// `name` is shown in the lab's title bar, `seed` drives every random choice of the run (the
/// same seed and file give the same run), `duration` is how much simulated time the run covers
/// (at most [`MAX_DURATION`]), and `kafka_version` selects which era of Kafka rules applies
/// (see [`SUPPORTED_KAFKA_VERSIONS`]; the default is the current era).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Scenario {
    /// A short title, e.g. `"first cluster"`.
    pub name: String,
    /// Free text explaining what the scenario teaches.
    #[serde(default)]
    pub description: String,
    /// Seed of the run's pseudo-random generator.
    pub seed: u64,
    /// Which Kafka release's behaviour to simulate; one of [`SUPPORTED_KAFKA_VERSIONS`].
    #[serde(default = "default_kafka_version")]
    pub kafka_version: String,
    /// Length of the run in simulated time, more than zero and at most [`MAX_DURATION`].
    pub duration: Span,
    /// The brokers and their shared configs.
    pub cluster: ClusterSpec,
    /// Topics created before the run starts.
    #[serde(default)]
    pub topics: Vec<TopicSpec>,
    /// Producers and consumers, in the order they get node ids.
    #[serde(default)]
    pub clients: Vec<ClientSpec>,
    /// Faults injected at given times.
    #[serde(default)]
    pub faults: Vec<Timed<Fault>>,
    /// Faults injected when a condition first holds, written `On(condition, fault)`: checked at
    /// every quantum boundary, each fires at most once, and the trace records when and why.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub triggers: Vec<Trigger>,
    /// Lines said to the learner: `At("5s", "text")` at a time, `On(condition, "text")` when a
    /// condition first holds, `Chapter("5s", "title")` to start a chapter (presenter mode stops
    /// at each), and `Wait("5s", "text")` / `WaitOn(condition, "text")` for a line the lab
    /// pauses on until the learner presses space. See [`Narration`].
    #[serde(default)]
    pub narration: Vec<Narration>,
    /// Checks made when the run ends.
    #[serde(default)]
    pub expect: Vec<Expectation>,
    /// The file the scenario was read from (not part of the file itself), for messages such as
    /// an invariant violation's reproduce command.
    #[serde(skip)]
    pub origin: Origin,
}

/// Where a scenario was read from. It is not part of the scenario's meaning, so two scenarios
/// read from different files compare equal when their contents do.
#[derive(Clone, Debug, Default)]
pub struct Origin(pub String);

impl PartialEq for Origin {
    fn eq(&self, _: &Origin) -> bool {
        true
    }
}

/// A span of simulated time written as a string: `"30s"`, `"500ms"`, `"1.5s"`, `"2m"` or
/// `"1h"`. Stored in milliseconds, so a span finer than one millisecond is rejected.
///
/// It is written back as whole seconds when it is a whole number of seconds (`"30s"`) and as
/// milliseconds otherwise (`"1500ms"`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Span(pub u64);

impl Span {
    /// No time at all.
    pub const ZERO: Span = Span(0);

    /// A span of `millis` milliseconds.
    pub const fn from_millis(millis: u64) -> Span {
        Span(millis)
    }

    /// A span of `secs` seconds (saturating at `u64::MAX` milliseconds).
    pub const fn from_secs(secs: u64) -> Span {
        Span(secs.saturating_mul(1_000))
    }

    /// The span in milliseconds.
    pub const fn as_millis(self) -> u64 {
        self.0
    }

    /// Whether the span is zero.
    pub const fn is_zero(&self) -> bool {
        self.0 == 0
    }

    /// The span as a [`core::time::Duration`].
    pub const fn as_duration(self) -> core::time::Duration {
        core::time::Duration::from_millis(self.0)
    }

    /// The moment this long after the start of the run.
    pub const fn as_instant(self) -> cluster::time::Instant {
        cluster::time::Instant::from_millis(self.0)
    }
}

impl fmt::Display for Span {
    /// Prints `"{n}s"` for whole seconds and `"{n}ms"` otherwise, the form [`Span::from_str`]
    /// reads back.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let (secs, rest) = (self.0 / 1_000, self.0 % 1_000);
        if rest == 0 {
            write!(f, "{secs}s")
        } else {
            write!(f, "{}ms", self.0)
        }
    }
}

/// Why a string is not a valid [`Span`]: `input` is the text found and `reason` what is wrong
/// with it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ParseSpanError {
    /// The text that was rejected.
    pub input: String,
    /// What is wrong with it, e.g. `a unit is missing: write "30s" or "30ms"`.
    pub reason: String,
}

impl fmt::Display for ParseSpanError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "expected a duration such as \"500ms\", \"5s\" or \"2m\", found \"{}\": {}", self.input, self.reason)
    }
}

impl std::error::Error for ParseSpanError {}

impl FromStr for Span {
    type Err = ParseSpanError;

    /// Reads a decimal number followed by a unit: `ms`, `s`, `m` or `h`. A fraction is allowed
    /// as long as the result is a whole number of milliseconds (`"1.5s"` but not `"1.5ms"`).
    fn from_str(input: &str) -> Result<Span, ParseSpanError> {
        let fail = |reason: String| ParseSpanError { input: input.to_string(), reason };
        let text = input.trim();
        if text.is_empty() {
            return Err(fail("it is empty".to_string()));
        }
        if text.starts_with('-') {
            return Err(fail("a duration cannot be negative".to_string()));
        }
        let split = text.find(|c: char| !(c.is_ascii_digit() || c == '.')).unwrap_or(text.len());
        let (number, unit) = text.split_at(split);
        let unit = unit.trim_start();
        let factor: u64 = match unit {
            "ms" => 1,
            "s" => 1_000,
            "m" => 60_000,
            "h" => 3_600_000,
            "" => return Err(fail(format!("a unit is missing: write \"{number}s\" or \"{number}ms\""))),
            other => return Err(fail(format!("unknown unit \"{other}\"; use ms, s, m or h"))),
        };
        let (whole, fraction) = match number.split_once('.') {
            Some((whole, fraction)) => (whole, fraction),
            None => (number, ""),
        };
        let digits_only = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits_only(whole) || !digits_only(fraction) {
            return Err(fail(format!("\"{number}\" is not a decimal number")));
        }
        if number.ends_with('.') {
            return Err(fail(format!("\"{number}\" has no digits after the point")));
        }
        let too_long = || fail("it is too long to count in milliseconds".to_string());
        let whole: u64 = whole.parse().map_err(|_| too_long())?;
        let mut millis = whole.checked_mul(factor).ok_or_else(too_long)?;
        if !fraction.is_empty() {
            let fraction = fraction.trim_end_matches('0');
            if fraction.len() > 9 {
                return Err(fail("it is finer than one millisecond".to_string()));
            }
            let scale = 10u64.pow(fraction.len() as u32);
            let numerator = fraction.parse::<u64>().unwrap_or(0) * factor;
            let (extra, rest) = (numerator / scale, numerator % scale);
            if rest != 0 {
                return Err(fail("it is finer than one millisecond".to_string()));
            }
            millis = millis.checked_add(extra).ok_or_else(too_long)?;
        }
        Ok(Span(millis))
    }
}

impl Serialize for Span {
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.to_string())
    }
}

impl<'de> Deserialize<'de> for Span {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Span, D::Error> {
        // `deserialize_any` lets a bare number reach the visitor, which can then explain that a
        // unit is needed instead of a generic "expected a string".
        deserializer.deserialize_any(SpanVisitor)
    }
}

struct SpanVisitor;

impl SpanVisitor {
    fn number<E: serde::de::Error>(found: impl fmt::Display) -> E {
        E::custom(format!(
            "expected a duration such as \"500ms\", \"5s\" or \"2m\", found the number {found}: \
             durations are strings with a unit, e.g. \"{found}s\" or \"{found}ms\""
        ))
    }
}

impl serde::de::Visitor<'_> for SpanVisitor {
    type Value = Span;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a duration such as \"500ms\", \"5s\" or \"2m\"")
    }

    fn visit_str<E: serde::de::Error>(self, value: &str) -> Result<Span, E> {
        value.parse().map_err(E::custom)
    }

    fn visit_u64<E: serde::de::Error>(self, value: u64) -> Result<Span, E> {
        Err(Self::number(value))
    }

    fn visit_i64<E: serde::de::Error>(self, value: i64) -> Result<Span, E> {
        Err(Self::number(value))
    }

    fn visit_f64<E: serde::de::Error>(self, value: f64) -> Result<Span, E> {
        Err(Self::number(value))
    }
}

/// The cluster: `brokers` brokers numbered 1 to `brokers` (at most [`MAX_BROKERS`]), all with the
/// broker configs `configs` (Kafka keys, see [`BrokerConfig::KEYS`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ClusterSpec {
    /// Number of brokers, 1 to [`MAX_BROKERS`].
    pub brokers: i32,
    /// Number of KRaft controllers (the voters of the metadata quorum), 1 to
    /// [`MAX_CONTROLLERS`]; default 1. A quorum of `N` needs `floor(N/2) + 1` of them.
    #[serde(default = "one_controller")]
    pub controllers: i32,
    /// How nodes are deployed (Kafka's `process.roles`): `Dedicated` controllers (node ids
    /// 3000, 3001, ...) beside the brokers, or `Combined` nodes where brokers 1 to `controllers`
    /// are controllers too. Default `Dedicated`.
    #[serde(default)]
    pub process_roles: ProcessRoles,
    /// A teaching knob with no Kafka equivalent: every controller's first election timeout is
    /// exactly `controller.quorum.election.timeout.ms` instead of random, so they all campaign
    /// at once and split the vote. Default `false`.
    #[serde(default)]
    pub aligned_election_timeouts: bool,
    /// Broker configs by Kafka key, e.g. `{"min.insync.replicas": "2"}`.
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

fn one_controller() -> i32 {
    1
}

/// The most controllers a scenario may have (Kafka recommends 3 or 5).
pub const MAX_CONTROLLERS: i32 = 7;

/// The node id of the first dedicated controller; the others follow (3001, 3002, ...).
pub const FIRST_CONTROLLER_ID: i32 = 3000;

/// How a cluster's nodes split the broker and controller roles (Kafka's `process.roles`).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum ProcessRoles {
    /// `process.roles=controller` on nodes of their own, and `broker` on the brokers: what
    /// production clusters run.
    #[default]
    Dedicated,
    /// `process.roles=broker,controller`: the first `controllers` brokers are also the
    /// controllers, as in a small or development cluster.
    Combined,
}

impl ClusterSpec {
    /// The voters' node ids.
    pub fn controller_ids(&self) -> Vec<i32> {
        match self.process_roles {
            ProcessRoles::Dedicated => (0..self.controllers).map(|i| FIRST_CONTROLLER_ID + i).collect(),
            ProcessRoles::Combined => (1..=self.controllers).collect(),
        }
    }
}

/// A topic created before the run: its name (Kafka's rules: 1 to 249 characters from
/// `[a-zA-Z0-9._-]`), partition count, replication factor (at most the broker count) and topic
/// configs (see [`TopicConfig::KEYS`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TopicSpec {
    /// Topic name, e.g. `"orders"`.
    pub name: String,
    /// Number of partitions, at least 1.
    pub partitions: i32,
    /// Replicas per partition, 1 to the number of brokers.
    pub replication_factor: i32,
    /// Topic configs by Kafka key.
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

/// One client of the cluster.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum ClientSpec {
    /// A producer writing to one topic.
    Producer(ProducerSpec),
    /// A consumer reading topics as a member of a consumer group.
    Consumer(ConsumerSpec),
}

impl ClientSpec {
    /// The client's id, unique among all clients of the scenario.
    pub fn id(&self) -> &str {
        match self {
            ClientSpec::Producer(producer) => &producer.id,
            ClientSpec::Consumer(consumer) => &consumer.id,
        }
    }

    /// The client's Kafka configs.
    pub fn configs(&self) -> &BTreeMap<String, String> {
        match self {
            ClientSpec::Producer(producer) => &producer.configs,
            ClientSpec::Consumer(consumer) => &consumer.configs,
        }
    }
}

/// A producer. It sends `rate_per_sec` records a second to `topic` with keys picked as `keys`
/// says, plus any scripted `records` at their given times, starting at `start`. `configs` are
/// producer configs by Kafka key (see [`ProducerConfig::KEYS`]).
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ProducerSpec {
    /// Client id, unique in the scenario, e.g. `"checkout"`.
    pub id: String,
    /// The topic written to; it must be listed in `topics`.
    pub topic: String,
    /// Records per second of simulated time; 0 for a producer that only sends `records`.
    #[serde(default)]
    pub rate_per_sec: f64,
    /// How rate-driven records pick their keys.
    #[serde(default)]
    pub keys: KeySpec,
    /// Records sent at exact times, in addition to the rate.
    #[serde(default)]
    pub records: Vec<ScriptedRecord>,
    /// When the producer starts sending.
    #[serde(default)]
    pub start: Span,
    /// Times at which the application calls `flush()`: every buffered batch is sent at once,
    /// whatever `linger.ms` says, and the call returns when all of them have completed.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub flushes: Vec<Span>,
    /// Producer configs by Kafka key.
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

/// How a rate-driven producer picks keys. `Null`: no key (Kafka's sticky partitioner, KIP-480);
/// `Uniform(n)`: keys `"key-0"` to `"key-{n-1}"` chosen uniformly by the seeded generator. The
/// default is `Uniform(16)`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum KeySpec {
    /// Records have no key.
    Null,
    /// Records have one of `n` keys, `n` at least 1.
    Uniform(u32),
}

impl Default for KeySpec {
    fn default() -> Self {
        KeySpec::Uniform(16)
    }
}

/// One record a producer sends at time `at`, with an optional key and value (a missing value is
/// a null value, which compaction treats as a tombstone).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ScriptedRecord {
    /// When to send it, within the run's duration.
    pub at: Span,
    /// Record key, e.g. `key: "user-7"`.
    #[serde(default)]
    pub key: Option<String>,
    /// Record value.
    #[serde(default)]
    pub value: Option<String>,
    /// An explicit partition, which bypasses the partitioner.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub partition: Option<i32>,
}

/// A consumer. It either subscribes to `topics` as a member of consumer group `group`
/// (`KafkaConsumer.subscribe`: the group's coordinator shares the partitions among the members),
/// or reads exactly the partitions listed in `assign` (`KafkaConsumer.assign`: no membership, no
/// rebalances; `group` is then optional and only needed to commit offsets). It starts at
/// `start`, spends `processing` on each record it polls, commits as `commit` says, moves its
/// position at the times `seeks` lists, and takes consumer configs by Kafka key (see
/// [`ConsumerConfig::KEYS`]).
///
/// ```ron
/// Consumer(id: "billing-1", group: "billing", topics: ["orders"], processing: "20ms",
///          commit: AfterProcessing, configs: {"enable.auto.commit": "false"}),
/// Consumer(id: "audit", assign: [("orders", 0), ("orders", 1)],
///          seeks: [At("10s", ToBeginning)], configs: {"enable.auto.commit": "false"}),
/// ```
///
/// Validation rejects a consumer that both subscribes and assigns, or does neither; one that
/// subscribes without a group; one that commits (`commit` other than `Auto`, or
/// `"enable.auto.commit": "true"`) without a group; and a `BeforeProcessing` or
/// `AfterProcessing` consumer whose `enable.auto.commit` is on. As in Kafka since 2.2
/// (KIP-289), a consumer without a group that leaves `enable.auto.commit` unset does not
/// auto-commit.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConsumerSpec {
    /// Client id, unique in the scenario, e.g. `"billing-1"`.
    pub id: String,
    /// The consumer group (Kafka's `group.id`); empty (or left out) for an `assign` consumer
    /// that commits nothing. Required when subscribing to `topics`.
    #[serde(default, skip_serializing_if = "String::is_empty")]
    pub group: String,
    /// Topics subscribed to; each must be listed in `topics`. Exclusive with `assign`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub topics: Vec<String>,
    /// Partitions read without group membership, as `(topic, partition)` pairs:
    /// `assign: [("orders", 0), ("orders", 1)]`. Exclusive with `topics`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub assign: Vec<(String, i32)>,
    /// When the consumer starts.
    #[serde(default)]
    pub start: Span,
    /// How long the application takes to process one polled record, e.g. `"20ms"`; zero (the
    /// default) processes every record at once. A poll's records are processed one after
    /// another before the next `poll()`, so a long processing time can exceed
    /// `max.poll.interval.ms`.
    #[serde(default, skip_serializing_if = "Span::is_zero")]
    pub processing: Span,
    /// How the application commits offsets; `Auto` (the default) leaves it to
    /// `enable.auto.commit`.
    #[serde(default, skip_serializing_if = "CommitSpec::is_auto")]
    pub commit: CommitSpec,
    /// Position changes at given times, e.g. `[At("10s", ToBeginning), At("15s",
    /// ToOffset("orders", 0, 42))]`.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub seeks: Vec<Timed<SeekSpec>>,
    /// Consumer configs by Kafka key.
    #[serde(default)]
    pub configs: BTreeMap<String, String>,
}

impl ConsumerSpec {
    /// Whether the consumer takes part in a consumer group's membership (it subscribes to
    /// topics); an `assign` consumer does not.
    pub fn subscribes(&self) -> bool {
        !self.topics.is_empty()
    }

    /// The topics the consumer reads: the subscribed ones, or those of its assigned partitions,
    /// each once, in the order first named.
    pub fn read_topics(&self) -> Vec<String> {
        let mut out: Vec<String> = Vec::new();
        for topic in self.topics.iter().chain(self.assign.iter().map(|(topic, _)| topic)) {
            if !out.contains(topic) {
                out.push(topic.clone());
            }
        }
        out
    }
}

/// How a consumer's application commits offsets, written `commit: AfterProcessing`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub enum CommitSpec {
    /// `enable.auto.commit` decides: with it on (Kafka's default for a consumer with a group),
    /// `poll()` commits the positions of records returned by earlier polls every
    /// `auto.commit.interval.ms`; with it off, nothing is committed.
    #[default]
    Auto,
    /// `commitSync()` right after `poll()` returns, before processing: a crash while processing
    /// loses the polled records for the group (at-most-once). Needs
    /// `"enable.auto.commit": "false"`.
    BeforeProcessing,
    /// `commitSync()` once the polled records are processed: a crash before the commit
    /// redelivers them to the partition's next owner (at-least-once). Needs
    /// `"enable.auto.commit": "false"`.
    AfterProcessing,
}

impl CommitSpec {
    /// Whether this is the default, [`CommitSpec::Auto`].
    pub fn is_auto(&self) -> bool {
        *self == CommitSpec::Auto
    }

    /// The name written in scenario files, e.g. `"AfterProcessing"`.
    pub fn name(self) -> &'static str {
        match self {
            CommitSpec::Auto => "Auto",
            CommitSpec::BeforeProcessing => "BeforeProcessing",
            CommitSpec::AfterProcessing => "AfterProcessing",
        }
    }
}

/// A position change a consumer makes at a given time, written inside `At("10s", ...)` in its
/// `seeks` (KafkaConsumer's seek methods). `ToBeginning` and `ToEnd` move every partition the
/// consumer owns at that time.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum SeekSpec {
    /// `seekToBeginning`: each owned partition's log start offset.
    ToBeginning,
    /// `seekToEnd`: each owned partition's high watermark (the end a consumer may read to).
    ToEnd,
    /// `seek(partition, offset)`: topic, partition index and offset (0 or more), e.g.
    /// `ToOffset("orders", 0, 42)`. The partition must be one the consumer reads.
    ToOffset(String, i32, i64),
    /// `offsetsForTimes` then `seek`: on each owned partition, the first record whose timestamp
    /// is at or after this moment of the run, e.g. `ToTimestamp("5s")` (records are stamped
    /// with the simulated time they were sent).
    ToTimestamp(Span),
}

/// Something that happens at a given time of the run, written `At("10s", thing)`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Timed<T> {
    /// `thing` happens at the given time.
    At(Span, T),
}

impl<T> Timed<T> {
    /// When it happens.
    pub fn at(&self) -> Span {
        match self {
            Timed::At(at, _) => *at,
        }
    }

    /// What happens.
    pub fn value(&self) -> &T {
        match self {
            Timed::At(_, value) => value,
        }
    }
}

/// A line of narration: what the scenario says to the learner, and when.
///
/// Every form is recorded in the trace when it fires (a narration line, a chapter title or a
/// prompt), so a headless run and a recording keep them; only the terminal lab waits on a
/// prompt. Conditions are checked at every quantum boundary, like a trigger's, and each line
/// fires at most once.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Narration {
    /// The line is said at this time.
    At(Span, String),
    /// The line is said when the condition first holds: `On(Leads(broker: 2, topic: "orders",
    /// partition: 0), "Broker 2 took over.")`.
    On(Condition, String),
    /// A chapter starts at this time, with this title. Presenter mode stops at each chapter
    /// and steps from one to the next.
    Chapter(Span, String),
    /// The line is said at this time and the lab pauses until the learner presses space
    /// ("press space to continue"); headless runs do not wait.
    Wait(Span, String),
    /// Like `Wait`, when the condition first holds.
    WaitOn(Condition, String),
}

/// What kind of line a [`Narration`] is, once it fires.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum NarrationKind {
    /// A plain line (`At`, `On`).
    Line,
    /// A chapter title (`Chapter`).
    Chapter,
    /// A line the lab waits on (`Wait`, `WaitOn`).
    Prompt,
}

impl Narration {
    /// The time the line is due, or `None` when a condition decides it.
    pub fn at(&self) -> Option<Span> {
        match self {
            Narration::At(at, _) | Narration::Chapter(at, _) | Narration::Wait(at, _) => Some(*at),
            Narration::On(..) | Narration::WaitOn(..) => None,
        }
    }

    /// The condition that decides when the line is said, for `On` and `WaitOn`.
    pub fn condition(&self) -> Option<&Condition> {
        match self {
            Narration::On(condition, _) | Narration::WaitOn(condition, _) => Some(condition),
            _ => None,
        }
    }

    /// The text (a chapter's title for `Chapter`).
    pub fn text(&self) -> &str {
        match self {
            Narration::At(_, text)
            | Narration::On(_, text)
            | Narration::Chapter(_, text)
            | Narration::Wait(_, text)
            | Narration::WaitOn(_, text) => text,
        }
    }

    /// Which kind of line it is.
    pub fn kind(&self) -> NarrationKind {
        match self {
            Narration::At(..) | Narration::On(..) => NarrationKind::Line,
            Narration::Chapter(..) => NarrationKind::Chapter,
            Narration::Wait(..) | Narration::WaitOn(..) => NarrationKind::Prompt,
        }
    }
}

/// A fault injected into the run.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Fault {
    /// The node's machine goes down hard: the process stops at once and its page cache is
    /// lost, so everything not yet flushed goes (the last write may be torn). Its peers'
    /// connections are reset.
    Crash(Target),
    /// The node's process is killed (`kill -9`) but its machine stays up: what the process
    /// wrote is in the operating system's page cache and survives, and the kernel resets its
    /// connections.
    Kill(Target),
    /// These nodes lose power together: like `Crash`, but nobody's connections are reset, so
    /// peers find out only by timeouts. `PowerLoss([Broker(1), Broker(2), Broker(3)])`.
    PowerLoss(Vec<Target>),
    /// A crashed node starts again.
    Restart(Target),
    /// The network splits: nodes of the first list cannot reach nodes of the second, and the
    /// other way round.
    Partition(Vec<Target>, Vec<Target>),
    /// The node is cut off from every other node.
    Isolate(Target),
    /// Every network partition, isolation and one-way cut ends, and so do `Loss`, `Latency` and
    /// `Duplicate`. Paused nodes stay paused.
    Heal,
    /// The node's process is stopped gracefully (SIGTERM): a controller that leads the quorum
    /// first resigns with `EndQuorumEpoch`; the page cache survives. `Restart` brings it back.
    Shutdown(Target),
    /// A new broker with this `node.id` (above `cluster.brokers`) starts and joins the running
    /// cluster. It hosts nothing until a reassignment moves replicas onto it.
    AddBroker(i32),
    /// An admin runs `kafka-reassign-partitions.sh --execute` for one partition: topic,
    /// partition and the target replicas, preferred leader first (KIP-455).
    /// `Reassign("orders", 0, [4, 2, 3])`.
    Reassign(String, i32, Vec<i32>),
    /// An admin runs `kafka-leader-election.sh --election-type preferred` for one partition.
    PreferredElection(String, i32),
    /// The node's process stops, as in a long garbage-collection pause or after `SIGSTOP`:
    /// nothing runs, its timers do not fire, and messages to it wait in its socket buffers
    /// (what it sent before the pause still arrives). Its peers see only silence. `Resume`
    /// lets it carry on where it stopped, acting on what it knew until it hears otherwise: a
    /// paused leader may wake up still believing it leads.
    Pause(Target),
    /// A paused node carries on (`SIGCONT`). Resuming a node that is not paused does nothing.
    Resume(Target),
    /// Messages from the nodes of the first list to those of the second are dropped, while the
    /// other direction flows (an asymmetric partition). A node named on both sides is on the
    /// receiving side, so `OneWay([Broker(1), Broker(2), Broker(3)], [Leader("orders", 0)])`
    /// means no other broker reaches the leader. `Heal` or `Reconnect` ends it.
    OneWay(Vec<Target>, Vec<Target>),
    /// The node's isolation ends, and so does every partition and one-way cut involving it;
    /// other cuts stay. Reconnecting nodes one by one is FoundationDB's swizzle-clogging.
    Reconnect(Target),
    /// Packets are lost on the links touching `nodes` (every link when empty):
    /// `Loss(rate: 0.2, nodes: [Broker(1)])`. Kafka runs on TCP, which never loses a message on
    /// a live connection: each loss costs a retransmission timeout (200 ms, doubling while the
    /// retransmissions are lost too) and the messages behind it on the connection wait. After
    /// 15 losses in a row TCP gives up and the connection breaks. It replaces an earlier `Loss`
    /// on the same nodes, so `rate: 0.0` ends it. A message's retransmissions are drawn when it
    /// is sent, so a back-off under way when the loss ends still runs its course.
    Loss {
        /// The probability that a transmission is lost, 0 to 1.
        rate: f64,
        /// The nodes whose links lose packets; every link when empty (the default).
        #[serde(default)]
        nodes: Vec<Target>,
    },
    /// Messages on the links touching `nodes` (every link when empty) take `extra` longer, plus
    /// or minus up to `jitter` (uniform, never faster than the healthy network), and stay in
    /// order: `Latency(extra: "200ms", jitter: "50ms", nodes: [Broker(1)])`. It replaces an
    /// earlier `Latency` on the same nodes, so zero spans end it.
    Latency {
        /// The added one-way delay.
        extra: Span,
        /// The largest deviation from `extra`, either way; default none.
        #[serde(default)]
        jitter: Span,
        /// The nodes whose links are slow; every link when empty (the default).
        #[serde(default)]
        nodes: Vec<Target>,
    },
    /// With probability `rate`, a request on the links touching `nodes` (every link when
    /// empty) is delivered, then its connection breaks before the answer gets back: the
    /// answer is lost, both ends see the connection close, and the client sends the request
    /// again, so the server may see it twice (what idempotent producers guard against):
    /// `Duplicate(rate: 0.1, nodes: [Client("checkout")])`. It replaces an earlier `Duplicate`
    /// on the same nodes, so `rate: 0.0` ends it.
    Duplicate {
        /// The probability that a delivered request's connection breaks, 0 to 1.
        rate: f64,
        /// The nodes whose links break; every link when empty (the default).
        #[serde(default)]
        nodes: Vec<Target>,
    },
}

/// A fault staged on the cluster's state rather than on the clock, so an exact interleaving
/// (KIP-101's "the follower has the record but not yet the new high watermark") can be
/// reproduced: `On(All([LogEndOffset(broker: 2, topic: "t", partition: 0, at_least: 2),
/// Not(HighWatermark(broker: 2, topic: "t", partition: 0, at_least: 2))]), Kill(Broker(2)))`.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
pub enum Trigger {
    /// When the condition first holds at a quantum boundary, the fault is applied.
    On(Condition, Fault),
}

impl Trigger {
    /// The condition.
    pub fn condition(&self) -> &Condition {
        match self {
            Trigger::On(condition, _) => condition,
        }
    }

    /// The fault.
    pub fn fault(&self) -> &Fault {
        match self {
            Trigger::On(_, fault) => fault,
        }
    }
}

/// Something about the running cluster a trigger waits for. A replica condition on a broker
/// that is down, or does not host the partition, does not hold.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Condition {
    /// The broker's replica of the partition has a log end offset of at least `at_least`.
    LogEndOffset {
        /// The broker (`node.id`).
        broker: i32,
        /// The topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The lowest log end offset that satisfies the condition.
        at_least: i64,
    },
    /// The broker's replica of the partition has a high watermark of at least `at_least` (a
    /// follower's is the one it learned from its last fetch response).
    HighWatermark {
        /// The broker (`node.id`).
        broker: i32,
        /// The topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The lowest high watermark that satisfies the condition.
        at_least: i64,
    },
    /// The broker leads the partition.
    Leads {
        /// The broker (`node.id`).
        broker: i32,
        /// The topic.
        topic: String,
        /// The partition index.
        partition: i32,
    },
    /// The producer with this client id has had at least `at_least` records acknowledged.
    Acked {
        /// The producer's client id.
        client: String,
        /// The fewest acknowledged records that satisfy the condition.
        at_least: u64,
    },
    /// Simulated time has reached this.
    After(Span),
    /// Every condition holds.
    All(Vec<Condition>),
    /// At least one condition holds.
    Any(Vec<Condition>),
    /// The condition does not hold.
    Not(Box<Condition>),
}

/// Who a fault hits. Roles are resolved when the fault fires, so a scenario survives a different
/// election outcome.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum Target {
    /// The broker with this `node.id`, from 1 to the broker count.
    Broker(i32),
    /// Every controller (every voter of the metadata quorum).
    Controller,
    /// Whichever controller is active (the quorum leader) when the fault fires.
    ActiveController,
    /// The node with this `node.id`: a broker, or a dedicated controller (3000, 3001, ...).
    Node(i32),
    /// The client with this id.
    Client(String),
    /// Whichever broker leads this partition (topic, partition index) when the fault fires.
    Leader(String, i32),
    /// Whichever broker coordinates this consumer group when the fault fires: the leader of
    /// the group's `__consumer_offsets` partition.
    Coordinator(String),
    /// The nodes the most recent `Crash`, `Kill` or `PowerLoss` hit.
    LastCrashed,
}

/// A check made when the run ends.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub enum Expectation {
    /// At least `at_least` acknowledged writes were lost, written
    /// `LostAckedWrites(at_least: 1)`.
    LostAckedWrites {
        /// The fewest lost acknowledged writes that satisfy the check.
        at_least: u64,
    },
    /// No acknowledged write was lost.
    NoLostAckedWrites,
    /// No record was written twice.
    NoDuplicates,
    /// Every partition has a leader at the end.
    AllPartitionsOnline,
    /// Every partition's ISR equals its replica set at the end.
    FullIsr,
    /// At the end, the group is Stable with this many members.
    GroupMembers {
        /// The consumer group.
        group: String,
        /// Its member count.
        members: usize,
    },
    /// At the end, that client's member of the group owns this many partitions.
    MemberOwns {
        /// The consumer group.
        group: String,
        /// A consumer of that group.
        client: String,
        /// The partitions it owns.
        partitions: usize,
    },
    /// The group's generation id at the end (one per completed rebalance) lies within the
    /// bounds, written `Rebalances(group: "billing", at_least: 2)`, `Rebalances(group:
    /// "billing", at_most: 1)` or with both. At least one bound must be given.
    Rebalances {
        /// The consumer group.
        group: String,
        /// The lowest acceptable generation id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_least: Option<u32>,
        /// The highest acceptable generation id.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_most: Option<u32>,
    },
    /// At the end, the group's lag is zero on every partition of the topics it reads.
    ConsumedAll {
        /// The consumer group.
        group: String,
    },
    /// The number of records the group skipped lies within the bounds: acknowledged records
    /// (offset 0 or more) on the group's topics whose offset is below the group's final
    /// committed offset for their partition, yet which no consumer of the group ever finished
    /// processing. This is at-most-once delivery's loss (a commit before processing, then a
    /// crash); records skipped by `auto.offset.reset: latest` or a seek count too. Written
    /// `UnprocessedRecords(group: "billing", at_least: 1)`; at least one bound must be given.
    UnprocessedRecords {
        /// The consumer group.
        group: String,
        /// The fewest unprocessed records that satisfy the check.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_least: Option<u64>,
        /// The most unprocessed records that satisfy the check.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_most: Option<u64>,
    },
    /// The number of records the group's consumers processed more than once (the same send
    /// on the same partition) lies within the bounds: at-least-once delivery's redelivery
    /// after a rebalance or crash, or a seek back. Written `RedeliveredRecords(group:
    /// "billing", at_most: 0)`; at least one bound must be given.
    RedeliveredRecords {
        /// The consumer group.
        group: String,
        /// The fewest redelivered records that satisfy the check.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_least: Option<u64>,
        /// The most redelivered records that satisfy the check.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_most: Option<u64>,
    },
    /// The group's partitions went unowned for a total time within the bounds, summed over
    /// partitions: from a member's `PartitionsRevoked` or `PartitionsLost` for a partition it
    /// owned until the partition's next `PartitionsAssigned` to any member (or the end of the
    /// run), counted only once the partition was first assigned. It shows the eager protocol's
    /// stop-the-world pause against the cooperative protocol's short one (KIP-429). A member
    /// that crashes reports nothing, so the time until its partitions are reassigned is not
    /// counted. Written `UnownedTime(group: "billing", at_most: "2s")`; at least one bound
    /// must be given.
    UnownedTime {
        /// The consumer group.
        group: String,
        /// The least total unowned partition-time that satisfies the check.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_least: Option<Span>,
        /// The most total unowned partition-time that satisfies the check.
        #[serde(default, skip_serializing_if = "Option::is_none")]
        at_most: Option<Span>,
    },
    /// Consumers of the group went more than `max.poll.interval.ms` between polls (and so left
    /// the group) at least `at_least` times, written `PollTimeouts(group: "billing",
    /// at_least: 1)`.
    PollTimeouts {
        /// The consumer group.
        group: String,
        /// The fewest poll timeouts that satisfy the check.
        at_least: u32,
    },
    /// Commits by consumers of the group were refused (`CommitFailedException`: a stale
    /// generation or an unknown member) at least `at_least` times, written
    /// `CommitFailures(group: "billing", at_least: 1)`.
    CommitFailures {
        /// The consumer group.
        group: String,
        /// The fewest refused commits that satisfy the check.
        at_least: u32,
    },
    /// At the end, every live replica of the partition holds exactly these records, in offset
    /// order, as `(offset, key, value)` with `None` for a tombstone's value:
    /// `LogHolds(topic: "prices", partition: 0, records: [(3, "c", Some("1")), (4, "b", None)])`.
    /// Offsets not listed must be gaps (compaction) or outside the log.
    LogHolds {
        /// The topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The records expected, oldest first.
        records: Vec<(i64, String, Option<String>)>,
    },
    /// At the end a controller leads the quorum and is active, and every live voter follows it.
    QuorumLeader,
    /// At the end no controller leads the quorum: a minority cannot elect anyone.
    NoQuorumLeader,
    /// The quorum's epoch reached at least this.
    QuorumEpoch {
        /// The lowest acceptable epoch.
        at_least: i32,
    },
    /// At least this many elections failed (split votes or refusals).
    FailedElections {
        /// The fewest failed elections that satisfy the check.
        at_least: u32,
    },
    /// A leader resigned at least this many times (check-quorum or shutdown).
    LeaderResignations {
        /// The fewest resignations that satisfy the check.
        at_least: u32,
    },
    /// No metadata record was committed after this time: the metadata stopped changing.
    NoMetadataCommitsAfter {
        /// From when.
        at: Span,
    },
    /// At the end the partition's replicas (and ISR) are exactly these, in this order, with no
    /// reassignment in progress.
    Replicas {
        /// The topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The replicas expected.
        replicas: Vec<i32>,
    },
    /// At the end this broker leads the partition.
    PartitionLeader {
        /// The topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The leader expected.
        leader: i32,
    },
    /// At the end, the partition leader's log start offset is at least this: retention (or the
    /// cleaner) removed everything below it.
    LogStartOffset {
        /// The topic.
        topic: String,
        /// The partition index.
        partition: i32,
        /// The lowest acceptable log start offset.
        at_least: i64,
    },
    /// At least `at_least` records are stored more than once (retries without idempotence).
    Duplicates {
        /// The fewest duplicated records that satisfy the check.
        at_least: u64,
    },
    /// At the end, every two live replicas of the partition hold the same record at every
    /// offset both hold.
    ReplicasAgree {
        /// The topic.
        topic: String,
        /// The partition index.
        partition: i32,
    },
    /// At the end, two live replicas of the partition hold different records at the same
    /// offset: the divergence leader epochs exist to prevent (KIP-101, scenario 2).
    ReplicasDiverge {
        /// The topic.
        topic: String,
        /// The partition index.
        partition: i32,
    },
    /// Leaders refused produce requests with this Kafka error at least `at_least` times,
    /// e.g. `ProduceErrors(error: "NOT_ENOUGH_REPLICAS", at_least: 1)`.
    ProduceErrors {
        /// The error's Kafka name.
        error: String,
        /// The fewest refusals that satisfy the check.
        at_least: u64,
    },
    /// Leaders dropped at least `at_least` retried batches as duplicates of batches they
    /// already held (the idempotent producer, KIP-98).
    DuplicatesDropped {
        /// The fewest dropped batches that satisfy the check.
        at_least: u64,
    },
    /// At the end, the topic's leaders hold on average at least `at_least` records per batch
    /// (`linger.ms` and `batch.size` at work).
    RecordsPerBatch {
        /// The topic.
        topic: String,
        /// The lowest acceptable average.
        at_least: f64,
    },
    /// At the end, every batch of the topic's leaders is stored with this codec (`none`,
    /// `gzip`, `snappy`, `lz4`, `zstd`).
    StoredCompression {
        /// The topic.
        topic: String,
        /// The codec's name.
        codec: String,
    },
    /// Consumers found the log truncated under their position at least `at_least` times
    /// (KIP-320).
    TruncationDetected {
        /// The fewest detections that satisfy the check.
        at_least: u64,
    },
    /// The checker finds this at least once, written `Happens(PollSkip)` or
    /// `Happens(Violation(ReplicasAgreeBelowHighWatermark))`. An expected invariant violation
    /// is recorded in the trace instead of stopping the run.
    Happens(crate::finding::Finding),
    /// The checker never finds this, written `NeverHappens(Duplicate)`. Every invariant not
    /// named in a `Happens` stops the run when it breaks, so `NeverHappens(Violation(..))` only
    /// documents the promise.
    NeverHappens(crate::finding::Finding),
    /// After the last fault (every fault plan ends by healing the network and restarting what
    /// it stopped), the cluster converges within this span: every partition has a leader, every
    /// ISR is full again and every group's consumers have caught up with the high watermarks
    /// of the moment the faults ended. Written `ConvergesWithin("20s")`.
    ConvergesWithin(Span),
}

impl Expectation {
    /// The variant's name as written in scenario files, e.g. `"Rebalances"`.
    pub fn variant_name(&self) -> &'static str {
        match self {
            Expectation::LostAckedWrites { .. } => "LostAckedWrites",
            Expectation::NoLostAckedWrites => "NoLostAckedWrites",
            Expectation::NoDuplicates => "NoDuplicates",
            Expectation::AllPartitionsOnline => "AllPartitionsOnline",
            Expectation::FullIsr => "FullIsr",
            Expectation::GroupMembers { .. } => "GroupMembers",
            Expectation::MemberOwns { .. } => "MemberOwns",
            Expectation::Rebalances { .. } => "Rebalances",
            Expectation::ConsumedAll { .. } => "ConsumedAll",
            Expectation::UnprocessedRecords { .. } => "UnprocessedRecords",
            Expectation::RedeliveredRecords { .. } => "RedeliveredRecords",
            Expectation::UnownedTime { .. } => "UnownedTime",
            Expectation::PollTimeouts { .. } => "PollTimeouts",
            Expectation::CommitFailures { .. } => "CommitFailures",
            Expectation::LogHolds { .. } => "LogHolds",
            Expectation::QuorumLeader => "QuorumLeader",
            Expectation::NoQuorumLeader => "NoQuorumLeader",
            Expectation::QuorumEpoch { .. } => "QuorumEpoch",
            Expectation::FailedElections { .. } => "FailedElections",
            Expectation::LeaderResignations { .. } => "LeaderResignations",
            Expectation::NoMetadataCommitsAfter { .. } => "NoMetadataCommitsAfter",
            Expectation::Replicas { .. } => "Replicas",
            Expectation::PartitionLeader { .. } => "PartitionLeader",
            Expectation::LogStartOffset { .. } => "LogStartOffset",
            Expectation::Duplicates { .. } => "Duplicates",
            Expectation::ReplicasAgree { .. } => "ReplicasAgree",
            Expectation::ReplicasDiverge { .. } => "ReplicasDiverge",
            Expectation::ProduceErrors { .. } => "ProduceErrors",
            Expectation::DuplicatesDropped { .. } => "DuplicatesDropped",
            Expectation::RecordsPerBatch { .. } => "RecordsPerBatch",
            Expectation::StoredCompression { .. } => "StoredCompression",
            Expectation::TruncationDetected { .. } => "TruncationDetected",
            Expectation::Happens(_) => "Happens",
            Expectation::NeverHappens(_) => "NeverHappens",
            Expectation::ConvergesWithin(_) => "ConvergesWithin",
        }
    }

    /// The consumer group the expectation is about, if any.
    pub fn group(&self) -> Option<&str> {
        match self {
            Expectation::GroupMembers { group, .. }
            | Expectation::MemberOwns { group, .. }
            | Expectation::Rebalances { group, .. }
            | Expectation::ConsumedAll { group }
            | Expectation::UnprocessedRecords { group, .. }
            | Expectation::RedeliveredRecords { group, .. }
            | Expectation::UnownedTime { group, .. }
            | Expectation::PollTimeouts { group, .. }
            | Expectation::CommitFailures { group, .. } => Some(group),
            _ => None,
        }
    }
}

/// Why a scenario could not be loaded. Every variant prints as one line naming the file.
#[derive(Debug, thiserror::Error)]
pub enum ScenarioError {
    /// The file could not be read.
    #[error("{path}: cannot read the scenario file: {source}")]
    Io {
        /// The path as given.
        path: String,
        /// The underlying error.
        #[source]
        source: std::io::Error,
    },
    /// The text is not a well-formed scenario (RON syntax, unknown or missing fields, wrong
    /// types). `line` and `column` count from 1; columns count characters.
    #[error("{origin}:{line}:{column}: {message}{}", hint(.suggestion))]
    Syntax {
        /// The file name used in messages.
        origin: String,
        /// Line of the error, from 1.
        line: usize,
        /// Column of the error, from 1.
        column: usize,
        /// What is wrong.
        message: String,
        /// How to fix it, if known.
        suggestion: Option<String>,
    },
    /// The scenario is well formed but breaks a rule; `field` is the path of the offending
    /// field, e.g. `topics[0].configs`.
    #[error("{origin}:{line}:{column}: {message} in {field}{}", hint(.suggestion))]
    Invalid {
        /// The file name used in messages.
        origin: String,
        /// Line of the offending text, from 1.
        line: usize,
        /// Column of the offending text, from 1.
        column: usize,
        /// Path of the offending field, e.g. `clients[1].topics[0]`.
        field: String,
        /// What is wrong.
        message: String,
        /// How to fix it, if known.
        suggestion: Option<String>,
    },
}

impl ScenarioError {
    /// The (line, column) of the error in the file, both from 1; `None` for an I/O error.
    pub fn position(&self) -> Option<(usize, usize)> {
        match self {
            ScenarioError::Io { .. } => None,
            ScenarioError::Syntax { line, column, .. } | ScenarioError::Invalid { line, column, .. } => {
                Some((*line, *column))
            }
        }
    }

    /// The suggested fix, if there is one.
    pub fn suggestion(&self) -> Option<&str> {
        match self {
            ScenarioError::Io { .. } => None,
            ScenarioError::Syntax { suggestion, .. } | ScenarioError::Invalid { suggestion, .. } => {
                suggestion.as_deref()
            }
        }
    }
}

/// Formats an optional suggestion as ` (suggestion)`.
fn hint(suggestion: &Option<String>) -> String {
    match suggestion {
        Some(text) => format!(" ({text})"),
        None => String::new(),
    }
}

/// Reads, parses and validates the scenario file at `path`. Messages name the file as given.
pub fn load_file(path: &Path) -> Result<Scenario, ScenarioError> {
    let origin = path.display().to_string();
    let source = std::fs::read_to_string(path).map_err(|source| ScenarioError::Io { path: origin.clone(), source })?;
    parse_str(&source, &origin)
}

/// The RON options scenarios are read and written with: `implicit_some` and
/// `unwrap_variant_newtypes`.
fn ron_options() -> ron::Options {
    ron::Options::default().with_default_extension(Extensions::IMPLICIT_SOME | Extensions::UNWRAP_VARIANT_NEWTYPES)
}

/// Parses and validates a scenario from `source`; `origin` is the file name used in messages.
pub fn parse_str(source: &str, origin: &str) -> Result<Scenario, ScenarioError> {
    // ron's `unwrap_variant_newtypes` reads `Producer(id: ...)` but then rejects the classic
    // `Producer((id: ...))`. Blanking the inner parentheses first lets a file use either form,
    // even both, without moving any position ron reports.
    let text = Locator::new(source).single_paren_source();
    let mut scenario: Scenario = ron_options().from_str(&text).map_err(|error| syntax_error(source, origin, &error))?;
    scenario.validate(source, origin)?;
    scenario.origin = Origin(origin.to_string());
    Ok(scenario)
}

impl Scenario {
    /// The invariants this scenario expects to break (`Happens(Violation(..))`): their
    /// violations are recorded in the trace and the run goes on; any other violation stops it.
    pub fn expected_violations(&self) -> std::collections::BTreeSet<crate::finding::Invariant> {
        self.expect
            .iter()
            .filter_map(|e| match e {
                Expectation::Happens(crate::finding::Finding::Violation(i)) => Some(*i),
                _ => None,
            })
            .collect()
    }

    /// The scenario's file for a command line, or a placeholder when it was not read from one.
    pub fn origin_hint(&self) -> &str {
        if self.origin.0.is_empty() {
            "<scenario.ron>"
        } else {
            &self.origin.0
        }
    }

    /// Checks the rules a parsed scenario must follow; `source` is the text it was parsed from,
    /// used to point at the offending item, and `origin` the file name for messages.
    ///
    /// The rules: a non-empty name; a supported `kafka_version`; a duration above zero and at most
    /// one hour; 1 to 9 brokers; valid broker, topic, producer and consumer configs; legal,
    /// unique topic names, at least one partition and a replication factor no larger than the
    /// broker count; unique, non-empty client ids; clients naming existing topics; producers with
    /// a rate or scripted records and without idempotence (not simulated yet); consumers that
    /// either subscribe to topics with a group or assign existing partitions, that commit only
    /// with a group, with `enable.auto.commit` off when they commit by hand, and that seek only
    /// partitions they read; all times within the duration; fault targets naming existing
    /// brokers, clients and partitions; expectations naming existing groups and clients, with
    /// at least one bound where both are optional. The first broken rule is reported.
    pub fn validate(&self, source: &str, origin: &str) -> Result<(), ScenarioError> {
        Validator { scenario: self, locator: Locator::new(source), origin }.run()
    }

    /// The scenario re-serialised as canonical RON: one line, fields in declaration order,
    /// config maps sorted by key, defaults written out. Two files that mean the same scenario
    /// give the same text, so it is the input for hashing a run's configuration.
    pub fn digest_input(&self) -> String {
        ron_options().to_string(self).expect("every scenario type serialises to RON")
    }

    /// The distinct consumer groups named by the consumers, in sorted order. Consumers without
    /// a group (`assign` consumers that commit nothing) name none.
    pub fn groups(&self) -> BTreeSet<&str> {
        self.clients
            .iter()
            .filter_map(|client| match client {
                ClientSpec::Consumer(consumer) if !consumer.group.is_empty() => Some(consumer.group.as_str()),
                _ => None,
            })
            .collect()
    }

    /// The consumers of `group` (subscribing and assigning ones), in client order.
    pub fn group_consumers<'a>(&'a self, group: &'a str) -> impl Iterator<Item = &'a ConsumerSpec> + 'a {
        self.clients.iter().filter_map(move |client| match client {
            ClientSpec::Consumer(consumer) if !group.is_empty() && consumer.group == group => Some(consumer),
            _ => None,
        })
    }

    /// The topic with this name, if listed.
    pub fn topic(&self, name: &str) -> Option<&TopicSpec> {
        self.topics.iter().find(|topic| topic.name == name)
    }
}

// ---------------------------------------------------------------------------------------------
// Syntax errors.

/// Turns a RON parse error into a [`ScenarioError::Syntax`] with a readable message.
fn syntax_error(source: &str, origin: &str, error: &ron::error::SpannedError) -> ScenarioError {
    use ron::Error as E;
    let mut offset = byte_offset(source, error.position.line, error.position.col);
    // For a bad identifier ron points just past it; point at its first character instead.
    let found_ident = match &error.code {
        E::NoSuchStructField { found, .. }
        | E::NoSuchEnumVariant { found, .. }
        | E::ExpectedDifferentStructName { found, .. } => Some(found.as_str()),
        E::DuplicateStructField { field, .. } => Some(*field),
        _ => None,
    };
    if let Some(ident) = found_ident {
        if let Some(start) = source[..offset].rfind(ident) {
            if source[start + ident.len()..offset].trim().is_empty() {
                offset = start;
            }
        }
    }
    let (message, suggestion) = describe_ron_error(&error.code);
    let (line, column) = line_col(source, offset);
    ScenarioError::Syntax { origin: origin.to_string(), line, column, message, suggestion }
}

/// A readable name for the struct or enum ron reports an error in.
fn friendly_outer(outer: &Option<String>) -> String {
    match outer.as_deref() {
        None => "this item".to_string(),
        Some("Scenario") => "the scenario".to_string(),
        Some("ClusterSpec") => "cluster".to_string(),
        Some("TopicSpec") => "a topic".to_string(),
        Some("ProducerSpec" | "Producer") => "a producer".to_string(),
        Some("ConsumerSpec" | "Consumer") => "a consumer".to_string(),
        Some("ScriptedRecord") => "a scripted record".to_string(),
        Some("ClientSpec") => "clients".to_string(),
        Some("Fault") => "a fault".to_string(),
        Some("Target") => "a fault target".to_string(),
        Some("Expectation") => "expect".to_string(),
        Some("KeySpec") => "keys".to_string(),
        Some("CommitSpec") => "commit".to_string(),
        Some("SeekSpec") => "a seek".to_string(),
        Some("Timed") => "a timed entry".to_string(),
        Some(other) => format!("`{other}`"),
    }
}

/// An example of a field's value, for "missing field" hints.
fn field_example(field: &str) -> &'static str {
    match field {
        "name" => "\"my scenario\"",
        "seed" => "42",
        "duration" => "\"30s\"",
        "cluster" => "(brokers: 3)",
        "brokers" => "3",
        "partitions" => "3",
        "replication_factor" => "3",
        "id" => "\"client-1\"",
        "topic" => "\"orders\"",
        "group" => "\"billing\"",
        "topics" => "[\"orders\"]",
        "at" => "\"5s\"",
        "at_least" | "members" => "1",
        "assign" => "[(\"orders\", 0)]",
        "processing" => "\"20ms\"",
        "client" => "\"billing-1\"",
        _ => "...",
    }
}

/// The best "did you mean" among `candidates`: a close spelling (at most 3 edits, and fewer
/// than half the word's length, so `rat` does not suggest `id`), else a candidate that contains
/// the word or is contained in it (so `rate` finds `rate_per_sec`).
fn closest<'a>(word: &str, candidates: impl IntoIterator<Item = &'a str> + Clone) -> Option<&'a str> {
    let limit = SUGGESTION_DISTANCE.min(word.chars().count().saturating_sub(1) / 2);
    let near = candidates
        .clone()
        .into_iter()
        .map(|candidate| (strsim::levenshtein(word, candidate), candidate))
        .filter(|(distance, _)| *distance <= limit)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate);
    near.or_else(|| {
        if word.len() < 3 {
            return None;
        }
        candidates.into_iter().find(|candidate| candidate.contains(word) || word.contains(candidate))
    })
}

/// Rewords a RON error into a message and an optional suggestion.
fn describe_ron_error(code: &ron::Error) -> (String, Option<String>) {
    use ron::Error as E;
    let did_you_mean = |found: &str, expected: &[&'static str]| {
        closest(found, expected.iter().copied()).map(|best| format!("did you mean `{best}`?"))
    };
    match code {
        E::NoSuchStructField { expected, found, outer } => (
            format!("unknown field `{found}` in {}; expected one of: {}", friendly_outer(outer), expected.join(", ")),
            did_you_mean(found, expected),
        ),
        E::MissingStructField { field, outer } => (
            format!("missing field `{field}` in {}", friendly_outer(outer)),
            Some(format!("add `{field}: {}`", field_example(field))),
        ),
        E::DuplicateStructField { field, outer } => (
            format!("field `{field}` is given twice in {}", friendly_outer(outer)),
            Some("remove one of them".to_string()),
        ),
        E::NoSuchEnumVariant { expected, found, outer } => (
            format!(
                "unknown variant `{found}` for {}; expected one of: {}",
                friendly_outer(outer),
                expected.join(", ")
            ),
            did_you_mean(found, expected),
        ),
        E::ExpectedDifferentStructName { expected, found } => (
            format!("expected `{expected}`, found `{found}`"),
            Some(format!("write `{expected}(...)` or just `(...)`")),
        ),
        E::Eof => (
            "the file ended in the middle of a value".to_string(),
            Some("check for an unclosed `(`, `[`, `{` or `\"`".to_string()),
        ),
        E::ExpectedComma => {
            ("expected a `,` between items".to_string(), Some("separate fields and list items with commas".to_string()))
        }
        E::ExpectedArray => ("expected a list in square brackets, such as `[...]`".to_string(), None),
        E::ExpectedArrayEnd => ("expected `]` to close the list".to_string(), None),
        E::ExpectedMap => ("expected a map in braces, such as `{\"key\": \"value\"}`".to_string(), None),
        E::ExpectedMapColon => ("expected `:` between a map key and its value".to_string(), None),
        E::ExpectedMapEnd => ("expected `}` to close the map".to_string(), None),
        E::ExpectedString | E::ExpectedStringEnd => (
            "expected a string in double quotes".to_string(),
            Some("put text in double quotes, e.g. \"orders\" or \"2\"".to_string()),
        ),
        E::ExpectedInteger => ("expected a whole number".to_string(), None),
        E::ExpectedFloat => ("expected a number such as 50.0".to_string(), None),
        E::ExpectedBoolean => ("expected `true` or `false`".to_string(), None),
        E::IntegerOutOfBounds => (
            "this number is out of range for the field (too large, or negative where it cannot \
             be)"
            .to_string(),
            None,
        ),
        E::ExpectedStructLike => ("expected `(` here".to_string(), None),
        E::ExpectedNamedStructLike(name) => (format!("expected `{name}(...)` or `(...)`"), None),
        E::ExpectedStructLikeEnd => (
            "expected `)` to close the parentheses".to_string(),
            Some("check for a missing `,` or a stray value".to_string()),
        ),
        E::ExpectedIdentifier => ("expected a field or variant name".to_string(), None),
        E::ExpectedUnit => ("expected `()`".to_string(), None),
        E::ExpectedOption => ("expected an optional value such as `\"text\"` or `None`".to_string(), None),
        E::TrailingCharacters => (
            "unexpected text after the end of the scenario".to_string(),
            Some("a file holds exactly one `Scenario(...)`".to_string()),
        ),
        E::UnexpectedByte(c) => (format!("unexpected character `{c}`"), None),
        E::InvalidValueForType { expected, found } => (format!("expected {expected}, found {found}"), None),
        E::ExpectedDifferentLength { expected, found } => {
            (format!("expected {expected}, found {found} elements"), None)
        }
        E::Message(message) => (message.clone(), None),
        other => {
            // Every other ron message is already a short sentence; lower its first letter so it
            // reads like the rest.
            let text = other.to_string();
            let mut chars = text.chars();
            let message = match chars.next() {
                Some(first) => first.to_lowercase().chain(chars).collect(),
                None => text,
            };
            (message, None)
        }
    }
}

/// The byte offset of a ron position (line from 1, column in bytes from 1), clamped to the text.
fn byte_offset(source: &str, line: usize, col: usize) -> usize {
    let mut offset = 0;
    for _ in 1..line {
        match source[offset..].find('\n') {
            Some(newline) => offset += newline + 1,
            None => return source.len(),
        }
    }
    let mut offset = (offset + col.saturating_sub(1)).min(source.len());
    while !source.is_char_boundary(offset) {
        offset -= 1;
    }
    offset
}

/// The (line, column) of a byte offset, both from 1, the column counting characters.
fn line_col(source: &str, offset: usize) -> (usize, usize) {
    let before = &source[..offset.min(source.len())];
    let line = before.matches('\n').count() + 1;
    let line_start = before.rfind('\n').map_or(0, |newline| newline + 1);
    (line, before[line_start..].chars().count() + 1)
}

// ---------------------------------------------------------------------------------------------
// Finding things in the source.

/// One step of a path into the scenario's text: a struct field, a list or tuple position, or a
/// map key.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Seg {
    Field(String),
    Index(usize),
    Key(String),
}

/// A path into the scenario's text, such as `topics[0].configs["min.insync.replicas"]`. Enum
/// payloads count as positions: in `At("10s", Crash(Broker(1)))`, `[0]` is the time, `[1]` the
/// fault and `[1][0]` its target.
#[derive(Clone, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
struct SrcPath(Vec<Seg>);

impl SrcPath {
    fn root() -> SrcPath {
        SrcPath(Vec::new())
    }

    fn f(&self, name: &str) -> SrcPath {
        let mut path = self.clone();
        path.0.push(Seg::Field(name.to_string()));
        path
    }

    fn i(&self, index: usize) -> SrcPath {
        let mut path = self.clone();
        path.0.push(Seg::Index(index));
        path
    }

    fn k(&self, key: &str) -> SrcPath {
        let mut path = self.clone();
        path.0.push(Seg::Key(key.to_string()));
        path
    }
}

impl fmt::Display for SrcPath {
    /// Prints the path the way messages name fields: `topics[0].configs`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        for (n, seg) in self.0.iter().enumerate() {
            match seg {
                Seg::Field(name) if n == 0 => write!(f, "{name}")?,
                Seg::Field(name) => write!(f, ".{name}")?,
                Seg::Index(index) => write!(f, "[{index}]")?,
                Seg::Key(key) => write!(f, "[{key:?}]")?,
            }
        }
        Ok(())
    }
}

/// Where each value of a RON text starts, by path. Built by a forgiving scan of the text (it
/// never fails; malformed parts are skipped), so errors found after parsing can point at the
/// exact item.
struct Locator<'a> {
    source: &'a str,
    spots: BTreeMap<SrcPath, usize>,
    double_parens: Vec<(usize, usize)>,
}

impl<'a> Locator<'a> {
    fn new(source: &'a str) -> Locator<'a> {
        let mut scanner = Scanner {
            bytes: source.as_bytes(),
            pos: 0,
            spots: BTreeMap::new(),
            depth: 0,
            recording: true,
            double_parens: Vec::new(),
        };
        scanner.document();
        Locator { source, spots: scanner.spots, double_parens: scanner.double_parens }
    }

    /// The source with the inner parentheses of every `Variant((name: value, ...))` replaced by
    /// spaces, which turns it into the `Variant(name: value, ...)` form that ron's
    /// `unwrap_variant_newtypes` extension reads. Every other byte keeps its offset, so
    /// positions in errors stay true to the original text.
    fn single_paren_source(&self) -> String {
        let mut bytes = self.source.as_bytes().to_vec();
        for &(open, close) in &self.double_parens {
            bytes[open] = b' ';
            bytes[close] = b' ';
        }
        // Only ASCII parentheses were replaced by ASCII spaces, so the text is still UTF-8.
        String::from_utf8(bytes).unwrap_or_else(|_| self.source.to_string())
    }

    /// The (line, column) of `path`, or of its nearest ancestor found in the text, or 1:1.
    fn position(&self, path: &SrcPath) -> (usize, usize) {
        let mut path = path.clone();
        loop {
            if let Some(offset) = self.spots.get(&path) {
                return line_col(self.source, *offset);
            }
            if path.0.pop().is_none() {
                return (1, 1);
            }
        }
    }
}

/// The scanner behind [`Locator`]. Every step moves forward by at least one byte or stops, so
/// it ends on any input.
struct Scanner<'a> {
    bytes: &'a [u8],
    pos: usize,
    spots: BTreeMap<SrcPath, usize>,
    depth: usize,
    /// Off while skipping text whose positions must not be recorded.
    recording: bool,
    /// Byte offsets of the inner parentheses of each `Variant((name: value, ...))`.
    double_parens: Vec<(usize, usize)>,
}

impl Scanner<'_> {
    fn peek(&self) -> Option<u8> {
        self.bytes.get(self.pos).copied()
    }

    fn peek_at(&self, ahead: usize) -> Option<u8> {
        self.bytes.get(self.pos + ahead).copied()
    }

    fn document(&mut self) {
        loop {
            self.skip_ws();
            // Skip `#![enable(...)]` attributes.
            if self.bytes[self.pos..].starts_with(b"#!") {
                while let Some(byte) = self.peek() {
                    self.pos += 1;
                    if byte == b']' {
                        break;
                    }
                }
            } else {
                break;
            }
        }
        self.value(&mut SrcPath::root());
    }

    fn skip_ws(&mut self) {
        loop {
            match (self.peek(), self.peek_at(1)) {
                (Some(byte), _) if byte.is_ascii_whitespace() => self.pos += 1,
                (Some(b'/'), Some(b'/')) => {
                    while let Some(byte) = self.peek() {
                        if byte == b'\n' {
                            break;
                        }
                        self.pos += 1;
                    }
                }
                (Some(b'/'), Some(b'*')) => {
                    // RON block comments nest.
                    self.pos += 2;
                    let mut level = 1;
                    while level > 0 && self.pos < self.bytes.len() {
                        if self.bytes[self.pos..].starts_with(b"/*") {
                            level += 1;
                            self.pos += 2;
                        } else if self.bytes[self.pos..].starts_with(b"*/") {
                            level -= 1;
                            self.pos += 2;
                        } else {
                            self.pos += 1;
                        }
                    }
                }
                _ => return,
            }
        }
    }

    fn is_ident_start(byte: u8) -> bool {
        byte.is_ascii_alphabetic() || byte == b'_'
    }

    fn is_ident_char(byte: u8) -> bool {
        byte.is_ascii_alphanumeric() || byte == b'_'
    }

    /// Reads an identifier (including a raw `r#name`) and returns it.
    fn ident(&mut self) -> String {
        if self.peek() == Some(b'r') && self.peek_at(1) == Some(b'#') {
            self.pos += 2;
        }
        let start = self.pos;
        while self.peek().is_some_and(Self::is_ident_char) {
            self.pos += 1;
        }
        String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned()
    }

    /// Reads a string literal, plain or raw, and returns its text (escapes resolved for the
    /// common cases, which is all config keys need).
    fn string(&mut self) -> String {
        if self.peek() == Some(b'r') {
            self.pos += 1;
            let mut hashes = 0;
            while self.peek() == Some(b'#') {
                hashes += 1;
                self.pos += 1;
            }
            self.pos += 1; // The opening quote.
            let start = self.pos;
            while self.pos < self.bytes.len() {
                if self.bytes[self.pos] == b'"'
                    && self.bytes[self.pos + 1..].iter().take(hashes).filter(|byte| **byte == b'#').count() == hashes
                {
                    let text = String::from_utf8_lossy(&self.bytes[start..self.pos]).into_owned();
                    self.pos += 1 + hashes;
                    return text;
                }
                self.pos += 1;
            }
            return String::from_utf8_lossy(&self.bytes[start..]).into_owned();
        }
        let quote = self.peek().unwrap_or(b'"');
        self.pos += 1;
        let mut text = Vec::new();
        while let Some(byte) = self.peek() {
            self.pos += 1;
            match byte {
                b'\\' => {
                    let escaped = self.peek().unwrap_or(b'\\');
                    self.pos += 1;
                    text.push(match escaped {
                        b'n' => b'\n',
                        b't' => b'\t',
                        b'r' => b'\r',
                        b'0' => 0,
                        other => other,
                    });
                }
                _ if byte == quote => break,
                _ => text.push(byte),
            }
        }
        String::from_utf8_lossy(&text).into_owned()
    }

    fn record(&mut self, path: &SrcPath) {
        if self.recording {
            self.spots.entry(path.clone()).or_insert(self.pos);
        }
    }

    /// Whether a string literal starts at the cursor: `"..."`, `'c'`, `r"..."` or `r#"..."#`
    /// (but not a raw identifier `r#name`).
    fn at_string_start(&self) -> bool {
        match (self.peek(), self.peek_at(1)) {
            (Some(b'"' | b'\''), _) => true,
            (Some(b'r'), Some(b'"')) => true,
            (Some(b'r'), Some(b'#')) => {
                let hashes = self.bytes[self.pos + 1..].iter().take_while(|b| **b == b'#').count();
                self.bytes.get(self.pos + 1 + hashes) == Some(&b'"')
            }
            _ => false,
        }
    }

    fn value(&mut self, path: &mut SrcPath) {
        self.skip_ws();
        let Some(byte) = self.peek() else { return };
        self.record(path);
        if self.depth >= MAX_DEPTH {
            self.pos += 1;
            return;
        }
        self.depth += 1;
        match byte {
            _ if self.at_string_start() => {
                self.string();
            }
            b'(' => self.group(path),
            b'[' => self.list(path),
            b'{' => self.map(path),
            _ if Self::is_ident_start(byte) => {
                self.ident();
                self.skip_ws();
                if self.peek() == Some(b'(') {
                    let outer = self.pos;
                    self.pos += 1;
                    self.skip_ws();
                    if self.peek() == Some(b'(') {
                        // `Variant((fields))`: the inner group is the variant's payload itself.
                        let inner_open = self.pos;
                        self.pos += 1;
                        self.skip_ws();
                        let named = self.at_named_field();
                        self.pos = inner_open;
                        self.value(path);
                        let inner_close = self.pos - 1;
                        self.skip_ws();
                        if self.peek() == Some(b')') {
                            self.pos += 1;
                            if named && self.bytes[inner_close] == b')' {
                                self.double_parens.push((inner_open, inner_close));
                            }
                        }
                    } else {
                        self.pos = outer;
                        self.group(path);
                    }
                }
            }
            _ => {
                // A number or another bare token: skip to the next delimiter.
                let start = self.pos;
                while let Some(byte) = self.peek() {
                    if byte.is_ascii_whitespace() || b",:()[]{}".contains(&byte) {
                        break;
                    }
                    self.pos += 1;
                }
                if self.pos == start {
                    self.pos += 1;
                }
            }
        }
        self.depth -= 1;
    }

    /// Whether the text at the cursor is `name:` (a named field) rather than a value.
    fn at_named_field(&self) -> bool {
        let mut ahead = self.pos;
        if self.bytes[ahead..].starts_with(b"r#") {
            ahead += 2;
        }
        if !self.bytes.get(ahead).copied().is_some_and(Self::is_ident_start) {
            return false;
        }
        while self.bytes.get(ahead).copied().is_some_and(Self::is_ident_char) {
            ahead += 1;
        }
        while self.bytes.get(ahead).is_some_and(u8::is_ascii_whitespace) {
            ahead += 1;
        }
        self.bytes.get(ahead) == Some(&b':') && self.bytes.get(ahead + 1) != Some(&b':')
    }

    /// Scans `( ... )`: named fields `name: value` or positional values.
    fn group(&mut self, path: &mut SrcPath) {
        self.sequence(path, b')', true);
    }

    /// Scans `[ ... ]`.
    fn list(&mut self, path: &mut SrcPath) {
        self.sequence(path, b']', false);
    }

    /// Scans a bracketed sequence up to `close`, recording each element by index, or by name
    /// when `named_fields` allows `name: value` entries.
    fn sequence(&mut self, path: &mut SrcPath, close: u8, named_fields: bool) {
        self.pos += 1;
        let mut index = 0;
        loop {
            self.skip_ws();
            let start = self.pos;
            match self.peek() {
                None => return,
                Some(c) if c == close => {
                    self.pos += 1;
                    return;
                }
                _ => {}
            }
            if named_fields && self.at_named_field() {
                let name = self.ident();
                self.skip_ws();
                self.pos += 1; // The colon.
                path.0.push(Seg::Field(name));
            } else {
                path.0.push(Seg::Index(index));
                index += 1;
            }
            self.value(path);
            path.0.pop();
            self.separator(start);
        }
    }

    /// Scans `{ key: value, ... }`, recording each entry at the position of its key.
    fn map(&mut self, path: &mut SrcPath) {
        self.pos += 1;
        loop {
            self.skip_ws();
            let start = self.pos;
            match self.peek() {
                None => return,
                Some(b'}') => {
                    self.pos += 1;
                    return;
                }
                _ => {}
            }
            let key_start = self.pos;
            let key = if self.at_string_start() {
                self.string()
            } else {
                // A non-string key is not addressable: skip it without recording anything.
                let recording = std::mem::replace(&mut self.recording, false);
                self.value(&mut SrcPath::root());
                self.recording = recording;
                // `value` may stop past the end of a truncated text.
                let end = self.pos.min(self.bytes.len());
                String::from_utf8_lossy(&self.bytes[key_start.min(end)..end]).into_owned()
            };
            path.0.push(Seg::Key(key));
            if self.recording {
                self.spots.entry(path.clone()).or_insert(key_start);
            }
            self.skip_ws();
            if self.peek() == Some(b':') {
                self.pos += 1;
                self.value(path);
            }
            path.0.pop();
            self.separator(start);
        }
    }

    /// Consumes a `,` after an item, or one stray byte if the item did not move the cursor.
    fn separator(&mut self, item_start: usize) {
        self.skip_ws();
        match self.peek() {
            Some(b',') => self.pos += 1,
            Some(b')' | b']' | b'}') | None => {}
            Some(_) if self.pos == item_start => self.pos += 1,
            Some(_) => {}
        }
    }
}

// ---------------------------------------------------------------------------------------------
// Semantic validation.

struct Validator<'a> {
    scenario: &'a Scenario,
    locator: Locator<'a>,
    origin: &'a str,
}

/// Shorthand for the result of one check.
type Check = Result<(), ScenarioError>;

impl Validator<'_> {
    /// Builds an [`ScenarioError::Invalid`] located at `at`, naming `field`.
    fn error(
        &self,
        at: &SrcPath,
        field: impl fmt::Display,
        message: impl Into<String>,
        suggestion: Option<String>,
    ) -> ScenarioError {
        let (line, column) = self.locator.position(at);
        ScenarioError::Invalid {
            origin: self.origin.to_string(),
            line,
            column,
            field: field.to_string(),
            message: message.into(),
            suggestion,
        }
    }

    /// Maps a [`ConfigError`] from the config map at `configs` to an error located at its key.
    fn config_error(&self, configs: &SrcPath, error: ConfigError) -> ScenarioError {
        self.error(&configs.k(&error.key), configs, error.message, error.suggestion)
    }

    fn run(&self) -> Check {
        self.check_header()?;
        self.check_cluster()?;
        self.check_topics()?;
        self.check_clients()?;
        self.check_faults()?;
        self.check_narration()?;
        self.check_expectations()
    }

    fn check_header(&self) -> Check {
        let s = self.scenario;
        let root = SrcPath::root();
        if s.name.trim().is_empty() {
            return Err(self.error(
                &root.f("name"),
                "name",
                "the scenario name is empty",
                Some("give it a short title such as \"leader failover\"".to_string()),
            ));
        }
        if !SUPPORTED_KAFKA_VERSIONS.contains(&s.kafka_version.as_str()) {
            let accepted: Vec<String> =
                SUPPORTED_KAFKA_VERSIONS.iter().map(|version| format!("\"{version}\"")).collect();
            return Err(self.error(
                &root.f("kafka_version"),
                "kafka_version",
                format!("unsupported Kafka version \"{}\"", s.kafka_version),
                Some(format!("accepted values: {}", accepted.join(", "))),
            ));
        }
        if s.duration == Span::ZERO {
            return Err(self.error(
                &root.f("duration"),
                "duration",
                "the run lasts no time at all",
                Some("use a duration such as \"30s\"".to_string()),
            ));
        }
        if s.duration > MAX_DURATION {
            return Err(self.error(
                &root.f("duration"),
                "duration",
                format!("duration {} is longer than the limit of one hour", s.duration),
                Some("use at most \"1h\"".to_string()),
            ));
        }
        Ok(())
    }

    fn check_cluster(&self) -> Check {
        let cluster = &self.scenario.cluster;
        let path = SrcPath::root().f("cluster");
        if !(1..=MAX_BROKERS).contains(&cluster.brokers) {
            return Err(self.error(
                &path.f("brokers"),
                "cluster.brokers",
                format!("{} brokers is outside the supported range 1 to {MAX_BROKERS}", cluster.brokers),
                Some(format!("use between 1 and {MAX_BROKERS} brokers")),
            ));
        }
        if !(1..=MAX_CONTROLLERS).contains(&cluster.controllers) {
            return Err(self.error(
                &path.f("controllers"),
                "cluster.controllers",
                format!("{} controllers is outside the supported range 1 to {MAX_CONTROLLERS}", cluster.controllers),
                Some("use 1, 3 or 5 controllers: a quorum of N survives floor((N-1)/2) failures".to_string()),
            ));
        }
        if cluster.process_roles == ProcessRoles::Combined && cluster.controllers > cluster.brokers {
            return Err(self.error(
                &path.f("controllers"),
                "cluster.controllers",
                format!(
                    "{} combined controllers need as many brokers, but there are {}",
                    cluster.controllers, cluster.brokers
                ),
                Some(format!("lower cluster.controllers to {} or add brokers", cluster.brokers)),
            ));
        }
        BrokerConfig::from_map(&cluster.configs).map_err(|error| self.config_error(&path.f("configs"), error))?;
        Ok(())
    }

    fn check_topics(&self) -> Check {
        let brokers = self.scenario.cluster.brokers;
        let mut seen: BTreeMap<String, usize> = BTreeMap::new();
        for (i, topic) in self.scenario.topics.iter().enumerate() {
            let path = SrcPath::root().f("topics").i(i);
            let name_path = path.f("name");
            let name = &topic.name;
            if name.is_empty() {
                return Err(self.error(
                    &name_path,
                    &name_path,
                    "the topic name is empty",
                    Some("name it, e.g. \"orders\"".to_string()),
                ));
            }
            if name == "." || name == ".." {
                return Err(self.error(
                    &name_path,
                    &name_path,
                    format!("Kafka does not allow the topic name \"{name}\""),
                    Some("use letters or digits in the name".to_string()),
                ));
            }
            if let Some(bad) = name.chars().find(|c| !(c.is_ascii_alphanumeric() || matches!(c, '.' | '_' | '-'))) {
                return Err(self.error(
                    &name_path,
                    &name_path,
                    format!("topic name \"{name}\" contains the illegal character {bad:?}"),
                    Some("Kafka topic names use only letters, digits, '.', '_' and '-'".to_string()),
                ));
            }
            if name.len() > MAX_TOPIC_NAME_LEN {
                return Err(self.error(
                    &name_path,
                    &name_path,
                    format!(
                        "topic name is {} characters long, over Kafka's limit of \
                         {MAX_TOPIC_NAME_LEN}",
                        name.len()
                    ),
                    Some("shorten it".to_string()),
                ));
            }
            // Kafka also rejects names that differ only by '.' versus '_', because they map
            // to the same metric names (`Topic.hasCollision`).
            let collision_key = name.replace('.', "_");
            if let Some(&first) = seen.get(&collision_key) {
                let other = &self.scenario.topics[first].name;
                let message = if other == name {
                    format!("duplicate topic name \"{name}\" (first defined in topics[{first}])")
                } else {
                    format!(
                        "topic name \"{name}\" collides with \"{other}\" in topics[{first}]: \
                         Kafka treats '.' and '_' alike in topic names"
                    )
                };
                return Err(self.error(&name_path, &name_path, message, Some("rename one of them".to_string())));
            }
            seen.insert(collision_key, i);
            if topic.partitions < 1 {
                return Err(self.error(
                    &path.f("partitions"),
                    path.f("partitions"),
                    format!("topic \"{name}\" has {} partitions", topic.partitions),
                    Some("a topic needs at least 1 partition".to_string()),
                ));
            }
            if topic.replication_factor < 1 {
                return Err(self.error(
                    &path.f("replication_factor"),
                    path.f("replication_factor"),
                    format!("topic \"{name}\" has replication factor {}", topic.replication_factor),
                    Some("use at least 1 replica".to_string()),
                ));
            }
            if topic.replication_factor > brokers {
                return Err(self.error(
                    &path.f("replication_factor"),
                    path.f("replication_factor"),
                    format!(
                        "replication factor {} of topic \"{name}\" is larger than the {brokers} \
                         brokers of the cluster",
                        topic.replication_factor
                    ),
                    Some(format!("lower it to {brokers} or fewer, or add brokers in cluster.brokers")),
                ));
            }
            let topic_config =
                TopicConfig::from_map(&topic.configs).map_err(|error| self.config_error(&path.f("configs"), error))?;
            // The topic's overrides must also agree with the cluster's `log.*` defaults (a
            // topic's min.compaction.lag.ms above the cluster's max.compaction.lag.ms, say).
            if let Ok(broker) = BrokerConfig::from_map(&self.scenario.cluster.configs) {
                broker
                    .log
                    .with_topic_overrides(&topic_config.log_overrides)
                    .map_err(|error| self.config_error(&path.f("configs"), error))?;
            }
        }
        Ok(())
    }

    /// Error for a topic name that is not listed in `topics`.
    fn unknown_topic(&self, at: &SrcPath, field: &SrcPath, name: &str) -> ScenarioError {
        let names = self.scenario.topics.iter().map(|topic| topic.name.as_str());
        let suggestion = match closest(name, names.clone()) {
            Some(best) => format!("did you mean \"{best}\"?"),
            None if self.scenario.topics.is_empty() => {
                format!(
                    "add it to topics, e.g. (name: \"{name}\", partitions: 3, \
                     replication_factor: 1)"
                )
            }
            None => format!("known topics: {}", names.map(|n| format!("\"{n}\"")).collect::<Vec<_>>().join(", ")),
        };
        self.error(at, field, format!("unknown topic \"{name}\""), Some(suggestion))
    }

    /// Error for a time after the end of the run, if `at` is after it.
    fn check_time(&self, at: Span, path: &SrcPath, what: &str) -> Check {
        let duration = self.scenario.duration;
        if at > duration {
            return Err(self.error(
                path,
                path,
                format!("{what} at {at} is after the end of the run ({duration})"),
                Some(format!("use a time of at most {duration}, or lengthen duration")),
            ));
        }
        Ok(())
    }

    fn check_clients(&self) -> Check {
        let mut ids: BTreeMap<&str, usize> = BTreeMap::new();
        for (i, client) in self.scenario.clients.iter().enumerate() {
            let path = SrcPath::root().f("clients").i(i);
            let id = client.id();
            if id.trim().is_empty() {
                return Err(self.error(
                    &path.f("id"),
                    path.f("id"),
                    "the client id is empty",
                    Some("give it a name such as \"checkout\"".to_string()),
                ));
            }
            if let Some(first) = ids.insert(id, i) {
                return Err(self.error(
                    &path.f("id"),
                    path.f("id"),
                    format!("duplicate client id \"{id}\" (first used by clients[{first}])"),
                    Some("client ids must be unique; rename one of them".to_string()),
                ));
            }
            match client {
                ClientSpec::Producer(producer) => self.check_producer(producer, &path)?,
                ClientSpec::Consumer(consumer) => self.check_consumer(consumer, &path)?,
            }
        }
        Ok(())
    }

    fn check_producer(&self, producer: &ProducerSpec, path: &SrcPath) -> Check {
        if self.scenario.topic(&producer.topic).is_none() {
            return Err(self.unknown_topic(&path.f("topic"), &path.f("topic"), &producer.topic));
        }
        let rate = producer.rate_per_sec;
        if !rate.is_finite() || rate < 0.0 {
            return Err(self.error(
                &path.f("rate_per_sec"),
                path.f("rate_per_sec"),
                format!("rate {rate} records per second is not a usable rate"),
                Some("use a number of 0.0 or more, such as 50.0".to_string()),
            ));
        }
        if rate == 0.0 && producer.records.is_empty() {
            return Err(self.error(
                &path.f("rate_per_sec"),
                path,
                format!("producer \"{}\" would send nothing", producer.id),
                Some("set rate_per_sec above 0, e.g. 50.0, or list records".to_string()),
            ));
        }
        if producer.keys == KeySpec::Uniform(0) {
            return Err(self.error(
                &path.f("keys"),
                path.f("keys"),
                "Uniform(0) gives no keys to choose from",
                Some("use Uniform(1) or more, or Null for records without keys".to_string()),
            ));
        }
        self.check_time(producer.start, &path.f("start"), "the producer's start")?;
        for (j, record) in producer.records.iter().enumerate() {
            self.check_time(record.at, &path.f("records").i(j).f("at"), "the record")?;
        }
        let configs = path.f("configs");
        let era = KafkaVersion::parse(&self.scenario.kafka_version).unwrap_or(KafkaVersion::CURRENT).era();
        ProducerConfig::from_map_in(&producer.configs, &era).map_err(|error| self.config_error(&configs, error))?;
        for (j, at) in producer.flushes.iter().enumerate() {
            self.check_time(*at, &path.f("flushes").i(j), "the flush")?;
        }
        if let Some(spec) = self.scenario.topic(&producer.topic) {
            for (j, record) in producer.records.iter().enumerate() {
                if let Some(partition) = record.partition.filter(|p| !(0..spec.partitions).contains(p)) {
                    return Err(self.error(
                        &path.f("records").i(j).f("partition"),
                        path.f("records").i(j),
                        format!("topic \"{}\" has no partition {partition}", producer.topic),
                        Some(format!("its partitions are numbered 0 to {}", spec.partitions - 1)),
                    ));
                }
            }
        }
        Ok(())
    }

    fn check_consumer(&self, consumer: &ConsumerSpec, path: &SrcPath) -> Check {
        let id = &consumer.id;
        let has_group = !consumer.group.is_empty();
        if has_group && consumer.group.trim().is_empty() {
            return Err(self.error(
                &path.f("group"),
                path.f("group"),
                "the consumer group name is blank",
                Some("name the group, e.g. \"billing\", or leave group out for an assign consumer".to_string()),
            ));
        }
        match (consumer.topics.is_empty(), consumer.assign.is_empty()) {
            (false, false) => {
                return Err(self.error(
                    &path.f("assign"),
                    path.f("assign"),
                    format!("consumer \"{id}\" both subscribes to topics and assigns partitions"),
                    Some(
                        "a Kafka consumer uses either subscribe or assign, not both; remove topics or assign"
                            .to_string(),
                    ),
                ));
            }
            (true, true) => {
                return Err(self.error(
                    &path.f("topics"),
                    path.f("topics"),
                    format!("consumer \"{id}\" subscribes to no topics"),
                    Some(
                        "list at least one topic, e.g. topics: [\"orders\"], or assign partitions, e.g. \
                         assign: [(\"orders\", 0)]"
                            .to_string(),
                    ),
                ));
            }
            _ => {}
        }
        for (j, topic) in consumer.topics.iter().enumerate() {
            if self.scenario.topic(topic).is_none() {
                let at = path.f("topics").i(j);
                return Err(self.unknown_topic(&at, &at, topic));
            }
        }
        if consumer.subscribes() && !has_group {
            return Err(self.error(
                &path.f("group"),
                path.f("group"),
                format!("consumer \"{id}\" subscribes to topics, which needs a consumer group"),
                Some(
                    "name the group, e.g. group: \"billing\", or read fixed partitions without one, e.g. \
                     assign: [(\"orders\", 0)]"
                        .to_string(),
                ),
            ));
        }
        for (j, (topic, partition)) in consumer.assign.iter().enumerate() {
            let at = path.f("assign").i(j);
            let Some(spec) = self.scenario.topic(topic) else {
                return Err(self.unknown_topic(&at.i(0), &at, topic));
            };
            if !(0..spec.partitions).contains(partition) {
                return Err(self.error(
                    &at.i(1),
                    &at,
                    format!("topic \"{topic}\" has no partition {partition}"),
                    Some(format!("its partitions are numbered 0 to {}", spec.partitions - 1)),
                ));
            }
            if let Some(first) = consumer.assign[..j].iter().position(|other| other == &consumer.assign[j]) {
                return Err(self.error(
                    &at,
                    &at,
                    format!("partition {topic}-{partition} is assigned twice (first in assign[{first}])"),
                    Some("list each partition once".to_string()),
                ));
            }
        }
        self.check_time(consumer.start, &path.f("start"), "the consumer's start")?;
        let configs = path.f("configs");
        let config = ConsumerConfig::from_map(&consumer.configs).map_err(|error| self.config_error(&configs, error))?;
        let auto_commit_key = "enable.auto.commit";
        let auto_commit_written = consumer.configs.contains_key(auto_commit_key);
        if !has_group {
            if !consumer.commit.is_auto() {
                return Err(self.error(
                    &path.f("commit"),
                    path.f("commit"),
                    format!(
                        "consumer \"{id}\" commits offsets ({}) but has no group to commit them to",
                        consumer.commit.name()
                    ),
                    Some("name a group, e.g. group: \"audit\", or remove commit".to_string()),
                ));
            }
            // Kafka's `ConsumerConfig.maybeOverrideEnableAutoCommit` (KIP-289): without a
            // group, auto-commit is off unless asked for, and asking for it is an error.
            if auto_commit_written && config.enable_auto_commit {
                return Err(self.error(
                    &configs.k(auto_commit_key),
                    &configs,
                    format!(
                        "enable.auto.commit cannot be true for consumer \"{id}\", which has no group \
                         to commit to"
                    ),
                    Some(format!("set \"{auto_commit_key}\": \"false\", or name a group, e.g. group: \"audit\"")),
                ));
            }
        }
        if !consumer.commit.is_auto() && config.enable_auto_commit {
            let why = if auto_commit_written { "it is set to true" } else { "it is true by default" };
            return Err(self.error(
                &path.f("commit"),
                path.f("commit"),
                format!(
                    "commit: {} commits by hand and needs enable.auto.commit off, but {why}",
                    consumer.commit.name()
                ),
                Some(format!("add \"{auto_commit_key}\": \"false\" to the consumer's configs")),
            ));
        }
        for (j, seek) in consumer.seeks.iter().enumerate() {
            let at = path.f("seeks").i(j);
            self.check_time(seek.at(), &at.i(0), "the seek")?;
            let SeekSpec::ToOffset(topic, partition, offset) = seek.value() else { continue };
            let target = at.i(1);
            let Some(spec) = self.scenario.topic(topic) else {
                return Err(self.unknown_topic(&target.i(0), &at, topic));
            };
            if !(0..spec.partitions).contains(partition) {
                return Err(self.error(
                    &target.i(1),
                    &at,
                    format!("topic \"{topic}\" has no partition {partition}"),
                    Some(format!("its partitions are numbered 0 to {}", spec.partitions - 1)),
                ));
            }
            if *offset < 0 {
                return Err(self.error(
                    &target.i(2),
                    &at,
                    format!("offset {offset} is negative"),
                    Some("seek to an offset of 0 or more, or use ToBeginning or ToEnd".to_string()),
                ));
            }
            let reads = if consumer.subscribes() {
                consumer.topics.contains(topic)
            } else {
                consumer.assign.iter().any(|(t, p)| t == topic && p == partition)
            };
            if !reads {
                let (what, fix) = if consumer.subscribes() {
                    ("subscribe to", format!("add \"{topic}\" to its topics, or seek a partition of them"))
                } else {
                    ("assign", format!("add (\"{topic}\", {partition}) to its assign list"))
                };
                return Err(self.error(
                    &target,
                    &at,
                    format!("consumer \"{id}\" does not {what} {topic}-{partition}, so it cannot seek it"),
                    Some(fix),
                ));
            }
        }
        Ok(())
    }

    fn check_faults(&self) -> Check {
        for (i, timed) in self.scenario.faults.iter().enumerate() {
            let path = SrcPath::root().f("faults").i(i);
            self.check_time(timed.at(), &path.i(0), "the fault")?;
            self.check_fault(timed.value(), &path.i(1), &path, Some(i))?;
        }
        for (i, trigger) in self.scenario.triggers.iter().enumerate() {
            let path = SrcPath::root().f("triggers").i(i);
            self.check_condition(trigger.condition(), &path.i(0), &path)?;
            self.check_fault(trigger.fault(), &path.i(1), &path, None)?;
        }
        Ok(())
    }

    /// Checks a trigger's condition at `at`: brokers, topics, partitions and clients it names
    /// must exist, and `All`/`Any` must not be empty.
    fn check_condition(&self, condition: &Condition, at: &SrcPath, field: &SrcPath) -> Check {
        match condition {
            Condition::LogEndOffset { broker, topic, partition, .. }
            | Condition::HighWatermark { broker, topic, partition, .. }
            | Condition::Leads { broker, topic, partition } => {
                self.check_target(&Target::Broker(*broker), &at.f("broker"), field, None)?;
                let Some(spec) = self.scenario.topic(topic) else {
                    return Err(self.unknown_topic(&at.f("topic"), field, topic));
                };
                if !(0..spec.partitions).contains(partition) {
                    return Err(self.error(
                        &at.f("partition"),
                        field,
                        format!("topic \"{topic}\" has no partition {partition}"),
                        Some(format!("its partitions are numbered 0 to {}", spec.partitions - 1)),
                    ));
                }
            }
            Condition::Acked { client, .. } => {
                self.check_target(&Target::Client(client.clone()), &at.f("client"), field, None)?;
            }
            Condition::After(span) => self.check_time(*span, &at.i(0), "the condition's time")?,
            Condition::All(conditions) | Condition::Any(conditions) => {
                if conditions.is_empty() {
                    return Err(self.error(
                        &at.i(0),
                        field,
                        "All([]) and Any([]) need at least one condition",
                        Some("list the conditions, e.g. All([Leads(...), After(\"5s\")])".to_string()),
                    ));
                }
                for (k, c) in conditions.iter().enumerate() {
                    self.check_condition(c, &at.i(0).i(k), field)?;
                }
            }
            Condition::Not(inner) => self.check_condition(inner, &at.i(0), field)?,
        }
        Ok(())
    }

    /// Checks one fault at `fault_path`, part of `path`: fault number `index` of `faults`, or a
    /// trigger's fault when `None`.
    fn check_fault(&self, fault: &Fault, fault_path: &SrcPath, path: &SrcPath, index: Option<usize>) -> Check {
        let (i, fault_path, path) = (index, fault_path.clone(), path.clone());
        {
            match fault {
                Fault::Crash(target)
                | Fault::Kill(target)
                | Fault::Restart(target)
                | Fault::Isolate(target)
                | Fault::Shutdown(target)
                | Fault::Pause(target)
                | Fault::Resume(target)
                | Fault::Reconnect(target) => {
                    self.check_target(target, &fault_path.i(0), &path, i)?;
                }
                Fault::OneWay(from, to) => {
                    for (side, targets) in [from, to].into_iter().enumerate() {
                        if targets.is_empty() {
                            return Err(self.error(
                                &fault_path.i(side),
                                &path,
                                format!(
                                    "the {} side of the one-way partition is empty",
                                    if side == 0 { "sending" } else { "receiving" }
                                ),
                                Some("list at least one target on each side: OneWay([from..], [to..])".to_string()),
                            ));
                        }
                        for (k, target) in targets.iter().enumerate() {
                            self.check_target(target, &fault_path.i(side).i(k), &path, i)?;
                        }
                    }
                }
                Fault::Loss { rate, nodes } | Fault::Duplicate { rate, nodes } => {
                    // `contains` is false for NaN too.
                    if !(0.0..=1.0).contains(rate) {
                        return Err(self.error(
                            &fault_path.f("rate"),
                            &path,
                            format!("rate {rate} is not a probability"),
                            Some("write a rate from 0.0 (never) to 1.0 (always), e.g. rate: 0.1 for 10%".to_string()),
                        ));
                    }
                    for (k, target) in nodes.iter().enumerate() {
                        self.check_target(target, &fault_path.f("nodes").i(k), &path, i)?;
                    }
                }
                Fault::Latency { extra, jitter, nodes } => {
                    for (name, span) in [("extra", extra), ("jitter", jitter)] {
                        if *span > MAX_ADDED_LATENCY {
                            return Err(self.error(
                                &fault_path.f(name),
                                &path,
                                format!("{name} {span} is longer than {MAX_ADDED_LATENCY}: a link that slow delivers nothing in time"),
                                Some(format!(
                                    "use at most \"{MAX_ADDED_LATENCY}\", or cut the link with Partition, OneWay or Isolate"
                                )),
                            ));
                        }
                    }
                    for (k, target) in nodes.iter().enumerate() {
                        self.check_target(target, &fault_path.f("nodes").i(k), &path, i)?;
                    }
                }
                Fault::AddBroker(id) => {
                    let brokers = self.scenario.cluster.brokers;
                    if *id <= brokers || *id > MAX_BROKERS {
                        return Err(self.error(
                            &fault_path.i(0),
                            &path,
                            format!("AddBroker({id}) must name a new broker"),
                            Some(format!(
                                "brokers 1 to {brokers} exist from the start; add one numbered {} to {MAX_BROKERS}",
                                brokers + 1
                            )),
                        ));
                    }
                }
                Fault::Reassign(topic, partition, replicas) => {
                    self.check_partition(topic, *partition, &fault_path, &path)?;
                    let known = self.known_brokers();
                    if replicas.is_empty() || replicas.iter().any(|r| !known.contains(r)) {
                        return Err(self.error(
                            &fault_path.i(2),
                            &path,
                            "the target replicas must be known brokers",
                            Some(format!("list brokers from {known:?} (AddBroker adds more)")),
                        ));
                    }
                }
                Fault::PreferredElection(topic, partition) => {
                    self.check_partition(topic, *partition, &fault_path, &path)?;
                }
                Fault::PowerLoss(targets) => {
                    if targets.is_empty() {
                        return Err(self.error(
                            &fault_path.i(0),
                            &path,
                            "a power loss needs at least one target",
                            Some("list the nodes, e.g. [Broker(1), Broker(2)]".to_string()),
                        ));
                    }
                    for (k, target) in targets.iter().enumerate() {
                        self.check_target(target, &fault_path.i(0).i(k), &path, i)?;
                    }
                }
                Fault::Partition(left, right) => {
                    for (side, targets) in [left, right].into_iter().enumerate() {
                        if targets.is_empty() {
                            return Err(self.error(
                                &fault_path.i(side),
                                &path,
                                "a side of the network partition is empty",
                                Some("list at least one target on each side".to_string()),
                            ));
                        }
                        for (k, target) in targets.iter().enumerate() {
                            self.check_target(target, &fault_path.i(side).i(k), &path, i)?;
                        }
                    }
                }
                Fault::Heal => {}
            }
        }
        Ok(())
    }

    /// Checks that an admin action's `(topic, partition)` (its items 0 and 1 at `at`) exist.
    fn check_partition(&self, topic: &str, partition: i32, at: &SrcPath, field: &SrcPath) -> Check {
        let Some(spec) = self.scenario.topic(topic) else {
            return Err(self.unknown_topic(&at.i(0), field, topic));
        };
        if !(0..spec.partitions).contains(&partition) {
            return Err(self.error(
                &at.i(1),
                field,
                format!("topic \"{topic}\" has no partition {partition}"),
                Some(format!("its partitions are numbered 0 to {}", spec.partitions - 1)),
            ));
        }
        Ok(())
    }

    /// Brokers that exist at some point of the run: the initial ones and every `AddBroker`.
    fn known_brokers(&self) -> Vec<i32> {
        let mut known: Vec<i32> = (1..=self.scenario.cluster.brokers).collect();
        for f in &self.scenario.faults {
            if let Fault::AddBroker(id) = f.value() {
                known.push(*id);
            }
        }
        known
    }

    /// Checks one fault target at `at`, part of fault number `index` (`None` for a trigger's
    /// fault, whose time is not known in advance).
    fn check_target(&self, target: &Target, at: &SrcPath, field: &SrcPath, index: Option<usize>) -> Check {
        let s = self.scenario;
        match target {
            Target::Broker(id) => {
                if !self.known_brokers().contains(id) {
                    return Err(self.error(
                        at,
                        field,
                        format!("unknown broker {id}"),
                        Some(format!("brokers are numbered 1 to {}", s.cluster.brokers)),
                    ));
                }
            }
            Target::Node(id) => {
                let controllers = s.cluster.controller_ids();
                if !self.known_brokers().contains(id) && !controllers.contains(id) {
                    return Err(self.error(
                        at,
                        field,
                        format!("unknown node {id}"),
                        Some(format!(
                            "brokers are numbered 1 to {}, controllers are {controllers:?}",
                            s.cluster.brokers
                        )),
                    ));
                }
            }
            Target::Client(id) => {
                if !s.clients.iter().any(|client| client.id() == id) {
                    let ids = s.clients.iter().map(ClientSpec::id);
                    let suggestion = closest(id, ids)
                        .map(|best| format!("did you mean \"{best}\"?"))
                        .unwrap_or_else(|| "name a client listed in clients".to_string());
                    return Err(self.error(at, field, format!("unknown client \"{id}\""), Some(suggestion)));
                }
            }
            Target::Leader(topic, partition) => {
                let Some(spec) = s.topic(topic) else {
                    return Err(self.unknown_topic(&at.i(0), field, topic));
                };
                if !(0..spec.partitions).contains(partition) {
                    return Err(self.error(
                        &at.i(1),
                        field,
                        format!("topic \"{topic}\" has no partition {partition}"),
                        Some(format!("its partitions are numbered 0 to {}", spec.partitions - 1)),
                    ));
                }
            }
            Target::Coordinator(group) => {
                let groups: Vec<&str> = s
                    .clients
                    .iter()
                    .filter_map(|c| match c {
                        ClientSpec::Consumer(c) if !c.group.is_empty() => Some(c.group.as_str()),
                        _ => None,
                    })
                    .collect();
                if !groups.contains(&group.as_str()) {
                    let suggestion = closest(group, groups.iter().copied())
                        .map(|best| format!("did you mean \"{best}\"?"))
                        .unwrap_or_else(|| "name the group of a consumer listed in clients".to_string());
                    return Err(self.error(at, field, format!("unknown consumer group \"{group}\""), Some(suggestion)));
                }
            }
            Target::LastCrashed => {
                let Some(index) = index else { return Ok(()) };
                let at_time = s.faults[index].at();
                let crashed_before = s.faults.iter().enumerate().any(|(j, other)| {
                    matches!(other.value(), Fault::Crash(_) | Fault::Kill(_) | Fault::PowerLoss(_))
                        && (other.at() < at_time || (other.at() == at_time && j < index))
                });
                if !crashed_before {
                    return Err(self.error(
                        at,
                        field,
                        "LastCrashed names no node: no Crash, Kill or PowerLoss fault comes before it",
                        Some("add a Crash fault before it, or name the target directly".into()),
                    ));
                }
            }
            Target::Controller | Target::ActiveController => {}
        }
        Ok(())
    }

    fn check_narration(&self) -> Check {
        for (i, line) in self.scenario.narration.iter().enumerate() {
            let path = SrcPath::root().f("narration").i(i);
            match (line.at(), line.condition()) {
                (Some(at), _) => self.check_time(at, &path.i(0), "the narration line")?,
                (None, Some(condition)) => self.check_condition(condition, &path.i(0), &path)?,
                (None, None) => unreachable!("every narration line has a time or a condition"),
            }
        }
        Ok(())
    }

    /// Checks the optional bounds of a group expectation at `path`: at least one is given, and
    /// `at_least` is not above `at_most`. `example` is a value to suggest for a missing bound.
    fn check_bounds<T: PartialOrd + fmt::Display>(
        &self,
        path: &SrcPath,
        expectation: &Expectation,
        at_least: Option<T>,
        at_most: Option<T>,
        example: &str,
    ) -> Check {
        let name = expectation.variant_name();
        match (at_least, at_most) {
            (None, None) => Err(self.error(
                path,
                path,
                format!("{name} gives neither at_least nor at_most, so it checks nothing"),
                Some(format!("add a bound, e.g. at_least: {example} or at_most: {example}")),
            )),
            (Some(low), Some(high)) if low > high => Err(self.error(
                &path.f("at_least"),
                path,
                format!("{name} wants at least {low} but at most {high}, which nothing satisfies"),
                Some("lower at_least or raise at_most".to_string()),
            )),
            _ => Ok(()),
        }
    }

    fn check_expectations(&self) -> Check {
        let s = self.scenario;
        let groups = s.groups();
        for (i, expectation) in s.expect.iter().enumerate() {
            let path = SrcPath::root().f("expect").i(i);
            match expectation {
                Expectation::RecordsPerBatch { topic, .. } | Expectation::StoredCompression { topic, .. }
                    if s.topic(topic).is_none() =>
                {
                    return Err(self.unknown_topic(&path.f("topic"), &path, topic));
                }
                Expectation::StoredCompression { codec, .. }
                    if cluster::record::Compression::parse(codec).is_none() =>
                {
                    return Err(self.error(
                        &path.f("codec"),
                        &path,
                        format!("unknown codec \"{codec}\""),
                        Some("use one of none, gzip, snappy, lz4, zstd".to_string()),
                    ));
                }
                Expectation::ProduceErrors { error, .. } if cluster::error::ErrorCode::from_name(error).is_none() => {
                    return Err(self.error(
                        &path.f("error"),
                        &path,
                        format!("unknown Kafka error \"{error}\""),
                        Some("write the error as Kafka names it, e.g. \"NOT_ENOUGH_REPLICAS\"".to_string()),
                    ));
                }
                _ => {}
            }
            if let Expectation::LogHolds { topic, partition, .. }
            | Expectation::LogStartOffset { topic, partition, .. }
            | Expectation::Replicas { topic, partition, .. }
            | Expectation::ReplicasAgree { topic, partition }
            | Expectation::ReplicasDiverge { topic, partition }
            | Expectation::PartitionLeader { topic, partition, .. } = expectation
            {
                let Some(spec) = s.topic(topic) else {
                    return Err(self.unknown_topic(&path.f("topic"), &path, topic));
                };
                if !(0..spec.partitions).contains(partition) {
                    return Err(self.error(
                        &path.f("partition"),
                        &path,
                        format!("topic \"{topic}\" has no partition {partition}"),
                        Some(format!("its partitions are numbered 0 to {}", spec.partitions - 1)),
                    ));
                }
            }
            let Some(group) = expectation.group() else {
                continue;
            };
            if !groups.contains(group) {
                let suggestion = match closest(group, groups.iter().copied()) {
                    Some(best) => format!("did you mean \"{best}\"?"),
                    None if groups.is_empty() => {
                        "no consumer belongs to a group; add a Consumer with this group".to_string()
                    }
                    None => format!(
                        "groups of this scenario: {}",
                        groups.iter().map(|g| format!("\"{g}\"")).collect::<Vec<_>>().join(", ")
                    ),
                };
                return Err(self.error(
                    &path.f("group"),
                    &path,
                    format!("no consumer belongs to group \"{group}\""),
                    Some(suggestion),
                ));
            }
            // Only subscribing consumers become members; an assign consumer only commits.
            let members: Vec<&str> =
                s.group_consumers(group).filter(|consumer| consumer.subscribes()).map(|c| c.id.as_str()).collect();
            match expectation {
                Expectation::Rebalances { at_least, at_most, .. } => {
                    self.check_bounds(&path, expectation, *at_least, *at_most, "2")?;
                }
                Expectation::UnprocessedRecords { at_least, at_most, .. }
                | Expectation::RedeliveredRecords { at_least, at_most, .. } => {
                    self.check_bounds(&path, expectation, *at_least, *at_most, "0")?;
                }
                Expectation::UnownedTime { at_least, at_most, .. } => {
                    self.check_bounds(&path, expectation, *at_least, *at_most, "\"2s\"")?;
                }
                _ => {}
            }
            match expectation {
                Expectation::GroupMembers { members: wanted, .. } if *wanted > members.len() => {
                    return Err(self.error(
                        &path.f("members"),
                        &path,
                        format!(
                            "group \"{group}\" has only {} consumers, so it can never have \
                             {wanted} members",
                            members.len()
                        ),
                        Some(format!("expect at most {} members", members.len())),
                    ));
                }
                Expectation::MemberOwns { client, .. } if !members.contains(&client.as_str()) => {
                    let suggestion = match closest(client, members.iter().copied()) {
                        Some(best) => format!("did you mean \"{best}\"?"),
                        None => format!(
                            "consumers of group \"{group}\": {}",
                            members.iter().map(|m| format!("\"{m}\"")).collect::<Vec<_>>().join(", ")
                        ),
                    };
                    return Err(self.error(
                        &path.f("client"),
                        &path,
                        format!("\"{client}\" is not a consumer of group \"{group}\""),
                        Some(suggestion),
                    ));
                }
                _ => {}
            }
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    /// The example from the scenario format's documentation, in the double-parenthesis client
    /// form.
    const EXAMPLE: &str = r#"Scenario(
    name: "first cluster",
    seed: 42,
    duration: "30s",
    cluster: (brokers: 3),
    topics: [(name: "orders", partitions: 3, replication_factor: 3, configs: {"min.insync.replicas": "2"})],
    clients: [
        Producer((id: "checkout", topic: "orders", rate_per_sec: 50.0, keys: Uniform(8), configs: {"enable.idempotence": "false"})),
        Consumer((id: "billing-1", group: "billing", topics: ["orders"], configs: {"auto.offset.reset": "earliest"})),
    ],
    faults: [At("10s", Crash(Leader("orders", 0))), At("20s", Restart(LastCrashed))],
    narration: [At("0s", "Three brokers.")],
    expect: [NoDuplicates, GroupMembers(group: "billing", members: 1)],
)
"#;

    /// A valid scenario used as the base of the rule tests. Each test replaces one piece of
    /// text, so line numbers below refer to this layout.
    const BASE: &str = r#"Scenario(
    name: "rules",
    seed: 7,
    duration: "30s",
    cluster: (brokers: 3, configs: {"min.insync.replicas": "2"}),
    topics: [
        (name: "orders", partitions: 3, replication_factor: 3, configs: {"min.insync.replicas": "2"}),
        (name: "payments", partitions: 1, replication_factor: 1),
    ],
    clients: [
        Producer(id: "checkout", topic: "orders", rate_per_sec: 10.0, configs: {"acks": "1"}),
        Consumer(id: "billing-1", group: "billing", topics: ["orders", "payments"]),
    ],
    faults: [
        At("10s", Crash(Broker(1))),
        At("12s", Partition([Broker(2)], [Broker(3), Client("checkout")])),
        At("20s", Restart(LastCrashed)),
        At("21s", Heal),
    ],
    narration: [At("0s", "Hello.")],
    expect: [NoLostAckedWrites, GroupMembers(group: "billing", members: 1)],
)
"#;

    /// `BASE` with `from` replaced by `to` (which must occur exactly once).
    fn edit(from: &str, to: &str) -> String {
        assert_eq!(BASE.matches(from).count(), 1, "{from:?} must occur once in BASE");
        BASE.replace(from, to)
    }

    /// Parses `source` expecting an `Invalid` error, and returns (line, column, field, message,
    /// suggestion) and the full display.
    fn invalid(source: &str) -> (usize, usize, String, String, Option<String>, String) {
        match parse_str(source, "t.ron") {
            Err(error @ ScenarioError::Invalid { .. }) => {
                let display = error.to_string();
                let ScenarioError::Invalid { line, column, field, message, suggestion, .. } = error else {
                    unreachable!()
                };
                (line, column, field, message, suggestion, display)
            }
            other => panic!("expected a validation error, got {other:?}"),
        }
    }

    /// Parses `source` expecting a `Syntax` error and returns its display.
    fn syntax(source: &str) -> ScenarioError {
        match parse_str(source, "t.ron") {
            Err(error @ ScenarioError::Syntax { .. }) => error,
            other => panic!("expected a syntax error, got {other:?}"),
        }
    }

    #[test]
    fn the_documented_example_parses() {
        let scenario = parse_str(EXAMPLE, "example.ron").unwrap();
        assert_eq!(scenario.name, "first cluster");
        assert_eq!(scenario.description, "");
        assert_eq!(scenario.seed, 42);
        assert_eq!(scenario.kafka_version, "4.0");
        assert_eq!(scenario.duration, Span(30_000));
        assert_eq!(
            scenario.cluster,
            ClusterSpec {
                brokers: 3,
                controllers: 1,
                process_roles: ProcessRoles::Dedicated,
                aligned_election_timeouts: false,
                configs: BTreeMap::new()
            }
        );
        assert_eq!(scenario.topics.len(), 1);
        assert_eq!(scenario.topics[0].configs["min.insync.replicas"], "2");
        let ClientSpec::Producer(producer) = &scenario.clients[0] else { panic!("first client should be a producer") };
        assert_eq!(producer.id, "checkout");
        assert_eq!(producer.rate_per_sec, 50.0);
        assert_eq!(producer.keys, KeySpec::Uniform(8));
        assert_eq!(producer.start, Span::ZERO);
        let ClientSpec::Consumer(consumer) = &scenario.clients[1] else { panic!("second client should be a consumer") };
        assert_eq!(consumer.group, "billing");
        assert_eq!(consumer.topics, vec!["orders".to_string()]);
        assert_eq!(
            scenario.faults,
            vec![
                Timed::At(Span(10_000), Fault::Crash(Target::Leader("orders".into(), 0))),
                Timed::At(Span(20_000), Fault::Restart(Target::LastCrashed)),
            ]
        );
        assert_eq!(scenario.faults[0].at(), Span(10_000));
        assert_eq!(scenario.narration[0].text(), "Three brokers.");
        assert_eq!(
            scenario.expect,
            vec![Expectation::NoDuplicates, Expectation::GroupMembers { group: "billing".into(), members: 1 },]
        );
    }

    #[test]
    fn single_and_double_parenthesis_clients_mean_the_same() {
        let single =
            EXAMPLE.replace("Producer((", "Producer(").replace("Consumer((", "Consumer(").replace("})),", "}),");
        assert!(single.contains("Producer(id:"));
        assert_eq!(parse_str(&single, "a.ron").unwrap(), parse_str(EXAMPLE, "b.ron").unwrap());
        // One file may mix the two forms.
        let mixed = EXAMPLE.replace("Consumer((", "Consumer(").replace("})),\n    ],", "}),\n    ],");
        assert!(mixed.contains("Producer((id:") && mixed.contains("Consumer(id:"), "{mixed}");
        assert_eq!(parse_str(&mixed, "m.ron").unwrap(), parse_str(EXAMPLE, "b.ron").unwrap());
        // Errors inside the double form keep their true position.
        let error = syntax(&EXAMPLE.replace("rate_per_sec: 50.0", "rat: 50.0"));
        assert_eq!(error.position(), Some((8, 52)));
        assert!(error.to_string().contains("unknown field `rat` in a producer"), "{error}");
        assert_eq!(error.suggestion(), Some("did you mean `rate_per_sec`?"));
    }

    #[test]
    fn optional_fields_take_bare_values_and_defaults_apply() {
        let source = edit(
            r#"rate_per_sec: 10.0, configs"#,
            r#"records: [(at: "1s", key: "k", value: Some("v")), (at: "2s", value: None)], start: "500ms", keys: Null, configs"#,
        );
        let scenario = parse_str(&source, "t.ron").unwrap();
        let ClientSpec::Producer(producer) = &scenario.clients[0] else { panic!() };
        assert_eq!(
            producer.records,
            vec![
                ScriptedRecord { at: Span(1_000), key: Some("k".into()), value: Some("v".into()), partition: None },
                ScriptedRecord { at: Span(2_000), key: None, value: None, partition: None },
            ]
        );
        assert_eq!(producer.rate_per_sec, 0.0);
        assert_eq!(producer.start, Span(500));
        assert_eq!(producer.keys, KeySpec::Null);

        let scenario = parse_str(BASE, "t.ron").unwrap();
        let ClientSpec::Producer(producer) = &scenario.clients[0] else { panic!() };
        assert_eq!(producer.keys, KeySpec::Uniform(16));
        assert_eq!(KeySpec::default(), KeySpec::Uniform(16));
    }

    #[test]
    fn digest_input_round_trips_and_is_stable() {
        for source in [EXAMPLE, BASE] {
            let scenario = parse_str(source, "t.ron").unwrap();
            let digest = scenario.digest_input();
            assert!(!digest.contains('\n'), "{digest}");
            let again = parse_str(&digest, "digest.ron").unwrap();
            assert_eq!(again, scenario);
            assert_eq!(again.digest_input(), digest);
        }
        // Formatting and the spelling of defaults do not change the digest.
        let reformatted = EXAMPLE.replace("    ", "\t").replace("\"30s\"", "\"30000ms\"");
        assert_eq!(
            parse_str(&reformatted, "t.ron").unwrap().digest_input(),
            parse_str(EXAMPLE, "t.ron").unwrap().digest_input()
        );
        let digest = parse_str(EXAMPLE, "t.ron").unwrap().digest_input();
        assert!(digest.contains("kafka_version:\"4.0\""), "{digest}");
        assert!(digest.contains("Producer(id:\"checkout\""), "{digest}");
    }

    #[test]
    fn every_variant_survives_the_digest_round_trip() {
        let configs = |pairs: &[(&str, &str)]| -> BTreeMap<String, String> {
            pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
        };
        let at = |secs: u64, fault: Fault| Timed::At(Span::from_secs(secs), fault);
        let group = || "g".to_string();
        let scenario = Scenario {
            name: "all variants".into(),
            description: "Every \"variant\", once.\nTwo lines.".into(),
            seed: u64::MAX,
            kafka_version: "3.9".into(),
            duration: Span(59_999),
            cluster: ClusterSpec {
                brokers: 3,
                controllers: 3,
                process_roles: ProcessRoles::Combined,
                aligned_election_timeouts: true,
                configs: configs(&[("min.insync.replicas", "2")]),
            },
            topics: vec![TopicSpec {
                name: "orders".into(),
                partitions: 3,
                replication_factor: 2,
                configs: BTreeMap::new(),
            }],
            clients: vec![
                ClientSpec::Producer(ProducerSpec {
                    id: "p".into(),
                    topic: "orders".into(),
                    rate_per_sec: 0.5,
                    keys: KeySpec::Null,
                    records: vec![
                        ScriptedRecord { at: Span(1), key: Some("k".into()), value: None, partition: None },
                        ScriptedRecord { at: Span(2), key: None, value: Some(String::new()), partition: None },
                    ],
                    start: Span(1_500),
                    flushes: vec![Span(1_700)],
                    configs: configs(&[("acks", "0")]),
                }),
                ClientSpec::Consumer(ConsumerSpec {
                    id: "c".into(),
                    group: group(),
                    topics: vec!["orders".into()],
                    assign: Vec::new(),
                    start: Span::ZERO,
                    processing: Span(20),
                    commit: CommitSpec::AfterProcessing,
                    seeks: vec![
                        Timed::At(Span(1_000), SeekSpec::ToBeginning),
                        Timed::At(Span(2_000), SeekSpec::ToEnd),
                        Timed::At(Span(3_000), SeekSpec::ToOffset("orders".into(), 1, 42)),
                        Timed::At(Span(4_000), SeekSpec::ToTimestamp(Span(500))),
                    ],
                    configs: configs(&[("auto.offset.reset", "none"), ("enable.auto.commit", "false")]),
                }),
                ClientSpec::Consumer(ConsumerSpec {
                    id: "a".into(),
                    group: String::new(),
                    topics: Vec::new(),
                    assign: vec![("orders".into(), 0), ("orders".into(), 2)],
                    start: Span(100),
                    processing: Span::ZERO,
                    commit: CommitSpec::Auto,
                    seeks: Vec::new(),
                    configs: BTreeMap::new(),
                }),
            ],
            triggers: vec![Trigger::On(
                Condition::All(vec![
                    Condition::LogEndOffset { broker: 2, topic: "orders".into(), partition: 0, at_least: 2 },
                    Condition::Not(Box::new(Condition::HighWatermark {
                        broker: 2,
                        topic: "orders".into(),
                        partition: 0,
                        at_least: 2,
                    })),
                    Condition::Any(vec![
                        Condition::Leads { broker: 1, topic: "orders".into(), partition: 0 },
                        Condition::Acked { client: "p".into(), at_least: 1 },
                        Condition::After(Span(5)),
                    ]),
                ]),
                Fault::Kill(Target::Broker(2)),
            )],
            faults: vec![
                at(1, Fault::Crash(Target::Broker(1))),
                at(2, Fault::Restart(Target::LastCrashed)),
                at(
                    3,
                    Fault::Partition(
                        vec![Target::Controller, Target::Client("p".into())],
                        vec![Target::Leader("orders".into(), 2)],
                    ),
                ),
                at(4, Fault::Isolate(Target::Controller)),
                at(5, Fault::Crash(Target::Client("c".into()))),
                at(6, Fault::Heal),
                at(7, Fault::Shutdown(Target::ActiveController)),
                at(8, Fault::AddBroker(4)),
                at(9, Fault::Reassign("orders".into(), 0, vec![4, 2])),
                at(10, Fault::PreferredElection("orders".into(), 1)),
                at(11, Fault::Kill(Target::Node(4))),
                at(12, Fault::Pause(Target::Leader("orders".into(), 0))),
                at(13, Fault::Resume(Target::Broker(2))),
                at(14, Fault::OneWay(vec![Target::Broker(2), Target::Broker(3)], vec![Target::ActiveController])),
                at(15, Fault::Reconnect(Target::Broker(2))),
                at(16, Fault::Loss { rate: 0.25, nodes: vec![Target::Client("p".into())] }),
                at(17, Fault::Latency { extra: Span(200), jitter: Span(50), nodes: Vec::new() }),
                at(18, Fault::Duplicate { rate: 1.0, nodes: vec![Target::Broker(1), Target::Coordinator(group())] }),
            ],
            narration: vec![Narration::At(Span::ZERO, "Start.".into())],
            expect: vec![
                Expectation::LostAckedWrites { at_least: 1 },
                Expectation::NoLostAckedWrites,
                Expectation::NoDuplicates,
                Expectation::AllPartitionsOnline,
                Expectation::FullIsr,
                Expectation::GroupMembers { group: group(), members: 1 },
                Expectation::MemberOwns { group: group(), client: "c".into(), partitions: 3 },
                Expectation::Rebalances { group: group(), at_least: Some(2), at_most: None },
                Expectation::Rebalances { group: group(), at_least: None, at_most: Some(3) },
                Expectation::ConsumedAll { group: group() },
                Expectation::UnprocessedRecords { group: group(), at_least: Some(1), at_most: Some(9) },
                Expectation::RedeliveredRecords { group: group(), at_least: None, at_most: Some(0) },
                Expectation::UnownedTime { group: group(), at_least: Some(Span(1)), at_most: Some(Span(2_500)) },
                Expectation::PollTimeouts { group: group(), at_least: 1 },
                Expectation::CommitFailures { group: group(), at_least: 2 },
                Expectation::QuorumLeader,
                Expectation::NoQuorumLeader,
                Expectation::QuorumEpoch { at_least: 2 },
                Expectation::FailedElections { at_least: 1 },
                Expectation::LeaderResignations { at_least: 1 },
                Expectation::NoMetadataCommitsAfter { at: Span(12_000) },
                Expectation::Replicas { topic: "orders".into(), partition: 0, replicas: vec![4, 2] },
                Expectation::PartitionLeader { topic: "orders".into(), partition: 1, leader: 2 },
            ],
            origin: Origin::default(),
        };
        let digest = scenario.digest_input();
        assert_eq!(parse_str(&digest, "digest.ron").unwrap(), scenario, "{digest}");
        assert_eq!(Span(1_500).as_instant(), cluster::time::Instant::from_millis(1_500));
    }

    #[test]
    fn span_parsing_table() {
        let good = [
            ("500ms", 500),
            ("5s", 5_000),
            ("1.5s", 1_500),
            ("2m", 120_000),
            ("1h", 3_600_000),
            ("0s", 0),
            ("0.001s", 1),
            ("1.50s", 1_500),
            ("0.25m", 15_000),
            (" 7s ", 7_000),
        ];
        for (text, millis) in good {
            assert_eq!(text.parse::<Span>(), Ok(Span(millis)), "{text:?}");
        }
        let bad = [
            ("", "it is empty"),
            ("30", "a unit is missing: write \"30s\" or \"30ms\""),
            ("5 sec", "unknown unit \"sec\"; use ms, s, m or h"),
            ("-5s", "a duration cannot be negative"),
            ("1.5ms", "it is finer than one millisecond"),
            ("0.0001s", "it is finer than one millisecond"),
            ("1.s", "\"1.\" has no digits after the point"),
            (".5s", "\".5\" is not a decimal number"),
            ("1.2.3s", "\"1.2.3\" is not a decimal number"),
            ("s", "\"\" is not a decimal number"),
            ("99999999999999999999s", "it is too long to count in milliseconds"),
        ];
        for (text, reason) in bad {
            let error = text.parse::<Span>().unwrap_err();
            assert_eq!(error.reason, reason, "{text:?}");
            assert_eq!(
                error.to_string(),
                format!(
                    "expected a duration such as \"500ms\", \"5s\" or \"2m\", found \"{text}\": \
                     {reason}"
                )
            );
        }
        assert_eq!(Span(30_000).to_string(), "30s");
        assert_eq!(Span(1_500).to_string(), "1500ms");
        assert_eq!(Span(1_500).as_duration(), core::time::Duration::from_millis(1_500));
        assert_eq!(Span::from_secs(2), Span::from_millis(2_000));
    }

    proptest! {
        #[test]
        fn span_display_parses_back(millis in 0u64..10_000_000_000) {
            let span = Span(millis);
            prop_assert_eq!(span.to_string().parse::<Span>(), Ok(span));
        }

        #[test]
        fn locator_survives_any_text(text in "\\PC{0,200}") {
            let locator = Locator::new(&text);
            let (line, column) = locator.position(&SrcPath::root().f("topics").i(0));
            prop_assert!(line >= 1 && column >= 1);
        }

        #[test]
        fn locator_survives_mangled_scenarios(
            cut in 0usize..BASE.len(),
            junk in "[(){}\\[\\]\",:a-z0-9 ]{0,8}",
        ) {
            let mut text = BASE[..cut].to_string();
            text.push_str(&junk);
            text.push_str(&BASE[cut..]);
            let _ = parse_str(&text, "t.ron");
        }
    }

    #[test]
    fn bad_span_in_a_file_is_a_syntax_error_with_the_expected_wording() {
        let error = syntax(&edit(r#"duration: "30s""#, r#"duration: "30 seconds""#));
        let text = error.to_string();
        assert!(text.starts_with("t.ron:4:"), "{text}");
        assert!(
            text.contains("expected a duration such as \"500ms\", \"5s\" or \"2m\", found \"30 seconds\""),
            "{text}"
        );
        let error = syntax(&edit(r#"duration: "30s""#, "duration: 30"));
        assert!(error.to_string().contains("found the number 30"), "{error}");
        assert!(error.to_string().contains("\"30s\""), "{error}");
    }

    #[test]
    fn unknown_field_names_the_field_and_lists_the_expected_ones() {
        let error = syntax(&edit("rate_per_sec: 10.0", "rate: 10.0"));
        assert_eq!(error.position(), Some((11, 51)));
        let text = error.to_string();
        assert!(
            text.starts_with(
                "t.ron:11:51: unknown field `rate` in a producer; expected one of: id, topic, \
                 rate_per_sec, keys, records, start, flushes, configs"
            ),
            "{text}"
        );
        assert_eq!(error.suggestion(), Some("did you mean `rate_per_sec`?"));

        let error = syntax(&edit("seed: 7,", "seed: 7, seeds: 8,"));
        assert_eq!(error.position(), Some((3, 14)));
        assert!(error.to_string().contains("in the scenario"), "{error}");
        assert_eq!(error.suggestion(), Some("did you mean `seed`?"));
    }

    #[test]
    fn unknown_variant_and_missing_field_are_explained() {
        let error = syntax(&edit("Crash(Broker(1))", "Crsh(Broker(1))"));
        assert_eq!(error.position(), Some((15, 19)));
        assert!(error.to_string().contains("unknown variant `Crsh` for a fault"), "{error}");
        assert_eq!(error.suggestion(), Some("did you mean `Crash`?"));

        let error = syntax(&edit("    seed: 7,\n", ""));
        assert!(error.to_string().contains("missing field `seed` in the scenario"), "{error}");
        assert_eq!(error.suggestion(), Some("add `seed: 42`"));
    }

    #[test]
    fn plain_syntax_errors_keep_rons_position() {
        let error = syntax(&edit("seed: 7,", "seed: 7"));
        let text = error.to_string();
        // ron notices the missing comma at the next field.
        assert!(text.starts_with("t.ron:4:5: expected a `,` between items"), "{text}");
        let error = syntax(&edit(r#"{"acks": "1"}"#, r#"{"acks": 1}"#));
        assert!(error.to_string().contains("expected a string in double quotes"), "{error}");
    }

    #[test]
    fn empty_name_is_rejected() {
        let (line, column, field, message, _, _) = invalid(&edit(r#"name: "rules""#, r#"name: """#));
        assert_eq!((line, column), (2, 11));
        assert_eq!(field, "name");
        assert_eq!(message, "the scenario name is empty");
    }

    #[test]
    fn only_the_kafka_versions_with_eras_are_accepted() {
        let (line, column, field, message, suggestion, display) =
            invalid(&edit("seed: 7,", "seed: 7,\n    kafka_version: \"2.7\","));
        assert_eq!((line, column), (4, 20));
        assert_eq!(field, "kafka_version");
        assert_eq!(message, "unsupported Kafka version \"2.7\"");
        let accepted = "accepted values: \"0.10\", \"0.11\", \"2.0\", \"2.8\", \"3.6\", \"3.9\", \"4.0\", \"4.5\"";
        assert_eq!(suggestion.as_deref(), Some(accepted));
        assert_eq!(display, format!("t.ron:4:20: unsupported Kafka version \"2.7\" in kafka_version ({accepted})"));
        for version in SUPPORTED_KAFKA_VERSIONS {
            let text = edit("seed: 7,", &format!("seed: 7, kafka_version: \"{version}\","));
            assert!(parse_str(&text, "t.ron").is_ok(), "{version}");
        }
    }

    #[test]
    fn duration_must_be_positive_and_at_most_an_hour() {
        let (line, column, field, message, _, _) = invalid(&edit(r#"duration: "30s""#, r#"duration: "0s""#));
        assert_eq!((line, column, field.as_str()), (4, 15, "duration"));
        assert_eq!(message, "the run lasts no time at all");

        let (line, column, _, message, suggestion, _) = invalid(&edit(r#"duration: "30s""#, r#"duration: "61m""#));
        assert_eq!((line, column), (4, 15));
        assert_eq!(message, "duration 3660s is longer than the limit of one hour");
        assert_eq!(suggestion.as_deref(), Some("use at most \"1h\""));
        // Exactly one hour is fine (the other times are well inside it).
        assert!(parse_str(&edit(r#"duration: "30s""#, r#"duration: "1h""#), "t.ron").is_ok());
    }

    #[test]
    fn broker_count_must_be_one_to_nine() {
        for count in ["0", "10"] {
            let source = edit("brokers: 3", &format!("brokers: {count}"));
            let (line, column, field, message, suggestion, _) = invalid(&source);
            assert_eq!((line, column), (5, 24));
            assert_eq!(field, "cluster.brokers");
            assert_eq!(message, format!("{count} brokers is outside the supported range 1 to 9"));
            assert_eq!(suggestion.as_deref(), Some("use between 1 and 9 brokers"));
        }
    }

    #[test]
    fn quorum_and_admin_mistakes_name_the_field_and_suggest_a_fix() {
        let source = edit("cluster: (brokers: 3,", "cluster: (brokers: 3, controllers: 9,");
        let (_, _, field, message, suggestion, display) = invalid(&source);
        assert_eq!(field, "cluster.controllers");
        assert_eq!(message, "9 controllers is outside the supported range 1 to 7");
        assert!(suggestion.unwrap().contains("1, 3 or 5"));
        assert!(display.starts_with("t.ron:5:"), "{display}");

        let source = edit("cluster: (brokers: 3,", "cluster: (brokers: 3, controllers: 5, process_roles: Combined,");
        let (_, _, field, message, suggestion, _) = invalid(&source);
        assert_eq!(field, "cluster.controllers");
        assert_eq!(message, "5 combined controllers need as many brokers, but there are 3");
        assert_eq!(suggestion.as_deref(), Some("lower cluster.controllers to 3 or add brokers"));

        let source = edit(r#"At("21s", Heal),"#, r#"At("21s", Heal), At("22s", AddBroker(2)),"#);
        let (line, _, field, message, suggestion, _) = invalid(&source);
        assert_eq!((line, field.as_str()), (18, "faults[4]"));
        assert_eq!(message, "AddBroker(2) must name a new broker");
        assert_eq!(suggestion.as_deref(), Some("brokers 1 to 3 exist from the start; add one numbered 4 to 9"));

        let source = edit(r#"At("21s", Heal),"#, r#"At("21s", Heal), At("22s", Reassign("orders", 0, [4, 2])),"#);
        let (_, _, field, message, suggestion, _) = invalid(&source);
        assert_eq!(field, "faults[4]");
        assert_eq!(message, "the target replicas must be known brokers");
        assert_eq!(suggestion.as_deref(), Some("list brokers from [1, 2, 3] (AddBroker adds more)"));

        let source = edit(r#"At("21s", Heal),"#, r#"At("21s", Heal), At("22s", PreferredElection("orders", 7)),"#);
        let (_, _, _, message, _, _) = invalid(&source);
        assert_eq!(message, "topic \"orders\" has no partition 7");

        let source = edit(r#"At("21s", Heal),"#, r#"At("21s", Heal), At("22s", Crash(Node(3001))),"#);
        let (_, _, _, message, suggestion, _) = invalid(&source);
        assert_eq!(message, "unknown node 3001");
        assert_eq!(suggestion.as_deref(), Some("brokers are numbered 1 to 3, controllers are [3000]"));
    }

    #[test]
    fn cluster_config_errors_point_at_the_key() {
        let source = edit(
            r#"brokers: 3, configs: {"min.insync.replicas": "2"}"#,
            r#"brokers: 3, configs: {"replica.lag.time.max": "100"}"#,
        );
        let (line, column, field, message, suggestion, display) = invalid(&source);
        assert_eq!((line, column), (5, 37));
        assert_eq!(field, "cluster.configs");
        assert_eq!(message, "unknown broker config key \"replica.lag.time.max\"");
        assert_eq!(suggestion.as_deref(), Some("did you mean \"replica.lag.time.max.ms\"?"));
        assert!(display.starts_with("t.ron:5:37: unknown broker config key"), "{display}");
    }

    #[test]
    fn topic_config_errors_point_at_the_key_and_suggest_the_right_one() {
        let source = edit(
            r#"replication_factor: 3, configs: {"min.insync.replicas": "2"}"#,
            r#"replication_factor: 3, configs: {"min.insync.replica": "2"}"#,
        );
        let (line, column, field, _, suggestion, display) = invalid(&source);
        assert_eq!((line, column), (7, 74));
        assert_eq!(field, "topics[0].configs");
        assert_eq!(suggestion.as_deref(), Some("did you mean \"min.insync.replicas\"?"));
        assert_eq!(
            display,
            "t.ron:7:74: unknown topic config key \"min.insync.replica\" in topics[0].configs \
             (did you mean \"min.insync.replicas\"?)"
        );
        // A bad value is located at its key too.
        let source = edit(
            r#"replication_factor: 3, configs: {"min.insync.replicas": "2"}"#,
            r#"replication_factor: 3, configs: {"min.insync.replicas": "0"}"#,
        );
        let (line, column, field, message, _, _) = invalid(&source);
        assert_eq!((line, column, field.as_str()), (7, 74, "topics[0].configs"));
        assert!(message.contains("\"min.insync.replicas\""), "{message}");
    }

    #[test]
    fn topic_names_follow_kafkas_rules() {
        let cases = [
            (r#"name: """#, "the topic name is empty"),
            (r#"name: ".""#, "Kafka does not allow the topic name \".\""),
            (r#"name: "pay ments""#, "topic name \"pay ments\" contains the illegal character ' '"),
            (r#"name: "orders""#, "duplicate topic name \"orders\" (first defined in topics[0])"),
        ];
        for (name, expected) in cases {
            let source =
                edit(r#"name: "payments""#, name).replace(r#"topics: ["orders", "payments"]"#, r#"topics: ["orders"]"#);
            let (line, column, field, message, _, _) = invalid(&source);
            assert_eq!((line, column), (8, 16), "{name}");
            assert_eq!(field, "topics[1].name");
            assert_eq!(message, expected);
        }
        let long = format!("name: \"{}\"", "a".repeat(250));
        let source =
            edit(r#"name: "payments""#, &long).replace(r#"topics: ["orders", "payments"]"#, r#"topics: ["orders"]"#);
        let (_, _, _, message, _, _) = invalid(&source);
        assert_eq!(message, "topic name is 250 characters long, over Kafka's limit of 249");
        // Names that differ only by '.' and '_' collide in Kafka.
        let source =
            BASE.replace(r#"name: "orders""#, r#"name: "a.b""#).replace(r#"name: "payments""#, r#"name: "a_b""#);
        let (line, column, _, message, _, _) = invalid(&source);
        assert_eq!((line, column), (8, 16));
        assert!(message.contains("collides with \"a.b\""), "{message}");
    }

    #[test]
    fn partitions_and_replication_factor_are_checked() {
        let (line, column, field, message, _, _) =
            invalid(&edit("partitions: 1, replication_factor: 1", "partitions: 0, replication_factor: 1"));
        assert_eq!((line, column, field.as_str()), (8, 40, "topics[1].partitions"));
        assert_eq!(message, "topic \"payments\" has 0 partitions");

        let (line, column, field, message, suggestion, _) =
            invalid(&edit("partitions: 1, replication_factor: 1", "partitions: 1, replication_factor: 4"));
        assert_eq!((line, column), (8, 63));
        assert_eq!(field, "topics[1].replication_factor");
        assert_eq!(message, "replication factor 4 of topic \"payments\" is larger than the 3 brokers of the cluster");
        assert_eq!(suggestion.as_deref(), Some("lower it to 3 or fewer, or add brokers in cluster.brokers"));

        let (_, _, _, message, _, _) =
            invalid(&edit("partitions: 1, replication_factor: 1", "partitions: 1, replication_factor: 0"));
        assert_eq!(message, "topic \"payments\" has replication factor 0");
    }

    #[test]
    fn client_ids_are_unique_and_non_empty() {
        let (line, column, field, message, _, _) = invalid(&edit(r#"id: "billing-1""#, r#"id: "checkout""#));
        assert_eq!((line, column), (12, 22));
        assert_eq!(field, "clients[1].id");
        assert_eq!(message, "duplicate client id \"checkout\" (first used by clients[0])");

        let (line, column, field, message, _, _) = invalid(&edit(r#"id: "checkout""#, r#"id: """#));
        assert_eq!((line, column, field.as_str()), (11, 22, "clients[0].id"));
        assert_eq!(message, "the client id is empty");
    }

    #[test]
    fn producer_topic_must_exist() {
        let (line, column, field, message, suggestion, display) =
            invalid(&edit(r#"topic: "orders""#, r#"topic: "order""#));
        assert_eq!((line, column), (11, 41));
        assert_eq!(field, "clients[0].topic");
        assert_eq!(message, "unknown topic \"order\"");
        assert_eq!(suggestion.as_deref(), Some("did you mean \"orders\"?"));
        assert_eq!(display, "t.ron:11:41: unknown topic \"order\" in clients[0].topic (did you mean \"orders\"?)");
        let (_, _, _, _, suggestion, _) = invalid(&edit(r#"topic: "orders""#, r#"topic: "zzz""#));
        assert_eq!(suggestion.as_deref(), Some("known topics: \"orders\", \"payments\""));
    }

    #[test]
    fn consumer_topics_must_exist() {
        let (line, column, field, message, suggestion, _) =
            invalid(&edit(r#"topics: ["orders", "payments"]"#, r#"topics: ["orders", "payment"]"#));
        assert_eq!((line, column), (12, 72));
        assert_eq!(field, "clients[1].topics[1]");
        assert_eq!(message, "unknown topic \"payment\"");
        assert_eq!(suggestion.as_deref(), Some("did you mean \"payments\"?"));

        let (line, column, field, message, _, _) = invalid(&edit(r#"topics: ["orders", "payments"]"#, "topics: []"));
        assert_eq!((line, column, field.as_str()), (12, 61, "clients[1].topics"));
        assert_eq!(message, "consumer \"billing-1\" subscribes to no topics");
    }

    #[test]
    fn storage_faults_and_expectations_are_checked() {
        let (line, column, field, message, _, _) =
            invalid(&edit(r#"At("21s", Heal)"#, r#"At("21s", PowerLoss([Broker(2), Broker(9)]))"#));
        assert_eq!((line, column, field.as_str()), (18, 41, "faults[3]"), "points at Broker(9)");
        assert_eq!(message, "unknown broker 9");

        let (line, column, field, message, suggestion, _) = invalid(&edit(
            "expect: [NoLostAckedWrites,",
            r#"expect: [LogHolds(topic: "payments", partition: 2, records: [(0, "k", None)]), NoLostAckedWrites,"#,
        ));
        assert_eq!((line, column, field.as_str()), (21, 53, "expect[0]"), "points at the partition number");
        assert_eq!(message, "topic \"payments\" has no partition 2");
        assert_eq!(suggestion.as_deref(), Some("its partitions are numbered 0 to 0"));

        // A topic's override must agree with the cluster's log defaults, not just Kafka's.
        let (_, _, field, message, _, _) = invalid(&edit(
            r#"cluster: (brokers: 3, configs: {"min.insync.replicas": "2"}),"#,
            r#"cluster: (brokers: 3, configs: {"min.insync.replicas": "2", "log.cleaner.max.compaction.lag.ms": "1000"}),"#,
        ).replace(r#"(name: "payments", partitions: 1, replication_factor: 1)"#, r#"(name: "payments", partitions: 1, replication_factor: 1, configs: {"min.compaction.lag.ms": "5000"})"#));
        assert!(field.starts_with("topics[1].configs"), "{field}");
        assert!(message.contains("min.compaction.lag.ms"), "{message}");
    }

    #[test]
    fn producer_needs_a_rate_or_records() {
        let (line, column, field, message, suggestion, _) = invalid(&edit("rate_per_sec: 10.0, ", ""));
        // No rate is written, so the error points at the producer itself.
        assert_eq!((line, column), (11, 9));
        assert_eq!(field, "clients[0]");
        assert_eq!(message, "producer \"checkout\" would send nothing");
        assert_eq!(suggestion.as_deref(), Some("set rate_per_sec above 0, e.g. 50.0, or list records"));
        let (_, _, field, message, _, _) = invalid(&edit("rate_per_sec: 10.0", "rate_per_sec: -1.0"));
        assert_eq!(field, "clients[0].rate_per_sec");
        assert!(message.contains("not a usable rate"), "{message}");
        let (_, _, field, message, _, _) = invalid(&edit("rate_per_sec: 10.0", "rate_per_sec: 10.0, keys: Uniform(0)"));
        assert_eq!(field, "clients[0].keys");
        assert_eq!(message, "Uniform(0) gives no keys to choose from");
    }

    #[test]
    fn times_must_fall_within_the_duration() {
        let (line, column, field, message, suggestion, _) = invalid(&edit(r#"At("21s", Heal)"#, r#"At("31s", Heal)"#));
        assert_eq!((line, column), (18, 12));
        assert_eq!(field, "faults[3][0]");
        assert_eq!(message, "the fault at 31s is after the end of the run (30s)");
        assert_eq!(suggestion.as_deref(), Some("use a time of at most 30s, or lengthen duration"));

        let (line, column, field, message, _, _) = invalid(&edit(r#"At("0s", "Hello.")"#, r#"At("1m", "Hello.")"#));
        assert_eq!((line, column, field.as_str()), (20, 20, "narration[0][0]"));
        assert_eq!(message, "the narration line at 60s is after the end of the run (30s)");

        let (line, column, field, message, _, _) =
            invalid(&edit("rate_per_sec: 10.0", r#"records: [(at: "1s"), (at: "45s")]"#));
        assert_eq!((line, column), (11, 78));
        assert_eq!(field, "clients[0].records[1].at");
        assert_eq!(message, "the record at 45s is after the end of the run (30s)");

        let (_, _, field, message, _, _) =
            invalid(&edit(r#"group: "billing", topics"#, r#"group: "billing", start: "40s", topics"#));
        assert_eq!(field, "clients[1].start");
        assert_eq!(message, "the consumer's start at 40s is after the end of the run (30s)");
    }

    #[test]
    fn fault_targets_must_exist() {
        let (line, column, field, message, suggestion, display) =
            invalid(&edit("Crash(Broker(1))", "Crash(Broker(4))"));
        assert_eq!((line, column), (15, 25));
        assert_eq!(field, "faults[0]");
        assert_eq!(message, "unknown broker 4");
        assert_eq!(suggestion.as_deref(), Some("brokers are numbered 1 to 3"));
        assert_eq!(display, "t.ron:15:25: unknown broker 4 in faults[0] (brokers are numbered 1 to 3)");

        // Inside a network partition, the exact list element is found.
        let (line, column, field, message, suggestion, _) =
            invalid(&edit(r#"Client("checkout")"#, r#"Client("checkuot")"#));
        assert_eq!((line, column), (16, 54));
        assert_eq!(field, "faults[1]");
        assert_eq!(message, "unknown client \"checkuot\"");
        assert_eq!(suggestion.as_deref(), Some("did you mean \"checkout\"?"));

        let (line, column, _, message, _, _) = invalid(&edit("Crash(Broker(1))", r#"Crash(Leader("orders", 3))"#));
        assert_eq!((line, column), (15, 42));
        assert_eq!(message, "topic \"orders\" has no partition 3");

        let (line, column, field, message, suggestion, _) =
            invalid(&edit("Crash(Broker(1))", r#"Crash(Leader("ordres", 0))"#));
        assert_eq!((line, column), (15, 32));
        assert_eq!(field, "faults[0]");
        assert_eq!(message, "unknown topic \"ordres\"");
        assert_eq!(suggestion.as_deref(), Some("did you mean \"orders\"?"));

        let (_, _, _, message, _, _) = invalid(&edit("[Broker(2)], [Broker(3)", "[], [Broker(3)"));
        assert_eq!(message, "a side of the network partition is empty");
    }

    /// `BASE` with its last fault, `At("21s", Heal)` on line 18, replaced by `faults`.
    fn with_faults(faults: &str) -> String {
        edit(r#"At("21s", Heal)"#, faults)
    }

    #[test]
    fn network_faults_parse_with_their_defaults() {
        let source = with_faults(
            r#"At("21s", Loss(rate: 0.2)), At("22s", Latency(extra: "200ms")), At("23s", Duplicate(rate: 0.1, nodes: [Client("checkout")])), At("24s", Pause(Broker(2))), At("25s", Resume(Broker(2))), At("26s", OneWay([Broker(2)], [Broker(3), Leader("orders", 1)])), At("27s", Reconnect(Broker(2))), At("28s", Latency(extra: "1s", jitter: "250ms", nodes: [Broker(1)]))"#,
        );
        let scenario = parse_str(&source, "t.ron").unwrap();
        let faults: Vec<&Fault> = scenario.faults.iter().skip(3).map(Timed::value).collect();
        assert_eq!(
            faults,
            [
                &Fault::Loss { rate: 0.2, nodes: Vec::new() },
                &Fault::Latency { extra: Span(200), jitter: Span::ZERO, nodes: Vec::new() },
                &Fault::Duplicate { rate: 0.1, nodes: vec![Target::Client("checkout".into())] },
                &Fault::Pause(Target::Broker(2)),
                &Fault::Resume(Target::Broker(2)),
                &Fault::OneWay(vec![Target::Broker(2)], vec![Target::Broker(3), Target::Leader("orders".into(), 1)]),
                &Fault::Reconnect(Target::Broker(2)),
                &Fault::Latency { extra: Span(1_000), jitter: Span(250), nodes: vec![Target::Broker(1)] },
            ]
        );
        // A rate of 0 (ends the degradation) and 1 (every time) are both probabilities; resuming
        // a node that was never paused does nothing and is fine.
        for ok in
            [r#"At("21s", Loss(rate: 0.0))"#, r#"At("21s", Duplicate(rate: 1.0))"#, r#"At("21s", Resume(Broker(3)))"#]
        {
            assert!(parse_str(&with_faults(ok), "t.ron").is_ok(), "{ok}");
        }
    }

    #[test]
    fn network_fault_rates_and_latencies_are_checked() {
        let (line, column, field, message, suggestion, display) =
            invalid(&with_faults(r#"At("21s", Loss(rate: 1.5))"#));
        assert_eq!((line, column, field.as_str()), (18, 30, "faults[3]"), "points at the rate");
        assert_eq!(message, "rate 1.5 is not a probability");
        assert_eq!(
            suggestion.as_deref(),
            Some("write a rate from 0.0 (never) to 1.0 (always), e.g. rate: 0.1 for 10%")
        );
        assert!(display.starts_with("t.ron:18:30: rate 1.5 is not a probability in faults[3]"), "{display}");
        let (_, _, _, message, _, _) = invalid(&with_faults(r#"At("21s", Duplicate(rate: -0.1, nodes: [Broker(1)]))"#));
        assert_eq!(message, "rate -0.1 is not a probability");
        let (_, _, _, message, _, _) = invalid(&with_faults(r#"At("21s", Duplicate(rate: NaN))"#));
        assert_eq!(message, "rate NaN is not a probability");

        let (line, column, _, message, suggestion, _) =
            invalid(&with_faults(r#"At("21s", Latency(extra: "2m", nodes: [Broker(1)]))"#));
        assert_eq!((line, column), (18, 34), "points at extra");
        assert_eq!(message, "extra 120s is longer than 60s: a link that slow delivers nothing in time");
        assert_eq!(
            suggestion.as_deref(),
            Some("use at most \"60s\", or cut the link with Partition, OneWay or Isolate")
        );
        let (_, _, _, message, _, _) = invalid(&with_faults(r#"At("21s", Latency(extra: "1s", jitter: "90s"))"#));
        assert!(message.starts_with("jitter 90s is longer than 60s"), "{message}");
        // A span without a unit is a syntax error that says how to write one.
        let error = syntax(&with_faults(r#"At("21s", Latency(extra: 200))"#));
        assert!(error.to_string().contains("found the number 200"), "{error}");
        // So is a misspelt field, with the right one suggested.
        let error = syntax(&with_faults(r#"At("21s", Loss(rat: 0.2))"#));
        assert!(error.to_string().contains("unknown field `rat`"), "{error}");
        assert_eq!(error.suggestion(), Some("did you mean `rate`?"));
    }

    #[test]
    fn network_fault_targets_must_exist() {
        let (line, column, field, message, _, _) =
            invalid(&with_faults(r#"At("21s", Loss(rate: 0.1, nodes: [Broker(1), Broker(7)]))"#));
        assert_eq!((line, column, field.as_str()), (18, 54, "faults[3]"), "points at Broker(7)");
        assert_eq!(message, "unknown broker 7");

        let (line, column, _, message, suggestion, _) = invalid(&with_faults(r#"At("21s", Pause(Client("chekout")))"#));
        assert_eq!((line, column), (18, 25));
        assert_eq!(message, "unknown client \"chekout\"");
        assert_eq!(suggestion.as_deref(), Some("did you mean \"checkout\"?"));

        let (_, _, _, message, _, _) = invalid(&with_faults(r#"At("21s", Reconnect(Broker(9)))"#));
        assert_eq!(message, "unknown broker 9");
        let (_, _, _, message, _, _) = invalid(&with_faults(r#"At("21s", Resume(Leader("orders", 5)))"#));
        assert_eq!(message, "topic \"orders\" has no partition 5");

        let (_, _, _, message, suggestion, _) = invalid(&with_faults(r#"At("21s", OneWay([Broker(1)], []))"#));
        assert_eq!(message, "the receiving side of the one-way partition is empty");
        assert_eq!(suggestion.as_deref(), Some("list at least one target on each side: OneWay([from..], [to..])"));
        let (_, _, _, message, _, _) =
            invalid(&with_faults(r#"At("21s", OneWay([Broker(1)], [Coordinator("billng")]))"#));
        assert_eq!(message, "unknown consumer group \"billng\"");
    }

    #[test]
    fn last_crashed_needs_an_earlier_crash() {
        let (line, column, field, message, _, _) = invalid(&edit("Crash(Broker(1))", "Isolate(Broker(1))"));
        assert_eq!((line, column), (17, 27));
        assert_eq!(field, "faults[2]");
        assert_eq!(message, "LastCrashed names no node: no Crash, Kill or PowerLoss fault comes before it");
    }

    #[test]
    fn expectations_must_name_existing_groups_and_members() {
        let (line, column, field, message, suggestion, _) =
            invalid(&edit(r#"GroupMembers(group: "billing""#, r#"GroupMembers(group: "biling""#));
        assert_eq!((line, column), (21, 53));
        assert_eq!(field, "expect[1]");
        assert_eq!(message, "no consumer belongs to group \"biling\"");
        assert_eq!(suggestion.as_deref(), Some("did you mean \"billing\"?"));

        let (line, column, _, message, _, _) = invalid(&edit("members: 1", "members: 2"));
        assert_eq!((line, column), (21, 73));
        assert_eq!(message, "group \"billing\" has only 1 consumers, so it can never have 2 members");

        let source = edit(
            "expect: [NoLostAckedWrites,",
            r#"expect: [MemberOwns(group: "billing", client: "checkout", partitions: 3), ConsumedAll(group: "billing"), Rebalances(group: "billing", at_least: 1), LostAckedWrites(at_least: 1), FullIsr, AllPartitionsOnline, NoDuplicates,"#,
        );
        let (line, column, field, message, suggestion, _) = invalid(&source);
        assert_eq!((line, column), (21, 51));
        assert_eq!(field, "expect[0]");
        assert_eq!(message, "\"checkout\" is not a consumer of group \"billing\"");
        assert_eq!(suggestion.as_deref(), Some("consumers of group \"billing\": \"billing-1\""));

        let fixed = source.replace(r#"client: "checkout""#, r#"client: "billing-1""#);
        let scenario = parse_str(&fixed, "t.ron").unwrap();
        assert_eq!(scenario.expect[3], Expectation::LostAckedWrites { at_least: 1 });
        assert_eq!(scenario.expect[1].group(), Some("billing"));
    }

    #[test]
    fn producer_config_errors_point_at_the_key() {
        let (line, column, field, message, suggestion, _) =
            invalid(&edit(r#"configs: {"acks": "1"}"#, r#"configs: {"acks": "2"}"#));
        assert_eq!((line, column), (11, 81));
        assert_eq!(field, "clients[0].configs");
        assert!(message.contains("invalid value \"2\" for \"acks\""), "{message}");
        assert!(suggestion.is_some());

        let (_, _, field, message, suggestion, _) =
            invalid(&edit(r#"configs: {"acks": "1"}"#, r#"configs: {"acks": "1", "session.timeout.ms": "10000"}"#));
        assert_eq!(field, "clients[0].configs");
        assert_eq!(message, "\"session.timeout.ms\" is a consumer config key, not a producer config key");
        assert_eq!(suggestion.as_deref(), Some("move it to a consumer's configs"));
    }

    #[test]
    fn consumer_config_errors_point_at_the_key() {
        let (line, column, field, message, suggestion, _) = invalid(&edit(
            r#"topics: ["orders", "payments"])"#,
            r#"topics: ["orders", "payments"], configs: {"acks": "all"})"#,
        ));
        assert_eq!((line, column), (12, 95));
        assert_eq!(field, "clients[1].configs");
        assert_eq!(message, "\"acks\" is a producer config key, not a consumer config key");
        assert_eq!(suggestion.as_deref(), Some("move it to a producer's configs"));
    }

    #[test]
    fn idempotence_follows_the_era_and_its_config_rules() {
        // Kafka's own rules: an explicit enable.idempotence=true needs acks=all.
        let (_, _, field, message, _, _) =
            invalid(&edit(r#"configs: {"acks": "1"}"#, r#"configs: {"acks": "1", "enable.idempotence": "true"}"#));
        assert_eq!(field, "clients[0].configs");
        assert!(message.contains("acks"), "{message}");
        // By default (acks=all) the producer is idempotent, in the current era and in 0.10's,
        // where the same explicit setting is accepted too.
        assert!(parse_str(&edit(r#"configs: {"acks": "1"}"#, r#"configs: {"acks": "all"}"#), "t.ron").is_ok());
        let old = edit("seed: 7,", "seed: 7, kafka_version: \"0.10\",");
        assert!(parse_str(&old.replace(r#"configs: {"acks": "1"}"#, r#"configs: {}"#), "t.ron").is_ok());
    }

    #[test]
    fn triggers_name_known_brokers_topics_and_clients() {
        let with = |trigger: &str| edit("faults: [", &format!("triggers: [{trigger}],\n    faults: ["));
        let (_, _, field, message, _, _) = invalid(&with(
            r#"On(LogEndOffset(broker: 9, topic: "orders", partition: 0, at_least: 1), Kill(Broker(1)))"#,
        ));
        assert_eq!(field, "triggers[0]");
        assert_eq!(message, "unknown broker 9");
        let (_, _, _, message, _, _) =
            invalid(&with(r#"On(Not(Leads(broker: 1, topic: "orders", partition: 7)), Kill(Broker(1)))"#));
        assert_eq!(message, "topic \"orders\" has no partition 7");
        let (_, _, _, message, _, _) = invalid(&with(r#"On(Acked(client: "nobody", at_least: 1), Heal)"#));
        assert_eq!(message, "unknown client \"nobody\"");
        let (_, _, _, message, _, _) = invalid(&with("On(All([]), Heal)"));
        assert!(message.contains("at least one condition"), "{message}");
        // A trigger may restart LastCrashed: when it fires is not known in advance.
        assert!(parse_str(&with(r#"On(After("15s"), Restart(LastCrashed))"#), "t.ron").is_ok());
    }

    #[test]
    fn load_file_names_the_path() {
        let missing = Path::new("/nonexistent/kafkalab/x.ron");
        let error = load_file(missing).unwrap_err();
        assert!(matches!(error, ScenarioError::Io { .. }));
        assert!(
            error.to_string().starts_with("/nonexistent/kafkalab/x.ron: cannot read the scenario file:"),
            "{error}"
        );
        assert_eq!(error.position(), None);

        let dir = std::env::temp_dir().join(format!("kafkalab-scenario-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let path = dir.join("bad.ron");
        std::fs::write(&path, edit(r#"topic: "orders""#, r#"topic: "order""#)).unwrap();
        let error = load_file(&path).unwrap_err();
        assert!(error.to_string().starts_with(&format!("{}:11:41: unknown topic", path.display())), "{error}");
        std::fs::write(&path, BASE).unwrap();
        assert_eq!(load_file(&path).unwrap().name, "rules");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn locator_handles_comments_attributes_and_raw_strings() {
        let source = "#![enable(implicit_some)]\n// a comment with \"orders\"\nScenario(\n  /* block /* nested */ */ name: r#\"x\"#,\n  topics: [(name: \"orders\", configs: {\"k\": \"v\"})],\n)";
        let locator = Locator::new(source);
        assert_eq!(locator.position(&SrcPath::root().f("name")), (4, 34));
        let configs = SrcPath::root().f("topics").i(0).f("configs");
        assert_eq!(locator.position(&configs.k("k")), (5, 39));
        // A path that is not in the text falls back to its nearest ancestor.
        assert_eq!(locator.position(&configs.k("missing")), (5, 38));
        assert_eq!(locator.position(&SrcPath::root().f("nothing")), (3, 1));
        assert_eq!(Locator::new("").position(&SrcPath::root()), (1, 1));
    }
}
