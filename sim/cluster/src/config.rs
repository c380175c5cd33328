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
//! * [`ProducerConfig`]: settings of one producer client.
//! * [`ConsumerConfig`]: settings of one consumer client.
//!
//! Every `*.ms` key is stored as a `u64` count of milliseconds in a field whose name ends in
//! `_ms`; sizes are stored in bytes. Errors are [`ConfigError`] values that name the key, the value
//! and the accepted form, and usually suggest a fix.
//!
//! This module is pure: it reads nothing but its arguments.

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

/// Broker settings, written in a scenario's `cluster.configs` and shared by every broker.
///
/// Each field is named after its Kafka key; the default, from Kafka 3.9, is given per field.
#[derive(Clone, Debug, PartialEq, Eq)]
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
        }
    }
}

impl BrokerConfig {
    /// The keys a scenario may set in `cluster.configs`.
    pub const KEYS: &'static [&'static str] = &[
        "broker.heartbeat.interval.ms",
        "broker.session.timeout.ms",
        "group.initial.rebalance.delay.ms",
        "group.max.session.timeout.ms",
        "group.min.session.timeout.ms",
        "min.insync.replicas",
        "offsets.topic.num.partitions",
        "offsets.topic.replication.factor",
        "replica.fetch.backoff.ms",
        "replica.fetch.wait.max.ms",
        "replica.lag.time.max.ms",
    ];

    /// Parses broker configs from Kafka keys, using Kafka's default for every key not given.
    ///
    /// Rejects unknown keys, keys of another role, malformed or out-of-range numbers,
    /// `replica.fetch.wait.max.ms` above `replica.lag.time.max.ms` (as `KafkaConfig` does), and
    /// `group.min.session.timeout.ms` above `group.max.session.timeout.ms` (a kafkalab check:
    /// no consumer session timeout could then be accepted).
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        check_keys(map, Role::Broker)?;
        let d = BrokerConfig::default();
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
}

impl TopicConfig {
    /// The keys a scenario may set in a topic's `configs`.
    pub const KEYS: &'static [&'static str] = &["min.insync.replicas"];

    /// Parses topic configs from Kafka keys; a key not given means "use the broker's value".
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        check_keys(map, Role::Topic)?;
        let min_insync_replicas = match raw(map, "min.insync.replicas") {
            None => None,
            Some(_) => Some(int(map, "min.insync.replicas", 1, 1, KAFKA_INT_MAX)?),
        };
        Ok(TopicConfig { min_insync_replicas })
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
        }
    }
}

impl ProducerConfig {
    /// The keys a scenario may set in a producer's `configs`.
    pub const KEYS: &'static [&'static str] = &[
        "acks",
        "batch.size",
        "delivery.timeout.ms",
        "enable.idempotence",
        "linger.ms",
        "max.in.flight.requests.per.connection",
        "request.timeout.ms",
        "retries",
        "retry.backoff.max.ms",
        "retry.backoff.ms",
    ];

    /// Parses producer configs from Kafka keys, applying Kafka's defaults and its idempotence
    /// rules (see [`ProducerConfig::enable_idempotence`]).
    ///
    /// Errors: unknown keys, keys of another role, malformed or out-of-range numbers, `acks`
    /// outside `0`, `1`, `all`, `-1`; an explicit `enable.idempotence=true` with `acks` other
    /// than `all` ("Must set acks to all in order to use the idempotent producer") or with
    /// `retries=0`; more than 5 in-flight requests while idempotence is on; and an explicit
    /// `delivery.timeout.ms` below `linger.ms + request.timeout.ms` (`KafkaProducer`).
    pub fn from_map(map: &BTreeMap<String, String>) -> Result<Self, ConfigError> {
        check_keys(map, Role::Producer)?;
        let d = ProducerConfig::default();
        let acks = match raw(map, "acks") {
            Some(value) => Acks::parse(value)?,
            None => d.acks,
        };
        let linger_ms = millis(map, "linger.ms", d.linger_ms, 0, KAFKA_LONG_MAX)?;
        let batch_size = bytes(map, "batch.size", d.batch_size as u64, 0, KAFKA_INT_MAX)? as usize;
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
    /// `partition.assignment.strategy`, normalised to `"range"`: only Kafka's range assignor
    /// (`org.apache.kafka.clients.consumer.RangeAssignor`) is simulated so far.
    pub partition_assignment_strategy: String,
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
            partition_assignment_strategy: RANGE.to_string(),
        }
    }
}

/// The short name kafkalab stores for the range assignor.
const RANGE: &str = "range";

/// Kafka's class name for the range assignor.
const RANGE_CLASS: &str = "org.apache.kafka.clients.consumer.RangeAssignor";

/// Other assignors Kafka ships, by short name and class name, which kafkalab does not simulate.
const OTHER_ASSIGNORS: &[&str] = &[
    "roundrobin",
    "sticky",
    "cooperative-sticky",
    "org.apache.kafka.clients.consumer.RoundRobinAssignor",
    "org.apache.kafka.clients.consumer.StickyAssignor",
    "org.apache.kafka.clients.consumer.CooperativeStickyAssignor",
];

impl ConsumerConfig {
    /// The keys a scenario may set in a consumer's `configs`.
    pub const KEYS: &'static [&'static str] = &[
        "auto.commit.interval.ms",
        "auto.offset.reset",
        "enable.auto.commit",
        "fetch.max.wait.ms",
        "fetch.min.bytes",
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
            Some(value) => assignor(value)?,
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
        })
    }
}

/// Checks a `partition.assignment.strategy` value (a comma-separated list in Kafka) and
/// normalises it to `"range"`.
fn assignor(value: &str) -> Result<String, ConfigError> {
    let key = "partition.assignment.strategy";
    let entries: Vec<&str> = value.split(',').map(str::trim).filter(|entry| !entry.is_empty()).collect();
    if entries.is_empty() {
        return Err(ConfigError::new(
            key,
            Some(value),
            format!("\"{key}\" is empty"),
            Some(format!("use \"{RANGE}\"")),
        ));
    }
    for entry in entries {
        if entry == RANGE || entry == RANGE_CLASS {
            continue;
        }
        let message = if OTHER_ASSIGNORS.contains(&entry) {
            format!(
                "assignor \"{entry}\" in \"{key}\" is not simulated yet; only the range \
                 assignor is"
            )
        } else {
            format!(
                "unknown assignor \"{entry}\" in \"{key}\": expected \"{RANGE}\" or \
                 \"{RANGE_CLASS}\""
            )
        };
        return Err(ConfigError::new(key, Some(value), message, Some(format!("use \"{RANGE}\""))));
    }
    Ok(RANGE.to_string())
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
                "log.retention.hours",
                "log.retention.ms",
                "log.segment.bytes",
                "num.partitions",
                "num.replica.fetchers",
                "replica.socket.timeout.ms",
                "transaction.state.log.min.isr",
                "transaction.state.log.replication.factor",
                "unclean.leader.election.enable",
            ],
            Role::Topic => &[
                "cleanup.policy",
                "compression.type",
                "message.timestamp.type",
                "min.compaction.lag.ms",
                "retention.bytes",
                "retention.ms",
                "segment.bytes",
                "unclean.leader.election.enable",
            ],
            Role::Producer => &[
                "buffer.memory",
                "client.id",
                "compression.type",
                "max.block.ms",
                "max.request.size",
                "partitioner.class",
                "transaction.timeout.ms",
                "transactional.id",
            ],
            Role::Consumer => &[
                "client.id",
                "client.rack",
                "fetch.max.bytes",
                "group.id",
                "group.instance.id",
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
    for (key, value) in map {
        if role.keys().contains(&key.as_str()) {
            continue;
        }
        let value = Some(value.as_str());
        if role.unmodelled().contains(&key.as_str()) {
            let suggestion = if matches!(key.as_str(), "client.id" | "group.id") {
                "kafkalab sets it from the scenario's client id and group; remove it"
            } else {
                "remove it; kafkalab does not model it yet"
            };
            return Err(ConfigError::new(
                key,
                value,
                format!("unsupported {} config key \"{key}\"", role.name()),
                Some(suggestion.to_string()),
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

        assert_eq!(TopicConfig::from_map(&map(&[])).unwrap().min_insync_replicas, None);

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
        assert_eq!(consumer.partition_assignment_strategy, "range");
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
            }
        );

        let topic = TopicConfig::from_map(&map(&[("min.insync.replicas", " 2 ")])).unwrap();
        assert_eq!(topic.min_insync_replicas, Some(2));

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
            ("partition.assignment.strategy", RANGE_CLASS),
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
                partition_assignment_strategy: "range".to_string(),
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
        assert_eq!(error.suggestion.as_deref(), Some("accepted keys: min.insync.replicas"));
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

        // A key of another role that kafkalab does not model still points at its role.
        let error = ProducerConfig::from_map(&map(&[("retention.ms", "1000")])).unwrap_err();
        assert_eq!(error.message, "\"retention.ms\" is a topic config key, not a producer config key");
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
        let three = TopicConfig { min_insync_replicas: Some(3) };
        assert_eq!(effective_min_insync_replicas(&broker, &none, 3), 1);
        assert_eq!(effective_min_insync_replicas(&broker, &three, 3), 3);
        assert_eq!(effective_min_insync_replicas(&broker, &three, 2), 2);
        let broker_two = BrokerConfig { min_insync_replicas: 2, ..BrokerConfig::default() };
        assert_eq!(effective_min_insync_replicas(&broker_two, &none, 3), 2);
        assert_eq!(effective_min_insync_replicas(&broker_two, &none, 1), 1);
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
    fn only_the_range_assignor_is_accepted() {
        for value in ["range", RANGE_CLASS, " range , org.apache.kafka.clients.consumer.RangeAssignor"] {
            let config = ConsumerConfig::from_map(&map(&[("partition.assignment.strategy", value)])).unwrap();
            assert_eq!(config.partition_assignment_strategy, "range");
        }
        let error =
            ConsumerConfig::from_map(&map(&[("partition.assignment.strategy", "cooperative-sticky")])).unwrap_err();
        assert!(error.message.contains("not simulated yet"), "{error}");
        assert_eq!(error.suggestion.as_deref(), Some("use \"range\""));
        let error = ConsumerConfig::from_map(&map(&[("partition.assignment.strategy", "fancy")])).unwrap_err();
        assert!(error.message.contains("unknown assignor \"fancy\""), "{error}");
        let error = ConsumerConfig::from_map(&map(&[("partition.assignment.strategy", " , ")])).unwrap_err();
        assert!(error.message.contains("is empty"), "{error}");
    }

    #[test]
    fn every_listed_key_is_accepted_by_its_own_parser() {
        // Each key set to its default must parse, so KEYS and from_map cannot drift apart.
        let broker = BrokerConfig::default();
        let values = [
            broker.broker_heartbeat_interval_ms.to_string(),
            broker.broker_session_timeout_ms.to_string(),
            broker.group_initial_rebalance_delay_ms.to_string(),
            broker.group_max_session_timeout_ms.to_string(),
            broker.group_min_session_timeout_ms.to_string(),
            broker.min_insync_replicas.to_string(),
            broker.offsets_topic_num_partitions.to_string(),
            broker.offsets_topic_replication_factor.to_string(),
            broker.replica_fetch_backoff_ms.to_string(),
            broker.replica_fetch_wait_max_ms.to_string(),
            broker.replica_lag_time_max_ms.to_string(),
        ];
        let all: BTreeMap<String, String> =
            BrokerConfig::KEYS.iter().zip(values.iter()).map(|(k, v)| (k.to_string(), v.clone())).collect();
        assert_eq!(BrokerConfig::from_map(&all).unwrap(), broker);
        for key in ProducerConfig::KEYS.iter().chain(ConsumerConfig::KEYS) {
            // Check only that no key is rejected as unknown; values may be wrong on purpose.
            let m = map(&[(key, "x")]);
            let error = match ProducerConfig::KEYS.contains(key) {
                true => ProducerConfig::from_map(&m).unwrap_err(),
                false => ConsumerConfig::from_map(&m).unwrap_err(),
            };
            assert!(!error.message.contains("config key"), "{key}: {error}");
        }
    }
}
