//! The producer client: a record accumulator per partition, Kafka's default partitioner,
//! `acks`, retries with backoff, and the request and delivery timeouts
//! (apache/kafka: clients/.../producer/KafkaProducer.java, internals/Sender.java).
//!
//! One request per partition is in flight at a time, which keeps per-partition order without
//! idempotence. Idempotence (producer ids and sequence numbers, KIP-98) is not simulated yet, so
//! a retried request whose first attempt did land is written twice, exactly as a real
//! non-idempotent producer does.

use crate::config::{Acks, ProducerConfig};
use crate::error::ErrorCode;
use crate::event::Event;
use crate::ids::{NodeId, TopicPartition};
use crate::node::{Effect, Node, Outbox};
use crate::partitioner::partition_for_key;
use crate::protocol::Message;
use crate::record::{Record, RecordBatch};
use crate::time::Instant;
use core::time::Duration;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, VecDeque};
use std::sync::Arc;

/// How long a metadata request may go unanswered before another broker is asked.
const METADATA_TIMEOUT: Duration = Duration::from_millis(2000);

/// How a rate-driven producer picks keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyChoice {
    /// No key: Kafka's sticky partitioner (KIP-480) picks a partition per batch.
    Null,
    /// Keys `key-0` .. `key-{n-1}`, uniformly at random.
    Uniform(u32),
}

/// A scripted send.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptedSend {
    /// When to send.
    pub at: Instant,
    /// Record key.
    pub key: Option<String>,
    /// Record value; `None` sends a tombstone.
    pub value: Option<String>,
}

/// What a producer needs to start.
pub struct ProducerSetup {
    /// Its node id.
    pub id: NodeId,
    /// `client.id` (the scenario's client id).
    pub client_id: String,
    /// The topic it writes.
    pub topic: String,
    /// Producer configs.
    pub config: ProducerConfig,
    /// Per-node PRNG.
    pub rng: ChaCha8Rng,
    /// Records per second, 0 for none.
    pub rate_per_sec: f64,
    /// Keys for rate-driven records.
    pub keys: KeyChoice,
    /// Scripted sends, in time order.
    pub script: Vec<ScriptedSend>,
    /// When to start sending.
    pub start: Instant,
    /// Brokers to ask for metadata (`bootstrap.servers`).
    pub bootstrap: Vec<NodeId>,
    /// How many records earlier incarnations already sent, so ids stay unique after a restart.
    pub first_sequence: u64,
}

#[derive(Clone, Debug)]
struct PendingRecord {
    id: Arc<str>,
    key: Option<Arc<str>>,
    value: Option<Arc<str>>,
    created: Instant,
}

#[derive(Clone, Debug)]
struct InFlight {
    correlation_id: u64,
    to: NodeId,
    records: Vec<PendingRecord>,
    sent_at: Instant,
}

/// A producer's observable state.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerStatus {
    /// Records created so far (this incarnation and earlier ones).
    pub sent: u64,
    /// Records acknowledged.
    pub acked: u64,
    /// Records that failed for good.
    pub failed: u64,
    /// Records waiting or in flight.
    pub queued: usize,
}

/// A producer node.
pub struct Producer {
    client_id: String,
    topic: String,
    config: ProducerConfig,
    rng: ChaCha8Rng,
    outbox: Outbox,
    rate_per_sec: f64,
    keys: KeyChoice,
    script: VecDeque<ScriptedSend>,
    bootstrap: Vec<NodeId>,
    bootstrap_index: usize,
    next_correlation_id: u64,
    next_sequence: u64,
    next_rate_send: Instant,
    partitions: BTreeMap<i32, Option<NodeId>>,
    metadata_in_flight: Option<(u64, Instant, NodeId)>,
    metadata_wanted: bool,
    metadata_retry_at: Instant,
    queues: BTreeMap<i32, VecDeque<PendingRecord>>,
    in_flight: BTreeMap<i32, InFlight>,
    retry_at: BTreeMap<i32, Instant>,
    /// Consecutive failed attempts per partition, for the exponential backoff.
    attempts: BTreeMap<i32, u32>,
    sticky_partition: Option<i32>,
    acked: u64,
    failed: u64,
}

impl Producer {
    /// A producer that starts sending at `setup.start`.
    pub fn new(now: Instant, setup: ProducerSetup) -> Producer {
        Producer {
            client_id: setup.client_id,
            topic: setup.topic,
            config: setup.config,
            rng: setup.rng,
            outbox: Outbox::default(),
            rate_per_sec: setup.rate_per_sec,
            keys: setup.keys,
            script: setup.script.into_iter().filter(|s| s.at >= now).collect(),
            bootstrap: setup.bootstrap,
            bootstrap_index: 0,
            next_correlation_id: 0,
            next_sequence: setup.first_sequence,
            next_rate_send: setup.start.max(now),
            partitions: BTreeMap::new(),
            metadata_in_flight: None,
            metadata_wanted: true,
            metadata_retry_at: now,
            queues: BTreeMap::new(),
            in_flight: BTreeMap::new(),
            retry_at: BTreeMap::new(),
            attempts: BTreeMap::new(),
            sticky_partition: None,
            acked: 0,
            failed: 0,
        }
    }

    /// A cheap snapshot for views.
    pub fn status(&self) -> ProducerStatus {
        ProducerStatus {
            sent: self.next_sequence,
            acked: self.acked,
            failed: self.failed,
            queued: self.queues.values().map(VecDeque::len).sum::<usize>()
                + self.in_flight.values().map(|f| f.records.len()).sum::<usize>(),
        }
    }

    fn correlation_id(&mut self) -> u64 {
        self.next_correlation_id += 1;
        self.next_correlation_id
    }

    fn rate_interval(&self) -> Option<Duration> {
        (self.rate_per_sec > 0.0).then(|| Duration::from_nanos((1e9 / self.rate_per_sec) as u64))
    }

    fn create_records(&mut self, now: Instant) {
        if self.partitions.is_empty() {
            // Until metadata names the partitions, `send()` blocks (`max.block.ms`); the
            // simulated application simply waits to create records.
            return;
        }
        while let Some(interval) = self.rate_interval() {
            if self.next_rate_send > now {
                break;
            }
            self.next_rate_send = self.next_rate_send + interval;
            let key = match self.keys {
                KeyChoice::Null => None,
                KeyChoice::Uniform(n) => Some(format!("key-{}", self.rng.gen_range(0..n.max(1)))),
            };
            let id = format!("{}-{}", self.client_id, self.next_sequence);
            self.enqueue(now, key, Some(id.clone()), id);
        }
        while self.script.front().is_some_and(|s| s.at <= now) {
            let send = self.script.pop_front().expect("checked");
            let id = format!("{}#{}", self.client_id, self.next_sequence);
            self.enqueue(now, send.key, send.value, id);
        }
    }

    fn enqueue(&mut self, now: Instant, key: Option<String>, value: Option<String>, id: String) {
        self.next_sequence += 1;
        let count = self.partitions.len() as i32;
        let partition = match &key {
            Some(k) => partition_for_key(k.as_bytes(), count),
            None => *self.sticky_partition.get_or_insert_with(|| self.rng.gen_range(0..count)),
        };
        let tp = TopicPartition::new(self.topic.clone(), partition);
        self.outbox.event(Event::SendInvoked {
            producer: self.client_id.clone(),
            tp,
            key: key.clone(),
            value: id.clone(),
            tombstone: value.is_none(),
        });
        self.queues.entry(partition).or_default().push_back(PendingRecord {
            id: Arc::from(id),
            key: key.map(Arc::from),
            value: value.map(Arc::from),
            created: now,
        });
    }

    fn request_metadata(&mut self, now: Instant) {
        if self.metadata_in_flight.is_some() || self.bootstrap.is_empty() || now < self.metadata_retry_at {
            return;
        }
        let to = self.bootstrap[self.bootstrap_index % self.bootstrap.len()];
        let correlation_id = self.correlation_id();
        self.metadata_in_flight = Some((correlation_id, now, to));
        self.outbox.send(to, Message::Metadata { correlation_id, topics: vec![self.topic.clone()] });
    }

    fn expire_and_send(&mut self, now: Instant) {
        let delivery_timeout = Duration::from_millis(self.config.delivery_timeout_ms);
        let request_timeout = Duration::from_millis(self.config.request_timeout_ms);
        // Requests without an answer within `request.timeout.ms` are retried; the first attempt
        // may still have been written, which is how retries duplicate records.
        let timed_out: Vec<i32> = self
            .in_flight
            .iter()
            .filter(|(_, f)| now.saturating_since(f.sent_at) >= request_timeout)
            .map(|(p, _)| *p)
            .collect();
        for p in timed_out {
            let flight = self.in_flight.remove(&p).expect("listed");
            self.retry_or_fail(now, p, flight.records, ErrorCode::RequestTimedOut);
        }
        let linger = Duration::from_millis(self.config.linger_ms);
        let partitions: Vec<i32> = self.queues.keys().copied().collect();
        for p in partitions {
            if self.in_flight.contains_key(&p) || self.retry_at.get(&p).is_some_and(|t| now < *t) {
                continue;
            }
            let queue = self.queues.get_mut(&p).expect("listed");
            // Records past `delivery.timeout.ms` fail without another attempt.
            while queue.front().is_some_and(|r| now.saturating_since(r.created) >= delivery_timeout) {
                let record = queue.pop_front().expect("checked");
                self.failed += 1;
                self.outbox.event(Event::SendFailed {
                    producer: self.client_id.clone(),
                    tp: TopicPartition::new(self.topic.clone(), p),
                    value: record.id.to_string(),
                    error: ErrorCode::RequestTimedOut,
                });
            }
            let Some(oldest) = queue.front() else { continue };
            if now.saturating_since(oldest.created) < linger {
                continue;
            }
            let Some(Some(leader)) = self.partitions.get(&p).copied() else {
                self.metadata_wanted = true;
                continue;
            };
            let mut batch = Vec::new();
            let mut bytes = 0;
            while let Some(r) = queue.front() {
                let size = 24 + r.key.as_ref().map_or(0, |k| k.len()) + r.value.as_ref().map_or(0, |v| v.len());
                if !batch.is_empty() && bytes + size > self.config.batch_size {
                    break;
                }
                bytes += size;
                batch.push(queue.pop_front().expect("checked"));
            }
            if self.sticky_partition == Some(p) {
                // KIP-480: a new batch of keyless records may go elsewhere.
                self.sticky_partition = None;
            }
            self.send_batch(now, p, leader, batch);
        }
    }

    fn send_batch(&mut self, now: Instant, partition: i32, leader: NodeId, batch: Vec<PendingRecord>) {
        let tp = TopicPartition::new(self.topic.clone(), partition);
        let records: Vec<Record> = batch
            .iter()
            .enumerate()
            .map(|(i, r)| Record {
                offset_delta: i as i32,
                timestamp_ms: r.created.as_millis() as i64,
                key: r.key.clone(),
                value: r.value.clone(),
                headers: vec![(Arc::from(crate::ID_HEADER), r.id.clone())],
            })
            .collect();
        let acks = match self.config.acks {
            Acks::Zero => 0,
            Acks::One => 1,
            Acks::All => -1,
        };
        let correlation_id = self.correlation_id();
        self.outbox.send(
            leader,
            Message::Produce {
                correlation_id,
                acks,
                timeout_ms: self.config.request_timeout_ms,
                tp: tp.clone(),
                batch: RecordBatch::new(0, -1, 0, records),
            },
        );
        if acks == 0 {
            // acks=0: the send counts as done once it leaves; the offset is unknown (-1).
            for r in batch {
                self.acked += 1;
                self.outbox.event(Event::SendAcked {
                    producer: self.client_id.clone(),
                    tp: tp.clone(),
                    offset: -1,
                    value: r.id.to_string(),
                });
            }
        } else {
            self.in_flight.insert(partition, InFlight { correlation_id, to: leader, records: batch, sent_at: now });
        }
    }

    fn retry_or_fail(&mut self, now: Instant, partition: i32, records: Vec<PendingRecord>, error: ErrorCode) {
        let tp = TopicPartition::new(self.topic.clone(), partition);
        if !error.is_retriable() || self.config.retries == 0 {
            for r in records {
                self.failed += 1;
                self.outbox.event(Event::SendFailed {
                    producer: self.client_id.clone(),
                    tp: tp.clone(),
                    value: r.id.to_string(),
                    error,
                });
            }
            return;
        }
        self.outbox.event(Event::SendRetried {
            producer: self.client_id.clone(),
            tp,
            records: records.len(),
            reason: error.name().to_string(),
        });
        let queue = self.queues.entry(partition).or_default();
        for r in records.into_iter().rev() {
            queue.push_front(r);
        }
        // KIP-580: the backoff doubles with each consecutive failure, up to
        // `retry.backoff.max.ms`.
        let attempts = self.attempts.entry(partition).or_insert(0);
        *attempts += 1;
        let backoff = self
            .config
            .retry_backoff_ms
            .saturating_mul(1u64 << (*attempts - 1).min(20))
            .min(self.config.retry_backoff_max_ms);
        self.retry_at.insert(partition, now + Duration::from_millis(backoff));
        if matches!(
            error,
            ErrorCode::NotLeaderOrFollower
                | ErrorCode::RequestTimedOut
                | ErrorCode::NetworkException
                | ErrorCode::UnknownTopicOrPartition
                | ErrorCode::FencedLeaderEpoch
        ) {
            self.metadata_wanted = true;
        }
    }
}

impl Node for Producer {
    fn handle_message(&mut self, now: Instant, _from: NodeId, message: Message) {
        match message {
            Message::MetadataResponse { correlation_id, partitions, .. } => {
                if self.metadata_in_flight.map(|(c, _, _)| c) != Some(correlation_id) {
                    return;
                }
                self.metadata_in_flight = None;
                let mine: BTreeMap<i32, Option<NodeId>> = partitions
                    .into_iter()
                    .filter(|p| p.tp.topic == self.topic)
                    .map(|p| (p.tp.partition, p.leader))
                    .collect();
                if mine.is_empty() || mine.values().any(Option::is_none) {
                    // The topic is not created yet or a partition has no leader: ask again soon.
                    self.metadata_wanted = true;
                    self.metadata_retry_at = now + Duration::from_millis(self.config.retry_backoff_ms);
                } else {
                    self.metadata_wanted = false;
                }
                if !mine.is_empty() {
                    self.partitions = mine;
                }
            }
            Message::ProduceResponse { correlation_id, tp, error, base_offset } => {
                let partition = tp.partition;
                if self.in_flight.get(&partition).map(|f| f.correlation_id) != Some(correlation_id) {
                    return;
                }
                let flight = self.in_flight.remove(&partition).expect("checked");
                match error {
                    None => {
                        self.attempts.remove(&partition);
                        for (i, r) in flight.records.into_iter().enumerate() {
                            self.acked += 1;
                            self.outbox.event(Event::SendAcked {
                                producer: self.client_id.clone(),
                                tp: tp.clone(),
                                offset: base_offset + i as i64,
                                value: r.id.to_string(),
                            });
                        }
                    }
                    Some(error) => self.retry_or_fail(now, partition, flight.records, error),
                }
            }
            other => panic!("producer {} got a message it never expects: {}", self.client_id, other.api_name()),
        }
        self.handle_timeout(now);
    }

    fn handle_disconnect(&mut self, now: Instant, peer: NodeId) {
        if self.metadata_in_flight.is_some_and(|(_, _, to)| to == peer) {
            self.metadata_in_flight = None;
            self.bootstrap_index += 1;
        }
        let failed: Vec<i32> = self.in_flight.iter().filter(|(_, f)| f.to == peer).map(|(p, _)| *p).collect();
        for p in failed {
            let flight = self.in_flight.remove(&p).expect("listed");
            self.retry_or_fail(now, p, flight.records, ErrorCode::NetworkException);
        }
        self.handle_timeout(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        if let Some((_, sent, _)) = self.metadata_in_flight {
            if now.saturating_since(sent) >= METADATA_TIMEOUT {
                self.metadata_in_flight = None;
                self.bootstrap_index += 1;
            }
        }
        if self.metadata_wanted {
            self.request_metadata(now);
        }
        self.create_records(now);
        self.expire_and_send(now);
        if self.metadata_wanted {
            self.request_metadata(now);
        }
    }

    fn poll_effect(&mut self) -> Option<Effect> {
        self.outbox.poll_effect()
    }

    fn poll_event(&mut self) -> Option<Event> {
        self.outbox.poll_event()
    }

    fn poll_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n| n.min(t)));
        if !self.partitions.is_empty() {
            if self.rate_interval().is_some() {
                consider(self.next_rate_send);
            }
            if let Some(s) = self.script.front() {
                consider(s.at);
            }
        }
        match self.metadata_in_flight {
            Some((_, sent, _)) => consider(sent + METADATA_TIMEOUT),
            None if self.metadata_wanted => consider(self.metadata_retry_at),
            None => {}
        }
        let request_timeout = Duration::from_millis(self.config.request_timeout_ms);
        for f in self.in_flight.values() {
            consider(f.sent_at + request_timeout);
        }
        let linger = Duration::from_millis(self.config.linger_ms);
        for (p, q) in &self.queues {
            if let Some(oldest) = q.front() {
                if !self.in_flight.contains_key(p) {
                    let ready = (oldest.created + linger).max(self.retry_at.get(p).copied().unwrap_or(Instant::ZERO));
                    if self.partitions.get(p).copied().flatten().is_some() {
                        consider(ready);
                    }
                }
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::metadata::PartitionState;
    use crate::node::node_rng;

    const ME: NodeId = NodeId(5000);
    const LEADER: NodeId = NodeId(1);

    fn producer() -> Producer {
        let setup = ProducerSetup {
            id: ME,
            client_id: "checkout".into(),
            topic: "orders".into(),
            config: ProducerConfig { acks: Acks::One, enable_idempotence: false, ..ProducerConfig::default() },
            rng: node_rng(1, ME, 1),
            rate_per_sec: 10.0,
            keys: KeyChoice::Uniform(4),
            script: Vec::new(),
            start: Instant::ZERO,
            bootstrap: vec![LEADER],
            first_sequence: 0,
        };
        let mut p = Producer::new(Instant::ZERO, setup);
        p.handle_timeout(Instant::ZERO);
        let state = PartitionState {
            tp: TopicPartition::new("orders", 0),
            replicas: vec![LEADER],
            isr: vec![LEADER],
            leader: Some(LEADER),
            leader_epoch: 0,
            partition_epoch: 0,
            adding_replicas: vec![],
            removing_replicas: vec![],
        };
        p.handle_message(
            Instant::from_millis(1),
            LEADER,
            Message::MetadataResponse { correlation_id: 1, brokers: vec![LEADER], partitions: vec![state] },
        );
        p
    }

    fn drain(p: &mut Producer) -> (Vec<Message>, Vec<Event>) {
        let mut messages = Vec::new();
        while let Some(Effect::Send { message, .. }) = p.poll_effect() {
            messages.push(message);
        }
        let mut events = Vec::new();
        while let Some(e) = p.poll_event() {
            events.push(e);
        }
        (messages, events)
    }

    #[test]
    fn a_dead_leader_fails_the_request_at_once_and_backoff_doubles() {
        let mut p = producer();
        let (sent, _) = drain(&mut p);
        assert!(sent.iter().any(|m| matches!(m, Message::Produce { .. })), "{sent:?}");
        // The leader's process dies: the connection resets and the batch is retried.
        p.handle_disconnect(Instant::from_millis(2), LEADER);
        let (sent, events) = drain(&mut p);
        assert!(events.iter().any(|e| matches!(e, Event::SendRetried { reason, .. } if reason == "NETWORK_EXCEPTION")));
        assert!(sent.iter().any(|m| matches!(m, Message::Metadata { .. })), "metadata is refreshed: {sent:?}");
        assert!(!sent.iter().any(|m| matches!(m, Message::Produce { .. })), "not before retry.backoff.ms");
        // First retry after 100 ms, second after 200 ms more (KIP-580).
        p.handle_timeout(Instant::from_millis(102));
        let (sent, _) = drain(&mut p);
        assert!(sent.iter().any(|m| matches!(m, Message::Produce { .. })));
        p.handle_disconnect(Instant::from_millis(103), LEADER);
        drain(&mut p);
        p.handle_timeout(Instant::from_millis(250));
        let (sent, _) = drain(&mut p);
        assert!(!sent.iter().any(|m| matches!(m, Message::Produce { .. })), "the backoff doubled to 200 ms");
        p.handle_timeout(Instant::from_millis(303));
        let (sent, _) = drain(&mut p);
        assert!(sent.iter().any(|m| matches!(m, Message::Produce { .. })));
    }

    #[test]
    fn keyed_records_go_to_the_murmur2_partition_and_are_acknowledged_with_offsets() {
        let mut p = producer();
        let (sent, events) = drain(&mut p);
        let Some(Message::Produce { correlation_id, batch, tp, .. }) =
            sent.into_iter().find(|m| matches!(m, Message::Produce { .. }))
        else {
            panic!("a produce request")
        };
        assert_eq!(tp.partition, 0, "one partition: everything lands in it");
        assert!(events.iter().any(|e| matches!(e, Event::SendInvoked { .. })));
        let n = batch.records.len() as i64;
        p.handle_message(
            Instant::from_millis(5),
            LEADER,
            Message::ProduceResponse { correlation_id, tp: tp.clone(), error: None, base_offset: 40 },
        );
        let (_, events) = drain(&mut p);
        let offsets: Vec<i64> = events
            .iter()
            .filter_map(|e| match e {
                Event::SendAcked { offset, .. } => Some(*offset),
                _ => None,
            })
            .collect();
        assert_eq!(offsets, (40..40 + n).collect::<Vec<_>>());
        assert_eq!(p.status().acked, n as u64);
    }
}
