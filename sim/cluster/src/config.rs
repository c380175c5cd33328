//! Typed Kafka configuration, parsed from Kafka's own dotted keys.
//!
//! A scenario gives configs the way a Kafka operator would write a `.properties` file: a map from
//! keys such as `"min.insync.replicas"` to string values such as `"2"`. This module turns those
//! maps into typed structs holding Kafka's defaults (the 3.9 release line) for every key that is
//! not set, and rejects anything Kafka would reject, plus a few things kafkalab cannot model.
//!
//! There is one struct per place a config can appear:
//!
//! * [`BrokerConfig`]: broker (server) settings, shared by every broker of the cluster.
//! * [`TopicConfig`]: per-topic overrides of broker settings.
//! * [`LogConfig`]: the storage settings of a topic's logs, which the broker's `log.*` keys set
//!   for every topic and a topic's own keys (such as `retention.ms`) override.
//! * [`ProducerConfig`]: settings of one producer client.
//! * [`ConsumerConfig`]: settings of one consumer client.
//!
//! Every `*.ms` key is stored as a `u64` count of milliseconds in a field whose name ends in
//! `_ms`; sizes are stored in bytes. The exceptions are `retention.ms` and `retention.bytes`,
//! where Kafka gives -1 the meaning "unlimited": they are stored as `i64`. The one key counted
//! in seconds, `leader.imbalance.check.interval.seconds`, keeps Kafka's unit, in a field whose
//! name ends in `_seconds`. Errors are [`ConfigError`] values that name the key, the value and
//! the accepted form, and usually suggest a fix.
//!
//! This module is pure: it reads nothing but its arguments.

use crate::assignor::{Assignor, RebalanceProtocol};
use crate::record::Compression;
use std::collections::BTreeMap;
use std::fmt;

/// Largest value of a Kafka `INT` config (Java's `Integer.MAX_VALUE`).
const KAFKA_INT_MAX: u64 = i32::MAX as u64;

/// Largest value of a Kafka `LONG` config (Java's `Long.MAX_VALUE`).
const KAFKA_LONG_MAX: u64 = i64::MAX as u64;

/// Largest value of a Kafka `SHORT` config (Java's `Short.MAX_VALUE`).
const KAFKA_SHORT_MAX: u64 = i16::MAX as u64;

/// Most in-flight requests an idempotent producer may have per connection: the broker caches the
/// last 5 batches per producer, so every retry still matches one of them (KIP-98, Kafka's
/// `MAX_IN_FLIGHT_REQUESTS_PER_CONNECTION_FOR_IDEMPOTENCE`).
const MAX_IN_FLIGHT_FOR_IDEMPOTENCE: u32 = 5;

/// Edit distance up to which an unknown key gets a "did you mean" suggestion.
const SUGGESTION_DISTANCE: usize = 3;

/// Why a config map was rejected.
///
/// `key` is the offending Kafka key (for a rule that ties two keys together, the one the user most
/// likely has to change), `value` the raw string found for it (`None` when the key was not set and
/// its default is involved), `message` a full sentence-like description, and `suggestion` a short
/// hint on how to fix it, such as `did you mean "min.insync.replicas"?`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConfigError {
    /// The Kafka config key at fault, e.g. `"acks"`.
    pub key: String,
    /// The raw value given for `key`, if the user set one.
    pub value: Option<String>,
    /// What is wrong, naming the key and the value.
    pub message: String,
    /// How to fix it, if there is an obvious fix.
    pub suggestion: Option<String>,
}

impl ConfigError {
    fn new(key: &str, value: Option<&str>, message: String, suggestion: Option<String>) -> Self {
        ConfigError { key: key.to_string(), value: value.map(str::to_string), message, suggestion }
    }
}

impl fmt::Display for ConfigError {
    /// Prints the message followed by the suggestion in parentheses, if there is one.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.message)?;
        if let Some(suggestion) = &self.suggestion {
            write!(f, " ({suggestion})")?;
        }
        Ok(())
    }
}

impl std::error::Error for ConfigError {}

/// The producer's `acks` setting: how many replicas must have a batch before the leader answers.
///
/// Kafka accepts the strings `"0"`, `"1"`, `"all"` and `"-1"` (a synonym of `"all"`); anything
/// else is a config error (`ProducerConfig` validator `in("all", "-1", "0", "1")`). The default is
/// `all` since Kafka 3.0 (KIP-679).
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum Acks {
    /// `acks=0`: the producer does not wait for any answer.
    Zero,
    /// `acks=1`: the leader answers once the batch is in its own log.
    One,
    /// `acks=all` (or `-1`): the leader answers once every in-sync replica has the batch.
    All,
}

impl Acks {
    /// The value Kafka sends on the wire in a Produce request: 0, 1 or -1.
    pub fn wire(self) -> i16 {
        match self {
            Acks::Zero => 0,
            Acks::One => 1,
            Acks::All => -1,
        }
    }

    fn parse(raw: &str) -> Result<Acks, ConfigError> {
        match raw.trim() {
            "0" => Ok(Acks::Zero),
            "1" => Ok(Acks::One),
            "all" | "-1" => Ok(Acks::All),
            _ => Err(ConfigError::new(
                "acks",
                Some(raw),
                format!(
                    "invalid value \"{raw}\" for \"acks\": expected one of \"0\", \"1\", \"all\" \
                     or \"-1\""
                ),
                Some("use \"all\" to wait for every in-sync replica".to_string()),
            )),
        }
    }
}

impl fmt::Display for Acks {
    /// Prints the value the way it is written in a config: `0`, `1` or `all`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Acks::Zero => "0",
            Acks::One => "1",
            Acks::All => "all",
        })
    }
}

/// The consumer's `auto.offset.reset`: where to start when a group has no committed offset for a
/// partition (or the committed one is out of range). Kafka's default is `latest`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash)]
pub enum AutoOffsetReset {
    /// `earliest`: start at the log start offset.
    Earliest,
    /// `latest`: start at the log end offset, so only new records are read.
    Latest,
    /// `none`: fail the fetch with an error instead of guessing.
    None,
}

impl fmt::Display for AutoOffsetReset {
    /// Prints the value the way it is written in a config: `earliest`, `latest` or `none`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            AutoOffsetReset::Earliest => "earliest",
            AutoOffsetReset::Latest => "latest",
            AutoOffsetReset::None => "none",
        })
    }
}

/// A log's `cleanup.policy`: what happens to old segments. Kafka's default is `delete`.
///
/// Kafka writes it as a comma-separated list of `delete` and `compact`: `"delete"`,
/// `"compact"`, or `"compact,delete"` (in either order) for both. Kafka 3.9 also accepts an empty
/// list, meaning no cleanup at all; kafkalab rejects it to keep the cleaner simple.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct CleanupPolicy {
    /// `delete`: segments past `retention.ms` or `retention.bytes` are deleted.
    pub delete: bool,
    /// `compact`: the log cleaner keeps only the latest record of each key.
    pub compact: bool,
}

/// The items `cleanup.policy` may list.
const CLEANUP_POLICIES: [&str; 2] = ["delete", "compact"];

impl CleanupPolicy {
    /// Parses Kafka's list syntax. Items are matched exactly, letter case included, as Kafka's
    /// `ValidList.in("compact", "delete")` does; whitespace around them is ignored. `key` is the
    /// key the value was given for (`cleanup.policy` or `log.cleanup.policy`).
    fn parse(key: &str, raw: &str) -> Result<CleanupPolicy, ConfigError> {
        if raw.trim().is_empty() {
            return Err(ConfigError::new(
                key,
                Some(raw),
                format!(
                    "\"{key}\" is empty: kafkalab needs at least one of \"delete\" and \
                     \"compact\""
                ),
                Some("use \"delete\", Kafka's default".to_string()),
            ));
        }
        let items: Vec<&str> = raw.split(',').map(str::trim).collect();
        if items.iter().all(|item| CLEANUP_POLICIES.contains(item)) {
            return Ok(CleanupPolicy { delete: items.contains(&"delete"), compact: items.contains(&"compact") });
        }
        // Suggest the whole value with every misspelt item replaced by the nearest policy, when
        // each one has a near policy.
        let fixed: Option<Vec<&str>> = items.iter().map(|item| closest(item, &CLEANUP_POLICIES)).collect();
        let suggestion = if items.contains(&"") {
            "remove the extra comma".to_string()
        } else if let Some(fixed) = fixed {
            format!("did you mean \"{}\"?", fixed.join(","))
        } else {
            "use \"delete\", \"compact\" or \"compact,delete\"".to_string()
        };
        Err(ConfigError::new(
            key,
            Some(raw),
            format!(
                "invalid value \"{raw}\" for \"{key}\": expected \"delete\", \"compact\" or both, \
                 comma-separated (\"compact,delete\")"
            ),
            Some(suggestion),
        ))
    }
}

impl fmt::Display for CleanupPolicy {
    /// Prints the value the way it is written in a config: `delete`, `compact` or
    /// `compact,delete` (and an empty string for neither, which no parsed config holds).
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match (self.compact, self.delete) {
            (true, true) => "compact,delete",
            (true, false) => "compact",
            (false, true) => "delete",
            (false, false) => "",
        })
    }
}

/// A topic's `compression.type` (and the broker's default for every topic, also spelt
/// `compression.type`): the codec the leader stores the topic's batches with. Kafka's default is
/// `producer`.
///
/// Kafka's `BrokerCompressionType` values, matched exactly (letter case included, as Kafka's
/// `ValidString.in` does), with whitespace around them ignored: `producer` keeps each batch in
/// the codec its producer sent it with, `uncompressed` stores every batch uncompressed, and
/// `gzip`, `snappy`, `lz4` or `zstd` store every batch in that codec, the leader decompressing
/// and recompressing a batch that came in another one (Kafka's `LogValidator`). A topic writes
/// `uncompressed` where a producer writes `none`; kafkalab rejects `none` here with that hint.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum TopicCompression {
    /// `producer`: keep the producer's codec.
    #[default]
    Producer,
    /// `uncompressed` (as [`Compression::None`]), `gzip`, `snappy`, `lz4` or `zstd`: store
    /// every batch in this codec.
    Codec(Compression),
}

/// The values `compression.type` takes on a topic or broker, in Kafka's order of its docs.
const TOPIC_COMPRESSION_NAMES: [&str; 6] = ["producer", "uncompressed", "gzip", "snappy", "lz4", "zstd"];

impl TopicCompression {
    /// The value as written in a config: `producer`, `uncompressed`, `gzip`, `snappy`, `lz4` or
    /// `zstd`.
    pub fn name(self) -> &'static str {
        match self {
            TopicCompression::Producer => "producer",
            TopicCompression::Codec(Compression::None) => "uncompressed",
            TopicCompression::Codec(codec) => codec.name(),
        }
    }

    /// The codec the leader stores a batch with that its producer compressed with `sent`:
    /// `sent` itself under `producer`, the topic's codec otherwise (Kafka's
    /// `LogValidator.validateMessagesAndAssignOffsets` target codec).
    pub fn stored_codec(self, sent: Compression) -> Compression {
        match self {
            TopicCompression::Producer => sent,
            TopicCompression::Codec(codec) => codec,
        }
    }

    /// Parses one of Kafka's values (see [`TopicCompression`]). `key` is the key the value was
    /// given for (`compression.type` on a topic or a broker).
    fn parse(key: &str, raw: &str) -> Result<TopicCompression, ConfigError> {
        let value = raw.trim();
        let parsed = match value {
            "producer" => Some(TopicCompression::Producer),
            "uncompressed" => Some(TopicCompression::Codec(Compression::None)),
            "none" => None,
            other => Compression::parse(other).map(TopicCompression::Codec),
        };
        if let Some(parsed) = parsed {
            return Ok(parsed);
        }
        let suggestion = if value.eq_ignore_ascii_case("none") {
            "write \"uncompressed\" to store batches uncompressed (\"none\" is the producer's spelling), \
             or \"producer\" to keep the producer's codec"
                .to_string()
        } else if let Some(best) =
            closest(&value.to_ascii_lowercase(), &TOPIC_COMPRESSION_NAMES).filter(|_| !value.is_empty())
        {
            format!("did you mean \"{best}\"?")
        } else {
            "use \"producer\", Kafka's default, to keep the producer's codec".to_string()
        };
        Err(ConfigError::new(
            key,
            Some(raw),
            format!(
                "invalid value \"{raw}\" for \"{key}\": expected \"producer\", \"uncompressed\", \"gzip\", \
                 \"snappy\", \"lz4\" or \"zstd\""
            ),
            Some(suggestion),
        ))
    }
}

impl fmt::Display for TopicCompression {
    /// Prints [`TopicCompression::name`].
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.name())
    }
}

/// Broker settings, written in a scenario's `cluster.configs` and shared by every broker.
///
/// Each field is named after its Kafka key; the default, from Kafka 3.9, is given per field. The
/// broker's defaults for topics' logs are grouped in [`BrokerConfig::log`].
#[derive(Clone, Debug, PartialEq)]
pub struct BrokerConfig {
    /// `replica.lag.time.max.ms` (default 30000): a follower that has not caught up to the
    /// leader's log end within this many milliseconds is dropped from the ISR.
    pub replica_lag_time_max_ms: u64,
    /// `replica.fetch.wait.max.ms` (default 500): how long a follower's fetch may wait on the
    /// leader for new data, in milliseconds. Kafka requires it to be at most
    /// `replica.lag.time.max.ms`.
    pub replica_fetch_wait_max_ms: u64,
    /// `replica.fetch.backoff.ms` (default 1000): pause after a failed follower fetch, in
    /// milliseconds.
    pub replica_fetch_backoff_ms: u64,
    /// `broker.session.timeout.ms` (default 9000): the controller fences a broker that has not
    /// heartbeated for this many milliseconds (KRaft, KIP-631).
    pub broker_session_timeout_ms: u64,
    /// `broker.heartbeat.interval.ms` (default 2000): how often a broker heartbeats to the
    /// controller, in milliseconds (KRaft, KIP-631).
    pub broker_heartbeat_interval_ms: u64,
    /// `min.insync.replicas` (default 1): the broker-wide minimum ISR size for `acks=all`
    /// writes. Topics may override it (see [`TopicConfig`]).
    pub min_insync_replicas: i32,
    /// `offsets.topic.num.partitions` (default 50): partitions of `__consumer_offsets`, which
    /// decide each group's coordinator.
    pub offsets_topic_num_partitions: i32,
    /// `offsets.topic.replication.factor` (default 3): replication factor of
    /// `__consumer_offsets`.
    pub offsets_topic_replication_factor: i32,
    /// `group.initial.rebalance.delay.ms` (default 3000): how long the coordinator waits for more
    /// members before the first rebalance of an empty group, in milliseconds.
    pub group_initial_rebalance_delay_ms: u64,
    /// `group.min.session.timeout.ms` (default 6000): the smallest consumer
    /// `session.timeout.ms` the coordinator accepts, in milliseconds.
    pub group_min_session_timeout_ms: u64,
    /// `group.max.session.timeout.ms` (default 1800000): the largest consumer
    /// `session.timeout.ms` the coordinator accepts, in milliseconds.
    pub group_max_session_timeout_ms: u64,
    /// The log settings of every topic that does not override them, from the broker spellings
    /// of the log keys (`log.segment.bytes`, `log.retention.ms`, `compression.type`, ..., see
    /// [`LogConfig`]).
    /// A topic's own keys apply on top through [`LogConfig::with_topic_overrides`].
    pub log: LogConfig,
    /// `log.retention.check.interval.ms` (default 300000, that is 5 minutes): how often the
    /// broker deletes segments past `retention.ms` or `retention.bytes`, in milliseconds.
    /// At least 1.
    pub log_retention_check_interval_ms: u64,
    /// `log.cleaner.enable` (default `true`): whether the log cleaner runs, so that topics with
    /// `cleanup.policy` `compact` get compacted.
    pub log_cleaner_enable: bool,
    /// `log.cleaner.backoff.ms` (default 15000): how long the log cleaner sleeps when no log
    /// needs cleaning, in milliseconds. At least 0, as in Kafka.
    pub log_cleaner_backoff_ms: u64,
    /// `log.flush.scheduler.interval.ms` (default 9223372036854775807, Java's `Long.MAX_VALUE`):
    /// how often the broker flushes the logs whose last flush is older than their `flush.ms`, in
    /// milliseconds. With Kafka's default this check never comes round, so `flush.ms` has no
    /// effect unless this is set. It is also the default of `log.flush.interval.ms` (see
    /// [`LogConfig::flush_ms`]). At least 1: Kafka accepts any number, but its scheduler runs a
    /// task with a period of 0 or less only once, which kafkalab does not model.
    pub log_flush_scheduler_interval_ms: u64,
    /// `log.flush.offset.checkpoint.interval.ms` (default 60000): how often the broker writes
    /// each log directory's recovery-point checkpoint (the offset up to which each log is
    /// flushed), in milliseconds. From 0 to 2147483647, as in Kafka, where 0 makes the scheduler
    /// write it only once.
    pub log_flush_offset_checkpoint_interval_ms: u64,
    /// `log.flush.start.offset.checkpoint.interval.ms` (default 60000): how often the broker
    /// writes each log directory's log-start-offset checkpoint, in milliseconds. From 0 to
    /// 2147483647, as in Kafka, where 0 makes the scheduler write it only once.
    pub log_flush_start_offset_checkpoint_interval_ms: u64,
    /// `replica.high.watermark.checkpoint.interval.ms` (default 5000): how often the broker
    /// writes each log directory's high-watermark checkpoint, in milliseconds. At least 1 (Kafka
    /// has no lower bound; see [`BrokerConfig::log_flush_scheduler_interval_ms`]).
    pub replica_high_watermark_checkpoint_interval_ms: u64,
    /// `controller.quorum.election.timeout.ms` (default 1000): how long a candidate of the
    /// KRaft controller quorum waits for a majority of votes before it starts a new election, in
    /// milliseconds. Kafka draws each election timeout at random between this value and twice
    /// it, so that candidates rarely collide (KIP-595, `QuorumConfig`). From 1 to 2147483647:
    /// Kafka does not check the range; the bounds are kafkalab's.
    pub controller_quorum_election_timeout_ms: u64,
    /// `controller.quorum.fetch.timeout.ms` (default 2000): a voter that has not fetched
    /// successfully from the quorum leader for this many milliseconds becomes a candidate (with
    /// Pre-Vote, KIP-996, first a prospective candidate) and starts an election; a leader that
    /// has not been fetched from by a majority of voters for 1.5 times this long resigns
    /// (KIP-595, `QuorumConfig`). From 1 to 2147483647: Kafka does not check the range; the
    /// bounds are kafkalab's.
    pub controller_quorum_fetch_timeout_ms: u64,
    /// `controller.quorum.election.backoff.max.ms` (default 1000): the longest a candidate whose
    /// election failed waits before starting the next one, in milliseconds. The wait grows
    /// exponentially, at random, with each failed election and is capped here, so that elections
    /// do not gridlock (KIP-595, `QuorumConfig`). From 1 to 2147483647: Kafka does not check the
    /// range; the bounds are kafkalab's.
    pub controller_quorum_election_backoff_max_ms: u64,
    /// `controller.quorum.request.timeout.ms` (default 2000): how long a quorum member waits for
    /// the response to one of its Raft requests (Vote, BeginQuorumEpoch, Fetch, ...) before it
    /// gives up on it, in milliseconds (KIP-595, `QuorumConfig`). From 1 to 2147483647: Kafka
    /// does not check the range; the bounds are kafkalab's.
    pub controller_quorum_request_timeout_ms: u64,
    /// `controller.quorum.retry.backoff.ms` (default 20): pause before a quorum member resends a
    /// failed Raft request, in milliseconds (KIP-595, `QuorumConfig`). From 0 to 2147483647:
    /// Kafka does not check the range; the bounds are kafkalab's.
    pub controller_quorum_retry_backoff_ms: u64,
    /// `unclean.leader.election.enable` (default `false` since Kafka 0.11, KIP-106): whether the
    /// controller may, when no member of a partition's ISR is alive, elect a replica outside the
    /// ISR as leader, losing the records that replica lacks. Topics may override it (see
    /// [`TopicConfig::unclean_leader_election_enable`] and [`effective_unclean_leader_election`]).
    pub unclean_leader_election_enable: bool,
    /// `auto.leader.rebalance.enable` (default `true`): whether the controller moves the
    /// leadership of each partition back to its preferred replica (the first of its replica
    /// list) once that replica is in sync again, checking every
    /// [`BrokerConfig::leader_imbalance_check_interval_seconds`] (Kafka's `ReplicationConfigs`).
    pub auto_leader_rebalance_enable: bool,
    /// `leader.imbalance.check.interval.seconds` (default 300, that is 5 minutes): how often the
    /// controller looks for partitions not led by their preferred replica when
    /// `auto.leader.rebalance.enable` is on, in **seconds**, Kafka's unit for this key (not
    /// milliseconds). At least 1, as in Kafka.
    pub leader_imbalance_check_interval_seconds: u64,
    /// `leader.imbalance.per.broker.percentage` (default 10): the share of a broker's preferred
    /// partitions, in percent, that may be led by another broker before the controller moves
    /// their leadership back (Kafka's ZooKeeper-mode `KafkaController`; Kafka 3.9's KRaft
    /// controller does not read it). From 0 to 100: Kafka does not check the range; the bounds
    /// are kafkalab's.
    pub leader_imbalance_per_broker_percentage: u32,
    /// `max.incremental.fetch.session.cache.slots` (default 1000): how many incremental fetch
    /// sessions (KIP-227) a leader keeps; with 0 every fetch is answered in full. From 0 to
    /// 2147483647, as in Kafka. See [`crate::fetch_session`].
    pub max_incremental_fetch_session_cache_slots: i32,
}

impl Default for BrokerConfig {
    fn default() -> Self {
        BrokerConfig {
            replica_lag_time_max_ms: 30_000,
            replica_fetch_wait_max_ms: 500,
            replica_fetch_backoff_ms: 1_000,
            broker_session_timeout_ms: 9_000,
            broker_heartbeat_interval_ms: 2_000,
            min_insync_replicas: 1,
            offsets_topic_num_partitions: 50,
            offsets_topic_replication_factor: 3,
            group_initial_rebalance_delay_ms: 3_000,
            group_min_session_timeout_ms: 6_000,
            group_max_session_timeout_ms: 1_800_000,
            log: LogConfig::default(),
            log_retention_check_interval_ms: 300_000,
            log_cleaner_enable: true,
            log_cleaner_backoff_ms: 15_000,
            log_flush_scheduler_interval_ms: KAFKA_LONG_MAX,
            log_flush_offset_checkpoint_interval_ms: 60_000,
            log_flush_start_offset_checkpoint_interval_ms: 60_000,
            replica_high_watermark_checkpoint_interval_ms: 5_000,
            controller_quorum_election_timeout_ms: 1_000,
            controller_quorum_fetch_timeout_ms: 2_000,
            controller_quorum_election_backoff_max_ms: 1_000,
            controller_quorum_request_timeout_ms: 2_000,
            controller_quorum_retry_backoff_ms: 20,
            unclean_leader_election_enable: false,
            auto_leader_rebalance_enable: true,
            leader_imbalance_check_interval_seconds: 300,
            leader_imbalance_per_broker_percentage: 10,
            max_incremental_fetch_session_cache_slots: 1_000,
        }
    }
}

impl BrokerConfig {
    /// The keys a scenario may set in `cluster.configs`.
    pub const KEYS: &'static [&'static str] = &[
        "auto.leader.rebalance.enable",
        "broker.heartbeat.interval.ms",
        "broker.session.timeout.ms",
        "compression.type",
        "controller.quorum.election.backoff.max.ms",
        "controller.quorum.election.timeout.ms",
        "controller.quorum.fetch.timeout.ms",
        "controller.quorum.request.timeout.ms",
        "controller.quorum.retry.backoff.ms",
        "group.initial.rebalance.delay.ms",
        "group.max.session.timeout.ms",
        "group.min.session.timeout.ms",
        "leader.imbalance.check.interval.seconds",
        "leader.imbalance.per.broker.percentage",
        "log.cleaner.backoff.ms",
        "log.cleaner.delete.retention.ms",
        "log.cleaner.enable",
        "log.cleaner.max.compaction.lag.ms",
        "log.cleaner.min.cleanable.ratio",
        "log.cleaner.min.compaction.lag.ms",
        "log.cleanup.policy",
        "log.flush.interval.messages",
        "log.flush.interval.ms",
        "log.flush.offset.checkpoint.interval.ms",
        "log.flush.scheduler.interval.ms",
        "log.flush.start.offset.checkpoint.interval.ms",
        "log.index.interval.bytes",
        "log.index.size.max.bytes",
        "log.retention.bytes",
        "log.retention.check.interval.ms",
        "log.retention.ms",
        "log.roll.ms",
        "log.segment.bytes",
        "max.incremental.fetch.session.cache.slots",
        "message.max.bytes",
        "min.insync.replicas",
        "offsets.topic.num.partitions",
        "offsets.topic.replication.factor",
        "replica.fetch.backoff.ms",
        "replica.fetch.wait.max.ms",
        "replica.high.watermark.checkpoint.interval.ms",
        "replica.lag.time.max.ms",
        "unclean.leader.election.enable",
    ];

    /// Parses broker configs from Kafka keys, using Kafka's default for every key not given.
    ///
    /// Rejects unknown keys, keys of another role, malformed or out-of-range values,
    /// `replica.fetch.wait.max.ms` above `replica.lag.time.max.ms` (as `KafkaConfig` does),
    /// `group.min.session.timeout.ms` above `group.max.session.timeout.ms` (a kafkalab check:
    /// no consumer session timeout could then be accepted), and the log errors listed at
    /// [`LogConfig::with_topic_overrides`], under the keys' broker spellings.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        check_keys(map, Role::Broker)?;
        let d = BrokerConfig::default();
        let log_flush_scheduler_interval_ms =
            millis(map, "log.flush.scheduler.interval.ms", d.log_flush_scheduler_interval_ms, 1, KAFKA_LONG_MAX)?;
        // KafkaConfig.logFlushIntervalMs: without `log.flush.interval.ms`, logs are flushed as
        // often as the flush scheduler looks at them.
        let log_base = LogConfig { flush_ms: log_flush_scheduler_interval_ms, ..LogConfig::default() };
        let config = BrokerConfig {
            replica_lag_time_max_ms: millis(
                map,
                "replica.lag.time.max.ms",
                d.replica_lag_time_max_ms,
                1,
                KAFKA_LONG_MAX,
            )?,
            replica_fetch_wait_max_ms: millis(
                map,
                "replica.fetch.wait.max.ms",
                d.replica_fetch_wait_max_ms,
                0,
                KAFKA_INT_MAX,
            )?,
            replica_fetch_backoff_ms: millis(
                map,
                "replica.fetch.backoff.ms",
                d.replica_fetch_backoff_ms,
                0,
                KAFKA_INT_MAX,
            )?,
            broker_session_timeout_ms: millis(
                map,
                "broker.session.timeout.ms",
                d.broker_session_timeout_ms,
                1,
                KAFKA_INT_MAX,
            )?,
            // A zero period would make the heartbeat timer fire forever at one instant.
            broker_heartbeat_interval_ms: millis(
                map,
                "broker.heartbeat.interval.ms",
                d.broker_heartbeat_interval_ms,
                1,
                KAFKA_INT_MAX,
            )?,
            min_insync_replicas: int(map, "min.insync.replicas", d.min_insync_replicas, 1, KAFKA_INT_MAX)?,
            offsets_topic_num_partitions: int(
                map,
                "offsets.topic.num.partitions",
                d.offsets_topic_num_partitions,
                1,
                KAFKA_INT_MAX,
            )?,
            offsets_topic_replication_factor: int(
                map,
                "offsets.topic.replication.factor",
                d.offsets_topic_replication_factor,
                1,
                KAFKA_SHORT_MAX,
            )?,
            group_initial_rebalance_delay_ms: millis(
                map,
                "group.initial.rebalance.delay.ms",
                d.group_initial_rebalance_delay_ms,
                0,
                KAFKA_INT_MAX,
            )?,
            group_min_session_timeout_ms: millis(
                map,
                "group.min.session.timeout.ms",
                d.group_min_session_timeout_ms,
                0,
                KAFKA_INT_MAX,
            )?,
            group_max_session_timeout_ms: millis(
                map,
                "group.max.session.timeout.ms",
                d.group_max_session_timeout_ms,
                0,
                KAFKA_INT_MAX,
            )?,
            log: LogConfig::read(map, &log_base, Role::Broker)?,
            log_retention_check_interval_ms: millis(
                map,
                "log.retention.check.interval.ms",
                d.log_retention_check_interval_ms,
                1,
                KAFKA_LONG_MAX,
            )?,
            log_cleaner_enable: match raw(map, "log.cleaner.enable") {
                Some(value) => boolean("log.cleaner.enable", value)?,
                None => d.log_cleaner_enable,
            },
            log_cleaner_backoff_ms: millis(map, "log.cleaner.backoff.ms", d.log_cleaner_backoff_ms, 0, KAFKA_LONG_MAX)?,
            log_flush_scheduler_interval_ms,
            log_flush_offset_checkpoint_interval_ms: millis(
                map,
                "log.flush.offset.checkpoint.interval.ms",
                d.log_flush_offset_checkpoint_interval_ms,
                0,
                KAFKA_INT_MAX,
            )?,
            log_flush_start_offset_checkpoint_interval_ms: millis(
                map,
                "log.flush.start.offset.checkpoint.interval.ms",
                d.log_flush_start_offset_checkpoint_interval_ms,
                0,
                KAFKA_INT_MAX,
            )?,
            replica_high_watermark_checkpoint_interval_ms: millis(
                map,
                "replica.high.watermark.checkpoint.interval.ms",
                d.replica_high_watermark_checkpoint_interval_ms,
                1,
                KAFKA_LONG_MAX,
            )?,
            controller_quorum_election_timeout_ms: millis(
                map,
                "controller.quorum.election.timeout.ms",
                d.controller_quorum_election_timeout_ms,
                1,
                KAFKA_INT_MAX,
            )?,
            controller_quorum_fetch_timeout_ms: millis(
                map,
                "controller.quorum.fetch.timeout.ms",
                d.controller_quorum_fetch_timeout_ms,
                1,
                KAFKA_INT_MAX,
            )?,
            controller_quorum_election_backoff_max_ms: millis(
                map,
                "controller.quorum.election.backoff.max.ms",
                d.controller_quorum_election_backoff_max_ms,
                1,
                KAFKA_INT_MAX,
            )?,
            controller_quorum_request_timeout_ms: millis(
                map,
                "controller.quorum.request.timeout.ms",
                d.controller_quorum_request_timeout_ms,
                1,
                KAFKA_INT_MAX,
            )?,
            controller_quorum_retry_backoff_ms: millis(
                map,
                "controller.quorum.retry.backoff.ms",
                d.controller_quorum_retry_backoff_ms,
                0,
                KAFKA_INT_MAX,
            )?,
            unclean_leader_election_enable: match raw(map, "unclean.leader.election.enable") {
                Some(value) => boolean("unclean.leader.election.enable", value)?,
                None => d.unclean_leader_election_enable,
            },
            auto_leader_rebalance_enable: match raw(map, "auto.leader.rebalance.enable") {
                Some(value) => boolean("auto.leader.rebalance.enable", value)?,
                None => d.auto_leader_rebalance_enable,
            },
            leader_imbalance_check_interval_seconds: count(
                map,
                "leader.imbalance.check.interval.seconds",
                d.leader_imbalance_check_interval_seconds,
                1,
                KAFKA_LONG_MAX,
            )?,
            leader_imbalance_per_broker_percentage: count(
                map,
                "leader.imbalance.per.broker.percentage",
                u64::from(d.leader_imbalance_per_broker_percentage),
                0,
                100,
            )? as u32,
            max_incremental_fetch_session_cache_slots: int(
                map,
                "max.incremental.fetch.session.cache.slots",
                d.max_incremental_fetch_session_cache_slots,
                0,
                KAFKA_INT_MAX,
            )?,
        };
        // KafkaConfig.validateValues: a follower fetch that may wait longer than the lag limit
        // would make the ISR shrink and grow all the time on a quiet partition.
        if config.replica_fetch_wait_max_ms > config.replica_lag_time_max_ms {
            let key = "replica.fetch.wait.max.ms";
            return Err(ConfigError::new(
                key,
                raw(map, key),
                format!(
                    "\"replica.fetch.wait.max.ms\" ({} ms) must be at most \
                     \"replica.lag.time.max.ms\" ({} ms)",
                    config.replica_fetch_wait_max_ms, config.replica_lag_time_max_ms
                ),
                Some(format!("lower \"replica.fetch.wait.max.ms\" to {} or less", config.replica_lag_time_max_ms)),
            ));
        }
        if config.group_min_session_timeout_ms > config.group_max_session_timeout_ms {
            let key = "group.min.session.timeout.ms";
            return Err(ConfigError::new(
                key,
                raw(map, key),
                format!(
                    "\"group.min.session.timeout.ms\" ({} ms) is above \
                     \"group.max.session.timeout.ms\" ({} ms), so no consumer could join a group",
                    config.group_min_session_timeout_ms, config.group_max_session_timeout_ms
                ),
                Some("make the minimum no larger than the maximum".to_string()),
            ));
        }
        Ok(config)
    }
}

/// Per-topic overrides of broker settings, written in a scenario's `topics[i].configs`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TopicConfig {
    /// `min.insync.replicas` for this topic, or `None` to use the broker's
    /// [`BrokerConfig::min_insync_replicas`]. At least 1.
    pub min_insync_replicas: Option<i32>,
    /// `unclean.leader.election.enable` for this topic, or `None` to use the broker's
    /// [`BrokerConfig::unclean_leader_election_enable`] (see
    /// [`effective_unclean_leader_election`]).
    pub unclean_leader_election_enable: Option<bool>,
    /// The topic's log keys (`retention.ms`, `cleanup.policy`, ..., see [`LogConfig`]) exactly
    /// as given, with every other key left out; empty when the topic keeps the broker's log
    /// settings. [`TopicConfig::from_map`] has checked each value, so
    /// `broker.log.with_topic_overrides(&topic.log_overrides)` can only fail on a conflict with
    /// the broker's own log settings (a `min.compaction.lag.ms` above the broker's
    /// `log.cleaner.max.compaction.lag.ms`, or the other way round).
    pub log_overrides: BTreeMap<String, String>,
}

impl TopicConfig {
    /// The keys a scenario may set in a topic's `configs`.
    pub const KEYS: &'static [&'static str] = &[
        "cleanup.policy",
        "compression.type",
        "delete.retention.ms",
        "flush.messages",
        "flush.ms",
        "index.interval.bytes",
        "max.compaction.lag.ms",
        "max.message.bytes",
        "min.cleanable.dirty.ratio",
        "min.compaction.lag.ms",
        "min.insync.replicas",
        "retention.bytes",
        "retention.ms",
        "segment.bytes",
        "segment.index.bytes",
        "segment.ms",
        "unclean.leader.election.enable",
    ];

    /// Parses topic configs from Kafka keys; a key not given means "use the broker's value".
    ///
    /// Rejects unknown keys, keys of another role (with the topic spelling suggested for a
    /// broker's `log.*` key), malformed or out-of-range values, and the log errors listed at
    /// [`LogConfig::with_topic_overrides`], checked against Kafka's default log settings.
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        check_keys(map, Role::Topic)?;
        let min_insync_replicas = match raw(map, "min.insync.replicas") {
            None => None,
            Some(_) => Some(int(map, "min.insync.replicas", 1, 1, KAFKA_INT_MAX)?),
        };
        let unclean_leader_election_enable = match raw(map, "unclean.leader.election.enable") {
            None => None,
            Some(value) => Some(boolean("unclean.leader.election.enable", value)?),
        };
        // The broker's own log settings are not known here, so the values are checked on top of
        // Kafka's defaults; they are applied to the broker's when the topic's logs are created.
        LogConfig::default().with_topic_overrides(map)?;
        let log_overrides = map
            .iter()
            .filter(|(key, _)| LOG_SYNONYMS.iter().any(|(topic_key, _)| topic_key == key))
            .map(|(key, value)| (key.clone(), value.clone()))
            .collect();
        Ok(TopicConfig { min_insync_replicas, unclean_leader_election_enable, log_overrides })
    }
}

/// The minimum ISR size an `acks=all` write needs on a partition: the topic's
/// `min.insync.replicas` (or the broker's when the topic does not override it), capped at the
/// partition's replication factor, as Kafka's `Partition.effectiveMinIsr` computes it.
///
/// For example, with `min.insync.replicas=3` on a topic of replication factor 2 the answer is 2.
pub fn effective_min_insync_replicas(broker: &BrokerConfig, topic: &TopicConfig, replication_factor: i32) -> i32 {
    topic.min_insync_replicas.unwrap_or(broker.min_insync_replicas).min(replication_factor)
}

/// Whether a partition of this topic may elect a leader outside its ISR when no ISR member is
/// alive: the topic's `unclean.leader.election.enable`, or the broker's when the topic does not
/// override it.
///
/// For example, with the broker's default (`false`) and `unclean.leader.election.enable=true` on
/// the topic the answer is `true`.
pub fn effective_unclean_leader_election(broker: &BrokerConfig, topic: &TopicConfig) -> bool {
    topic.unclean_leader_election_enable.unwrap_or(broker.unclean_leader_election_enable)
}

/// The log keys kafkalab models, as pairs of a topic key and its broker spelling, which sets the
/// default for every topic (Kafka's `ServerTopicConfigSynonyms`), sorted by topic key.
const LOG_SYNONYMS: &[(&str, &str)] = &[
    ("cleanup.policy", "log.cleanup.policy"),
    // The one log key spelt alike for brokers and topics.
    ("compression.type", "compression.type"),
    ("delete.retention.ms", "log.cleaner.delete.retention.ms"),
    ("flush.messages", "log.flush.interval.messages"),
    ("flush.ms", "log.flush.interval.ms"),
    ("index.interval.bytes", "log.index.interval.bytes"),
    ("max.compaction.lag.ms", "log.cleaner.max.compaction.lag.ms"),
    ("max.message.bytes", "message.max.bytes"),
    ("min.cleanable.dirty.ratio", "log.cleaner.min.cleanable.ratio"),
    ("min.compaction.lag.ms", "log.cleaner.min.compaction.lag.ms"),
    ("retention.bytes", "log.retention.bytes"),
    ("retention.ms", "log.retention.ms"),
    ("segment.bytes", "log.segment.bytes"),
    ("segment.index.bytes", "log.index.size.max.bytes"),
    ("segment.ms", "log.roll.ms"),
];

/// Kafka's coarser broker spellings of log keys, which kafkalab does not accept: each with the
/// millisecond key to use instead and the number of milliseconds in one of its units.
const COARSE_LOG_KEYS: &[(&str, &str, i64)] = &[
    ("log.retention.hours", "log.retention.ms", 3_600_000),
    ("log.retention.minutes", "log.retention.ms", 60_000),
    ("log.roll.hours", "log.roll.ms", 3_600_000),
];

/// Smallest `segment.bytes` Kafka 3.9 accepts: the overhead of one record
/// (`LegacyRecord.RECORD_OVERHEAD_V0`).
const MIN_SEGMENT_BYTES: u64 = 14;

/// Smallest `segment.index.bytes` kafkalab accepts: room for one 8-byte offset index entry
/// (Kafka accepts 4).
const MIN_SEGMENT_INDEX_BYTES: u64 = 8;

/// The storage settings of a topic's logs: when segments roll, how densely they are indexed,
/// what retention deletes, how the log cleaner compacts, and when logs are flushed to disk.
///
/// Follows Kafka's `LogConfig` (apache/kafka
/// `storage/src/main/java/org/apache/kafka/storage/internals/log/LogConfig.java`). Every setting
/// has two spellings (Kafka's `ServerTopicConfigSynonyms`): a broker key in the cluster's configs,
/// such as `log.retention.ms`, sets the default for every topic, read into
/// [`BrokerConfig::log`]; the topic key in a topic's configs, such as `retention.ms`, overrides it
/// for that topic through [`LogConfig::with_topic_overrides`]. Kafka's coarser broker keys
/// (`log.retention.hours`, `log.retention.minutes`, `log.roll.hours`) are not accepted, so the
/// defaults below are Kafka's effective ones. Each field gives the topic key, the broker key in
/// parentheses and the default, from Kafka 3.9. `compression.type` is the one key spelt alike
/// for both.
#[derive(Clone, Debug, PartialEq)]
pub struct LogConfig {
    /// `segment.bytes` (broker `log.segment.bytes`, default 1073741824, that is 1 GiB): the
    /// active segment is rolled when the next batch would take it past this many bytes. From 14
    /// (Kafka 3.9's lower bound, the overhead of one record) to 2147483647.
    pub segment_bytes: u64,
    /// `segment.ms` (broker `log.roll.ms`, default 604800000, that is 7 days): the active
    /// segment is rolled, even if not full, once it is older than this many milliseconds (its age
    /// counts from its first record's timestamp). At least 1.
    pub segment_ms: u64,
    /// `segment.index.bytes` (broker `log.index.size.max.bytes`, default 10485760, that is 10
    /// MiB): the largest offset index (and time index) of one segment, in bytes; the segment is
    /// rolled when its index is full. From 8 (room for one 8-byte offset index entry; Kafka
    /// accepts 4) to 2147483647.
    pub segment_index_bytes: u64,
    /// `index.interval.bytes` (broker `log.index.interval.bytes`, default 4096): how many bytes
    /// of batches are appended between two offset index entries; 0 indexes every batch. From 0
    /// to 2147483647.
    pub index_interval_bytes: u64,
    /// `retention.ms` (broker `log.retention.ms`, default 604800000, that is 7 days): when
    /// `cleanup.policy` includes `delete`, a segment is deleted once its newest record is older
    /// than this many milliseconds. -1 means no time limit; values below -1 are rejected, as
    /// Kafka's topic validator `atLeast(-1)` does (its broker reads any negative value as -1).
    pub retention_ms: i64,
    /// `retention.bytes` (broker `log.retention.bytes`, default -1): when `cleanup.policy`
    /// includes `delete`, the oldest segments of a partition's log are deleted while the log is
    /// larger than this many bytes. -1 means no size limit; kafkalab rejects values below -1,
    /// which Kafka reads as -1.
    pub retention_bytes: i64,
    /// `cleanup.policy` (broker `log.cleanup.policy`, default `delete`): whether retention
    /// deletes old segments, the log cleaner compacts them, or both.
    pub cleanup_policy: CleanupPolicy,
    /// `compression.type` (broker `compression.type`, default `producer`): the codec the leader
    /// stores each batch with, recompressing a batch its producer compressed otherwise (see
    /// [`TopicCompression`]).
    pub compression_type: TopicCompression,
    /// `min.cleanable.dirty.ratio` (broker `log.cleaner.min.cleanable.ratio`, default 0.5): the
    /// cleaner compacts a log only once the part it has not compacted yet (the "dirty" part) is
    /// at least this fraction of the log. From 0 to 1.
    pub min_cleanable_dirty_ratio: f64,
    /// `min.compaction.lag.ms` (broker `log.cleaner.min.compaction.lag.ms`, default 0): the
    /// cleaner leaves a record uncompacted for at least this many milliseconds after it was
    /// written. At least 0 and at most `max_compaction_lag_ms`.
    pub min_compaction_lag_ms: u64,
    /// `max.compaction.lag.ms` (broker `log.cleaner.max.compaction.lag.ms`, default
    /// 9223372036854775807, Java's `Long.MAX_VALUE`, that is no limit): a log whose oldest
    /// uncompacted record is older than this many milliseconds is compacted whatever its dirty
    /// ratio. At least 1 and at least `min_compaction_lag_ms`.
    pub max_compaction_lag_ms: u64,
    /// `delete.retention.ms` (broker `log.cleaner.delete.retention.ms`, default 86400000, that
    /// is 1 day): how long the cleaner keeps a tombstone (a record with a null value) after
    /// compacting the segment that holds it, in milliseconds, so slow consumers still see the
    /// deletion. At least 0.
    pub delete_retention_ms: u64,
    /// `flush.messages` (broker `log.flush.interval.messages`, default 9223372036854775807, that
    /// is never): the log is flushed (fsynced) once this many records have been appended since
    /// its last flush. At least 1.
    pub flush_messages: u64,
    /// `flush.ms` (broker `log.flush.interval.ms`, default 9223372036854775807, that is never):
    /// the log is flushed once its last flush is older than this many milliseconds, as checked
    /// every [`BrokerConfig::log_flush_scheduler_interval_ms`]. At least 0. When
    /// `log.flush.interval.ms` is not set, the broker's default is
    /// `log.flush.scheduler.interval.ms`, as in Kafka's `KafkaConfig.logFlushIntervalMs`.
    pub flush_ms: u64,
    /// `max.message.bytes` (broker `message.max.bytes`, default 1048588, that is 1 MiB plus
    /// Kafka's 12-byte log overhead): the largest record batch a leader accepts, in bytes as
    /// stored (after compression). A larger batch is refused with `MESSAGE_TOO_LARGE` (10) and
    /// nothing is appended (Kafka's `UnifiedLog.analyzeAndValidateRecords`). The batch is
    /// measured in Kafka's format v2 ([`crate::record::RecordBatch::size_bytes`]), as Kafka
    /// measures it. From 0 to 2147483647, as in Kafka.
    pub max_message_bytes: u64,
}

impl Default for LogConfig {
    fn default() -> Self {
        LogConfig {
            segment_bytes: 1_073_741_824,
            segment_ms: 604_800_000,
            segment_index_bytes: 10_485_760,
            index_interval_bytes: 4_096,
            retention_ms: 604_800_000,
            retention_bytes: -1,
            cleanup_policy: CleanupPolicy { delete: true, compact: false },
            compression_type: TopicCompression::Producer,
            min_cleanable_dirty_ratio: 0.5,
            min_compaction_lag_ms: 0,
            max_compaction_lag_ms: KAFKA_LONG_MAX,
            delete_retention_ms: 86_400_000,
            flush_messages: KAFKA_LONG_MAX,
            flush_ms: KAFKA_LONG_MAX,
            max_message_bytes: 1_048_588,
        }
    }
}

impl LogConfig {
    /// The log settings of a topic: `self` (the broker's, usually [`BrokerConfig::log`]) with
    /// the topic keys found in `topic` on top, as Kafka's `LogConfig.fromProps` merges them.
    ///
    /// Only the topic spellings of the log keys are read (`retention.ms`, not
    /// `log.retention.ms`); every other key, such as `min.insync.replicas`, is ignored. Errors: a
    /// malformed or out-of-range value, a `cleanup.policy` other than `delete`, `compact` or both,
    /// and a `min.compaction.lag.ms` above `max.compaction.lag.ms` once merged (Kafka's
    /// `LogConfig.validateValues`), reported on whichever of the two keys `topic` sets.
    pub fn with_topic_overrides(&self, topic: &BTreeMap<String, String>) -> Result<LogConfig, ConfigError> {
        LogConfig::read(topic, self, Role::Topic)
    }

    /// Whether the log cleaner compacts this log (`cleanup.policy` includes `compact`).
    pub fn is_compacted(&self) -> bool {
        self.cleanup_policy.compact
    }

    /// Whether retention deletes this log's old segments (`cleanup.policy` includes `delete`).
    pub fn deletes(&self) -> bool {
        self.cleanup_policy.delete
    }

    /// Reads the log keys from `map` in `role`'s spelling (the `log.*` keys for
    /// [`Role::Broker`], the topic keys otherwise), using `base` for every key not set.
    fn read(map: &BTreeMap<String, String>, base: &LogConfig, role: Role) -> Result<LogConfig, ConfigError> {
        let key = |topic_key: &'static str| match role {
            Role::Broker => broker_log_key(topic_key),
            _ => topic_key,
        };
        let cleanup_policy = match raw(map, key("cleanup.policy")) {
            Some(value) => CleanupPolicy::parse(key("cleanup.policy"), value)?,
            None => base.cleanup_policy,
        };
        let compression_type = match raw(map, key("compression.type")) {
            Some(value) => TopicCompression::parse(key("compression.type"), value)?,
            None => base.compression_type,
        };
        let config = LogConfig {
            segment_bytes: bytes(map, key("segment.bytes"), base.segment_bytes, MIN_SEGMENT_BYTES, KAFKA_INT_MAX)?,
            segment_ms: millis(map, key("segment.ms"), base.segment_ms, 1, KAFKA_LONG_MAX)?,
            segment_index_bytes: bytes(
                map,
                key("segment.index.bytes"),
                base.segment_index_bytes,
                MIN_SEGMENT_INDEX_BYTES,
                KAFKA_INT_MAX,
            )?,
            index_interval_bytes: bytes(map, key("index.interval.bytes"), base.index_interval_bytes, 0, KAFKA_INT_MAX)?,
            retention_ms: limit(map, key("retention.ms"), base.retention_ms, Unit::Millis)?,
            retention_bytes: limit(map, key("retention.bytes"), base.retention_bytes, Unit::Bytes)?,
            cleanup_policy,
            compression_type,
            min_cleanable_dirty_ratio: ratio(map, key("min.cleanable.dirty.ratio"), base.min_cleanable_dirty_ratio)?,
            min_compaction_lag_ms: millis(
                map,
                key("min.compaction.lag.ms"),
                base.min_compaction_lag_ms,
                0,
                KAFKA_LONG_MAX,
            )?,
            max_compaction_lag_ms: millis(
                map,
                key("max.compaction.lag.ms"),
                base.max_compaction_lag_ms,
                1,
                KAFKA_LONG_MAX,
            )?,
            delete_retention_ms: millis(map, key("delete.retention.ms"), base.delete_retention_ms, 0, KAFKA_LONG_MAX)?,
            flush_messages: count(map, key("flush.messages"), base.flush_messages, 1, KAFKA_LONG_MAX)?,
            flush_ms: millis(map, key("flush.ms"), base.flush_ms, 0, KAFKA_LONG_MAX)?,
            max_message_bytes: bytes(map, key("max.message.bytes"), base.max_message_bytes, 0, KAFKA_INT_MAX)?,
        };
        // LogConfig.validateValues: the least time a record stays uncompacted cannot exceed the
        // most time it may stay so.
        if config.min_compaction_lag_ms > config.max_compaction_lag_ms {
            let (min_key, max_key) = (key("min.compaction.lag.ms"), key("max.compaction.lag.ms"));
            let (min, max) = (config.min_compaction_lag_ms, config.max_compaction_lag_ms);
            let (at, suggestion) = if raw(map, min_key).is_some() || raw(map, max_key).is_none() {
                (min_key, format!("lower \"{min_key}\" to {max} or less"))
            } else {
                (max_key, format!("raise \"{max_key}\" to {min} or more"))
            };
            return Err(ConfigError::new(
                at,
                raw(map, at),
                format!("\"{min_key}\" ({min} ms) must be at most \"{max_key}\" ({max} ms)"),
                Some(suggestion),
            ));
        }
        Ok(config)
    }
}

/// The broker spelling of a topic log key, such as `log.retention.ms` for `retention.ms`.
fn broker_log_key(topic_key: &'static str) -> &'static str {
    LOG_SYNONYMS.iter().find(|(topic, _)| *topic == topic_key).map_or(topic_key, |(_, broker)| broker)
}

/// Settings of one producer, written in a scenario's `Producer(configs: {...})`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerConfig {
    /// `acks` (default `all` since Kafka 3.0, KIP-679).
    pub acks: Acks,
    /// The **effective** `enable.idempotence` (default `true` since Kafka 3.0, KIP-679).
    ///
    /// Follows Kafka's `ProducerConfig.postProcessAndValidateIdempotenceConfigs`: when the key is
    /// not set, idempotence quietly turns off for `acks` other than `all` or for `retries=0`;
    /// when it is explicitly `"true"`, those combinations are errors.
    pub enable_idempotence: bool,
    /// `linger.ms` (default 0 in Kafka 3.x): how long to wait for more records before sending a
    /// batch, in milliseconds.
    pub linger_ms: u64,
    /// `batch.size` (default 16384): the largest batch per partition, in bytes.
    pub batch_size: usize,
    /// `retries` (default 2147483647): how many times a failed batch is resent, bounded in
    /// practice by `delivery.timeout.ms`.
    pub retries: u32,
    /// `retry.backoff.ms` (default 100): pause before resending a failed batch, in milliseconds.
    pub retry_backoff_ms: u64,
    /// `retry.backoff.max.ms` (default 1000): the backoff doubles from `retry.backoff.ms` on
    /// each retry of a batch up to this bound, in milliseconds (KIP-580, Kafka 3.7).
    pub retry_backoff_max_ms: u64,
    /// `request.timeout.ms` (default 30000): how long to wait for a broker's answer, in
    /// milliseconds.
    pub request_timeout_ms: u64,
    /// `delivery.timeout.ms` (default 120000): the upper bound on the time from `send()` to
    /// success or failure, in milliseconds (KIP-91). When not set and below
    /// `linger.ms + request.timeout.ms`, it is raised to that sum, as `KafkaProducer` does.
    pub delivery_timeout_ms: u64,
    /// `max.in.flight.requests.per.connection` (default 5): unanswered requests allowed per
    /// broker connection; at most 5 for an idempotent producer.
    pub max_in_flight_requests_per_connection: u32,
    /// `compression.type` (default `none`): the codec the producer compresses each batch with
    /// (`none`, `gzip`, `snappy`, `lz4`, `zstd`).
    pub compression_type: Compression,
    /// `buffer.memory` (default 33554432): the bytes the record accumulator may hold for
    /// batches not yet completed (queued or in flight), in bytes. Each new batch takes
    /// `max(batch.size, record size)` of it, as Kafka's `BufferPool` allocates, until the batch
    /// completes; when it is used up, `send()` blocks for up to `max.block.ms`.
    pub buffer_memory: u64,
    /// `max.block.ms` (default 60000): how long `send()` may block waiting for buffer memory or
    /// for the partition to appear in metadata before it fails with Kafka's client-side
    /// `TimeoutException`, in milliseconds.
    pub max_block_ms: u64,
    /// `max.request.size` (default 1048576): the largest Produce request, in bytes. A record
    /// bigger than this fails at once (`RecordTooLargeException`), and the sender puts no more
    /// batches into one request than fit.
    pub max_request_size: usize,
}

impl Default for ProducerConfig {
    fn default() -> Self {
        ProducerConfig {
            acks: Acks::All,
            enable_idempotence: true,
            linger_ms: 0,
            batch_size: 16_384,
            retries: i32::MAX as u32,
            retry_backoff_ms: 100,
            retry_backoff_max_ms: 1_000,
            request_timeout_ms: 30_000,
            delivery_timeout_ms: 120_000,
            max_in_flight_requests_per_connection: 5,
            compression_type: Compression::None,
            buffer_memory: 33_554_432,
            max_block_ms: 60_000,
            max_request_size: 1_048_576,
        }
    }
}

impl ProducerConfig {
    /// The keys a scenario may set in a producer's `configs`.
    pub const KEYS: &'static [&'static str] = &[
        "acks",
        "batch.size",
        "buffer.memory",
        "compression.type",
        "delivery.timeout.ms",
        "enable.idempotence",
        "linger.ms",
        "max.block.ms",
        "max.in.flight.requests.per.connection",
        "max.request.size",
        "request.timeout.ms",
        "retries",
        "retry.backoff.max.ms",
        "retry.backoff.ms",
    ];

    /// Parses producer configs from Kafka keys with the defaults of the current era; the same
    /// as [`ProducerConfig::from_map_in`] with `Era::default()`.
    ///
    /// Errors: as [`ProducerConfig::from_map_in`].
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        ProducerConfig::from_map_in(map, &crate::era::Era::default())
    }

    /// Parses producer configs from Kafka keys, applying the defaults of `era` and Kafka's
    /// idempotence rules (see [`ProducerConfig::enable_idempotence`]).
    ///
    /// Before Kafka 3.0 (`era.idempotence_default` false, KIP-679) the defaults are `acks=1`
    /// and `enable.idempotence=false`; an explicit `enable.idempotence=true` without `acks`
    /// then still gets `acks=all`, as the 2.x producer set it.
    ///
    /// Errors: unknown keys, keys of another role, malformed or out-of-range numbers, `acks`
    /// outside `0`, `1`, `all`, `-1`; an explicit `enable.idempotence=true` with `acks` other
    /// than `all` ("Must set acks to all in order to use the idempotent producer") or with
    /// `retries=0`; more than 5 in-flight requests while idempotence is on; and an explicit
    /// `delivery.timeout.ms` below `linger.ms + request.timeout.ms` (`KafkaProducer`).
    pub fn from_map_in(map: &BTreeMap<String, String>, era: &crate::era::Era) -> Result<Self, ConfigError> {
        check_keys(map, Role::Producer)?;
        let mut d = ProducerConfig::default();
        if !era.idempotence_default {
            // KIP-679 changed both defaults in 3.0. The 2.x producer still forced `acks=all`
            // when idempotence was asked for explicitly and `acks` was not set.
            let idempotence_asked =
                raw(map, "enable.idempotence").is_some_and(|v| boolean("enable.idempotence", v) == Ok(true));
            d.enable_idempotence = false;
            d.acks = if idempotence_asked { Acks::All } else { Acks::One };
        }
        let acks = match raw(map, "acks") {
            Some(value) => Acks::parse(value)?,
            None => d.acks,
        };
        let linger_ms = millis(map, "linger.ms", d.linger_ms, 0, KAFKA_LONG_MAX)?;
        let compression_type = match raw(map, "compression.type") {
            Some(value) => Compression::parse(value).ok_or_else(|| {
                ConfigError::new(
                    "compression.type",
                    Some(value),
                    format!("\"{value}\" is not a producer compression type"),
                    Some("use one of none, gzip, snappy, lz4, zstd".into()),
                )
            })?,
            None => d.compression_type,
        };
        let batch_size = bytes(map, "batch.size", d.batch_size as u64, 0, KAFKA_INT_MAX)? as usize;
        let buffer_memory = bytes(map, "buffer.memory", d.buffer_memory, 0, KAFKA_LONG_MAX)?;
        let max_block_ms = millis(map, "max.block.ms", d.max_block_ms, 0, KAFKA_LONG_MAX)?;
        let max_request_size = bytes(map, "max.request.size", d.max_request_size as u64, 0, KAFKA_INT_MAX)? as usize;
        let retries = count(map, "retries", u64::from(d.retries), 0, KAFKA_INT_MAX)? as u32;
        let retry_backoff_ms = millis(map, "retry.backoff.ms", d.retry_backoff_ms, 0, KAFKA_LONG_MAX)?;
        // Kafka lowers the default maximum to `retry.backoff.ms` when only the latter is set
        // above it, so the backoff never shrinks as it grows.
        let retry_backoff_max_ms =
            millis(map, "retry.backoff.max.ms", d.retry_backoff_max_ms.max(retry_backoff_ms), 0, KAFKA_LONG_MAX)?;
        let request_timeout_ms = millis(map, "request.timeout.ms", d.request_timeout_ms, 0, KAFKA_INT_MAX)?;
        let mut delivery_timeout_ms = millis(map, "delivery.timeout.ms", d.delivery_timeout_ms, 0, KAFKA_INT_MAX)?;
        let max_in_flight = count(
            map,
            "max.in.flight.requests.per.connection",
            u64::from(d.max_in_flight_requests_per_connection),
            1,
            KAFKA_INT_MAX,
        )? as u32;

        // KafkaProducer.configureDeliveryTimeout: the delivery timeout must leave room for one
        // linger plus one request.
        let floor = (linger_ms.saturating_add(request_timeout_ms)).min(KAFKA_INT_MAX);
        if delivery_timeout_ms < floor {
            let key = "delivery.timeout.ms";
            match raw(map, key) {
                Some(value) => {
                    return Err(ConfigError::new(
                        key,
                        Some(value),
                        format!(
                            "\"delivery.timeout.ms\" ({delivery_timeout_ms} ms) must be at least \
                             \"linger.ms\" + \"request.timeout.ms\" ({floor} ms)"
                        ),
                        Some(format!("raise \"delivery.timeout.ms\" to {floor} or more")),
                    ));
                }
                None => delivery_timeout_ms = floor,
            }
        }

        // ProducerConfig.postProcessAndValidateIdempotenceConfigs.
        let explicit = raw(map, "enable.idempotence");
        let mut enable_idempotence = match explicit {
            Some(value) => boolean("enable.idempotence", value)?,
            None => d.enable_idempotence,
        };
        if enable_idempotence && retries == 0 {
            if let Some(value) = explicit {
                return Err(ConfigError::new(
                    "enable.idempotence",
                    Some(value),
                    "\"enable.idempotence\" is \"true\" but \"retries\" is 0: Kafka requires \
                     retries to be non-zero for the idempotent producer"
                        .to_string(),
                    Some("remove \"retries\" or set \"enable.idempotence\" to \"false\"".into()),
                ));
            }
            enable_idempotence = false;
        }
        if enable_idempotence && acks != Acks::All {
            if let Some(value) = explicit {
                return Err(ConfigError::new(
                    "enable.idempotence",
                    Some(value),
                    format!(
                        "\"enable.idempotence\" is \"true\" but \"acks\" is \"{acks}\": Kafka \
                         requires acks to be all in order to use the idempotent producer"
                    ),
                    Some("set \"acks\" to \"all\" or \"enable.idempotence\" to \"false\"".into()),
                ));
            }
            enable_idempotence = false;
        }
        if enable_idempotence && max_in_flight > MAX_IN_FLIGHT_FOR_IDEMPOTENCE {
            let key = "max.in.flight.requests.per.connection";
            return Err(ConfigError::new(
                key,
                raw(map, key),
                format!(
                    "\"max.in.flight.requests.per.connection\" is {max_in_flight}, but the \
                     idempotent producer allows at most {MAX_IN_FLIGHT_FOR_IDEMPOTENCE}"
                ),
                Some(format!(
                    "lower it to {MAX_IN_FLIGHT_FOR_IDEMPOTENCE} or set \"enable.idempotence\" \
                     to \"false\""
                )),
            ));
        }

        Ok(ProducerConfig {
            acks,
            enable_idempotence,
            linger_ms,
            batch_size,
            retries,
            retry_backoff_ms,
            retry_backoff_max_ms,
            request_timeout_ms,
            delivery_timeout_ms,
            max_in_flight_requests_per_connection: max_in_flight,
            compression_type,
            buffer_memory,
            max_block_ms,
            max_request_size,
        })
    }
}

/// Settings of one consumer, written in a scenario's `Consumer(configs: {...})`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ConsumerConfig {
    /// `auto.offset.reset` (default `latest`).
    pub auto_offset_reset: AutoOffsetReset,
    /// `enable.auto.commit` (default `true`): commit consumed positions in the background.
    pub enable_auto_commit: bool,
    /// `auto.commit.interval.ms` (default 5000): period of background commits, in milliseconds.
    pub auto_commit_interval_ms: u64,
    /// `session.timeout.ms` (default 45000 since Kafka 3.0, KIP-735): the coordinator expels a
    /// member that has not heartbeated for this many milliseconds.
    pub session_timeout_ms: u64,
    /// `heartbeat.interval.ms` (default 3000): how often the member heartbeats, in
    /// milliseconds; must be below `session.timeout.ms`.
    pub heartbeat_interval_ms: u64,
    /// `max.poll.records` (default 500): the most records one `poll()` returns.
    pub max_poll_records: u32,
    /// `max.poll.interval.ms` (default 300000): the longest gap between polls before the
    /// consumer leaves its group, in milliseconds; also the rebalance timeout.
    pub max_poll_interval_ms: u64,
    /// `fetch.max.wait.ms` (default 500): how long a fetch may wait on the broker for
    /// `fetch.min.bytes` of data, in milliseconds.
    pub fetch_max_wait_ms: u64,
    /// `fetch.min.bytes` (default 1): the least data, in bytes, a fetch waits for.
    pub fetch_min_bytes: u32,
    /// `partition.assignment.strategy`: the assignors this member offers, most preferred first
    /// (default `[range, cooperative-sticky]` since Kafka 3.0, KIP-726). The coordinator picks
    /// one that every member offers; the member's rebalance protocol is cooperative only when
    /// every listed assignor supports it (KIP-429).
    pub partition_assignment_strategy: Vec<Assignor>,
    /// `group.instance.id` (KIP-345): a static member's stable identity, `None` for a dynamic
    /// member. A static member that restarts within `session.timeout.ms` gets its partitions
    /// back without a rebalance, and it sends no LeaveGroup when it closes.
    pub group_instance_id: Option<String>,
}

impl Default for ConsumerConfig {
    fn default() -> Self {
        ConsumerConfig {
            auto_offset_reset: AutoOffsetReset::Latest,
            enable_auto_commit: true,
            auto_commit_interval_ms: 5_000,
            session_timeout_ms: 45_000,
            heartbeat_interval_ms: 3_000,
            max_poll_records: 500,
            max_poll_interval_ms: 300_000,
            fetch_max_wait_ms: 500,
            fetch_min_bytes: 1,
            partition_assignment_strategy: vec![Assignor::Range, Assignor::CooperativeSticky],
            group_instance_id: None,
        }
    }
}

impl ConsumerConfig {
    /// The rebalance protocol this member uses: the highest one every configured assignor
    /// supports (`ConsumerCoordinator`'s constructor), so cooperative only when all are.
    pub fn rebalance_protocol(&self) -> RebalanceProtocol {
        if self
            .partition_assignment_strategy
            .iter()
            .all(|a| a.supported_protocols().contains(&RebalanceProtocol::Cooperative))
        {
            RebalanceProtocol::Cooperative
        } else {
            RebalanceProtocol::Eager
        }
    }
}

impl ConsumerConfig {
    /// The keys a scenario may set in a consumer's `configs`.
    pub const KEYS: &'static [&'static str] = &[
        "auto.commit.interval.ms",
        "auto.offset.reset",
        "enable.auto.commit",
        "fetch.max.wait.ms",
        "fetch.min.bytes",
        "group.instance.id",
        "heartbeat.interval.ms",
        "max.poll.interval.ms",
        "max.poll.records",
        "partition.assignment.strategy",
        "session.timeout.ms",
    ];

    /// Parses consumer configs from Kafka keys, applying Kafka's defaults.
    ///
    /// Errors: unknown keys, keys of another role, malformed or out-of-range numbers, an
    /// `auto.offset.reset` other than `earliest`, `latest` or `none`, an assignor other than the
    /// range assignor, and `heartbeat.interval.ms` not below `session.timeout.ms` (Kafka's
    /// `Heartbeat`: "Heartbeat must be set lower than the session timeout").
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        check_keys(map, Role::Consumer)?;
        let d = ConsumerConfig::default();
        let auto_offset_reset = match raw(map, "auto.offset.reset") {
            None => d.auto_offset_reset,
            Some(value) => match value.trim().to_ascii_lowercase().as_str() {
                "earliest" => AutoOffsetReset::Earliest,
                "latest" => AutoOffsetReset::Latest,
                "none" => AutoOffsetReset::None,
                _ => {
                    return Err(ConfigError::new(
                        "auto.offset.reset",
                        Some(value),
                        format!(
                            "invalid value \"{value}\" for \"auto.offset.reset\": expected one of \
                             \"earliest\", \"latest\" or \"none\""
                        ),
                        closest(value.trim(), &["earliest", "latest", "none"])
                            .map(|best| format!("did you mean \"{best}\"?")),
                    ))
                }
            },
        };
        let enable_auto_commit = match raw(map, "enable.auto.commit") {
            Some(value) => boolean("enable.auto.commit", value)?,
            None => d.enable_auto_commit,
        };
        let auto_commit_interval_ms =
            millis(map, "auto.commit.interval.ms", d.auto_commit_interval_ms, 0, KAFKA_INT_MAX)?;
        let session_timeout_ms = millis(map, "session.timeout.ms", d.session_timeout_ms, 1, KAFKA_INT_MAX)?;
        // A zero period would make the heartbeat timer fire forever at one instant.
        let heartbeat_interval_ms = millis(map, "heartbeat.interval.ms", d.heartbeat_interval_ms, 1, KAFKA_INT_MAX)?;
        let max_poll_records = count(map, "max.poll.records", u64::from(d.max_poll_records), 1, KAFKA_INT_MAX)? as u32;
        let max_poll_interval_ms = millis(map, "max.poll.interval.ms", d.max_poll_interval_ms, 1, KAFKA_INT_MAX)?;
        let fetch_max_wait_ms = millis(map, "fetch.max.wait.ms", d.fetch_max_wait_ms, 0, KAFKA_INT_MAX)?;
        let fetch_min_bytes = bytes(map, "fetch.min.bytes", u64::from(d.fetch_min_bytes), 0, KAFKA_INT_MAX)? as u32;
        let partition_assignment_strategy = match raw(map, "partition.assignment.strategy") {
            None => d.partition_assignment_strategy,
            Some(value) => assignors(value)?,
        };
        let group_instance_id = match raw(map, "group.instance.id") {
            None => None,
            Some(value) if value.trim().is_empty() => return Err(ConfigError::new(
                "group.instance.id",
                Some(value),
                "\"group.instance.id\" is empty".to_string(),
                Some(
                    "give the member a stable name such as \"billing-a\", or leave the key out for a dynamic member"
                        .to_string(),
                ),
            )),
            Some(value) => Some(value.trim().to_string()),
        };

        if heartbeat_interval_ms >= session_timeout_ms {
            let key = if raw(map, "heartbeat.interval.ms").is_some() {
                "heartbeat.interval.ms"
            } else {
                "session.timeout.ms"
            };
            return Err(ConfigError::new(
                key,
                raw(map, key),
                format!(
                    "\"heartbeat.interval.ms\" ({heartbeat_interval_ms} ms) must be lower than \
                     \"session.timeout.ms\" ({session_timeout_ms} ms)"
                ),
                Some("keep the heartbeat interval at about a third of the session timeout".to_string()),
            ));
        }

        Ok(ConsumerConfig {
            auto_offset_reset,
            enable_auto_commit,
            auto_commit_interval_ms,
            session_timeout_ms,
            heartbeat_interval_ms,
            max_poll_records,
            max_poll_interval_ms,
            fetch_max_wait_ms,
            fetch_min_bytes,
            partition_assignment_strategy,
            group_instance_id,
        })
    }
}

/// Parses a `partition.assignment.strategy` value: a comma-separated list of protocol names
/// (`range`, `roundrobin`, `sticky`, `cooperative-sticky`) or Kafka class names, most preferred
/// first. Repeats are dropped.
fn assignors(value: &str) -> Result<Vec<Assignor>, ConfigError> {
    let key = "partition.assignment.strategy";
    let entries: Vec<&str> = value.split(',').map(str::trim).filter(|entry| !entry.is_empty()).collect();
    if entries.is_empty() {
        return Err(ConfigError::new(
            key,
            Some(value),
            format!("\"{key}\" is empty"),
            Some("use \"range\", \"roundrobin\", \"sticky\" or \"cooperative-sticky\"".to_string()),
        ));
    }
    let mut out = Vec::new();
    for entry in entries {
        let Some(assignor) = Assignor::from_name(entry) else {
            let names: Vec<&str> = Assignor::ALL.iter().map(|a| a.name()).collect();
            let short = entry.rsplit('.').next().unwrap_or(entry).to_ascii_lowercase().replace("assignor", "");
            return Err(ConfigError::new(
                key,
                Some(value),
                format!(
                    "unknown assignor \"{entry}\" in \"{key}\": expected \"range\", \"roundrobin\", \"sticky\" or \"cooperative-sticky\" (or their class names)"
                ),
                closest(&short, &names).map(|best| format!("did you mean \"{best}\"?")),
            ));
        };
        if !out.contains(&assignor) {
            out.push(assignor);
        }
    }
    Ok(out)
}

/// Where a config key can be set. Used to tell a user that a key belongs somewhere else.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Role {
    Broker,
    Topic,
    Producer,
    Consumer,
}

impl Role {
    const ALL: [Role; 4] = [Role::Broker, Role::Topic, Role::Producer, Role::Consumer];

    fn name(self) -> &'static str {
        match self {
            Role::Broker => "broker",
            Role::Topic => "topic",
            Role::Producer => "producer",
            Role::Consumer => "consumer",
        }
    }

    /// Where a user sets configs of this role, for "move it to ..." hints.
    fn home(self) -> &'static str {
        match self {
            Role::Broker => "the cluster's (broker) configs",
            Role::Topic => "a topic's configs",
            Role::Producer => "a producer's configs",
            Role::Consumer => "a consumer's configs",
        }
    }

    fn keys(self) -> &'static [&'static str] {
        match self {
            Role::Broker => BrokerConfig::KEYS,
            Role::Topic => TopicConfig::KEYS,
            Role::Producer => ProducerConfig::KEYS,
            Role::Consumer => ConsumerConfig::KEYS,
        }
    }

    /// Real Kafka keys of this role that kafkalab does not model (yet). They get a clearer
    /// message than "unknown", and they are not mistaken for keys of another role.
    fn unmodelled(self) -> &'static [&'static str] {
        match self {
            Role::Broker => &[
                "auto.create.topics.enable",
                "default.replication.factor",
                "log.cleaner.threads",
                "log.dirs",
                "log.retention.hours",
                "log.retention.minutes",
                "log.roll.hours",
                "log.roll.jitter.ms",
                "log.segment.delete.delay.ms",
                "num.partitions",
                "num.replica.fetchers",
                "replica.socket.timeout.ms",
                "transaction.state.log.min.isr",
                "transaction.state.log.replication.factor",
            ],
            Role::Topic => &["file.delete.delay.ms", "message.timestamp.type", "preallocate", "segment.jitter.ms"],
            Role::Producer => &["client.id", "partitioner.class", "transaction.timeout.ms", "transactional.id"],
            Role::Consumer => &[
                "client.id",
                "client.rack",
                "fetch.max.bytes",
                "group.id",
                "group.protocol",
                "isolation.level",
                "max.partition.fetch.bytes",
                "request.timeout.ms",
                "retry.backoff.ms",
            ],
        }
    }
}

/// Rejects any key that is not one of `role`'s keys, explaining why as precisely as possible.
/// Keys are checked in sorted order, so the first error is deterministic.
fn check_keys(map: &BTreeMap<String, String>, role: Role) -> Result<(), ConfigError> {
    for (key, raw_value) in map {
        if role.keys().contains(&key.as_str()) {
            continue;
        }
        let value = Some(raw_value.as_str());
        if role.unmodelled().contains(&key.as_str()) {
            let coarse = COARSE_LOG_KEYS.iter().find(|(coarse_key, _, _)| coarse_key == key);
            let suggestion = if matches!(key.as_str(), "client.id" | "group.id") {
                "kafkalab sets it from the scenario's client id and group; remove it".to_string()
            } else if let Some((_, millis_key, unit_ms)) = coarse {
                // Kafka reads any negative value of these keys as "unlimited".
                let ms = raw_value.trim().parse::<i64>().ok().and_then(|n| match n {
                    ..=-1 => Some(-1),
                    _ => n.checked_mul(*unit_ms),
                });
                match ms {
                    Some(ms) => format!("use \"{millis_key}\" instead: write \"{ms}\""),
                    None => format!("use \"{millis_key}\" instead"),
                }
            } else {
                "remove it; kafkalab does not model it yet".to_string()
            };
            return Err(ConfigError::new(
                key,
                value,
                format!("unsupported {} config key \"{key}\"", role.name()),
                Some(suggestion),
            ));
        }
        // A log key in the other role's spelling: the cluster's configs write `log.retention.ms`
        // where a topic's configs write `retention.ms`.
        let synonym = LOG_SYNONYMS.iter().find_map(|&(topic_key, broker_key)| match role {
            Role::Broker if key == topic_key => Some((Role::Topic, broker_key)),
            Role::Topic if key == broker_key => Some((Role::Broker, topic_key)),
            _ => None,
        });
        if let Some((owner, spelling)) = synonym {
            let suggestion = match role {
                Role::Broker => format!(
                    "write \"{spelling}\" to set the default of every topic, or move \"{key}\" to {}",
                    owner.home()
                ),
                _ => {
                    format!("write \"{spelling}\" to set it for this topic only, or move \"{key}\" to {}", owner.home())
                }
            };
            return Err(ConfigError::new(
                key,
                value,
                format!("\"{key}\" is a {} config key; {} spell it \"{spelling}\"", owner.name(), role.home()),
                Some(suggestion),
            ));
        }
        let owners: Vec<Role> = Role::ALL
            .into_iter()
            .filter(|other| {
                *other != role && (other.keys().contains(&key.as_str()) || other.unmodelled().contains(&key.as_str()))
            })
            .collect();
        if !owners.is_empty() {
            let names: Vec<&str> = owners.iter().map(|owner| owner.name()).collect();
            let homes: Vec<&str> = owners.iter().map(|owner| owner.home()).collect();
            return Err(ConfigError::new(
                key,
                value,
                format!("\"{key}\" is a {} config key, not a {} config key", names.join(" or "), role.name()),
                Some(format!("move it to {}", homes.join(" or "))),
            ));
        }
        let suggestion = match closest(key, role.keys()) {
            Some(best) => format!("did you mean \"{best}\"?"),
            None => format!("accepted keys: {}", role.keys().join(", ")),
        };
        return Err(ConfigError::new(
            key,
            value,
            format!("unknown {} config key \"{key}\"", role.name()),
            Some(suggestion),
        ));
    }
    Ok(())
}

/// The candidate nearest to `word` by Levenshtein distance, if within
/// [`SUGGESTION_DISTANCE`] edits. Ties go to the earlier candidate.
fn closest<'a>(word: &str, candidates: &[&'a str]) -> Option<&'a str> {
    candidates
        .iter()
        .map(|candidate| (strsim::levenshtein(word, candidate), *candidate))
        .filter(|(distance, _)| *distance <= SUGGESTION_DISTANCE)
        .min_by_key(|(distance, _)| *distance)
        .map(|(_, candidate)| candidate)
}

/// The raw value of `key`, if set.
fn raw<'a>(map: &'a BTreeMap<String, String>, key: &str) -> Option<&'a str> {
    map.get(key).map(String::as_str)
}

/// What a numeric key counts, for messages and unit-stripping hints.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Unit {
    Millis,
    Bytes,
    Count,
}

impl Unit {
    fn describe(self) -> &'static str {
        match self {
            Unit::Millis => "a whole number of milliseconds",
            Unit::Bytes => "a whole number of bytes",
            Unit::Count => "a whole number",
        }
    }
}

fn millis(map: &BTreeMap<String, String>, key: &str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
    number(map, key, default, min, max, Unit::Millis)
}

fn bytes(map: &BTreeMap<String, String>, key: &str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
    number(map, key, default, min, max, Unit::Bytes)
}

fn count(map: &BTreeMap<String, String>, key: &str, default: u64, min: u64, max: u64) -> Result<u64, ConfigError> {
    number(map, key, default, min, max, Unit::Count)
}

/// Reads a Kafka `INT` key into an `i32`; `max` must fit in an `i32`.
fn int(map: &BTreeMap<String, String>, key: &str, default: i32, min: u64, max: u64) -> Result<i32, ConfigError> {
    let default = u64::try_from(default).unwrap_or(0);
    let value = number(map, key, default, min, max, Unit::Count)?;
    Ok(i32::try_from(value).unwrap_or(i32::MAX))
}

/// Reads a Kafka `LONG` limit where -1 means "unlimited" (`retention.ms`, `retention.bytes`):
/// a whole number of at least -1, or `default` when the key is not set. Surrounding whitespace is
/// ignored.
fn limit(map: &BTreeMap<String, String>, key: &str, default: i64, unit: Unit) -> Result<i64, ConfigError> {
    let Some(value) = raw(map, key) else {
        return Ok(default);
    };
    let bad = |suggestion: Option<String>| {
        ConfigError::new(
            key,
            Some(value),
            format!("invalid value \"{value}\" for \"{key}\": expected {}, -1 (unlimited) or more", unit.describe()),
            suggestion,
        )
    };
    let trimmed = value.trim();
    match trimmed.parse::<i64>() {
        Ok(parsed) if parsed >= -1 => Ok(parsed),
        Ok(_) => Err(bad(Some("use -1 for no limit".to_string()))),
        Err(_) => Err(bad(unit_hint(trimmed, unit))),
    }
}

/// Reads a Kafka `DOUBLE` from 0 to 1, or `default` when the key is not set. Surrounding
/// whitespace is ignored; infinities and NaN are rejected.
fn ratio(map: &BTreeMap<String, String>, key: &str, default: f64) -> Result<f64, ConfigError> {
    let Some(value) = raw(map, key) else {
        return Ok(default);
    };
    let trimmed = value.trim();
    match trimmed.parse::<f64>() {
        Ok(parsed) if (0.0..=1.0).contains(&parsed) => Ok(parsed),
        _ => {
            // A percentage such as "50%" is the likeliest slip.
            let percent = trimmed.strip_suffix('%').and_then(|digits| digits.trim().parse::<f64>().ok());
            let suggestion = percent
                .filter(|percent| (0.0..=100.0).contains(percent))
                .map(|percent| format!("Kafka takes a fraction, not a percentage: write \"{}\"", percent / 100.0));
            Err(ConfigError::new(
                key,
                Some(value),
                format!("invalid value \"{value}\" for \"{key}\": expected a number from 0 to 1, such as 0.5"),
                suggestion,
            ))
        }
    }
}

/// Reads a whole number in `min..=max`, or `default` when the key is not set. Like Kafka,
/// surrounding whitespace is ignored.
fn number(
    map: &BTreeMap<String, String>,
    key: &str,
    default: u64,
    min: u64,
    max: u64,
    unit: Unit,
) -> Result<u64, ConfigError> {
    let Some(value) = raw(map, key) else {
        return Ok(default);
    };
    let range = if max >= KAFKA_LONG_MAX { format!("{min} or more") } else { format!("from {min} to {max}") };
    let bad = |suggestion: Option<String>| {
        ConfigError::new(
            key,
            Some(value),
            format!("invalid value \"{value}\" for \"{key}\": expected {}, {range}", unit.describe()),
            suggestion,
        )
    };
    let trimmed = value.trim();
    match trimmed.parse::<u64>() {
        Ok(parsed) if (min..=max).contains(&parsed) => Ok(parsed),
        Ok(_) => Err(bad(None)),
        Err(_) if trimmed.starts_with('-') && trimmed[1..].parse::<u64>().is_ok() => Err(bad(None)),
        Err(_) => Err(bad(unit_hint(trimmed, unit))),
    }
}

/// For a value such as `"5s"` given to a `*.ms` key, suggests the plain number Kafka expects.
fn unit_hint(value: &str, unit: Unit) -> Option<String> {
    let with_unit = |suffix: &str, factor: u64| {
        value
            .strip_suffix(suffix)
            .and_then(|digits| digits.trim().parse::<u64>().ok())
            .and_then(|n| n.checked_mul(factor))
    };
    let plain = match unit {
        Unit::Millis => with_unit("ms", 1).or_else(|| with_unit("s", 1_000)).or_else(|| with_unit("m", 60_000)),
        Unit::Bytes => with_unit("KiB", 1_024).or_else(|| with_unit("B", 1)),
        Unit::Count => None,
    }?;
    Some(format!("Kafka takes a plain number without a unit: write \"{plain}\""))
}

/// Reads a Kafka `BOOLEAN`: `true` or `false`, in any letter case, surrounding whitespace ignored.
fn boolean(key: &str, value: &str) -> Result<bool, ConfigError> {
    let trimmed = value.trim();
    if trimmed.eq_ignore_ascii_case("true") {
        Ok(true)
    } else if trimmed.eq_ignore_ascii_case("false") {
        Ok(false)
    } else {
        Err(ConfigError::new(
            key,
            Some(value),
            format!("invalid value \"{value}\" for \"{key}\": expected \"true\" or \"false\""),
            None,
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn map(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| (k.to_string(), v.to_string())).collect()
    }

    #[test]
    fn empty_maps_give_kafka_defaults() {
        let broker = BrokerConfig::from_map(&map(&[])).unwrap();
        assert_eq!(broker, BrokerConfig::default());
        assert_eq!(broker.replica_lag_time_max_ms, 30_000);
        assert_eq!(broker.replica_fetch_wait_max_ms, 500);
        assert_eq!(broker.replica_fetch_backoff_ms, 1_000);
        assert_eq!(broker.broker_session_timeout_ms, 9_000);
        assert_eq!(broker.broker_heartbeat_interval_ms, 2_000);
        assert_eq!(broker.min_insync_replicas, 1);
        assert_eq!(broker.offsets_topic_num_partitions, 50);
        assert_eq!(broker.offsets_topic_replication_factor, 3);
        assert_eq!(broker.group_initial_rebalance_delay_ms, 3_000);
        assert_eq!(broker.group_min_session_timeout_ms, 6_000);
        assert_eq!(broker.group_max_session_timeout_ms, 1_800_000);
        assert_eq!(broker.log, LogConfig::default());
        assert_eq!(broker.log_retention_check_interval_ms, 300_000);
        assert!(broker.log_cleaner_enable);
        assert_eq!(broker.log_cleaner_backoff_ms, 15_000);
        assert_eq!(broker.log_flush_scheduler_interval_ms, 9_223_372_036_854_775_807);
        assert_eq!(broker.log_flush_offset_checkpoint_interval_ms, 60_000);
        assert_eq!(broker.log_flush_start_offset_checkpoint_interval_ms, 60_000);
        assert_eq!(broker.replica_high_watermark_checkpoint_interval_ms, 5_000);
        assert_eq!(broker.controller_quorum_election_timeout_ms, 1_000);
        assert_eq!(broker.controller_quorum_fetch_timeout_ms, 2_000);
        assert_eq!(broker.controller_quorum_election_backoff_max_ms, 1_000);
        assert_eq!(broker.controller_quorum_request_timeout_ms, 2_000);
        assert_eq!(broker.controller_quorum_retry_backoff_ms, 20);
        assert!(!broker.unclean_leader_election_enable);
        assert!(broker.auto_leader_rebalance_enable);
        assert_eq!(broker.leader_imbalance_check_interval_seconds, 300);
        assert_eq!(broker.leader_imbalance_per_broker_percentage, 10);
        assert_eq!(broker.max_incremental_fetch_session_cache_slots, 1_000);

        let topic = TopicConfig::from_map(&map(&[])).unwrap();
        assert_eq!(topic, TopicConfig::default());
        assert_eq!(topic.min_insync_replicas, None);
        assert_eq!(topic.unclean_leader_election_enable, None);
        assert!(topic.log_overrides.is_empty());

        let producer = ProducerConfig::from_map(&map(&[])).unwrap();
        assert_eq!(producer, ProducerConfig::default());
        assert_eq!(producer.acks, Acks::All);
        assert!(producer.enable_idempotence);
        assert_eq!(producer.linger_ms, 0);
        assert_eq!(producer.batch_size, 16_384);
        assert_eq!(producer.retries, 2_147_483_647);
        assert_eq!(producer.retry_backoff_ms, 100);
        assert_eq!(producer.request_timeout_ms, 30_000);
        assert_eq!(producer.delivery_timeout_ms, 120_000);
        assert_eq!(producer.max_in_flight_requests_per_connection, 5);
        assert_eq!(producer.buffer_memory, 33_554_432);
        assert_eq!(producer.max_block_ms, 60_000);
        assert_eq!(producer.max_request_size, 1_048_576);

        let consumer = ConsumerConfig::from_map(&map(&[])).unwrap();
        assert_eq!(consumer, ConsumerConfig::default());
        assert_eq!(consumer.auto_offset_reset, AutoOffsetReset::Latest);
        assert!(consumer.enable_auto_commit);
        assert_eq!(consumer.auto_commit_interval_ms, 5_000);
        assert_eq!(consumer.session_timeout_ms, 45_000);
        assert_eq!(consumer.heartbeat_interval_ms, 3_000);
        assert_eq!(consumer.max_poll_records, 500);
        assert_eq!(consumer.max_poll_interval_ms, 300_000);
        assert_eq!(consumer.fetch_max_wait_ms, 500);
        assert_eq!(consumer.fetch_min_bytes, 1);
        assert_eq!(consumer.partition_assignment_strategy, vec![Assignor::Range, Assignor::CooperativeSticky]);
    }

    #[test]
    fn every_key_is_parsed() {
        let broker = BrokerConfig::from_map(&map(&[
            ("replica.lag.time.max.ms", "10000"),
            ("replica.fetch.wait.max.ms", "100"),
            ("replica.fetch.backoff.ms", "50"),
            ("broker.session.timeout.ms", "6000"),
            ("broker.heartbeat.interval.ms", "1000"),
            ("min.insync.replicas", "2"),
            ("offsets.topic.num.partitions", "3"),
            ("offsets.topic.replication.factor", "1"),
            ("group.initial.rebalance.delay.ms", "0"),
            ("group.min.session.timeout.ms", "1000"),
            ("group.max.session.timeout.ms", "60000"),
            ("log.retention.check.interval.ms", "1000"),
            ("log.cleaner.enable", "false"),
            ("log.cleaner.backoff.ms", "0"),
            ("log.flush.scheduler.interval.ms", "2000"),
            ("log.flush.offset.checkpoint.interval.ms", "3000"),
            ("log.flush.start.offset.checkpoint.interval.ms", "4000"),
            ("replica.high.watermark.checkpoint.interval.ms", "500"),
            ("controller.quorum.election.timeout.ms", "1500"),
            ("controller.quorum.fetch.timeout.ms", "3000"),
            ("controller.quorum.election.backoff.max.ms", "750"),
            ("controller.quorum.request.timeout.ms", "2500"),
            ("controller.quorum.retry.backoff.ms", "0"),
            ("unclean.leader.election.enable", "true"),
            ("auto.leader.rebalance.enable", "False"),
            ("leader.imbalance.check.interval.seconds", "30"),
            ("leader.imbalance.per.broker.percentage", "0"),
            ("max.incremental.fetch.session.cache.slots", "0"),
        ]))
        .unwrap();
        assert_eq!(
            broker,
            BrokerConfig {
                replica_lag_time_max_ms: 10_000,
                replica_fetch_wait_max_ms: 100,
                replica_fetch_backoff_ms: 50,
                broker_session_timeout_ms: 6_000,
                broker_heartbeat_interval_ms: 1_000,
                min_insync_replicas: 2,
                offsets_topic_num_partitions: 3,
                offsets_topic_replication_factor: 1,
                group_initial_rebalance_delay_ms: 0,
                group_min_session_timeout_ms: 1_000,
                group_max_session_timeout_ms: 60_000,
                // `log.flush.interval.ms` defaults to `log.flush.scheduler.interval.ms`.
                log: LogConfig { flush_ms: 2_000, ..LogConfig::default() },
                log_retention_check_interval_ms: 1_000,
                log_cleaner_enable: false,
                log_cleaner_backoff_ms: 0,
                log_flush_scheduler_interval_ms: 2_000,
                log_flush_offset_checkpoint_interval_ms: 3_000,
                log_flush_start_offset_checkpoint_interval_ms: 4_000,
                replica_high_watermark_checkpoint_interval_ms: 500,
                controller_quorum_election_timeout_ms: 1_500,
                controller_quorum_fetch_timeout_ms: 3_000,
                controller_quorum_election_backoff_max_ms: 750,
                controller_quorum_request_timeout_ms: 2_500,
                controller_quorum_retry_backoff_ms: 0,
                unclean_leader_election_enable: true,
                auto_leader_rebalance_enable: false,
                leader_imbalance_check_interval_seconds: 30,
                leader_imbalance_per_broker_percentage: 0,
                max_incremental_fetch_session_cache_slots: 0,
            }
        );

        let topic = TopicConfig::from_map(&map(&[
            ("min.insync.replicas", " 2 "),
            ("unclean.leader.election.enable", " TRUE "),
        ]))
        .unwrap();
        assert_eq!(topic.min_insync_replicas, Some(2));
        assert_eq!(topic.unclean_leader_election_enable, Some(true));

        let producer = ProducerConfig::from_map(&map(&[
            ("acks", "1"),
            ("enable.idempotence", "false"),
            ("linger.ms", "5"),
            ("batch.size", "1024"),
            ("retries", "3"),
            ("retry.backoff.ms", "20"),
            ("request.timeout.ms", "1000"),
            ("delivery.timeout.ms", "5000"),
            ("max.in.flight.requests.per.connection", "10"),
            ("compression.type", "zstd"),
            ("buffer.memory", "65536"),
            ("max.block.ms", "250"),
            ("max.request.size", "4096"),
        ]))
        .unwrap();
        assert_eq!(
            producer,
            ProducerConfig {
                acks: Acks::One,
                enable_idempotence: false,
                linger_ms: 5,
                batch_size: 1024,
                retries: 3,
                retry_backoff_ms: 20,
                retry_backoff_max_ms: 1_000,
                request_timeout_ms: 1_000,
                delivery_timeout_ms: 5_000,
                max_in_flight_requests_per_connection: 10,
                compression_type: Compression::Zstd,
                buffer_memory: 65_536,
                max_block_ms: 250,
                max_request_size: 4_096,
            }
        );

        let consumer = ConsumerConfig::from_map(&map(&[
            ("auto.offset.reset", "earliest"),
            ("enable.auto.commit", "FALSE"),
            ("auto.commit.interval.ms", "1000"),
            ("session.timeout.ms", "10000"),
            ("heartbeat.interval.ms", "1000"),
            ("max.poll.records", "10"),
            ("max.poll.interval.ms", "20000"),
            ("fetch.max.wait.ms", "100"),
            ("fetch.min.bytes", "0"),
            ("partition.assignment.strategy", "org.apache.kafka.clients.consumer.RangeAssignor"),
            ("group.instance.id", "billing-a"),
        ]))
        .unwrap();
        assert_eq!(
            consumer,
            ConsumerConfig {
                auto_offset_reset: AutoOffsetReset::Earliest,
                enable_auto_commit: false,
                auto_commit_interval_ms: 1_000,
                session_timeout_ms: 10_000,
                heartbeat_interval_ms: 1_000,
                max_poll_records: 10,
                max_poll_interval_ms: 20_000,
                fetch_max_wait_ms: 100,
                fetch_min_bytes: 0,
                partition_assignment_strategy: vec![Assignor::Range],
                group_instance_id: Some("billing-a".to_string()),
            }
        );
    }

    #[test]
    fn acks_accepts_kafkas_four_spellings() {
        for (value, acks) in [("0", Acks::Zero), ("1", Acks::One), ("all", Acks::All), ("-1", Acks::All)] {
            let config = ProducerConfig::from_map(&map(&[("acks", value), ("enable.idempotence", "false")])).unwrap();
            assert_eq!(config.acks, acks, "acks={value}");
        }
        assert_eq!(Acks::All.wire(), -1);
        assert_eq!(Acks::Zero.wire(), 0);
        assert_eq!(Acks::One.to_string(), "1");
    }

    #[test]
    fn bad_acks_names_key_value_and_accepted_form() {
        for value in ["2", "ALL", "", "leader"] {
            let error = ProducerConfig::from_map(&map(&[("acks", value)])).unwrap_err();
            assert_eq!(error.key, "acks");
            assert_eq!(error.value.as_deref(), Some(value));
            assert!(error.message.contains(&format!("\"{value}\"")), "{error}");
            assert!(error.message.contains("\"0\", \"1\", \"all\" or \"-1\""), "{error}");
        }
    }

    #[test]
    fn unknown_key_suggests_the_closest_known_key() {
        let error = TopicConfig::from_map(&map(&[("min.insync.replica", "2")])).unwrap_err();
        assert_eq!(error.key, "min.insync.replica");
        assert_eq!(error.value.as_deref(), Some("2"));
        assert_eq!(error.message, "unknown topic config key \"min.insync.replica\"");
        assert_eq!(error.suggestion.as_deref(), Some("did you mean \"min.insync.replicas\"?"));
        assert_eq!(
            error.to_string(),
            "unknown topic config key \"min.insync.replica\" \
             (did you mean \"min.insync.replicas\"?)"
        );

        let error = ProducerConfig::from_map(&map(&[("lingr.ms", "5")])).unwrap_err();
        assert_eq!(error.message, "unknown producer config key \"lingr.ms\"");
        assert_eq!(error.suggestion.as_deref(), Some("did you mean \"linger.ms\"?"));

        let error = BrokerConfig::from_map(&map(&[("replica.lag.time.max", "5")])).unwrap_err();
        assert_eq!(error.suggestion.as_deref(), Some("did you mean \"replica.lag.time.max.ms\"?"));

        let error = ConsumerConfig::from_map(&map(&[("auto.ofset.rest", "earliest")])).unwrap_err();
        assert_eq!(error.suggestion.as_deref(), Some("did you mean \"auto.offset.reset\"?"));
    }

    #[test]
    fn unknown_key_far_from_everything_lists_the_accepted_keys() {
        let error = TopicConfig::from_map(&map(&[("colour", "blue")])).unwrap_err();
        assert_eq!(error.message, "unknown topic config key \"colour\"");
        assert_eq!(
            error.suggestion.as_deref(),
            Some(
                "accepted keys: cleanup.policy, compression.type, delete.retention.ms, flush.messages, flush.ms, \
                 index.interval.bytes, max.compaction.lag.ms, max.message.bytes, \
                 min.cleanable.dirty.ratio, min.compaction.lag.ms, min.insync.replicas, retention.bytes, \
                 retention.ms, segment.bytes, segment.index.bytes, segment.ms, unclean.leader.election.enable"
            )
        );
    }

    #[test]
    fn key_of_another_role_says_where_it_belongs() {
        let error = ConsumerConfig::from_map(&map(&[("acks", "all")])).unwrap_err();
        assert_eq!(error.key, "acks");
        assert_eq!(error.message, "\"acks\" is a producer config key, not a consumer config key");
        assert_eq!(error.suggestion.as_deref(), Some("move it to a producer's configs"));

        let error = ProducerConfig::from_map(&map(&[("session.timeout.ms", "10000")])).unwrap_err();
        assert_eq!(error.message, "\"session.timeout.ms\" is a consumer config key, not a producer config key");

        let error = ProducerConfig::from_map(&map(&[("min.insync.replicas", "2")])).unwrap_err();
        assert_eq!(error.message, "\"min.insync.replicas\" is a broker or topic config key, not a producer config key");
        assert_eq!(error.suggestion.as_deref(), Some("move it to the cluster's (broker) configs or a topic's configs"));

        let error = TopicConfig::from_map(&map(&[("replica.lag.time.max.ms", "1")])).unwrap_err();
        assert_eq!(error.message, "\"replica.lag.time.max.ms\" is a broker config key, not a topic config key");

        let error = ProducerConfig::from_map(&map(&[("retention.ms", "1000")])).unwrap_err();
        assert_eq!(error.message, "\"retention.ms\" is a topic config key, not a producer config key");
        let error = ConsumerConfig::from_map(&map(&[("log.retention.ms", "1000")])).unwrap_err();
        assert_eq!(error.message, "\"log.retention.ms\" is a broker config key, not a consumer config key");

        let error = ConsumerConfig::from_map(&map(&[("unclean.leader.election.enable", "true")])).unwrap_err();
        assert_eq!(
            error.message,
            "\"unclean.leader.election.enable\" is a broker or topic config key, not a consumer config key"
        );

        // A key of another role that kafkalab does not model still points at its role.
        let error = ProducerConfig::from_map(&map(&[("segment.jitter.ms", "1000")])).unwrap_err();
        assert_eq!(error.message, "\"segment.jitter.ms\" is a topic config key, not a producer config key");
    }

    #[test]
    fn real_but_unmodelled_keys_are_called_unsupported() {
        let error = ProducerConfig::from_map(&map(&[("transactional.id", "tx")])).unwrap_err();
        assert_eq!(error.message, "unsupported producer config key \"transactional.id\"");
        assert_eq!(error.suggestion.as_deref(), Some("remove it; kafkalab does not model it yet"));
        // `request.timeout.ms` exists for consumers too, so it is not "a producer key" there.
        let error = ConsumerConfig::from_map(&map(&[("request.timeout.ms", "1")])).unwrap_err();
        assert_eq!(error.message, "unsupported consumer config key \"request.timeout.ms\"");
        let error = ConsumerConfig::from_map(&map(&[("group.id", "g")])).unwrap_err();
        assert!(error.suggestion.unwrap().contains("client id and group"));
        let error = BrokerConfig::from_map(&map(&[("num.partitions", "3")])).unwrap_err();
        assert_eq!(error.message, "unsupported broker config key \"num.partitions\"");
        let error = TopicConfig::from_map(&map(&[("preallocate", "true")])).unwrap_err();
        assert_eq!(error.message, "unsupported topic config key \"preallocate\"");
    }

    #[test]
    fn bad_numbers_name_key_value_and_accepted_form() {
        let error = ProducerConfig::from_map(&map(&[("linger.ms", "soon")])).unwrap_err();
        assert_eq!(error.key, "linger.ms");
        assert_eq!(error.value.as_deref(), Some("soon"));
        assert_eq!(
            error.message,
            "invalid value \"soon\" for \"linger.ms\": expected a whole number of milliseconds, \
             0 or more"
        );
        assert_eq!(error.suggestion, None);

        let error = BrokerConfig::from_map(&map(&[("replica.lag.time.max.ms", "-5")])).unwrap_err();
        assert_eq!(
            error.message,
            "invalid value \"-5\" for \"replica.lag.time.max.ms\": expected a whole number of \
             milliseconds, 1 or more"
        );

        let error = ConsumerConfig::from_map(&map(&[("max.poll.records", "0")])).unwrap_err();
        assert_eq!(
            error.message,
            "invalid value \"0\" for \"max.poll.records\": expected a whole number, from 1 to \
             2147483647"
        );

        let error = ProducerConfig::from_map(&map(&[("retries", "2147483648")])).unwrap_err();
        assert_eq!(error.key, "retries");
        assert!(error.message.contains("from 0 to 2147483647"), "{error}");

        let error = ProducerConfig::from_map(&map(&[("batch.size", "1.5")])).unwrap_err();
        assert!(error.message.contains("a whole number of bytes"), "{error}");

        let error = BrokerConfig::from_map(&map(&[("offsets.topic.replication.factor", "40000")])).unwrap_err();
        assert!(error.message.contains("from 1 to 32767"), "{error}");
    }

    #[test]
    fn values_with_units_get_the_plain_number_suggested() {
        let error = ConsumerConfig::from_map(&map(&[("session.timeout.ms", "10s")])).unwrap_err();
        assert_eq!(error.suggestion.as_deref(), Some("Kafka takes a plain number without a unit: write \"10000\""));
        let error = ProducerConfig::from_map(&map(&[("linger.ms", "5ms")])).unwrap_err();
        assert_eq!(error.suggestion.as_deref(), Some("Kafka takes a plain number without a unit: write \"5\""));
        let error = ProducerConfig::from_map(&map(&[("batch.size", "16KiB")])).unwrap_err();
        assert_eq!(error.suggestion.as_deref(), Some("Kafka takes a plain number without a unit: write \"16384\""));
    }

    #[test]
    fn min_insync_replicas_must_be_at_least_one() {
        let error = TopicConfig::from_map(&map(&[("min.insync.replicas", "0")])).unwrap_err();
        assert_eq!(error.key, "min.insync.replicas");
        assert!(error.message.contains("from 1 to 2147483647"), "{error}");
        let error = BrokerConfig::from_map(&map(&[("min.insync.replicas", "-1")])).unwrap_err();
        assert_eq!(error.key, "min.insync.replicas");
    }

    #[test]
    fn broker_cross_field_rules() {
        let error = BrokerConfig::from_map(&map(&[("replica.lag.time.max.ms", "400")])).unwrap_err();
        assert_eq!(error.key, "replica.fetch.wait.max.ms");
        assert_eq!(error.value, None);
        assert!(error.message.contains("(500 ms) must be at most"), "{error}");
        assert_eq!(error.suggestion.as_deref(), Some("lower \"replica.fetch.wait.max.ms\" to 400 or less"));

        let error = BrokerConfig::from_map(&map(&[("group.min.session.timeout.ms", "2000000")])).unwrap_err();
        assert_eq!(error.key, "group.min.session.timeout.ms");
        assert!(error.message.contains("is above"), "{error}");
    }

    #[test]
    fn effective_min_isr_is_capped_by_replication_factor() {
        let broker = BrokerConfig::default();
        let none = TopicConfig::default();
        let three = TopicConfig { min_insync_replicas: Some(3), ..TopicConfig::default() };
        assert_eq!(effective_min_insync_replicas(&broker, &none, 3), 1);
        assert_eq!(effective_min_insync_replicas(&broker, &three, 3), 3);
        assert_eq!(effective_min_insync_replicas(&broker, &three, 2), 2);
        let broker_two = BrokerConfig { min_insync_replicas: 2, ..BrokerConfig::default() };
        assert_eq!(effective_min_insync_replicas(&broker_two, &none, 3), 2);
        assert_eq!(effective_min_insync_replicas(&broker_two, &none, 1), 1);
    }

    #[test]
    fn quorum_and_leader_balance_keys_are_range_checked() {
        let error = BrokerConfig::from_map(&map(&[("leader.imbalance.per.broker.percentage", "101")])).unwrap_err();
        assert_eq!(error.key, "leader.imbalance.per.broker.percentage");
        assert_eq!(error.value.as_deref(), Some("101"));
        assert_eq!(
            error.message,
            "invalid value \"101\" for \"leader.imbalance.per.broker.percentage\": expected a whole number, \
             from 0 to 100"
        );
        let broker = BrokerConfig::from_map(&map(&[("leader.imbalance.per.broker.percentage", "100")])).unwrap();
        assert_eq!(broker.leader_imbalance_per_broker_percentage, 100);

        for (key, value, range) in [
            ("controller.quorum.election.timeout.ms", "0", "from 1 to 2147483647"),
            ("controller.quorum.fetch.timeout.ms", "2147483648", "from 1 to 2147483647"),
            ("controller.quorum.election.backoff.max.ms", "0", "from 1 to 2147483647"),
            ("controller.quorum.request.timeout.ms", "0", "from 1 to 2147483647"),
            ("controller.quorum.retry.backoff.ms", "-1", "from 0 to 2147483647"),
            ("leader.imbalance.check.interval.seconds", "0", "1 or more"),
            ("leader.imbalance.per.broker.percentage", "-1", "from 0 to 100"),
        ] {
            let error = BrokerConfig::from_map(&map(&[(key, value)])).unwrap_err();
            assert_eq!(error.key, key);
            assert!(error.message.contains(range), "{key}={value}: {error}");
        }
        for key in ["unclean.leader.election.enable", "auto.leader.rebalance.enable"] {
            let error = BrokerConfig::from_map(&map(&[(key, "yes")])).unwrap_err();
            assert_eq!(error.key, key);
            assert_eq!(error.message, format!("invalid value \"yes\" for \"{key}\": expected \"true\" or \"false\""));
        }
        let error = TopicConfig::from_map(&map(&[("unclean.leader.election.enable", "1")])).unwrap_err();
        assert_eq!(error.key, "unclean.leader.election.enable");
    }

    #[test]
    fn topic_unclean_leader_election_overrides_the_brokers() {
        let broker = BrokerConfig::default();
        let broker_on = BrokerConfig::from_map(&map(&[("unclean.leader.election.enable", "true")])).unwrap();
        assert!(broker_on.unclean_leader_election_enable);
        let none = TopicConfig::from_map(&map(&[])).unwrap();
        let on = TopicConfig::from_map(&map(&[("unclean.leader.election.enable", "true")])).unwrap();
        let off = TopicConfig::from_map(&map(&[("unclean.leader.election.enable", "false")])).unwrap();
        assert_eq!(on.unclean_leader_election_enable, Some(true));
        assert_eq!(off.unclean_leader_election_enable, Some(false));
        assert!(!effective_unclean_leader_election(&broker, &none));
        assert!(effective_unclean_leader_election(&broker, &on));
        assert!(!effective_unclean_leader_election(&broker, &off));
        assert!(effective_unclean_leader_election(&broker_on, &none));
        assert!(effective_unclean_leader_election(&broker_on, &on));
        assert!(!effective_unclean_leader_election(&broker_on, &off));

        // It is not a log key: it stays out of the log overrides, which the broker's log
        // settings accept unchanged.
        let topic =
            TopicConfig::from_map(&map(&[("unclean.leader.election.enable", "true"), ("retention.ms", "1000")]))
                .unwrap();
        assert_eq!(topic.unclean_leader_election_enable, Some(true));
        assert_eq!(topic.log_overrides, map(&[("retention.ms", "1000")]));
        let log = broker.log.with_topic_overrides(&topic.log_overrides).unwrap();
        assert_eq!(log, LogConfig { retention_ms: 1_000, ..broker.log.clone() });
        // Given the whole topic map, the log settings ignore it too.
        let whole = map(&[("unclean.leader.election.enable", "true")]);
        assert_eq!(broker.log.with_topic_overrides(&whole).unwrap(), broker.log);
    }

    #[test]
    fn idempotence_is_on_by_default_and_off_quietly_for_weaker_acks() {
        assert!(ProducerConfig::from_map(&map(&[])).unwrap().enable_idempotence);
        assert!(ProducerConfig::from_map(&map(&[("acks", "all")])).unwrap().enable_idempotence);
        assert!(ProducerConfig::from_map(&map(&[("acks", "-1")])).unwrap().enable_idempotence);
        for acks in ["0", "1"] {
            let config = ProducerConfig::from_map(&map(&[("acks", acks)])).unwrap();
            assert!(!config.enable_idempotence, "acks={acks}");
        }
        let config = ProducerConfig::from_map(&map(&[("retries", "0")])).unwrap();
        assert!(!config.enable_idempotence);
        let config = ProducerConfig::from_map(&map(&[("enable.idempotence", "false")])).unwrap();
        assert!(!config.enable_idempotence);
        let config = ProducerConfig::from_map(&map(&[("enable.idempotence", "True")])).unwrap();
        assert!(config.enable_idempotence);
    }

    #[test]
    fn explicit_idempotence_with_weaker_acks_is_an_error() {
        let error = ProducerConfig::from_map(&map(&[("acks", "1"), ("enable.idempotence", "true")])).unwrap_err();
        assert_eq!(error.key, "enable.idempotence");
        assert_eq!(error.value.as_deref(), Some("true"));
        assert!(error.message.contains("\"acks\" is \"1\""), "{error}");
        assert!(error.message.contains("requires acks to be all"), "{error}");
        assert_eq!(error.suggestion.as_deref(), Some("set \"acks\" to \"all\" or \"enable.idempotence\" to \"false\""));

        let error = ProducerConfig::from_map(&map(&[("retries", "0"), ("enable.idempotence", "true")])).unwrap_err();
        assert_eq!(error.key, "enable.idempotence");
        assert!(error.message.contains("\"retries\" is 0"), "{error}");
    }

    #[test]
    fn before_kafka_3_0_producers_default_to_acks_1_without_idempotence() {
        use crate::era::KafkaVersion;
        let old = KafkaVersion::V2_8.era();
        let config = ProducerConfig::from_map_in(&map(&[]), &old).unwrap();
        assert_eq!(config.acks, Acks::One);
        assert!(!config.enable_idempotence);
        // Asking for idempotence explicitly brings acks=all along, as the 2.x producer did.
        let config = ProducerConfig::from_map_in(&map(&[("enable.idempotence", "true")]), &old).unwrap();
        assert_eq!(config.acks, Acks::All);
        assert!(config.enable_idempotence);
        // ...but an explicit weaker acks still conflicts with it.
        let error =
            ProducerConfig::from_map_in(&map(&[("enable.idempotence", "true"), ("acks", "1")]), &old).unwrap_err();
        assert_eq!(error.key, "enable.idempotence");
        // The current era keeps KIP-679's defaults, and `from_map` means the current era.
        let current = ProducerConfig::from_map_in(&map(&[]), &KafkaVersion::CURRENT.era()).unwrap();
        assert_eq!(current, ProducerConfig::from_map(&map(&[])).unwrap());
        assert_eq!((current.acks, current.enable_idempotence), (Acks::All, true));
    }

    #[test]
    fn producer_memory_and_size_keys_are_bounded() {
        let error = ProducerConfig::from_map(&map(&[("buffer.memory", "-1")])).unwrap_err();
        assert_eq!(error.key, "buffer.memory");
        assert!(error.message.contains("0 or more"), "{error}");
        let error = ProducerConfig::from_map(&map(&[("max.request.size", "1MiB")])).unwrap_err();
        assert_eq!(error.key, "max.request.size");
        assert!(error.message.contains("from 0 to 2147483647"), "{error}");
        let error = ProducerConfig::from_map(&map(&[("max.block.ms", "1m")])).unwrap_err();
        assert_eq!(error.suggestion.as_deref(), Some("Kafka takes a plain number without a unit: write \"60000\""));
        let config = ProducerConfig::from_map(&map(&[("max.block.ms", "0")])).unwrap();
        assert_eq!(config.max_block_ms, 0);
    }

    #[test]
    fn idempotence_allows_at_most_five_in_flight_requests() {
        let error = ProducerConfig::from_map(&map(&[("max.in.flight.requests.per.connection", "6")])).unwrap_err();
        assert_eq!(error.key, "max.in.flight.requests.per.connection");
        assert_eq!(error.value.as_deref(), Some("6"));
        assert!(error.message.contains("at most 5"), "{error}");

        let config = ProducerConfig::from_map(&map(&[("max.in.flight.requests.per.connection", "5")])).unwrap();
        assert!(config.enable_idempotence);
        // Without idempotence there is no cap.
        let config = ProducerConfig::from_map(&map(&[
            ("max.in.flight.requests.per.connection", "50"),
            ("enable.idempotence", "false"),
        ]))
        .unwrap();
        assert_eq!(config.max_in_flight_requests_per_connection, 50);
    }

    #[test]
    fn bad_boolean_is_an_error() {
        let error = ProducerConfig::from_map(&map(&[("enable.idempotence", "yes")])).unwrap_err();
        assert_eq!(error.key, "enable.idempotence");
        assert_eq!(error.message, "invalid value \"yes\" for \"enable.idempotence\": expected \"true\" or \"false\"");
        let error = ConsumerConfig::from_map(&map(&[("enable.auto.commit", "1")])).unwrap_err();
        assert_eq!(error.key, "enable.auto.commit");
    }

    #[test]
    fn delivery_timeout_covers_linger_plus_request_timeout() {
        // Not set: raised to the sum, as KafkaProducer does.
        let config =
            ProducerConfig::from_map(&map(&[("linger.ms", "100000"), ("enable.idempotence", "false")])).unwrap();
        assert_eq!(config.delivery_timeout_ms, 130_000);
        // Set explicitly: an error.
        let error = ProducerConfig::from_map(&map(&[("delivery.timeout.ms", "1000")])).unwrap_err();
        assert_eq!(error.key, "delivery.timeout.ms");
        assert!(error.message.contains("(30000 ms)"), "{error}");
        assert_eq!(error.suggestion.as_deref(), Some("raise \"delivery.timeout.ms\" to 30000 or more"));
    }

    #[test]
    fn heartbeat_must_be_below_session_timeout() {
        let error = ConsumerConfig::from_map(&map(&[("session.timeout.ms", "3000")])).unwrap_err();
        assert_eq!(error.key, "session.timeout.ms");
        assert_eq!(
            error.message,
            "\"heartbeat.interval.ms\" (3000 ms) must be lower than \"session.timeout.ms\" \
             (3000 ms)"
        );
        let error = ConsumerConfig::from_map(&map(&[("heartbeat.interval.ms", "50000")])).unwrap_err();
        assert_eq!(error.key, "heartbeat.interval.ms");
        assert_eq!(error.value.as_deref(), Some("50000"));
    }

    #[test]
    fn auto_offset_reset_values() {
        for (value, reset) in [
            ("earliest", AutoOffsetReset::Earliest),
            ("latest", AutoOffsetReset::Latest),
            ("none", AutoOffsetReset::None),
        ] {
            let config = ConsumerConfig::from_map(&map(&[("auto.offset.reset", value)])).unwrap();
            assert_eq!(config.auto_offset_reset, reset);
            assert_eq!(reset.to_string(), value);
        }
        let error = ConsumerConfig::from_map(&map(&[("auto.offset.reset", "earlest")])).unwrap_err();
        assert_eq!(error.key, "auto.offset.reset");
        assert!(error.message.contains("\"earliest\", \"latest\" or \"none\""), "{error}");
        assert_eq!(error.suggestion.as_deref(), Some("did you mean \"earliest\"?"));
    }

    #[test]
    fn assignment_strategies_parse_as_a_preference_list() {
        let parse = |v: &str| ConsumerConfig::from_map(&map(&[("partition.assignment.strategy", v)]));
        assert_eq!(parse("range").unwrap().partition_assignment_strategy, vec![Assignor::Range]);
        let config = parse(" cooperative-sticky , org.apache.kafka.clients.consumer.RangeAssignor,range").unwrap();
        assert_eq!(config.partition_assignment_strategy, vec![Assignor::CooperativeSticky, Assignor::Range]);
        // Range cannot revoke cooperatively, so a list holding it makes the member eager.
        assert_eq!(config.rebalance_protocol(), RebalanceProtocol::Eager);
        assert_eq!(parse("cooperative-sticky").unwrap().rebalance_protocol(), RebalanceProtocol::Cooperative);
        assert_eq!(ConsumerConfig::default().rebalance_protocol(), RebalanceProtocol::Eager);
        let error = parse("stiky").unwrap_err();
        assert!(error.message.contains("unknown assignor \"stiky\""), "{error}");
        assert_eq!(error.suggestion.as_deref(), Some("did you mean \"sticky\"?"));
        let error = parse(" , ").unwrap_err();
        assert!(error.message.contains("is empty"), "{error}");
        let error = ConsumerConfig::from_map(&map(&[("group.instance.id", " ")])).unwrap_err();
        assert_eq!(error.key, "group.instance.id");
    }

    #[test]
    fn every_listed_key_is_accepted_by_its_own_parser() {
        // Each key set to its default must parse, so KEYS and from_map cannot drift apart.
        let broker = BrokerConfig::default();
        let log = &broker.log;
        let defaults = [
            ("auto.leader.rebalance.enable", broker.auto_leader_rebalance_enable.to_string()),
            ("broker.heartbeat.interval.ms", broker.broker_heartbeat_interval_ms.to_string()),
            ("broker.session.timeout.ms", broker.broker_session_timeout_ms.to_string()),
            ("compression.type", log.compression_type.to_string()),
            ("controller.quorum.election.backoff.max.ms", broker.controller_quorum_election_backoff_max_ms.to_string()),
            ("controller.quorum.election.timeout.ms", broker.controller_quorum_election_timeout_ms.to_string()),
            ("controller.quorum.fetch.timeout.ms", broker.controller_quorum_fetch_timeout_ms.to_string()),
            ("controller.quorum.request.timeout.ms", broker.controller_quorum_request_timeout_ms.to_string()),
            ("controller.quorum.retry.backoff.ms", broker.controller_quorum_retry_backoff_ms.to_string()),
            ("group.initial.rebalance.delay.ms", broker.group_initial_rebalance_delay_ms.to_string()),
            ("group.max.session.timeout.ms", broker.group_max_session_timeout_ms.to_string()),
            ("group.min.session.timeout.ms", broker.group_min_session_timeout_ms.to_string()),
            ("leader.imbalance.check.interval.seconds", broker.leader_imbalance_check_interval_seconds.to_string()),
            ("leader.imbalance.per.broker.percentage", broker.leader_imbalance_per_broker_percentage.to_string()),
            ("log.cleaner.backoff.ms", broker.log_cleaner_backoff_ms.to_string()),
            ("log.cleaner.delete.retention.ms", log.delete_retention_ms.to_string()),
            ("log.cleaner.enable", broker.log_cleaner_enable.to_string()),
            ("log.cleaner.max.compaction.lag.ms", log.max_compaction_lag_ms.to_string()),
            ("log.cleaner.min.cleanable.ratio", log.min_cleanable_dirty_ratio.to_string()),
            ("log.cleaner.min.compaction.lag.ms", log.min_compaction_lag_ms.to_string()),
            ("log.cleanup.policy", log.cleanup_policy.to_string()),
            ("log.flush.interval.messages", log.flush_messages.to_string()),
            ("log.flush.interval.ms", log.flush_ms.to_string()),
            ("log.flush.offset.checkpoint.interval.ms", broker.log_flush_offset_checkpoint_interval_ms.to_string()),
            ("log.flush.scheduler.interval.ms", broker.log_flush_scheduler_interval_ms.to_string()),
            (
                "log.flush.start.offset.checkpoint.interval.ms",
                broker.log_flush_start_offset_checkpoint_interval_ms.to_string(),
            ),
            ("log.index.interval.bytes", log.index_interval_bytes.to_string()),
            ("log.index.size.max.bytes", log.segment_index_bytes.to_string()),
            ("log.retention.bytes", log.retention_bytes.to_string()),
            ("log.retention.check.interval.ms", broker.log_retention_check_interval_ms.to_string()),
            ("log.retention.ms", log.retention_ms.to_string()),
            ("log.roll.ms", log.segment_ms.to_string()),
            ("log.segment.bytes", log.segment_bytes.to_string()),
            ("max.incremental.fetch.session.cache.slots", broker.max_incremental_fetch_session_cache_slots.to_string()),
            ("message.max.bytes", log.max_message_bytes.to_string()),
            ("min.insync.replicas", broker.min_insync_replicas.to_string()),
            ("offsets.topic.num.partitions", broker.offsets_topic_num_partitions.to_string()),
            ("offsets.topic.replication.factor", broker.offsets_topic_replication_factor.to_string()),
            ("replica.fetch.backoff.ms", broker.replica_fetch_backoff_ms.to_string()),
            ("replica.fetch.wait.max.ms", broker.replica_fetch_wait_max_ms.to_string()),
            (
                "replica.high.watermark.checkpoint.interval.ms",
                broker.replica_high_watermark_checkpoint_interval_ms.to_string(),
            ),
            ("replica.lag.time.max.ms", broker.replica_lag_time_max_ms.to_string()),
            ("unclean.leader.election.enable", broker.unclean_leader_election_enable.to_string()),
        ];
        let keys: Vec<&str> = defaults.iter().map(|(key, _)| *key).collect();
        assert_eq!(keys, BrokerConfig::KEYS);
        let all: BTreeMap<String, String> = defaults.iter().map(|(k, v)| (k.to_string(), v.clone())).collect();
        assert_eq!(BrokerConfig::from_map(&all).unwrap(), broker);

        // Every topic key, set to the broker's default, gives back the broker's settings. The
        // keys that are not log keys are spelt alike for brokers, so `broker_log_key` leaves
        // them as they are.
        let topic: BTreeMap<String, String> = TopicConfig::KEYS
            .iter()
            .map(|key| match key {
                &"min.insync.replicas" => (key.to_string(), "1".to_string()),
                _ => (key.to_string(), all[broker_log_key(key)].clone()),
            })
            .collect();
        let config = TopicConfig::from_map(&topic).unwrap();
        assert_eq!(config.min_insync_replicas, Some(1));
        assert_eq!(config.unclean_leader_election_enable, Some(false));
        assert_eq!(config.log_overrides.len(), TopicConfig::KEYS.len() - 2);
        assert!(!config.log_overrides.contains_key("min.insync.replicas"));
        assert!(!config.log_overrides.contains_key("unclean.leader.election.enable"));
        assert_eq!(broker.log.with_topic_overrides(&config.log_overrides).unwrap(), broker.log);

        for key in ProducerConfig::KEYS.iter().chain(ConsumerConfig::KEYS) {
            // Check only that no key is rejected as unknown; values may be wrong on purpose.
            let m = map(&[(key, "x")]);
            let result = match ProducerConfig::KEYS.contains(key) {
                true => ProducerConfig::from_map(&m).map(|_| ()),
                false => ConsumerConfig::from_map(&m).map(|_| ()),
            };
            if let Err(error) = result {
                assert!(!error.message.contains("config key"), "{key}: {error}");
            }
        }
    }

    #[test]
    fn key_lists_are_sorted_and_log_synonyms_match_them() {
        for keys in [BrokerConfig::KEYS, TopicConfig::KEYS, ProducerConfig::KEYS, ConsumerConfig::KEYS] {
            assert!(keys.windows(2).all(|pair| pair[0] < pair[1]), "{keys:?}");
        }
        assert!(LOG_SYNONYMS.windows(2).all(|pair| pair[0].0 < pair[1].0));
        for (topic_key, broker_key) in LOG_SYNONYMS {
            assert!(TopicConfig::KEYS.contains(topic_key), "{topic_key}");
            assert!(BrokerConfig::KEYS.contains(broker_key), "{broker_key}");
            assert_eq!(broker_log_key(topic_key), *broker_key);
        }
        // Every topic key but min.insync.replicas and unclean.leader.election.enable (both spelt
        // alike for brokers) is a log key.
        assert_eq!(LOG_SYNONYMS.len(), TopicConfig::KEYS.len() - 2);
        for key in ["min.insync.replicas", "unclean.leader.election.enable"] {
            assert!(TopicConfig::KEYS.contains(&key) && BrokerConfig::KEYS.contains(&key), "{key}");
        }
        // No key is both modelled and unmodelled for a role.
        for role in Role::ALL {
            assert!(role.keys().iter().all(|key| !role.unmodelled().contains(key)), "{role:?}");
        }
    }

    #[test]
    fn log_defaults_are_kafkas() {
        let log = LogConfig::default();
        assert_eq!(log.segment_bytes, 1_073_741_824);
        assert_eq!(log.segment_ms, 604_800_000);
        assert_eq!(log.segment_index_bytes, 10_485_760);
        assert_eq!(log.index_interval_bytes, 4_096);
        assert_eq!(log.retention_ms, 604_800_000);
        assert_eq!(log.retention_bytes, -1);
        assert_eq!(log.cleanup_policy, CleanupPolicy { delete: true, compact: false });
        assert_eq!(log.compression_type, TopicCompression::Producer);
        assert_eq!(log.min_cleanable_dirty_ratio, 0.5);
        assert_eq!(log.min_compaction_lag_ms, 0);
        assert_eq!(log.max_compaction_lag_ms, i64::MAX as u64);
        assert_eq!(log.delete_retention_ms, 86_400_000);
        assert_eq!(log.flush_messages, i64::MAX as u64);
        assert_eq!(log.flush_ms, i64::MAX as u64);
        assert!(log.deletes());
        assert!(!log.is_compacted());
        assert_eq!(log.with_topic_overrides(&map(&[])).unwrap(), log);
    }

    #[test]
    fn every_broker_log_key_is_parsed() {
        let broker = BrokerConfig::from_map(&map(&[
            ("log.segment.bytes", "1048576"),
            ("log.roll.ms", "60000"),
            ("log.index.size.max.bytes", "4096"),
            ("log.index.interval.bytes", "0"),
            ("log.retention.ms", "-1"),
            ("log.retention.bytes", "10485760"),
            ("log.cleanup.policy", "compact"),
            ("compression.type", "lz4"),
            ("log.cleaner.min.cleanable.ratio", "0.1"),
            ("log.cleaner.min.compaction.lag.ms", "1000"),
            ("log.cleaner.max.compaction.lag.ms", "2000"),
            ("log.cleaner.delete.retention.ms", "500"),
            ("log.flush.interval.messages", "1"),
            ("log.flush.interval.ms", "100"),
            // Set alongside log.flush.interval.ms, it does not change flush_ms.
            ("log.flush.scheduler.interval.ms", "50"),
        ]))
        .unwrap();
        assert_eq!(
            broker.log,
            LogConfig {
                segment_bytes: 1_048_576,
                segment_ms: 60_000,
                segment_index_bytes: 4_096,
                index_interval_bytes: 0,
                retention_ms: -1,
                retention_bytes: 10_485_760,
                cleanup_policy: CleanupPolicy { delete: false, compact: true },
                compression_type: TopicCompression::Codec(Compression::Lz4),
                min_cleanable_dirty_ratio: 0.1,
                min_compaction_lag_ms: 1_000,
                max_compaction_lag_ms: 2_000,
                delete_retention_ms: 500,
                flush_messages: 1,
                flush_ms: 100,
                max_message_bytes: 1_048_588,
            }
        );
        assert!(broker.log.is_compacted());
        assert!(!broker.log.deletes());
        assert_eq!(broker.log_flush_scheduler_interval_ms, 50);
    }

    #[test]
    fn topic_log_keys_override_the_brokers_defaults() {
        let broker = BrokerConfig::from_map(&map(&[
            ("log.retention.ms", "3600000"),
            ("log.segment.bytes", "1048576"),
            ("log.cleanup.policy", "compact"),
        ]))
        .unwrap();
        let topic = TopicConfig::from_map(&map(&[
            ("min.insync.replicas", "2"),
            ("segment.ms", "1000"),
            ("segment.index.bytes", "8"),
            ("index.interval.bytes", "100"),
            ("retention.ms", " 60000 "),
            ("retention.bytes", "-1"),
            ("cleanup.policy", "delete, compact"),
            ("compression.type", "zstd"),
            ("min.cleanable.dirty.ratio", "1"),
            ("min.compaction.lag.ms", "10"),
            ("max.compaction.lag.ms", "20"),
            ("delete.retention.ms", "0"),
            ("flush.messages", "5"),
            ("flush.ms", "0"),
        ]))
        .unwrap();
        assert_eq!(topic.min_insync_replicas, Some(2));
        assert_eq!(topic.log_overrides.len(), 13);
        assert_eq!(topic.log_overrides["retention.ms"], " 60000 ");
        let log = broker.log.with_topic_overrides(&topic.log_overrides).unwrap();
        assert_eq!(
            log,
            LogConfig {
                // Not set on the topic: the broker's.
                segment_bytes: 1_048_576,
                segment_ms: 1_000,
                segment_index_bytes: 8,
                index_interval_bytes: 100,
                retention_ms: 60_000,
                retention_bytes: -1,
                cleanup_policy: CleanupPolicy { delete: true, compact: true },
                compression_type: TopicCompression::Codec(Compression::Zstd),
                min_cleanable_dirty_ratio: 1.0,
                min_compaction_lag_ms: 10,
                max_compaction_lag_ms: 20,
                delete_retention_ms: 0,
                flush_messages: 5,
                flush_ms: 0,
                max_message_bytes: 1_048_588,
            }
        );
        assert!(log.is_compacted() && log.deletes());

        // Other keys, broker spellings included, are ignored, not rejected.
        let others = map(&[("min.insync.replicas", "2"), ("log.retention.ms", "5"), ("colour", "blue")]);
        assert_eq!(broker.log.with_topic_overrides(&others).unwrap(), broker.log);
    }

    #[test]
    fn cleanup_policy_takes_kafkas_list_syntax() {
        for (value, delete, compact) in [
            ("delete", true, false),
            ("compact", false, true),
            ("compact,delete", true, true),
            ("delete,compact", true, true),
            (" compact , delete ", true, true),
            ("delete,delete", true, false),
        ] {
            let topic = TopicConfig::from_map(&map(&[("cleanup.policy", value)])).unwrap();
            let log = LogConfig::default().with_topic_overrides(&topic.log_overrides).unwrap();
            assert_eq!(log.cleanup_policy, CleanupPolicy { delete, compact }, "{value}");
        }
        assert_eq!(CleanupPolicy { delete: true, compact: true }.to_string(), "compact,delete");
        assert_eq!(CleanupPolicy { delete: false, compact: true }.to_string(), "compact");
    }

    #[test]
    fn bad_cleanup_policy_names_the_value_and_the_accepted_ones() {
        let error = TopicConfig::from_map(&map(&[("cleanup.policy", "compacted")])).unwrap_err();
        assert_eq!(error.key, "cleanup.policy");
        assert_eq!(error.value.as_deref(), Some("compacted"));
        assert_eq!(
            error.message,
            "invalid value \"compacted\" for \"cleanup.policy\": expected \"delete\", \"compact\" or both, \
             comma-separated (\"compact,delete\")"
        );
        assert_eq!(error.suggestion.as_deref(), Some("did you mean \"compact\"?"));

        let error = TopicConfig::from_map(&map(&[("cleanup.policy", "compact, Delete")])).unwrap_err();
        assert_eq!(error.suggestion.as_deref(), Some("did you mean \"compact,delete\"?"));
        let error = BrokerConfig::from_map(&map(&[("log.cleanup.policy", "forever")])).unwrap_err();
        assert_eq!(error.key, "log.cleanup.policy");
        assert!(error.message.contains("for \"log.cleanup.policy\""), "{error}");
        assert_eq!(error.suggestion.as_deref(), Some("use \"delete\", \"compact\" or \"compact,delete\""));
        let error = TopicConfig::from_map(&map(&[("cleanup.policy", "delete,")])).unwrap_err();
        assert_eq!(error.suggestion.as_deref(), Some("remove the extra comma"));

        for value in ["", "  "] {
            let error = TopicConfig::from_map(&map(&[("cleanup.policy", value)])).unwrap_err();
            assert_eq!(error.key, "cleanup.policy");
            assert!(error.message.contains("is empty"), "{error}");
        }
    }

    #[test]
    fn bad_log_values_are_errors() {
        let error = TopicConfig::from_map(&map(&[("min.cleanable.dirty.ratio", "1.5")])).unwrap_err();
        assert_eq!(error.key, "min.cleanable.dirty.ratio");
        assert_eq!(
            error.message,
            "invalid value \"1.5\" for \"min.cleanable.dirty.ratio\": expected a number from 0 to 1, such as 0.5"
        );
        assert_eq!(error.suggestion, None);
        let error = BrokerConfig::from_map(&map(&[("log.cleaner.min.cleanable.ratio", "50%")])).unwrap_err();
        assert_eq!(error.key, "log.cleaner.min.cleanable.ratio");
        assert_eq!(error.suggestion.as_deref(), Some("Kafka takes a fraction, not a percentage: write \"0.5\""));
        for value in ["NaN", "inf", "-0.1", "half"] {
            let error = TopicConfig::from_map(&map(&[("min.cleanable.dirty.ratio", value)])).unwrap_err();
            assert_eq!(error.value.as_deref(), Some(value));
        }

        let error = TopicConfig::from_map(&map(&[("retention.ms", "-2")])).unwrap_err();
        assert_eq!(error.key, "retention.ms");
        assert_eq!(
            error.message,
            "invalid value \"-2\" for \"retention.ms\": expected a whole number of milliseconds, -1 \
             (unlimited) or more"
        );
        assert_eq!(error.suggestion.as_deref(), Some("use -1 for no limit"));
        let error = BrokerConfig::from_map(&map(&[("log.retention.bytes", "-5")])).unwrap_err();
        assert_eq!(error.key, "log.retention.bytes");
        assert!(error.message.contains("a whole number of bytes, -1 (unlimited) or more"), "{error}");
        let error = TopicConfig::from_map(&map(&[("retention.ms", "7d")])).unwrap_err();
        assert_eq!(error.suggestion, None);
        let error = TopicConfig::from_map(&map(&[("retention.ms", "60s")])).unwrap_err();
        assert_eq!(error.suggestion.as_deref(), Some("Kafka takes a plain number without a unit: write \"60000\""));

        for (key, value, range) in [
            ("segment.bytes", "13", "from 14 to 2147483647"),
            ("segment.bytes", "2147483648", "from 14 to 2147483647"),
            ("segment.ms", "0", "1 or more"),
            ("segment.index.bytes", "4", "from 8 to 2147483647"),
            ("index.interval.bytes", "-1", "from 0 to 2147483647"),
            ("max.compaction.lag.ms", "0", "1 or more"),
            ("flush.messages", "0", "1 or more"),
            ("delete.retention.ms", "-1", "0 or more"),
        ] {
            let error = TopicConfig::from_map(&map(&[(key, value)])).unwrap_err();
            assert_eq!(error.key, key);
            assert!(error.message.contains(range), "{key}={value}: {error}");
        }
        for (key, value) in [
            ("log.retention.check.interval.ms", "0"),
            ("log.flush.scheduler.interval.ms", "0"),
            ("replica.high.watermark.checkpoint.interval.ms", "0"),
            ("log.flush.offset.checkpoint.interval.ms", "2147483648"),
            ("log.cleaner.enable", "yes"),
            ("log.roll.ms", "0"),
        ] {
            let error = BrokerConfig::from_map(&map(&[(key, value)])).unwrap_err();
            assert_eq!(error.key, key, "{error}");
        }
    }

    #[test]
    fn min_compaction_lag_above_max_is_an_error() {
        // Both on the topic: reported on the minimum.
        let error =
            TopicConfig::from_map(&map(&[("min.compaction.lag.ms", "2000"), ("max.compaction.lag.ms", "1000")]))
                .unwrap_err();
        assert_eq!(error.key, "min.compaction.lag.ms");
        assert_eq!(error.value.as_deref(), Some("2000"));
        assert_eq!(
            error.message,
            "\"min.compaction.lag.ms\" (2000 ms) must be at most \"max.compaction.lag.ms\" (1000 ms)"
        );
        assert_eq!(error.suggestion.as_deref(), Some("lower \"min.compaction.lag.ms\" to 1000 or less"));

        // One on the broker, the other on the topic: reported on the topic's key.
        let broker = BrokerConfig::from_map(&map(&[("log.cleaner.max.compaction.lag.ms", "1000")])).unwrap();
        let topic = TopicConfig::from_map(&map(&[("min.compaction.lag.ms", "5000")])).unwrap();
        let error = broker.log.with_topic_overrides(&topic.log_overrides).unwrap_err();
        assert_eq!(error.key, "min.compaction.lag.ms");
        assert_eq!(error.value.as_deref(), Some("5000"));
        let broker = BrokerConfig::from_map(&map(&[("log.cleaner.min.compaction.lag.ms", "5000")])).unwrap();
        let topic = TopicConfig::from_map(&map(&[("max.compaction.lag.ms", "1000")])).unwrap();
        let error = broker.log.with_topic_overrides(&topic.log_overrides).unwrap_err();
        assert_eq!(error.key, "max.compaction.lag.ms");
        assert_eq!(error.value.as_deref(), Some("1000"));
        assert_eq!(error.suggestion.as_deref(), Some("raise \"max.compaction.lag.ms\" to 5000 or more"));

        // Both on the broker, in its spelling.
        let error = BrokerConfig::from_map(&map(&[
            ("log.cleaner.min.compaction.lag.ms", "10"),
            ("log.cleaner.max.compaction.lag.ms", "9"),
        ]))
        .unwrap_err();
        assert_eq!(error.key, "log.cleaner.min.compaction.lag.ms");
        assert!(error.message.contains("must be at most \"log.cleaner.max.compaction.lag.ms\" (9 ms)"), "{error}");

        // Equal lags are fine.
        let topic = map(&[("min.compaction.lag.ms", "7"), ("max.compaction.lag.ms", "7")]);
        assert!(TopicConfig::from_map(&topic).is_ok());
    }

    #[test]
    fn log_keys_in_the_other_spelling_suggest_the_right_one() {
        let error = BrokerConfig::from_map(&map(&[("retention.ms", "1000")])).unwrap_err();
        assert_eq!(error.key, "retention.ms");
        assert_eq!(error.value.as_deref(), Some("1000"));
        assert_eq!(
            error.message,
            "\"retention.ms\" is a topic config key; the cluster's (broker) configs spell it \"log.retention.ms\""
        );
        assert_eq!(
            error.suggestion.as_deref(),
            Some(
                "write \"log.retention.ms\" to set the default of every topic, or move \"retention.ms\" to a \
                 topic's configs"
            )
        );

        let error = TopicConfig::from_map(&map(&[("log.retention.ms", "1000")])).unwrap_err();
        assert_eq!(error.key, "log.retention.ms");
        assert_eq!(
            error.message,
            "\"log.retention.ms\" is a broker config key; a topic's configs spell it \"retention.ms\""
        );
        assert_eq!(
            error.suggestion.as_deref(),
            Some(
                "write \"retention.ms\" to set it for this topic only, or move \"log.retention.ms\" to the \
                 cluster's (broker) configs"
            )
        );

        // Every pair spelt differently, both ways.
        for (topic_key, broker_key) in LOG_SYNONYMS.iter().filter(|(topic_key, broker_key)| topic_key != broker_key) {
            let error = BrokerConfig::from_map(&map(&[(topic_key, "1")])).unwrap_err();
            assert!(error.message.ends_with(&format!("spell it \"{broker_key}\"")), "{error}");
            let error = TopicConfig::from_map(&map(&[(broker_key, "1")])).unwrap_err();
            assert!(error.message.ends_with(&format!("spell it \"{topic_key}\"")), "{error}");
        }

        // Keys spelt alike for both roles are accepted by both.
        assert!(TopicConfig::from_map(&map(&[("min.insync.replicas", "2")])).is_ok());
        assert!(BrokerConfig::from_map(&map(&[("min.insync.replicas", "2")])).is_ok());
        assert!(TopicConfig::from_map(&map(&[("unclean.leader.election.enable", "true")])).is_ok());
        assert!(BrokerConfig::from_map(&map(&[("unclean.leader.election.enable", "true")])).is_ok());
        assert!(TopicConfig::from_map(&map(&[("compression.type", "gzip")])).is_ok());
        assert!(BrokerConfig::from_map(&map(&[("compression.type", "gzip")])).is_ok());
        // A broker-only log key has no topic spelling.
        let error = TopicConfig::from_map(&map(&[("log.cleaner.enable", "true")])).unwrap_err();
        assert_eq!(error.message, "\"log.cleaner.enable\" is a broker config key, not a topic config key");
        // A misspelt log key still gets the nearest key of its role.
        let error = BrokerConfig::from_map(&map(&[("log.retention.byte", "1")])).unwrap_err();
        assert_eq!(error.suggestion.as_deref(), Some("did you mean \"log.retention.bytes\"?"));
    }

    #[test]
    fn coarse_broker_log_keys_suggest_the_millisecond_key() {
        let error = BrokerConfig::from_map(&map(&[("log.retention.hours", "168")])).unwrap_err();
        assert_eq!(error.key, "log.retention.hours");
        assert_eq!(error.message, "unsupported broker config key \"log.retention.hours\"");
        assert_eq!(error.suggestion.as_deref(), Some("use \"log.retention.ms\" instead: write \"604800000\""));
        let error = BrokerConfig::from_map(&map(&[("log.retention.minutes", "-1")])).unwrap_err();
        assert_eq!(error.suggestion.as_deref(), Some("use \"log.retention.ms\" instead: write \"-1\""));
        let error = BrokerConfig::from_map(&map(&[("log.roll.hours", "a day")])).unwrap_err();
        assert_eq!(error.suggestion.as_deref(), Some("use \"log.roll.ms\" instead"));
    }

    #[test]
    fn max_message_bytes_is_a_log_key_with_kafkas_default() {
        // 1 MiB plus the 12-byte log overhead (Kafka's `DEFAULT_MAX_MESSAGE_BYTES`).
        assert_eq!(LogConfig::default().max_message_bytes, 1_048_588);
        let broker = BrokerConfig::from_map(&map(&[("message.max.bytes", "2000")])).unwrap();
        assert_eq!(broker.log.max_message_bytes, 2000);
        let topic = TopicConfig::from_map(&map(&[("max.message.bytes", "500")])).unwrap();
        assert_eq!(broker.log.with_topic_overrides(&topic.log_overrides).unwrap().max_message_bytes, 500);
        let error = TopicConfig::from_map(&map(&[("message.max.bytes", "500")])).unwrap_err();
        assert!(error.message.ends_with("spell it \"max.message.bytes\""), "{error}");
        assert!(TopicConfig::from_map(&map(&[("max.message.bytes", "-1")])).is_err());
    }

    #[test]
    fn compression_type_takes_kafkas_values_on_topics_and_brokers() {
        for (value, expected) in [
            ("producer", TopicCompression::Producer),
            ("uncompressed", TopicCompression::Codec(Compression::None)),
            ("gzip", TopicCompression::Codec(Compression::Gzip)),
            ("snappy", TopicCompression::Codec(Compression::Snappy)),
            ("lz4", TopicCompression::Codec(Compression::Lz4)),
            (" zstd ", TopicCompression::Codec(Compression::Zstd)),
        ] {
            let topic = TopicConfig::from_map(&map(&[("compression.type", value)])).unwrap();
            assert_eq!(topic.log_overrides["compression.type"], value);
            let log = LogConfig::default().with_topic_overrides(&topic.log_overrides).unwrap();
            assert_eq!(log.compression_type, expected, "{value}");
            let broker = BrokerConfig::from_map(&map(&[("compression.type", value)])).unwrap();
            assert_eq!(broker.log.compression_type, expected, "{value}");
            assert_eq!(expected.to_string(), value.trim());
        }

        // The broker's value is every topic's default; a topic's own value wins.
        let broker = BrokerConfig::from_map(&map(&[("compression.type", "gzip")])).unwrap();
        let log = broker.log.with_topic_overrides(&map(&[])).unwrap();
        assert_eq!(log.compression_type, TopicCompression::Codec(Compression::Gzip));
        let topic = TopicConfig::from_map(&map(&[("compression.type", "producer")])).unwrap();
        let log = broker.log.with_topic_overrides(&topic.log_overrides).unwrap();
        assert_eq!(log.compression_type, TopicCompression::Producer);

        // The stored codec: the producer's under `producer`, the topic's otherwise.
        for sent in Compression::ALL {
            assert_eq!(TopicCompression::Producer.stored_codec(sent), sent);
            for codec in Compression::ALL {
                assert_eq!(TopicCompression::Codec(codec).stored_codec(sent), codec);
            }
        }
    }

    #[test]
    fn bad_compression_type_names_the_value_and_suggests_one() {
        let error = TopicConfig::from_map(&map(&[("compression.type", "gzipp")])).unwrap_err();
        assert_eq!(error.key, "compression.type");
        assert_eq!(error.value.as_deref(), Some("gzipp"));
        assert_eq!(
            error.message,
            "invalid value \"gzipp\" for \"compression.type\": expected \"producer\", \"uncompressed\", \
             \"gzip\", \"snappy\", \"lz4\" or \"zstd\""
        );
        assert_eq!(error.suggestion.as_deref(), Some("did you mean \"gzip\"?"));

        // Kafka matches letter case exactly.
        let error = BrokerConfig::from_map(&map(&[("compression.type", "Snappy")])).unwrap_err();
        assert_eq!(error.key, "compression.type");
        assert_eq!(error.value.as_deref(), Some("Snappy"));
        assert_eq!(error.suggestion.as_deref(), Some("did you mean \"snappy\"?"));

        // `none` is the producer's spelling.
        for value in ["none", "NONE"] {
            let error = TopicConfig::from_map(&map(&[("compression.type", value)])).unwrap_err();
            assert_eq!(error.value.as_deref(), Some(value));
            assert_eq!(
                error.suggestion.as_deref(),
                Some(
                    "write \"uncompressed\" to store batches uncompressed (\"none\" is the producer's spelling), \
                     or \"producer\" to keep the producer's codec"
                )
            );
        }

        for value in ["brotli", ""] {
            let error = TopicConfig::from_map(&map(&[("compression.type", value)])).unwrap_err();
            assert_eq!(error.key, "compression.type");
            assert_eq!(
                error.suggestion.as_deref(),
                Some("use \"producer\", Kafka's default, to keep the producer's codec"),
                "{value:?}"
            );
        }

        // The key stays a producer key too, where `none` is right and `producer` is not.
        assert!(ProducerConfig::from_map(&map(&[("compression.type", "none")])).is_ok());
        // And it is no consumer key.
        let error = ConsumerConfig::from_map(&map(&[("compression.type", "gzip")])).unwrap_err();
        assert_eq!(
            error.message,
            "\"compression.type\" is a broker or topic or producer config key, not a consumer config key"
        );
    }
}
