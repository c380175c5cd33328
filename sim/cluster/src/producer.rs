//! The producer client, built the way Kafka's Java producer is built, so that a learner who
//! later opens `KafkaProducer`, `RecordAccumulator`, `Sender` and `TransactionManager`
//! (apache/kafka: clients/src/main/java/org/apache/kafka/clients/producer/) finds the same
//! mechanisms under the same names:
//!
//! * **The application** (`KafkaProducer.send`, `flush`): a rate-driven or scripted loop calls
//!   `send()` for each record. The partitioner picks the partition: the explicit one, the
//!   murmur2 hash of the key, or for keyless records the sticky partitioner of KIP-480 (before
//!   3.3) or KIP-794 (3.3+), chosen by [`Era::uniform_sticky_partitioner`]. `send()` blocks when
//!   `buffer.memory` is used up and fails the record after `max.block.ms`; `flush()` blocks
//!   until every record sent before it has completed. The simulated application is one thread,
//!   so while it is blocked it makes no other calls; a rate-driven one resumes its pace
//!   afterwards without making up the sends it missed.
//! * **The record accumulator** (`RecordAccumulator`): per partition, a deque of batches. A
//!   record joins the newest batch if it fits in `batch.size`, else that batch is closed and a
//!   new one is allocated from `buffer.memory`. A batch is ready when it is full (or another
//!   batch waits behind it), when `linger.ms` has passed since it was created, when `flush()` is
//!   in progress, or when `send()` is blocked on memory.
//! * **The sender** (`Sender.sendProducerData`): finds the brokers leading ready partitions,
//!   drains at most one batch per partition into a request for each, up to
//!   `max.request.size`, and keeps at most `max.in.flight.requests.per.connection` requests
//!   unanswered per broker. With `max.in.flight.requests.per.connection=1` a partition is
//!   muted while its batch is in flight ("guarantee message ordering"). A failed batch is
//!   retried after `retry.backoff.ms`, doubling up to `retry.backoff.max.ms` (KIP-580), while
//!   `retries` and `delivery.timeout.ms` (KIP-91, counted from the batch's creation and
//!   including time in flight) allow. A request unanswered after `request.timeout.ms` closes
//!   the connection and every request on it is retried, although the broker may have written
//!   them: without idempotence that duplicates records, and with `max.in.flight > 1` a retried
//!   batch can land after a later one, both exactly as in Kafka.
//! * **The idempotent producer** (`TransactionManager` without a `transactional.id`, KIP-98 and
//!   KIP-360): `InitProducerId` first; then every batch carries the producer id, epoch and a
//!   per-partition base sequence assigned when the batch is first drained, and kept by its
//!   retries, so the broker drops duplicates and rejects gaps. Up to 5 batches per partition
//!   may be in flight; a retried batch goes back into its deque in sequence order and only the
//!   lowest unacknowledged sequence is resent until it completes. A gap
//!   (`OUT_OF_ORDER_SEQUENCE_NUMBER`, `UNKNOWN_PRODUCER_ID`, or a sequenced batch that failed
//!   for good) bumps the epoch and renumbers that partition's unacknowledged batches from 0; a
//!   batch whose first attempt did land but whose answer was lost is then written again, so
//!   duplicates become possible in that one case, as in Kafka.
//!
//! Every record the application sends ends in exactly one of [`Event::SendAcked`],
//! [`Event::SendFailed`], [`Event::SendBlockedTimeout`] or [`Event::SendTooLarge`], after its
//! [`Event::SendInvoked`].
//!
//! Where the lab departs from Kafka, and why:
//!
//! * The epoch bump sends `InitProducerId` with the current producer id and epoch (KIP-360's
//!   request form) and nothing is drained until it is answered. Kafka's non-transactional
//!   producer bumps the epoch locally instead (`TransactionManager.bumpIdempotentProducerEpoch`);
//!   the effect on sequences is the same. `INVALID_PRODUCER_EPOCH` fails the batch and asks
//!   for a fresh producer id (`InitProducerId` with -1/-1); Kafka since 2.7 bumps the epoch
//!   there too, and before 2.7 the producer was fenced for good.
//! * `MESSAGE_TOO_LARGE` from the broker fails the batch; Kafka splits a batch of several
//!   records into `batch.size` pieces and retries them (`Sender.completeBatch`).
//! * Backoffs have no jitter (Kafka adds ±20%), and KIP-951's skipping of the backoff when the
//!   leader changed is left out, so timelines are easy to follow.
//! * `UNKNOWN_PRODUCER_ID` always bumps the epoch: the lab's `ProduceResponse` carries no log
//!   start offset, which Kafka uses to tell a producer state lost to retention apart.
//! * Sizes follow Kafka's v2 record layout (`DefaultRecord.sizeInBytes` and a 61-byte batch
//!   header) without headers, because the lab's only header is its own bookkeeping; the
//!   estimate ignores compression.
//! * Until the first metadata names the topic's partitions the application simply waits,
//!   without the `max.block.ms` bound Kafka's `waitOnMetadata` applies.

use crate::config::ProducerConfig;
use crate::era::Era;
use crate::error::ErrorCode;
use crate::event::Event;
use crate::ids::{Name, NodeId, Topic, TopicPartition};
use crate::key::Key;
use crate::node::{Effect, Node, Outbox};
use crate::partitioner::{partition_for_key, StickyPartitionCache, UniformStickyPartitioner};
use crate::protocol::{Message, ProducePartition};
use crate::record::{
    ProducerFields, RecordBatch, RecordParts, NO_PRODUCER_ID, NO_SEQUENCE, RECORD_BATCH_OVERHEAD_BYTES,
};
use crate::time::Instant;
use crate::SendId;
use core::time::Duration;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::sync::Arc;

/// How long a metadata request may go unanswered before another broker is asked.
const METADATA_TIMEOUT: Duration = Duration::from_millis(2000);

/// How a rate-driven producer picks keys.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum KeyChoice {
    /// No key: the sticky partitioner (KIP-480 or KIP-794, by era) picks the partition.
    Null,
    /// Keys `key-0` .. `key-{n-1}`, uniformly at random.
    Uniform(u32),
}

/// Up to how many uniform keys a producer keeps the names of (see `Producer::key_name`).
const KEY_NAME_CACHE_LIMIT: u32 = 1 << 16;

/// A scripted send: one call of the application's `send()`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScriptedSend {
    /// When to send.
    pub at: Instant,
    /// Record key.
    pub key: Option<String>,
    /// Record value; `None` sends a tombstone.
    pub value: Option<String>,
    /// An explicit partition (`new ProducerRecord(topic, partition, key, value)`), which
    /// overrides the partitioner. A partition the metadata does not show makes `send()` wait
    /// for it, up to `max.block.ms`.
    pub partition: Option<i32>,
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
    /// Brokers to ask for metadata and producer ids (`bootstrap.servers`).
    pub bootstrap: Vec<NodeId>,
    /// How many records earlier incarnations already sent, so ids stay unique after a restart.
    pub first_sequence: u64,
    /// The rules of the run's Kafka version; the producer reads
    /// [`Era::uniform_sticky_partitioner`] (KIP-794 from 3.3, else KIP-480).
    pub era: Era,
    /// When the application calls `flush()`, in time order.
    pub flushes: Vec<Instant>,
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

/// One record inside a batch, as `send()` handed it over.
#[derive(Clone, Debug)]
struct PendingRecord {
    id: SendId,
    key: Option<Key>,
    value: PendingValue,
    /// When `send()` was called: the record's create-time timestamp.
    created: Instant,
}

impl PendingRecord {
    /// The value `send()` was given, `None` for a tombstone.
    fn value(&self) -> Option<&str> {
        match &self.value {
            PendingValue::Id => Some(&self.id),
            PendingValue::Text(value) => Some(value),
            PendingValue::Null => None,
        }
    }

    /// Whether the value says the send id, so that the record needs no id header
    /// ([`Record::send_id`]).
    fn value_is_id(&self) -> bool {
        match &self.value {
            PendingValue::Id => true,
            PendingValue::Text(value) => **value == *self.id,
            PendingValue::Null => false,
        }
    }
}

/// A pending record's value. A rate-driven send's value is its own send id, which the record
/// then holds once rather than twice.
#[derive(Clone, Debug)]
enum PendingValue {
    /// The send id.
    Id,
    /// A value of its own (a scripted send's).
    Text(Arc<str>),
    /// A tombstone.
    Null,
}

/// The arguments of one `send()` call.
#[derive(Clone, Debug)]
struct AppSend {
    record: PendingRecord,
    /// The explicit partition, if the application gave one.
    partition: Option<i32>,
}

impl AppSend {
    /// Whether the sticky partitioner chooses this record's partition.
    fn keyless(&self) -> bool {
        self.partition.is_none() && self.record.key.is_none()
    }
}

/// A batch's identity inside the producer; deques and requests refer to batches by it.
type BatchId = u64;

/// The producer's batches by id. Ids are handed out in increasing order and batches mostly
/// finish in that order, so they live in a deque indexed by `id - first`: every wake-up looks
/// up the head batch of each partition's queue, and a search of an ordered map for each cost
/// more than the rest of the wake-up. Iteration is in id order, as an ordered map's would be.
///
/// The cost: a batch finished behind the oldest unfinished one keeps an empty slot until that
/// one finishes, so a batch held in flight keeps the slots of every batch created meanwhile.
/// `request.timeout.ms` and `delivery.timeout.ms` bound how long that lasts.
#[derive(Clone, Debug, Default)]
struct BatchStore {
    /// The id of `slots[0]`.
    first: BatchId,
    /// `None` for a batch already removed; the first and last slots are never `None`.
    slots: VecDeque<Option<ProducerBatch>>,
}

impl BatchStore {
    fn slot(&self, id: BatchId) -> Option<usize> {
        id.checked_sub(self.first).map(|i| i as usize).filter(|&i| i < self.slots.len())
    }

    fn get(&self, id: &BatchId) -> Option<&ProducerBatch> {
        self.slot(*id).and_then(|i| self.slots[i].as_ref())
    }

    fn get_mut(&mut self, id: &BatchId) -> Option<&mut ProducerBatch> {
        self.slot(*id).and_then(|i| self.slots[i].as_mut())
    }

    /// Adds the batch `id`, which must be larger than every id added before.
    fn insert(&mut self, id: BatchId, batch: ProducerBatch) {
        if self.slots.is_empty() {
            self.first = id;
        }
        let at = id.checked_sub(self.first).map(|at| at as usize).filter(|&at| at >= self.slots.len());
        let at = at.expect("batch ids are handed out in increasing order");
        self.slots.resize(at, None);
        self.slots.push_back(Some(batch));
    }

    fn remove(&mut self, id: &BatchId) -> Option<ProducerBatch> {
        let removed = self.slot(*id).and_then(|i| self.slots[i].take());
        while self.slots.front().is_some_and(Option::is_none) {
            self.slots.pop_front();
            self.first += 1;
        }
        while self.slots.back().is_some_and(Option::is_none) {
            self.slots.pop_back();
        }
        removed
    }

    /// The batches in id order.
    fn values(&self) -> impl Iterator<Item = &ProducerBatch> {
        self.slots.iter().flatten()
    }
}

impl std::ops::Index<&BatchId> for BatchStore {
    type Output = ProducerBatch;

    fn index(&self, id: &BatchId) -> &ProducerBatch {
        self.get(id).unwrap_or_else(|| panic!("producer batch {id} is not there"))
    }
}

/// Each partition's deque of batches (`RecordAccumulator.batches`), indexed by partition: a
/// partition's id is its place, so a deque is found without a search and every deque is walked
/// in partition order, as an ordered map would walk them. A partition that never had a batch
/// has an empty deque, which every walk skips as it skips a drained one.
///
/// The sender walks every deque at each wake-up (several hundred times a simulated second for
/// a busy producer), once to find the ready brokers and once more for its next deadline; in an
/// ordered map each step of those walks and each lookup cost a search.
#[derive(Clone, Debug, Default)]
struct Queues {
    by_partition: Vec<VecDeque<BatchId>>,
}

impl Queues {
    fn get(&self, partition: &i32) -> Option<&VecDeque<BatchId>> {
        usize::try_from(*partition).ok().and_then(|p| self.by_partition.get(p))
    }

    fn get_mut(&mut self, partition: &i32) -> Option<&mut VecDeque<BatchId>> {
        usize::try_from(*partition).ok().and_then(|p| self.by_partition.get_mut(p))
    }

    /// The deque of `partition`, made (with empty ones before it) when it is new.
    fn entry(&mut self, partition: i32) -> &mut VecDeque<BatchId> {
        let p = usize::try_from(partition).expect("partition ids are not negative");
        if p >= self.by_partition.len() {
            self.by_partition.resize_with(p + 1, VecDeque::new);
        }
        &mut self.by_partition[p]
    }

    /// Every deque with its partition, in partition order.
    fn iter(&self) -> impl Iterator<Item = (i32, &VecDeque<BatchId>)> {
        self.by_partition.iter().enumerate().map(|(p, q)| (i32::try_from(p).expect("a partition id"), q))
    }

    fn values_mut(&mut self) -> impl Iterator<Item = &mut VecDeque<BatchId>> {
        self.by_partition.iter_mut()
    }
}

/// The topic's partitions and their leaders, as the latest metadata answer gave them, by place:
/// `by_partition[p]` is `Some(leader)` for a partition the answer named (the leader `None`
/// while it has none) and `None` for an id it did not. It behaves as an ordered map from
/// partition to leader; kept by place, the sender finds a leader for every deque it walks
/// without a search.
#[derive(Clone, Debug, Default)]
struct Leaders {
    by_partition: Vec<Option<Option<NodeId>>>,
    /// How many partitions the answer named.
    count: usize,
}

impl Leaders {
    fn from_map(map: &BTreeMap<i32, Option<NodeId>>) -> Leaders {
        let places = map.keys().next_back().map_or(0, |p| usize::try_from(*p).map_or(0, |p| p + 1));
        let mut by_partition = vec![None; places];
        for (p, leader) in map {
            if let Ok(p) = usize::try_from(*p) {
                by_partition[p] = Some(*leader);
            }
        }
        Leaders { count: by_partition.iter().flatten().count(), by_partition }
    }

    /// The leader of `partition`: `None` for a partition the metadata did not name,
    /// `Some(None)` for one without a leader.
    fn get(&self, partition: i32) -> Option<Option<NodeId>> {
        usize::try_from(partition).ok().and_then(|p| self.by_partition.get(p).copied().flatten())
    }

    fn contains(&self, partition: i32) -> bool {
        self.get(partition).is_some()
    }

    /// How many partitions the metadata named.
    fn len(&self) -> usize {
        self.count
    }

    fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// Every partition the metadata named, with its leader, in partition order.
    fn iter(&self) -> impl Iterator<Item = (i32, Option<NodeId>)> + '_ {
        self.by_partition
            .iter()
            .enumerate()
            .filter_map(|(p, leader)| leader.map(|l| (i32::try_from(p).expect("a partition id"), l)))
    }
}

/// Kafka's `ProducerBatch`: records for one partition, sent and retried together.
#[derive(Clone, Debug)]
struct ProducerBatch {
    partition: i32,
    /// The records, until the application is told their outcome (`done`): the ids then go to
    /// its events, and the rest is dropped.
    records: Vec<PendingRecord>,
    /// How many records the batch holds, which stays known after `records` is emptied (an
    /// expired batch's answer may still come, and its sequences still count).
    record_count: i32,
    /// `estimatedSizeInBytes`: the batch header plus every record, in bytes.
    size_bytes: usize,
    /// Bytes taken from `buffer.memory`; 0 once given back.
    buffer_bytes: u64,
    /// `createdMs`: `delivery.timeout.ms` counts from here.
    created: Instant,
    /// `lastAttemptMs`: `linger.ms` and the retry backoff count from here.
    last_attempt: Instant,
    /// Retries so far.
    attempts: u32,
    /// Closed for appends: a record did not fit, or the batch was drained.
    closed: bool,
    /// A `Produce` carrying it is unanswered.
    in_request: bool,
    /// The application was told the outcome (a batch can expire while still in flight).
    done: bool,
    producer_id: i64,
    producer_epoch: i16,
    base_sequence: i32,
    /// Renumbered by an epoch bump (`sequenceHasBeenReset`).
    sequence_reset: bool,
}

impl ProducerBatch {
    /// A batch for `partition` created at `now`, with no records, no memory and no sequence yet.
    fn empty(partition: i32, now: Instant) -> ProducerBatch {
        ProducerBatch {
            partition,
            records: Vec::new(),
            record_count: 0,
            size_bytes: 0,
            buffer_bytes: 0,
            created: now,
            last_attempt: now,
            attempts: 0,
            closed: false,
            in_request: false,
            done: false,
            producer_id: NO_PRODUCER_ID,
            producer_epoch: -1,
            base_sequence: NO_SEQUENCE,
            sequence_reset: false,
        }
    }

    fn has_sequence(&self) -> bool {
        self.base_sequence != NO_SEQUENCE
    }

    fn record_count(&self) -> i32 {
        self.record_count
    }

    /// The sequence of the last record (`lastSequence`).
    fn last_sequence(&self) -> i32 {
        increment_sequence(self.base_sequence, self.record_count() - 1)
    }

    /// `isFull`: closed for appends, or at `batch.size`.
    fn is_full(&self, batch_size: usize) -> bool {
        self.closed || self.size_bytes >= batch_size
    }

    /// `hasRoomFor`: a record of `record_bytes` still fits within `batch.size`.
    fn has_room_for(&self, record_bytes: usize, batch_size: usize) -> bool {
        !self.is_full(batch_size) && self.size_bytes + record_bytes <= batch_size
    }

    /// The size the record would take as this batch's next record, in bytes.
    fn next_record_bytes(&self, record: &PendingRecord) -> usize {
        let first_ms = self.records.first().map_or(0, |r| r.created.as_millis() as i64);
        record_size_bytes(self.record_count(), record.created.as_millis() as i64 - first_ms, record)
    }
}

/// One `Produce` request to a broker, unanswered so far (kept by its correlation id).
#[derive(Clone, Debug)]
struct InFlightRequest {
    to: NodeId,
    sent_at: Instant,
    /// The batches it carries, by partition, in the order they were drained (at most one per
    /// partition).
    batches: Vec<(i32, BatchId)>,
}

/// The unanswered `Produce` requests by correlation id, oldest first, in a vector. Correlation
/// ids only grow, so a new request goes at the end and the vector stays sorted; an answer
/// removes its request by a binary search. A producer has at most
/// `max.in.flight.requests.per.connection` requests per broker in flight, a handful in all, and
/// the sender looks at all of them at every wake-up (to count a broker's requests, to find the
/// timed-out ones and for its next deadline). An ordered map cost a search per step of those
/// walks: in heavy.ron the vector took about a tenth of the producers' instructions away.
#[derive(Clone, Debug, Default)]
struct InFlightRequests {
    by_id: Vec<(u64, InFlightRequest)>,
}

impl InFlightRequests {
    /// Adds the request `correlation_id`, which must be larger than every id added before.
    fn insert(&mut self, correlation_id: u64, request: InFlightRequest) {
        assert!(
            self.by_id.last().is_none_or(|(last, _)| *last < correlation_id),
            "correlation ids are handed out in increasing order"
        );
        self.by_id.push((correlation_id, request));
    }

    fn remove(&mut self, correlation_id: &u64) -> Option<InFlightRequest> {
        let at = self.by_id.binary_search_by_key(correlation_id, |(id, _)| *id).ok()?;
        Some(self.by_id.remove(at).1)
    }

    /// The requests with their correlation ids, oldest first.
    fn iter(&self) -> impl DoubleEndedIterator<Item = (&u64, &InFlightRequest)> {
        self.by_id.iter().map(|(id, r)| (id, r))
    }

    /// The requests, oldest first.
    fn values(&self) -> impl Iterator<Item = &InFlightRequest> {
        self.by_id.iter().map(|(_, r)| r)
    }
}

/// A partition's unfinished sequenced batches, as an ordered set of ids kept in a short sorted
/// vector: a partition has a handful in flight (at most `max.in.flight.requests.per.connection`
/// requests' worth), each batch comes and goes once, and an ordered set allocated a node
/// whenever it went from empty to one.
#[derive(Clone, Debug, Default)]
struct BatchIdSet(smallvec::SmallVec<[BatchId; 8]>);

impl BatchIdSet {
    fn insert(&mut self, id: BatchId) {
        if let Err(at) = self.0.binary_search(&id) {
            self.0.insert(at, id);
        }
    }

    fn remove(&mut self, id: &BatchId) {
        if let Ok(at) = self.0.binary_search(id) {
            self.0.remove(at);
        }
    }

    fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    /// The ids in ascending order.
    fn iter(&self) -> impl Iterator<Item = &BatchId> {
        self.0.iter()
    }
}

/// The idempotent producer's bookkeeping for one partition (`TxnPartitionEntry`).
#[derive(Clone, Debug)]
struct PartitionSequences {
    /// The producer id and epoch the sequences below belong to.
    producer_id: i64,
    producer_epoch: i16,
    /// The base sequence of the next batch drained for the partition.
    next_sequence: i32,
    /// The last sequence acknowledged, -1 for none.
    last_acked_sequence: i32,
    /// Batches with a sequence that have not completed (`inflightBatchesBySequence`).
    in_flight: BatchIdSet,
    /// Set when a batch that had been sent expired: the sequence after it, which is unknown to
    /// have landed until the partition's in-flight batches resolve it
    /// (`partitionsWithUnresolvedSequences`).
    unresolved: Option<i32>,
}

impl PartitionSequences {
    fn new() -> PartitionSequences {
        PartitionSequences {
            producer_id: NO_PRODUCER_ID,
            producer_epoch: -1,
            next_sequence: 0,
            last_acked_sequence: -1,
            in_flight: BatchIdSet::default(),
            unresolved: None,
        }
    }
}

/// Which `InitProducerId` the producer needs.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PidRequestKind {
    /// A new producer id (`producer_id` and `producer_epoch` -1).
    Fresh,
    /// The same id with the epoch bumped (KIP-360).
    Bump { producer_id: i64, producer_epoch: i16 },
}

#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum PidRequestState {
    Waiting { retry_at: Instant },
    InFlight { correlation_id: u64, to: NodeId, sent_at: Instant },
}

#[derive(Clone, Debug)]
struct PidRequest {
    kind: PidRequestKind,
    reason: String,
    state: PidRequestState,
}

/// What `send()` is waiting for.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Blocker {
    /// The explicit partition is not in metadata (`waitOnMetadata`).
    Metadata,
    /// `buffer.memory` is used up (`BufferPool.allocate`).
    Memory,
}

/// What the application thread is doing.
#[derive(Clone, Debug)]
enum Application {
    /// Free to make its next call.
    Running,
    /// Inside `send()`, blocked since `since`.
    Blocked { send: AppSend, partition: i32, since: Instant, on: Blocker },
    /// Inside `flush()` since `since`, waiting for `records` records.
    Flushing { since: Instant, records: usize },
}

/// The application's next call.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Rate,
    Script,
    Flush,
}

/// The keyless-record policy of the era.
#[derive(Clone, Debug)]
enum Keyless {
    /// KIP-480 (2.4 to 3.2).
    Sticky(StickyPartitionCache),
    /// KIP-794 (3.3+), without the adaptive part.
    Uniform(UniformStickyPartitioner),
}

/// A producer node.
pub struct Producer {
    /// Interned: the events this producer reports for every record name it, and copying it
    /// copies a pointer.
    client_id: Name,
    /// Interned once: every record's event names its partition, and interning the name per
    /// record cost a copy and a search of the interned names each time.
    topic: Topic,
    config: ProducerConfig,
    rng: ChaCha8Rng,
    outbox: Outbox,
    /// The time between rate-driven sends (`rate_per_sec` sends a second), or `None` without
    /// a rate. Worked out once: the application asks for it several times per send.
    rate_interval: Option<Duration>,
    /// Where [`Producer::send_id`] puts an id together.
    send_id_scratch: String,
    keys: KeyChoice,
    /// The names of the keys drawn so far (`key-7`), by number, when `keys` is a small
    /// [`KeyChoice::Uniform`], interned ([`Key::Interned`]): every record with one key shares
    /// one copy of its name and copies it as a pointer (see [`KEY_NAME_CACHE_LIMIT`]).
    key_names: Vec<Option<Key>>,
    script: VecDeque<ScriptedSend>,
    flushes: VecDeque<Instant>,
    bootstrap: Vec<NodeId>,
    bootstrap_index: usize,
    next_correlation_id: u64,
    next_sequence: u64,
    next_rate_send: Instant,
    partitions: Leaders,
    metadata_in_flight: Option<(u64, Instant, NodeId)>,
    metadata_wanted: bool,
    metadata_retry_at: Instant,
    app: Application,
    keyless: Keyless,
    // ---- record accumulator ----
    next_batch_id: BatchId,
    batches: BatchStore,
    queues: Queues,
    /// Bytes of `buffer.memory` held by batches.
    buffer_used: u64,
    /// Partitions with a batch in flight, when `max.in.flight.requests.per.connection` is 1.
    muted: BTreeSet<i32>,
    /// Where the next drain for each broker starts (`nodesDrainIndex`).
    drain_index: BTreeMap<NodeId, usize>,
    // ---- sender ----
    /// Unanswered `Produce` requests by correlation id, so oldest first.
    requests: InFlightRequests,
    // ---- idempotence ----
    producer_id_and_epoch: Option<(i64, i16)>,
    pid_request: Option<PidRequest>,
    sequences: BTreeMap<i32, PartitionSequences>,
    partitions_to_rewrite: BTreeSet<i32>,
    acked: u64,
    failed: u64,
    /// The time of the latest input, so `poll_deadline` never names a moment already handled.
    last_now: Option<Instant>,
}

/// The size of `record` in a v2 batch ([`crate::record::record_size_bytes`]), without headers:
/// the lab's id header is its own bookkeeping and is not counted against `batch.size`.
fn record_size_bytes(offset_delta: i32, timestamp_delta_ms: i64, record: &PendingRecord) -> usize {
    crate::record::record_size_bytes(offset_delta, timestamp_delta_ms, record.key.as_deref(), record.value(), &[])
}

/// The size of a batch holding only `record`, in bytes: what `max.request.size` and
/// `buffer.memory` are checked against (Kafka's `estimateSizeInBytesUpperBound`).
fn lone_batch_bytes(record: &PendingRecord) -> usize {
    RECORD_BATCH_OVERHEAD_BYTES + record_size_bytes(0, 0, record)
}

/// `sequence + increment`, wrapping from `i32::MAX` to 0 as the broker expects
/// (`DefaultRecordBatch.incrementSequence`).
fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// Errors after which the producer refreshes metadata (Kafka's `InvalidMetadataException`s and
/// the disconnects and timeouts that `NetworkClient` treats alike).
fn refreshes_metadata(error: ErrorCode) -> bool {
    matches!(
        error,
        ErrorCode::NotLeaderOrFollower
            | ErrorCode::RequestTimedOut
            | ErrorCode::NetworkException
            | ErrorCode::UnknownTopicOrPartition
            | ErrorCode::FencedLeaderEpoch
            | ErrorCode::UnknownLeaderEpoch
    )
}

impl Producer {
    /// A producer that starts sending at `setup.start`. An idempotent one asks a bootstrap
    /// broker for a producer id first.
    pub fn new(now: Instant, setup: ProducerSetup) -> Producer {
        let keyless = if setup.era.uniform_sticky_partitioner {
            Keyless::Uniform(UniformStickyPartitioner::new(setup.config.batch_size))
        } else {
            Keyless::Sticky(StickyPartitionCache::new())
        };
        let pid_request = setup.config.enable_idempotence.then(|| PidRequest {
            kind: PidRequestKind::Fresh,
            reason: "the idempotent producer starts".into(),
            state: PidRequestState::Waiting { retry_at: now },
        });
        Producer {
            client_id: Name::new(&setup.client_id),
            topic: Topic::new(&setup.topic),
            config: setup.config,
            rng: setup.rng,
            outbox: Outbox::default(),
            rate_interval: (setup.rate_per_sec > 0.0)
                .then(|| Duration::from_nanos(((1e9 / setup.rate_per_sec) as u64).max(1))),
            send_id_scratch: String::new(),
            keys: setup.keys,
            key_names: Vec::new(),
            script: setup.script.into_iter().filter(|s| s.at >= now).collect(),
            flushes: setup.flushes.into_iter().filter(|f| *f >= now).collect(),
            bootstrap: setup.bootstrap,
            bootstrap_index: 0,
            next_correlation_id: 0,
            next_sequence: setup.first_sequence,
            next_rate_send: setup.start.max(now),
            partitions: Leaders::default(),
            metadata_in_flight: None,
            metadata_wanted: true,
            metadata_retry_at: now,
            app: Application::Running,
            keyless,
            next_batch_id: 0,
            batches: BatchStore::default(),
            queues: Queues::default(),
            buffer_used: 0,
            muted: BTreeSet::new(),
            drain_index: BTreeMap::new(),
            requests: InFlightRequests::default(),
            producer_id_and_epoch: None,
            pid_request,
            sequences: BTreeMap::new(),
            partitions_to_rewrite: BTreeSet::new(),
            acked: 0,
            failed: 0,
            last_now: None,
        }
    }

    /// A cheap snapshot for views.
    pub fn status(&self) -> ProducerStatus {
        let blocked = usize::from(matches!(self.app, Application::Blocked { .. }));
        ProducerStatus {
            sent: self.next_sequence,
            acked: self.acked,
            failed: self.failed,
            queued: self.incomplete_records() + blocked,
        }
    }

    fn correlation_id(&mut self) -> u64 {
        self.next_correlation_id += 1;
        self.next_correlation_id
    }

    fn tp(&self, partition: i32) -> TopicPartition {
        TopicPartition { topic: self.topic.clone(), partition }
    }

    fn rate_interval(&self) -> Option<Duration> {
        self.rate_interval
    }

    /// Records in batches whose outcome the application has not been told yet.
    fn incomplete_records(&self) -> usize {
        self.batches.values().filter(|b| !b.done).map(|b| b.records.len()).sum()
    }

    /// Partitions with a leader (`availablePartitionsForTopic`) and the partition count.
    fn available_partitions(&self) -> (Vec<i32>, i32) {
        let available = self.partitions.iter().filter(|(_, l)| l.is_some()).map(|(p, _)| p).collect();
        (available, self.partitions.len() as i32)
    }

    /// `retry.backoff.ms` doubled for each earlier retry, up to `retry.backoff.max.ms` (KIP-580).
    fn backoff(&self, attempts: u32) -> Duration {
        let exponent = attempts.saturating_sub(1).min(20);
        let ms = self.config.retry_backoff_ms.saturating_mul(1u64 << exponent).min(self.config.retry_backoff_max_ms);
        Duration::from_millis(ms)
    }

    /// Whether a retried batch still waits out its backoff (`shouldBackoff`).
    fn backing_off(&self, batch: &ProducerBatch, now: Instant) -> bool {
        batch.attempts > 0 && now.saturating_since(batch.last_attempt) < self.backoff(batch.attempts)
    }

    // ---- the application ----

    /// Runs the application's calls that are due, until it blocks. Returns whether anything
    /// happened.
    fn run_application(&mut self, now: Instant) -> bool {
        let mut progress = false;
        loop {
            match std::mem::replace(&mut self.app, Application::Running) {
                Application::Blocked { send, partition, since, .. } => {
                    match self.continue_send(now, send, Some(partition), since) {
                        Some(blocked) => {
                            self.app = blocked;
                            return progress;
                        }
                        None => {
                            progress = true;
                            self.resume_application(now);
                        }
                    }
                }
                Application::Flushing { since, records } => {
                    if self.incomplete_records() > 0 {
                        self.app = Application::Flushing { since, records };
                        return progress;
                    }
                    self.outbox.event(Event::ProducerFlushed {
                        producer: self.client_id.to_string(),
                        records,
                        waited_ms: crate::time::ms(now.saturating_since(since)),
                    });
                    progress = true;
                    self.resume_application(now);
                }
                Application::Running => {
                    if self.partitions.is_empty() {
                        // Until metadata names the partitions, `send()` would block in
                        // `waitOnMetadata`; the simulated application simply waits to call it.
                        return progress;
                    }
                    let Some(action) = self.next_action(now) else { return progress };
                    progress = true;
                    self.perform(now, action);
                }
            }
        }
    }

    /// `send()` or `flush()` returned after blocking: a rate-driven loop carries on from now
    /// rather than making up the sends it missed.
    fn resume_application(&mut self, now: Instant) {
        self.next_rate_send = self.next_rate_send.max(now);
    }

    /// The earliest due call; at equal times a rate-driven send comes first, then a scripted
    /// send, then a flush, so a flush covers the sends scripted at its own instant.
    fn next_action(&self, now: Instant) -> Option<Action> {
        let rate = (self.rate_interval().is_some() && self.next_rate_send <= now)
            .then_some((self.next_rate_send, Action::Rate));
        let script = self.script.front().filter(|s| s.at <= now).map(|s| (s.at, Action::Script));
        let flush = self.flushes.front().filter(|f| **f <= now).map(|f| (*f, Action::Flush));
        [rate, script, flush].into_iter().flatten().min_by_key(|(at, action)| (*at, *action as u8)).map(|(_, a)| a)
    }

    fn perform(&mut self, now: Instant, action: Action) {
        match action {
            Action::Rate => {
                let interval = self.rate_interval().expect("a rate-driven action needs a rate");
                self.next_rate_send = self.next_rate_send + interval;
                let key = match self.keys {
                    KeyChoice::Null => None,
                    KeyChoice::Uniform(n) => Some(self.key_name(n)),
                };
                // A rate-driven record's value is its send id: one allocation serves both.
                let id = self.send_id('-');
                self.send(now, key, PendingValue::Id, id, None);
            }
            Action::Script => {
                let send = self.script.pop_front().expect("due");
                let id = self.send_id('#');
                let value = send.value.map_or(PendingValue::Null, |value| PendingValue::Text(Arc::from(value)));
                self.send(now, send.key.map(Key::from), value, id, send.partition);
            }
            Action::Flush => {
                self.flushes.pop_front();
                // `KafkaProducer.flush`: every batch becomes ready at once
                // (`beginFlush`), and the caller waits for the records incomplete now.
                self.app = Application::Flushing { since: now, records: self.incomplete_records() };
            }
        }
    }

    /// The id of the next send: the client id, `separator` (`-` for a rate-driven send, `#`
    /// for a scripted one) and the send's number, as in `web-1-42`. Built by hand rather than
    /// with `format!`: a busy producer names every record, and the formatting machinery cost
    /// about 850 instructions per send in heavy.ron, several times the copying it does.
    ///
    /// The id is put together in a string the producer keeps for it, then copied once into a
    /// [`SendId`], inline for the simulator's ids. Pushing the parts onto the `SendId` itself
    /// cost about 200 instructions an id (callgrind, heavy.ron): each push checks again
    /// whether the text still fits inline.
    fn send_id(&mut self, separator: char) -> SendId {
        let mut digits = itoa::Buffer::new();
        let digits = digits.format(self.next_sequence);
        let id = &mut self.send_id_scratch;
        id.clear();
        id.push_str(&self.client_id);
        id.push(separator);
        id.push_str(digits);
        SendId::new(id.as_str())
    }

    /// The name of a key drawn uniformly from `n` keys (`key-0` to `key-{n-1}`), taking the
    /// producer's next random number. Names are kept for reuse when `n` is at most
    /// [`KEY_NAME_CACHE_LIMIT`]; with more keys than that most draws are new, and a kept name
    /// would cost more than it saves.
    fn key_name(&mut self, n: u32) -> Key {
        let k = self.rng.gen_range(0..n.max(1));
        if n > KEY_NAME_CACHE_LIMIT {
            return Key::from(format!("key-{k}"));
        }
        // Indexed by the key's number: `n` is at most the limit, so the vector is too, and a
        // lookup at every send costs no search.
        if self.key_names.len() <= k as usize {
            self.key_names.resize(k as usize + 1, None);
        }
        // Interned: at most `KEY_NAME_CACHE_LIMIT` names, and the same ones for every producer
        // and run in the process, so the interned set stays bounded.
        self.key_names[k as usize].get_or_insert_with(|| Key::interned(&format!("key-{k}"))).clone()
    }

    /// The application calls `send()`.
    fn send(&mut self, now: Instant, key: Option<Key>, value: PendingValue, id: SendId, partition: Option<i32>) {
        self.next_sequence += 1;
        let record = PendingRecord { id, key, value, created: now };
        if let Some(blocked) = self.continue_send(now, AppSend { record, partition }, None, now) {
            self.app = blocked;
        }
    }

    /// Carries a `send()` as far as it goes: choose the partition (first time only), wait for
    /// it in metadata, check the size, append. Returns the blocked state when `send()` must
    /// keep waiting, `None` once the record is in a batch or has failed.
    fn continue_send(
        &mut self,
        now: Instant,
        send: AppSend,
        chosen: Option<i32>,
        since: Instant,
    ) -> Option<Application> {
        let max_block = Duration::from_millis(self.config.max_block_ms);
        let lone_bytes = lone_batch_bytes(&send.record);
        let too_large = if lone_bytes > self.config.max_request_size {
            Some(("max.request.size", self.config.max_request_size))
        } else if lone_bytes as u64 > self.config.buffer_memory {
            Some(("buffer.memory", self.config.buffer_memory as usize))
        } else {
            None
        };
        let partition = match chosen {
            Some(p) => p,
            None => {
                let p = self.choose_partition(&send, too_large.is_none());
                self.outbox.event(Event::SendInvoked {
                    producer: self.client_id.clone(),
                    tp: self.tp(p),
                    key: send.record.key.clone(),
                    value: send.record.id.clone(),
                    tombstone: send.record.value().is_none(),
                });
                p
            }
        };
        if !self.partitions.contains(partition) {
            // An explicit partition the producer's metadata does not have (yet).
            self.metadata_wanted = true;
            if now.saturating_since(since) >= max_block {
                let reason = format!(
                    "Partition {partition} of topic {} with partition count {} is not present in metadata after {} ms.",
                    self.topic,
                    self.partitions.len(),
                    self.config.max_block_ms
                );
                self.fail_blocked(partition, &send, reason);
                return None;
            }
            return Some(Application::Blocked { send, partition, since, on: Blocker::Metadata });
        }
        if let Some((config, limit_bytes)) = too_large {
            // `KafkaProducer.ensureValidRecordSize`: RecordTooLargeException, nothing sent.
            self.failed += 1;
            self.outbox.event(Event::SendTooLarge {
                producer: self.client_id.to_string(),
                tp: self.tp(partition),
                value: send.record.id.to_string(),
                size_bytes: lone_bytes,
                limit_bytes,
                config: config.to_string(),
            });
            return None;
        }
        let keyless = send.keyless();
        let explicit = send.partition;
        match self.append(now, partition, send.record, lone_bytes) {
            Ok(appended_bytes) => {
                if keyless {
                    let full = self.all_batches_full(partition);
                    let (available, count) = self.available_partitions();
                    if let Keyless::Uniform(u) = &mut self.keyless {
                        u.update(appended_bytes, full, &available, count, &mut self.rng);
                    }
                }
                None
            }
            Err(record) => {
                let send = AppSend { record, partition: explicit };
                if now.saturating_since(since) >= max_block {
                    let reason = format!(
                        "Failed to allocate memory within the configured max blocking time {} ms.",
                        self.config.max_block_ms
                    );
                    self.fail_blocked(partition, &send, reason);
                    return None;
                }
                Some(Application::Blocked { send, partition, since, on: Blocker::Memory })
            }
        }
    }

    /// `send()` gave up after `max.block.ms` (Kafka's client-side `TimeoutException`).
    fn fail_blocked(&mut self, partition: i32, send: &AppSend, reason: String) {
        self.failed += 1;
        self.outbox.event(Event::SendBlockedTimeout {
            producer: self.client_id.to_string(),
            tp: self.tp(partition),
            value: send.record.id.to_string(),
            max_block_ms: self.config.max_block_ms,
            reason,
        });
    }

    /// The partitioner, as `KafkaProducer.doSend` and `RecordAccumulator.append` consult it.
    ///
    /// With KIP-480 every record is first offered to the open batch of its partition
    /// (`abortOnNewBatch`); if it would need a new batch, `onNewBatch` moves the sticky partition
    /// on and a keyless record follows it. With KIP-794 a keyless record takes the current
    /// sticky partition, after completing a switch that was held back while a batch was open
    /// (`partitionChanged`).
    fn choose_partition(&mut self, send: &AppSend, abort_on_new_batch: bool) -> i32 {
        let count = self.partitions.len() as i32;
        // Only the keyless partitioners read the available partitions; a keyed send, the
        // common case, does not list them.
        let mut partition = match (send.partition, &send.record.key) {
            (Some(p), _) => p,
            (None, Some(key)) => partition_for_key(key.as_bytes(), count),
            (None, None) => {
                let (available, _) = self.available_partitions();
                match &mut self.keyless {
                    Keyless::Sticky(cache) => cache.partition(&available, count, &mut self.rng),
                    Keyless::Uniform(u) => u.peek(&available, count, &mut self.rng),
                }
            }
        };
        if send.keyless() && matches!(self.keyless, Keyless::Uniform(_)) && self.all_batches_full(partition) {
            let (available, _) = self.available_partitions();
            if let Keyless::Uniform(u) = &mut self.keyless {
                if u.update(0, true, &available, count, &mut self.rng) {
                    partition = u.peek(&available, count, &mut self.rng);
                }
            }
        }
        if abort_on_new_batch
            && matches!(self.keyless, Keyless::Sticky(_))
            && !self.fits_open_batch(partition, &send.record)
        {
            let (available, _) = self.available_partitions();
            if let Keyless::Sticky(cache) = &mut self.keyless {
                let sticky = cache.on_new_batch(partition, &available, count, &mut self.rng);
                if send.keyless() {
                    partition = sticky;
                }
            }
        }
        partition
    }

    /// Whether `record` would join the open batch of `partition`.
    fn fits_open_batch(&self, partition: i32, record: &PendingRecord) -> bool {
        let Some(last) = self.queues.get(&partition).and_then(|q| q.back()) else { return false };
        let batch = &self.batches[last];
        batch.has_room_for(batch.next_record_bytes(record), self.config.batch_size)
    }

    /// `allBatchesFull`: the partition's newest queued batch is full, or none is queued.
    fn all_batches_full(&self, partition: i32) -> bool {
        self.queues
            .get(&partition)
            .and_then(|q| q.back())
            .is_none_or(|last| self.batches[last].is_full(self.config.batch_size))
    }

    // ---- the record accumulator ----

    /// `RecordAccumulator.append`: the record joins the open batch of `partition` when it fits
    /// (else that batch closes), or a new batch taking `max(batch.size, record)` bytes of
    /// `buffer.memory`; `lone_bytes` is the size of a batch of this record alone
    /// (`lone_batch_bytes`). Returns the bytes the partition's queue grew by, or gives the
    /// record back when the memory is not there (the caller blocks). The record moves into its
    /// batch: a copy would cost a busy producer three reference counts up and down per send.
    fn append(
        &mut self,
        now: Instant,
        partition: i32,
        record: PendingRecord,
        lone_bytes: usize,
    ) -> Result<usize, PendingRecord> {
        let batch_size = self.config.batch_size;
        if let Some(&last) = self.queues.get(&partition).and_then(|q| q.back()) {
            let batch = self.batches.get_mut(&last).expect("queued batches exist");
            let bytes = batch.next_record_bytes(&record);
            if batch.has_room_for(bytes, batch_size) {
                batch.records.push(record);
                batch.record_count += 1;
                batch.size_bytes += bytes;
                return Ok(bytes);
            }
            // `closeForRecordAppends`: the batch is full for good.
            batch.closed = true;
        }
        // `BufferPool.allocate`. A batch larger than the whole pool could never be allocated;
        // taking the whole pool keeps such a misconfiguration from blocking forever.
        let need = (batch_size.max(lone_bytes) as u64).min(self.config.buffer_memory);
        if self.buffer_used + need > self.config.buffer_memory {
            return Err(record);
        }
        self.buffer_used += need;
        self.next_batch_id += 1;
        let id = self.next_batch_id;
        self.batches.insert(
            id,
            ProducerBatch {
                // Room for a few records from the start: a batch that grows from one record's
                // room moves its records twice on the way to five.
                records: {
                    let mut records = Vec::with_capacity(4);
                    records.push(record);
                    records
                },
                record_count: 1,
                size_bytes: lone_bytes,
                buffer_bytes: need,
                ..ProducerBatch::empty(partition, now)
            },
        );
        self.queues.entry(partition).push_back(id);
        Ok(lone_bytes)
    }

    /// Gives a batch's memory back to the pool (`deallocate`).
    fn deallocate(&mut self, id: BatchId) {
        if let Some(batch) = self.batches.get_mut(&id) {
            self.buffer_used -= batch.buffer_bytes;
            batch.buffer_bytes = 0;
        }
    }

    /// Forgets a batch that is complete and no longer referenced by an unanswered request.
    fn release(&mut self, id: BatchId) {
        if self.batches.get(&id).is_some_and(|b| b.done && !b.in_request) {
            self.batches.remove(&id);
        }
    }

    /// Puts a failed batch back at the front of its deque for another attempt
    /// (`RecordAccumulator.reenqueue`): first for a non-idempotent producer, in sequence order
    /// among the retried batches for an idempotent one (`insertInSequenceOrder`).
    fn reenqueue(&mut self, now: Instant, id: BatchId, error: ErrorCode) {
        let batch = self.batches.get_mut(&id).expect("retried batches exist");
        batch.attempts += 1;
        batch.last_attempt = now;
        let (partition, records, sequence) = (batch.partition, batch.records.len(), batch.base_sequence);
        self.outbox.event(Event::SendRetried {
            producer: self.client_id.to_string(),
            tp: self.tp(partition),
            records,
            reason: error.name().to_string(),
        });
        let idempotent = self.config.enable_idempotence;
        let batches = &self.batches;
        let queue = self.queues.entry(partition);
        let at = if idempotent && sequence != NO_SEQUENCE {
            queue
                .iter()
                .position(|q| {
                    let queued = &batches[q];
                    !queued.has_sequence() || queued.base_sequence >= sequence
                })
                .unwrap_or(queue.len())
        } else {
            0
        };
        queue.insert(at, id);
        self.muted.remove(&partition);
    }

    // ---- completing batches ----

    /// The batch succeeded at `base_offset` (-1 when unknown: `acks=0` or
    /// `DUPLICATE_SEQUENCE_NUMBER`).
    fn complete_batch(&mut self, id: BatchId, base_offset: i64) {
        if self.config.enable_idempotence {
            self.handle_completed_batch(id);
        }
        let (partition, values) = self.tell_outcome(id);
        let tp = self.tp(partition);
        for (i, value) in values.into_iter().enumerate() {
            self.acked += 1;
            self.outbox.event(Event::SendAcked {
                producer: self.client_id.clone(),
                tp: tp.clone(),
                offset: if base_offset < 0 { -1 } else { base_offset + i as i64 },
                value,
            });
        }
        self.muted.remove(&partition);
        self.release(id);
    }

    /// Marks the batch done and gives its memory back. Returns its partition and the ids of
    /// its records when the application has yet to hear about them, none when it already did
    /// (a batch that expired in flight and is answered later).
    fn tell_outcome(&mut self, id: BatchId) -> (i32, Vec<SendId>) {
        let batch = self.batches.get_mut(&id).expect("completed batches exist");
        let partition = batch.partition;
        if batch.done {
            return (partition, Vec::new());
        }
        batch.done = true;
        // The ids move to the events rather than being copied: each copy and drop of an id is
        // an atomic count on memory written long ago.
        let values = std::mem::take(&mut batch.records).into_iter().map(|r| r.id).collect();
        self.deallocate(id);
        (partition, values)
    }

    /// The batch failed for good with `error` (`Sender.failBatch`). `adjust_sequences` says
    /// whether an idempotent producer may close the gap its sequence leaves by bumping the
    /// epoch: Kafka passes `attempts < retries`, because a batch that used up its retries may
    /// have been written after all.
    fn fail_batch(&mut self, now: Instant, id: BatchId, error: ErrorCode, adjust_sequences: bool) {
        if self.config.enable_idempotence {
            self.handle_failed_batch(now, id, error, adjust_sequences);
        }
        let (partition, values) = self.tell_outcome(id);
        let tp = self.tp(partition);
        for value in values {
            self.failed += 1;
            self.outbox.event(Event::SendFailed { producer: self.client_id.clone(), tp: tp.clone(), value, error });
        }
        self.muted.remove(&partition);
        self.release(id);
    }

    /// `Sender.canRetry`: time and retries left, not yet completed, and a retriable error (for
    /// an idempotent producer, as `TransactionManager.canRetry` decides).
    fn can_retry(&mut self, now: Instant, id: BatchId, error: ErrorCode) -> bool {
        let batch = &self.batches[&id];
        let delivery_timeout = Duration::from_millis(self.config.delivery_timeout_ms);
        if now.saturating_since(batch.created) >= delivery_timeout
            || batch.attempts >= self.config.retries
            || batch.done
        {
            return false;
        }
        if !self.config.enable_idempotence {
            return error.is_retriable();
        }
        let (partition, sequence, reset) = (batch.partition, batch.base_sequence, batch.sequence_reset);
        match error {
            ErrorCode::UnknownProducerId => {
                // The broker lost the producer's state. Batches already renumbered by a bump
                // are simply retried; otherwise bump the epoch so sequence 0 is accepted.
                if !reset {
                    let reason = format!("{} on {}", error, self.tp(partition));
                    self.request_new_producer_state(now, partition, reason, false);
                }
                true
            }
            ErrorCode::OutOfOrderSequenceNumber => {
                let unresolved = self.sequences.get(&partition).and_then(|s| s.unresolved);
                if unresolved.is_none() && (reset || !self.is_next_sequence(partition, sequence)) {
                    // Not the batch right after the last acknowledged one: an earlier batch
                    // failed and this one will go again once that is sorted out.
                    return true;
                }
                if unresolved.is_none() || unresolved == Some(sequence) {
                    // A real gap: bump the epoch and restart the partition at sequence 0.
                    let reason = format!("{} on {}", error, self.tp(partition));
                    self.request_new_producer_state(now, partition, reason, false);
                }
                true
            }
            other => other.is_retriable(),
        }
    }

    /// A broker's answer (or a connection failure) for one drained batch
    /// (`Sender.completeBatch`).
    fn handle_batch_response(&mut self, now: Instant, id: BatchId, error: Option<ErrorCode>, base_offset: i64) {
        let Some(batch) = self.batches.get_mut(&id) else { return };
        batch.in_request = false;
        let adjust = batch.attempts < self.config.retries;
        match error {
            None => self.complete_batch(id, base_offset),
            Some(ErrorCode::MessageTooLarge) => {
                // Kafka splits a batch of several records and retries the pieces; the lab
                // fails it.
                self.fail_batch(now, id, ErrorCode::MessageTooLarge, adjust);
            }
            Some(e) if self.can_retry(now, id, e) => self.reenqueue(now, id, e),
            Some(ErrorCode::DuplicateSequenceNumber) => {
                // The broker saw this sequence but no longer knows its offset: a success with
                // an unknown offset.
                self.complete_batch(id, -1);
            }
            Some(e) => self.fail_batch(now, id, e, adjust),
        }
        if error.is_some_and(refreshes_metadata) {
            self.metadata_wanted = true;
        }
    }

    /// Every request to `node` fails with `error`: the connection closed (a disconnect, or a
    /// request timeout, after which Kafka's `NetworkClient` closes the connection). Requests are
    /// handled newest first, so a partition's oldest batch ends up at the front of its deque.
    fn fail_connection(&mut self, now: Instant, node: NodeId, error: ErrorCode) {
        let ids: Vec<u64> = self.requests.iter().rev().filter(|(_, r)| r.to == node).map(|(id, _)| *id).collect();
        for correlation_id in ids {
            let request = self.requests.remove(&correlation_id).expect("listed");
            for (_, batch) in request.batches {
                self.handle_batch_response(now, batch, Some(error), -1);
            }
        }
        self.metadata_wanted = true;
    }

    // ---- the sender ----

    /// One round of the sender thread; returns whether anything was sent or expired.
    fn run_sender(&mut self, now: Instant) -> bool {
        let mut progress = self.expire_batches(now);
        if self.config.enable_idempotence {
            self.maybe_resolve_sequences(now);
            self.maybe_send_init_producer_id(now);
        }
        while self.send_producer_data(now) {
            progress = true;
        }
        progress
    }

    /// Batches past `delivery.timeout.ms` fail with a timeout (KIP-91): queued ones from the
    /// front of each deque (`expiredBatches`) and in-flight ones too
    /// (`getExpiredInflightBatches`); the latter's requests stay open, and an answer for them is
    /// still used for sequence bookkeeping.
    fn expire_batches(&mut self, now: Instant) -> bool {
        let delivery_timeout = Duration::from_millis(self.config.delivery_timeout_ms);
        let expired_at = |b: &ProducerBatch| now.saturating_since(b.created) >= delivery_timeout;
        // Batches are numbered in the order they are created, so the first is the oldest: when
        // it has not expired, none has, and the queues and requests need not be looked at (this
        // runs at every wake-up, which at thousands of records a second is thousands of times).
        if !self.batches.values().next().is_some_and(expired_at) {
            return false;
        }
        let mut expired = Vec::new();
        for queue in self.queues.values_mut() {
            while queue.front().is_some_and(|id| expired_at(&self.batches[id])) {
                expired.push(queue.pop_front().expect("checked"));
            }
        }
        for request in self.requests.values() {
            expired.extend(request.batches.iter().map(|(_, id)| id).filter(|id| {
                let b = &self.batches[*id];
                !b.done && expired_at(b)
            }));
        }
        for &id in &expired {
            let batch = &self.batches[&id];
            let unresolved = (batch.attempts > 0 && batch.has_sequence())
                .then(|| (batch.partition, increment_sequence(batch.last_sequence(), 1)));
            self.fail_batch(now, id, ErrorCode::RequestTimedOut, false);
            if let (true, Some((partition, next))) = (self.config.enable_idempotence, unresolved) {
                // A retried batch expired: whether it was written is unknown until the
                // partition's other batches answer (`markSequenceUnresolved`).
                let entry = self.sequences.entry(partition).or_insert_with(PartitionSequences::new);
                entry.unresolved = Some(entry.unresolved.map_or(next, |u| u.max(next)));
            }
        }
        !expired.is_empty()
    }

    /// `Sender.sendProducerData`: find the ready brokers, drain a request for each that has a
    /// free in-flight slot, send it. Returns whether a request was sent.
    fn send_producer_data(&mut self, now: Instant) -> bool {
        let exhausted = matches!(self.app, Application::Blocked { on: Blocker::Memory, .. });
        let flushing = matches!(self.app, Application::Flushing { .. });
        let linger = Duration::from_millis(self.config.linger_ms);
        // The ready brokers in ascending order, as an ordered set would give them: a handful,
        // kept without allocating at every wake-up.
        let mut ready_nodes: smallvec::SmallVec<[NodeId; 8]> = smallvec::SmallVec::new();
        let mut unknown_leader = false;
        for (p, queue) in self.queues.iter() {
            let Some(head) = queue.front() else { continue };
            let Some(Some(leader)) = self.partitions.get(p) else {
                unknown_leader = true;
                continue;
            };
            let place = match ready_nodes.binary_search(&leader) {
                Ok(_) => continue,
                Err(place) => place,
            };
            if self.muted.contains(&p) {
                continue;
            }
            // `RecordAccumulator.batchReady`.
            let batch = &self.batches[head];
            let backing_off = self.backing_off(batch, now);
            let full = queue.len() > 1 || batch.is_full(self.config.batch_size);
            let wait = if backing_off { self.backoff(batch.attempts) } else { linger };
            let lingered = now.saturating_since(batch.last_attempt) >= wait;
            if (full || lingered || exhausted || flushing) && !backing_off {
                ready_nodes.insert(place, leader);
            }
        }
        if unknown_leader {
            self.metadata_wanted = true;
        }
        let mut sent = false;
        for node in ready_nodes {
            let in_flight = self.requests.values().filter(|r| r.to == node).count();
            if in_flight >= self.config.max_in_flight_requests_per_connection as usize {
                continue;
            }
            let drained = self.drain_node(now, node);
            if !drained.is_empty() {
                self.send_request(now, node, drained);
                sent = true;
            }
        }
        sent
    }

    /// `RecordAccumulator.drainBatchesForOneNode`: at most one batch from each partition the
    /// node leads, starting where the previous drain for the node stopped, up to
    /// `max.request.size` (the first batch always goes).
    fn drain_node(&mut self, now: Instant, node: NodeId) -> Vec<BatchId> {
        let parts: smallvec::SmallVec<[i32; 16]> =
            self.partitions.iter().filter(|(_, l)| *l == Some(node)).map(|(p, _)| p).collect();
        let mut drained = Vec::new();
        if parts.is_empty() {
            return drained;
        }
        let start = self.drain_index.get(&node).copied().unwrap_or(0) % parts.len();
        let mut size = 0;
        // Where this drain stopped, which is where the next one starts (Kafka moves its
        // `nodesDrainIndex` at every partition it looks at; only the last one counts).
        let mut last = start;
        for k in 0..parts.len() {
            let i = (start + k) % parts.len();
            let p = parts[i];
            last = i;
            if self.muted.contains(&p) {
                continue;
            }
            let Some(&first) = self.queues.get(&p).and_then(|q| q.front()) else { continue };
            let batch = &self.batches[&first];
            if self.backing_off(batch, now) {
                continue;
            }
            if size + batch.size_bytes > self.config.max_request_size && !drained.is_empty() {
                break;
            }
            if self.should_stop_drain(first, p) {
                // Kafka stops draining this node for the round here, not just this partition.
                break;
            }
            self.queues.get_mut(&p).expect("checked").pop_front();
            if self.config.enable_idempotence && !self.batches[&first].has_sequence() {
                self.assign_sequence(first, p);
            }
            let batch = self.batches.get_mut(&first).expect("drained batches exist");
            batch.closed = true;
            size += batch.size_bytes;
            drained.push(first);
        }
        self.drain_index.insert(node, last);
        drained
    }

    /// Sends one `Produce` request to `node` with every batch drained for it
    /// (`Sender.sendProduceRequest`). With `acks=0` nothing will answer, so the batches
    /// complete at once with unknown offsets.
    fn send_request(&mut self, now: Instant, node: NodeId, drained: Vec<BatchId>) {
        let acks = self.config.acks.wire();
        let correlation_id = self.correlation_id();
        let mut partitions = Vec::with_capacity(drained.len());
        let mut batches = Vec::with_capacity(drained.len());
        for &id in &drained {
            let b = &self.batches[&id];
            // The batch goes as bytes, encoded from the pending records' own text: no decoded
            // `Record`, and no shared string per record, is made on the way to the log.
            let records: smallvec::SmallVec<[RecordParts<'_>; 16]> = b
                .records
                .iter()
                .enumerate()
                .map(|(i, r)| RecordParts {
                    offset_delta: i as i32,
                    timestamp_ms: r.created.as_millis() as i64,
                    key: r.key.as_deref(),
                    value: r.value(),
                    // The id goes in a header only when the value does not say it already
                    // (`Record::send_id`): a rate-driven send's value is its id.
                    header: (!r.value_is_id()).then_some((crate::ID_HEADER, r.id.as_str())),
                })
                .collect();
            let fields = ProducerFields {
                producer_id: b.producer_id,
                producer_epoch: b.producer_epoch,
                base_sequence: b.base_sequence,
            };
            let batch = RecordBatch::produced(fields, self.config.compression_type, &records);
            partitions.push(ProducePartition { tp: self.tp(b.partition), batch });
            batches.push((b.partition, id));
        }
        self.outbox.send(
            node,
            Message::Produce { correlation_id, acks, timeout_ms: self.config.request_timeout_ms, partitions },
        );
        if acks == 0 {
            for id in drained {
                self.complete_batch(id, -1);
            }
            return;
        }
        for &id in &drained {
            let batch = self.batches.get_mut(&id).expect("present");
            batch.in_request = true;
            if self.config.max_in_flight_requests_per_connection == 1 {
                // `guaranteeMessageOrder`: no second batch of this partition until this one is
                // answered, even towards another broker after a leader change.
                self.muted.insert(batch.partition);
            }
        }
        self.requests.insert(correlation_id, InFlightRequest { to: node, sent_at: now, batches });
    }

    // ---- the idempotent producer ----

    /// Whether `sequence` directly follows the partition's last acknowledged sequence.
    fn is_next_sequence(&self, partition: i32, sequence: i32) -> bool {
        let last = self.sequences.get(&partition).map_or(-1, |s| s.last_acked_sequence);
        i64::from(sequence) - i64::from(last) == 1
    }

    /// The lowest sequence among the partition's unfinished batches, or -1.
    fn first_in_flight_sequence(&self, partition: i32) -> i32 {
        self.sequences
            .get(&partition)
            .and_then(|s| s.in_flight.iter().map(|id| self.batches[id].base_sequence).min())
            .unwrap_or(NO_SEQUENCE)
    }

    /// `shouldStopDrainBatchesForPartition`: no producer id yet; a new batch while older
    /// batches of another producer epoch or an unresolved sequence are pending; or a retried
    /// batch that is not the lowest unfinished sequence (retries go one at a time, in order).
    fn should_stop_drain(&self, first: BatchId, partition: i32) -> bool {
        if !self.config.enable_idempotence {
            return false;
        }
        let Some(current) = self.producer_id_and_epoch else { return true };
        if self.pid_request.is_some() {
            return true;
        }
        let batch = &self.batches[&first];
        if !batch.has_sequence() {
            if let Some(s) = self.sequences.get(&partition) {
                if !s.in_flight.is_empty() && (s.producer_id, s.producer_epoch) != current {
                    return true;
                }
                if s.unresolved.is_some() {
                    return true;
                }
            }
        }
        let first_in_flight = self.first_in_flight_sequence(partition);
        first_in_flight != NO_SEQUENCE && batch.has_sequence() && batch.base_sequence != first_in_flight
    }

    /// Stamps a batch drained for the first time with the producer id, epoch and the
    /// partition's next sequence. A partition whose sequences belong to an older id or epoch
    /// and has nothing in flight starts again at 0 (`maybeUpdateProducerIdAndEpoch`).
    fn assign_sequence(&mut self, id: BatchId, partition: i32) {
        let (producer_id, producer_epoch) = self.producer_id_and_epoch.expect("checked by should_stop_drain");
        let entry = self.sequences.entry(partition).or_insert_with(PartitionSequences::new);
        if (entry.producer_id, entry.producer_epoch) != (producer_id, producer_epoch) && entry.in_flight.is_empty() {
            self.start_sequences_at_beginning(partition, producer_id, producer_epoch);
        }
        let entry = self.sequences.get_mut(&partition).expect("inserted");
        let batch = self.batches.get_mut(&id).expect("present");
        batch.producer_id = producer_id;
        batch.producer_epoch = producer_epoch;
        batch.base_sequence = entry.next_sequence;
        entry.next_sequence = increment_sequence(entry.next_sequence, batch.record_count());
        entry.in_flight.insert(id);
    }

    /// Renumbers the partition's unfinished batches from sequence 0 under the given id and
    /// epoch, in their sequence order (`startSequencesAtBeginning`).
    fn start_sequences_at_beginning(&mut self, partition: i32, producer_id: i64, producer_epoch: i16) {
        let entry = self.sequences.entry(partition).or_insert_with(PartitionSequences::new);
        let mut ids: Vec<BatchId> = entry.in_flight.iter().copied().collect();
        ids.sort_by_key(|id| self.batches[id].base_sequence);
        let mut sequence = 0;
        for id in ids {
            let batch = self.batches.get_mut(&id).expect("in-flight batches exist");
            batch.producer_id = producer_id;
            batch.producer_epoch = producer_epoch;
            batch.base_sequence = sequence;
            batch.sequence_reset = true;
            sequence = increment_sequence(sequence, batch.record_count());
        }
        entry.producer_id = producer_id;
        entry.producer_epoch = producer_epoch;
        entry.next_sequence = sequence;
        entry.last_acked_sequence = -1;
    }

    /// `handleCompletedBatch`: the acknowledged sequence moves up.
    fn handle_completed_batch(&mut self, id: BatchId) {
        let batch = &self.batches[&id];
        let Some(entry) = self.sequences.get_mut(&batch.partition) else { return };
        entry.in_flight.remove(&id);
        let same_producer = (entry.producer_id, entry.producer_epoch) == (batch.producer_id, batch.producer_epoch);
        if batch.has_sequence() && same_producer && batch.last_sequence() > entry.last_acked_sequence {
            entry.last_acked_sequence = batch.last_sequence();
        }
    }

    /// `handleFailedBatch` for a non-transactional producer: a sequenced batch that failed
    /// leaves a gap, so the epoch is bumped; `UNKNOWN_PRODUCER_ID` restarts the partition at 0
    /// under the current epoch; `INVALID_PRODUCER_EPOCH` asks for a fresh producer id.
    fn handle_failed_batch(&mut self, now: Instant, id: BatchId, error: ErrorCode, adjust_sequences: bool) {
        let partition = self.batches[&id].partition;
        if let Some(entry) = self.sequences.get_mut(&partition) {
            entry.in_flight.remove(&id);
        }
        let reason = format!("{} on {}", error, self.tp(partition));
        match error {
            ErrorCode::OutOfOrderSequenceNumber => self.request_new_producer_state(now, partition, reason, false),
            ErrorCode::UnknownProducerId => {
                if let Some((producer_id, producer_epoch)) = self.producer_id_and_epoch {
                    self.start_sequences_at_beginning(partition, producer_id, producer_epoch);
                }
            }
            ErrorCode::InvalidProducerEpoch => self.request_new_producer_state(now, partition, reason, true),
            _ if adjust_sequences => self.request_new_producer_state(now, partition, reason, false),
            _ => {}
        }
    }

    /// Asks for an epoch bump (or, with `fresh`, a new producer id) after which `partition`'s
    /// unfinished batches are renumbered from 0 (`requestEpochBumpForPartition`). Requests
    /// arriving while one is pending join it.
    fn request_new_producer_state(&mut self, now: Instant, partition: i32, reason: String, fresh: bool) {
        self.partitions_to_rewrite.insert(partition);
        match &mut self.pid_request {
            Some(request) => {
                if fresh && matches!(request.state, PidRequestState::Waiting { .. }) {
                    request.kind = PidRequestKind::Fresh;
                }
            }
            None => {
                let kind = match self.producer_id_and_epoch {
                    Some((producer_id, producer_epoch)) if !fresh && producer_epoch < i16::MAX => {
                        PidRequestKind::Bump { producer_id, producer_epoch }
                    }
                    // At the largest epoch Kafka starts over with a new producer id.
                    _ => PidRequestKind::Fresh,
                };
                self.pid_request = Some(PidRequest { kind, reason, state: PidRequestState::Waiting { retry_at: now } });
            }
        }
    }

    /// `maybeResolveSequences`: once a partition with an expired batch has nothing in flight,
    /// the batch is known to have landed if the acknowledged sequence reached past it;
    /// otherwise the epoch is bumped.
    fn maybe_resolve_sequences(&mut self, now: Instant) {
        let pending: Vec<i32> = self
            .sequences
            .iter()
            .filter(|(_, s)| s.unresolved.is_some() && s.in_flight.is_empty())
            .map(|(p, _)| *p)
            .collect();
        for partition in pending {
            let next = self.sequences[&partition].next_sequence;
            let resolved = self.is_next_sequence(partition, next);
            self.sequences.get_mut(&partition).expect("listed").unresolved = None;
            if !resolved {
                let reason = format!("the sequence of an expired batch on {} is unknown", self.tp(partition));
                self.request_new_producer_state(now, partition, reason, false);
            }
        }
    }

    /// Sends the pending `InitProducerId` to a bootstrap broker once its backoff has passed.
    fn maybe_send_init_producer_id(&mut self, now: Instant) {
        let Some(request) = &self.pid_request else { return };
        let PidRequestState::Waiting { retry_at } = request.state else { return };
        if now < retry_at || self.bootstrap.is_empty() {
            return;
        }
        let (producer_id, producer_epoch) = match request.kind {
            PidRequestKind::Fresh => (NO_PRODUCER_ID, -1),
            PidRequestKind::Bump { producer_id, producer_epoch } => (producer_id, producer_epoch),
        };
        let to = self.bootstrap[self.bootstrap_index % self.bootstrap.len()];
        let correlation_id = self.correlation_id();
        self.outbox.send(to, Message::InitProducerId { correlation_id, producer_id, producer_epoch });
        self.pid_request.as_mut().expect("checked").state =
            PidRequestState::InFlight { correlation_id, to, sent_at: now };
    }

    /// The `InitProducerId` failed: try again after `retry.backoff.ms`, at the next bootstrap
    /// broker. A bump the broker refuses outright becomes a request for a fresh id.
    fn retry_init_producer_id(&mut self, now: Instant, give_up_bump: bool) {
        self.bootstrap_index += 1;
        let retry_at = now + Duration::from_millis(self.config.retry_backoff_ms);
        if let Some(request) = &mut self.pid_request {
            request.state = PidRequestState::Waiting { retry_at };
            if give_up_bump {
                request.kind = PidRequestKind::Fresh;
            }
        }
    }

    /// A producer id and epoch arrived: record them and renumber the partitions that asked for
    /// it (`bumpIdempotentProducerEpoch`, `InitProducerIdHandler`).
    fn on_producer_id(&mut self, producer_id: i64, producer_epoch: i16) {
        let request = self.pid_request.take().expect("matched a pending request");
        self.producer_id_and_epoch = Some((producer_id, producer_epoch));
        let producer = self.client_id.to_string();
        self.outbox.event(match request.kind {
            PidRequestKind::Bump { producer_id: old, .. } if old == producer_id => {
                Event::ProducerEpochBumped { producer, producer_id, producer_epoch, reason: request.reason }
            }
            // A fresh id, or a broker that answered a bump with a new id (as Kafka's brokers do
            // for a producer without a `transactional.id`).
            _ => Event::ProducerIdGranted { producer, producer_id, producer_epoch },
        });
        for partition in std::mem::take(&mut self.partitions_to_rewrite) {
            self.start_sequences_at_beginning(partition, producer_id, producer_epoch);
            self.sequences.get_mut(&partition).expect("started").unresolved = None;
        }
    }

    // ---- metadata ----

    fn request_metadata(&mut self, now: Instant) {
        if self.metadata_in_flight.is_some() || self.bootstrap.is_empty() || now < self.metadata_retry_at {
            return;
        }
        let to = self.bootstrap[self.bootstrap_index % self.bootstrap.len()];
        let correlation_id = self.correlation_id();
        self.metadata_in_flight = Some((correlation_id, now, to));
        self.outbox.send(to, Message::Metadata { correlation_id, topics: vec![self.topic.to_string()] });
    }
}

impl Node for Producer {
    fn handle_message(&mut self, now: Instant, _from: NodeId, message: Message) {
        self.last_now = Some(now);
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
                if let Application::Blocked { on: Blocker::Metadata, partition, .. } = &self.app {
                    if !mine.contains_key(partition) {
                        // `send()` waits for a partition this answer lacks: ask again after
                        // `retry.backoff.ms`, not at once.
                        self.metadata_wanted = true;
                        self.metadata_retry_at = now + Duration::from_millis(self.config.retry_backoff_ms);
                    }
                }
                if !mine.is_empty() {
                    self.partitions = Leaders::from_map(&mine);
                }
            }
            Message::ProduceResponse { correlation_id, partitions } => {
                let Some(request) = self.requests.remove(&correlation_id) else {
                    // An answer on a connection that was closed since: Kafka never reads it.
                    return;
                };
                // `Sender.handleProduceResponse`: each partition's answer completes, retries or
                // fails that partition's batch.
                assert_eq!(
                    partitions.len(),
                    request.batches.len(),
                    "producer {}: a ProduceResponse must answer every partition of its request",
                    self.client_id
                );
                for response in partitions {
                    let batch = request
                        .batches
                        .iter()
                        .find(|(p, _)| response.tp.topic == self.topic && *p == response.tp.partition)
                        .map(|(_, id)| *id)
                        .unwrap_or_else(|| {
                            panic!("producer {}: an answer for {}, which it did not send", self.client_id, response.tp)
                        });
                    self.handle_batch_response(now, batch, response.error, response.base_offset);
                }
            }
            Message::InitProducerIdResponse { correlation_id, error, producer_id, producer_epoch } => {
                let Some(PidRequest { state: PidRequestState::InFlight { correlation_id: c, .. }, kind, .. }) =
                    self.pid_request
                else {
                    return;
                };
                if c != correlation_id {
                    return;
                }
                match error {
                    None if producer_id >= 0 && producer_epoch >= 0 => self.on_producer_id(producer_id, producer_epoch),
                    None => self.retry_init_producer_id(now, false),
                    Some(e) => {
                        let give_up_bump = !e.is_retriable() && matches!(kind, PidRequestKind::Bump { .. });
                        self.retry_init_producer_id(now, give_up_bump);
                    }
                }
            }
            other => panic!("producer {} got a message it never expects: {}", self.client_id, other.api_name()),
        }
        self.handle_timeout(now);
    }

    fn handle_disconnect(&mut self, now: Instant, peer: NodeId) {
        self.last_now = Some(now);
        if self.metadata_in_flight.is_some_and(|(_, _, to)| to == peer) {
            self.metadata_in_flight = None;
            self.bootstrap_index += 1;
        }
        if let Some(PidRequest { state: PidRequestState::InFlight { to, .. }, .. }) = self.pid_request {
            if to == peer {
                self.retry_init_producer_id(now, false);
            }
        }
        self.fail_connection(now, peer, ErrorCode::NetworkException);
        self.handle_timeout(now);
    }

    fn handle_timeout(&mut self, now: Instant) {
        self.last_now = Some(now);
        if let Some((_, sent, _)) = self.metadata_in_flight {
            if now.saturating_since(sent) >= METADATA_TIMEOUT {
                self.metadata_in_flight = None;
                self.bootstrap_index += 1;
            }
        }
        let request_timeout = Duration::from_millis(self.config.request_timeout_ms);
        if let Some(PidRequest { state: PidRequestState::InFlight { sent_at, .. }, .. }) = self.pid_request {
            if now.saturating_since(sent_at) >= request_timeout {
                self.retry_init_producer_id(now, false);
            }
        }
        // A request unanswered for `request.timeout.ms` closes its connection; every request on
        // it is retried, though the broker may have written them.
        let timed_out: BTreeSet<NodeId> = self
            .requests
            .values()
            .filter(|r| now.saturating_since(r.sent_at) >= request_timeout)
            .map(|r| r.to)
            .collect();
        for node in timed_out {
            self.fail_connection(now, node, ErrorCode::RequestTimedOut);
        }
        if self.metadata_wanted {
            self.request_metadata(now);
        }
        // The application and the sender are two threads in Kafka; here they take turns until
        // neither can move (a completed batch may unblock `send()`, whose record may be sent).
        // The sender runs each time to a fixed point, so once it has run, it has nothing more
        // to do until the application moves: a second pass over every partition's queue would
        // find what the first found. At thousands of sends a second that pass was a visible
        // share of a busy producer's time.
        let mut sender_settled = false;
        loop {
            let application = self.run_application(now);
            if sender_settled && !application {
                break;
            }
            let sender = self.run_sender(now);
            sender_settled = true;
            if !application && !sender {
                break;
            }
        }
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
        let after = self.last_now;
        // Anything due at or before the latest input was handled then, or waits for a message.
        let mut consider = |t: Instant| {
            if after.is_none_or(|a| t > a) {
                next = Some(next.map_or(t, |n| n.min(t)));
            }
        };
        match &self.app {
            Application::Running if !self.partitions.is_empty() => {
                if self.rate_interval().is_some() {
                    consider(self.next_rate_send);
                }
                if let Some(s) = self.script.front() {
                    consider(s.at);
                }
                if let Some(f) = self.flushes.front() {
                    consider(*f);
                }
            }
            Application::Blocked { since, .. } => consider(*since + Duration::from_millis(self.config.max_block_ms)),
            _ => {}
        }
        match self.metadata_in_flight {
            Some((_, sent, _)) => consider(sent + METADATA_TIMEOUT),
            None if self.metadata_wanted => consider(self.metadata_retry_at),
            None => {}
        }
        let request_timeout = Duration::from_millis(self.config.request_timeout_ms);
        match self.pid_request.as_ref().map(|r| r.state) {
            Some(PidRequestState::Waiting { retry_at }) => consider(retry_at),
            Some(PidRequestState::InFlight { sent_at, .. }) => consider(sent_at + request_timeout),
            None => {}
        }
        for r in self.requests.values() {
            consider(r.sent_at + request_timeout);
        }
        // The batches are in the order they were created: the first unfinished one whose
        // delivery timeout is still to come is the earliest such timeout.
        let delivery_timeout = Duration::from_millis(self.config.delivery_timeout_ms);
        if let Some(b) =
            self.batches.values().find(|b| !b.done && after.is_none_or(|a| b.created + delivery_timeout > a))
        {
            consider(b.created + delivery_timeout);
        }
        let linger = Duration::from_millis(self.config.linger_ms);
        for (p, queue) in self.queues.iter() {
            let Some(head) = queue.front() else { continue };
            if self.muted.contains(&p) || self.partitions.get(p).flatten().is_none() {
                continue;
            }
            let b = &self.batches[head];
            consider(b.last_attempt + linger);
            if b.attempts > 0 {
                consider(b.last_attempt + self.backoff(b.attempts));
            }
        }
        next
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::Acks;
    use crate::era::KafkaVersion;
    use crate::metadata::PartitionState;
    use crate::node::node_rng;
    use crate::protocol::ProducePartitionResponse;
    use crate::record::Compression;

    const ME: NodeId = NodeId(5000);

    fn test_batch(partition: i32) -> ProducerBatch {
        ProducerBatch::empty(partition, Instant::ZERO)
    }

    proptest::proptest! {
        /// The batch store behaves as the ordered map it replaced: the same lookups, the same
        /// removals and the same batches in the same order, whatever order batches finish in.
        #[test]
        fn the_batch_store_matches_an_ordered_map(ops in proptest::collection::vec((proptest::bool::ANY, 0u64..40, 1u64..4), 1..200)) {
            let mut store = BatchStore::default();
            let mut model: BTreeMap<BatchId, ProducerBatch> = BTreeMap::new();
            let mut next = 0;
            for (add, pick, step) in ops {
                if add {
                    next += step;
                    store.insert(next, test_batch(next as i32));
                    model.insert(next, test_batch(next as i32));
                } else {
                    let id = model.keys().nth(pick as usize % model.len().max(1)).copied().unwrap_or(pick);
                    proptest::prop_assert_eq!(store.remove(&id).map(|b| b.partition), model.remove(&id).map(|b| b.partition));
                }
                for id in 0..=next + 1 {
                    proptest::prop_assert_eq!(store.get(&id).map(|b| b.partition), model.get(&id).map(|b| b.partition));
                }
                let listed: Vec<i32> = store.values().map(|b| b.partition).collect();
                proptest::prop_assert_eq!(listed, model.values().map(|b| b.partition).collect::<Vec<_>>());
                proptest::prop_assert!(store.slots.front().is_none_or(Option::is_some));
                proptest::prop_assert!(store.slots.back().is_none_or(Option::is_some));
            }
        }

        /// The leaders by place answer as the map they are made from: the same leaders, the
        /// same count and the same partitions in order, for ids with gaps and partitions
        /// without a leader.
        #[test]
        fn leaders_by_place_answer_as_their_map(
            map in proptest::collection::btree_map(0i32..20, proptest::option::of(1i32..4), 0..12),
        ) {
            let map: BTreeMap<i32, Option<NodeId>> = map.into_iter().map(|(p, l)| (p, l.map(NodeId))).collect();
            let leaders = Leaders::from_map(&map);
            for p in -1..22 {
                proptest::prop_assert_eq!(leaders.get(p), map.get(&p).copied());
                proptest::prop_assert_eq!(leaders.contains(p), map.contains_key(&p));
            }
            proptest::prop_assert_eq!((leaders.len(), leaders.is_empty()), (map.len(), map.is_empty()));
            proptest::prop_assert_eq!(leaders.iter().collect::<Vec<_>>(), map.iter().map(|(p, l)| (*p, *l)).collect::<Vec<_>>());
        }

        /// The in-flight id set behaves as the ordered set it replaced, past its inline room
        /// too: the same ids, in the same order, after any inserts and removals.
        #[test]
        fn the_in_flight_id_set_matches_an_ordered_set(ops in proptest::collection::vec((proptest::bool::ANY, 0u64..24), 1..100)) {
            let mut set = BatchIdSet::default();
            let mut model = BTreeSet::new();
            for (add, id) in ops {
                if add {
                    set.insert(id);
                    model.insert(id);
                } else {
                    set.remove(&id);
                    model.remove(&id);
                }
                proptest::prop_assert_eq!(set.iter().copied().collect::<Vec<_>>(), model.iter().copied().collect::<Vec<_>>());
                proptest::prop_assert_eq!(set.is_empty(), model.is_empty());
            }
        }

        /// The in-flight requests answer as the ordered map they replaced: a new request takes
        /// the next correlation id, an answer removes any one, and every walk (either way) sees
        /// the same requests in the same order.
        #[test]
        fn the_in_flight_requests_answer_as_an_ordered_map(ops in proptest::collection::vec((proptest::bool::ANY, 0u64..30), 1..120)) {
            let mut requests = InFlightRequests::default();
            let mut model = BTreeMap::new();
            let mut next = 0u64;
            for (add, pick) in ops {
                if add {
                    next += 1 + pick % 3;
                    let request = InFlightRequest { to: NodeId(pick as i32 % 3), sent_at: Instant::ZERO, batches: vec![(pick as i32, next)] };
                    requests.insert(next, request.clone());
                    model.insert(next, request);
                } else {
                    let id = pick % (next + 1);
                    let removed = requests.remove(&id).map(|r| r.batches);
                    proptest::prop_assert_eq!(removed, model.remove(&id).map(|r| r.batches));
                }
                let walk: Vec<(u64, NodeId)> = requests.iter().map(|(id, r)| (*id, r.to)).collect();
                proptest::prop_assert_eq!(&walk, &model.iter().map(|(id, r)| (*id, r.to)).collect::<Vec<_>>());
                let back: Vec<u64> = requests.iter().rev().map(|(id, _)| *id).collect();
                proptest::prop_assert_eq!(back, model.keys().rev().copied().collect::<Vec<_>>());
                proptest::prop_assert_eq!(requests.values().count(), model.len());
            }
        }
    }

    #[test]
    #[should_panic(expected = "increasing order")]
    fn the_batch_store_refuses_an_old_id() {
        let mut store = BatchStore::default();
        store.insert(5, test_batch(0));
        store.insert(3, test_batch(0));
    }
    const LEADER: NodeId = NodeId(1);
    const OTHER: NodeId = NodeId(2);
    /// The producer id the tests' brokers grant.
    const PID: i64 = 7;

    fn ms(t: u64) -> Instant {
        Instant::from_millis(t)
    }

    /// A producer without idempotence, answered by `acks=1`: the plain accumulator and sender.
    fn plain() -> ProducerConfig {
        ProducerConfig { acks: Acks::One, enable_idempotence: false, ..ProducerConfig::default() }
    }

    fn send(at: u64, key: Option<&str>, value: &str) -> ScriptedSend {
        ScriptedSend { at: ms(at), key: key.map(str::to_string), value: Some(value.to_string()), partition: None }
    }

    fn send_to(at: u64, partition: i32, value: &str) -> ScriptedSend {
        ScriptedSend { partition: Some(partition), ..send(at, Some("k"), value) }
    }

    fn setup(config: ProducerConfig, era: Era, script: Vec<ScriptedSend>, flushes: Vec<Instant>) -> ProducerSetup {
        ProducerSetup {
            id: ME,
            client_id: "checkout".into(),
            topic: "orders".into(),
            config,
            rng: node_rng(1, ME, 1),
            rate_per_sec: 0.0,
            keys: KeyChoice::Null,
            script,
            start: Instant::ZERO,
            bootstrap: vec![LEADER, OTHER],
            first_sequence: 0,
            era,
            flushes,
        }
    }

    fn metadata(leaders: &[NodeId]) -> Vec<PartitionState> {
        leaders
            .iter()
            .enumerate()
            .map(|(i, leader)| PartitionState {
                tp: TopicPartition::new("orders", i as i32),
                replicas: vec![*leader],
                isr: vec![*leader],
                leader: Some(*leader),
                leader_epoch: 0,
                partition_epoch: 0,
                adding_replicas: vec![],
                removing_replicas: vec![],
            })
            .collect()
    }

    /// Starts a producer at time 0, answers its metadata request with one partition per entry
    /// of `leaders` and, when `grant` holds, its `InitProducerId` with producer id 7, epoch 0.
    /// Everything it sent or reported so far is drained.
    fn start_with(setup: ProducerSetup, leaders: &[NodeId], grant: bool) -> Producer {
        let mut p = Producer::new(Instant::ZERO, setup);
        p.handle_timeout(Instant::ZERO);
        let (sent, _) = drain(&mut p);
        for m in sent {
            match m {
                Message::Metadata { correlation_id, .. } => p.handle_message(
                    Instant::ZERO,
                    LEADER,
                    Message::MetadataResponse {
                        correlation_id,
                        brokers: vec![LEADER, OTHER],
                        partitions: metadata(leaders),
                    },
                ),
                Message::InitProducerId { correlation_id, .. } if grant => p.handle_message(
                    Instant::ZERO,
                    LEADER,
                    Message::InitProducerIdResponse {
                        correlation_id,
                        error: None,
                        producer_id: PID,
                        producer_epoch: 0,
                    },
                ),
                _ => {}
            }
        }
        drain(&mut p);
        p
    }

    fn start(config: ProducerConfig, script: Vec<ScriptedSend>, leaders: &[NodeId]) -> Producer {
        start_with(setup(config, Era::default(), script, Vec::new()), leaders, true)
    }

    fn drain(p: &mut Producer) -> (Vec<Message>, Vec<Event>) {
        let mut messages = Vec::new();
        while let Some(Effect::Send { message, .. }) = p.poll_effect() {
            messages.push(*message);
        }
        let mut events = Vec::new();
        while let Some(e) = p.poll_event() {
            events.push(e);
        }
        (messages, events)
    }

    /// The batches of the `Produce` requests among `sent`: correlation id, partition and batch.
    fn produces(sent: &[Message]) -> Vec<(u64, i32, RecordBatch)> {
        sent.iter()
            .flat_map(|m| match m {
                Message::Produce { correlation_id, partitions, .. } => {
                    partitions.iter().map(|p| (*correlation_id, p.tp.partition, p.batch.clone())).collect()
                }
                _ => Vec::new(),
            })
            .collect()
    }

    fn values(batch: &RecordBatch) -> Vec<String> {
        batch.records().iter().map(|r| r.value.as_deref().unwrap_or("").to_string()).collect()
    }

    /// Answers a request that carried one batch, for partition 0.
    fn answer(p: &mut Producer, at: u64, correlation_id: u64, error: Option<ErrorCode>, base_offset: i64) {
        answer_request(p, at, correlation_id, &[(0, error, base_offset)]);
    }

    /// Answers a request: `(partition, error, base_offset)` for each of its batches.
    fn answer_request(p: &mut Producer, at: u64, correlation_id: u64, answers: &[(i32, Option<ErrorCode>, i64)]) {
        let partitions = answers
            .iter()
            .map(|&(partition, error, base_offset)| ProducePartitionResponse {
                tp: TopicPartition::new("orders", partition),
                error,
                base_offset,
            })
            .collect();
        p.handle_message(ms(at), LEADER, Message::ProduceResponse { correlation_id, partitions });
    }

    fn acked(events: &[Event]) -> Vec<(String, i64)> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::SendAcked { value, offset, .. } => Some((value.to_string(), *offset)),
                _ => None,
            })
            .collect()
    }

    fn invoked_partitions(events: &[Event]) -> Vec<i32> {
        events
            .iter()
            .filter_map(|e| match e {
                Event::SendInvoked { tp, .. } => Some(tp.partition),
                _ => None,
            })
            .collect()
    }

    #[test]
    fn a_send_id_is_the_client_id_a_separator_and_the_send_number_however_long() {
        // A long client id too: the id moves to the heap when it outgrows the inline bytes.
        for client_id in ["web-1", "ünïcode-producer", &"p".repeat(200)] {
            let mut s = setup(plain(), Era::default(), Vec::new(), Vec::new());
            s.client_id = client_id.to_string();
            let mut p = Producer::new(Instant::ZERO, s);
            for number in [0, 7, 42, 1_000_000, u64::MAX] {
                p.next_sequence = number;
                for separator in ['-', '#'] {
                    let id = p.send_id(separator);
                    let text = format!("{client_id}{separator}{number}");
                    assert_eq!(id, text);
                    // Held inline exactly when it fits in the 24 bytes of a `SendId`.
                    assert_eq!(id.is_heap_allocated(), text.len() > 24, "{text}");
                }
            }
        }
    }

    /// The rate-driven producer of the original tests: 10 records a second, four keys, one
    /// partition, `acks=1`.
    fn producer() -> Producer {
        let mut s = setup(plain(), Era::default(), Vec::new(), Vec::new());
        s.rate_per_sec = 10.0;
        s.keys = KeyChoice::Uniform(4);
        s.bootstrap = vec![LEADER];
        let mut p = Producer::new(Instant::ZERO, s);
        p.handle_timeout(Instant::ZERO);
        p.handle_message(
            Instant::from_millis(1),
            LEADER,
            Message::MetadataResponse { correlation_id: 1, brokers: vec![LEADER], partitions: metadata(&[LEADER]) },
        );
        p
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
    fn only_a_record_whose_value_is_not_its_send_id_carries_the_id_header() {
        // Rate-driven: the value is the send id, so no header.
        let mut p = producer();
        let (sent, _) = drain(&mut p);
        let (_, _, batch) = produces(&sent).into_iter().next().expect("a produce request");
        for record in batch.records().iter() {
            assert!(record.headers.is_empty(), "{record:?}");
            assert_eq!(record.send_id().map(|id| &**id), Some("checkout-0"));
        }
        // Scripted: the script's value and a tombstone carry their ids in `kafkalab.id`.
        let script = vec![send(0, Some("k"), "order-1"), ScriptedSend { value: None, ..send(0, Some("k"), "") }];
        let mut s = setup(plain(), Era::default(), script, Vec::new());
        s.bootstrap = vec![LEADER];
        let mut p = Producer::new(Instant::ZERO, s);
        p.handle_timeout(Instant::ZERO);
        let metadata = metadata(&[LEADER]);
        p.handle_message(
            ms(1),
            LEADER,
            Message::MetadataResponse { correlation_id: 1, brokers: vec![LEADER], partitions: metadata },
        );
        p.handle_timeout(ms(1));
        let (sent, _) = drain(&mut p);
        let records: Vec<crate::record::Record> =
            produces(&sent).iter().flat_map(|(_, _, b)| b.records().into_owned()).collect();
        let ids: Vec<Option<&str>> = records.iter().map(|r| r.header(crate::ID_HEADER)).collect();
        assert_eq!(ids, [Some("checkout#0"), Some("checkout#1")]);
        assert_eq!(records[0].send_id().map(|id| &**id), Some("checkout#0"), "the header wins over the value");
        assert_eq!(records[1].value, None);
    }

    #[test]
    fn keyed_records_go_to_the_murmur2_partition_and_are_acknowledged_with_offsets() {
        let mut p = producer();
        let (sent, events) = drain(&mut p);
        let Some((correlation_id, partition, batch)) = produces(&sent).into_iter().next() else {
            panic!("a produce request")
        };
        let tp = TopicPartition::new("orders", partition);
        assert_eq!(tp.partition, 0, "one partition: everything lands in it");
        assert!(events.iter().any(|e| matches!(e, Event::SendInvoked { .. })));
        let n = batch.record_count() as i64;
        p.handle_message(
            Instant::from_millis(5),
            LEADER,
            Message::ProduceResponse {
                correlation_id,
                partitions: vec![ProducePartitionResponse { tp: tp.clone(), error: None, base_offset: 40 }],
            },
        );
        let (_, events) = drain(&mut p);
        let offsets: Vec<i64> = acked(&events).into_iter().map(|(_, o)| o).collect();
        assert_eq!(offsets, (40..40 + n).collect::<Vec<_>>());
        assert_eq!(p.status().acked, n as u64);
    }

    #[test]
    fn keyed_records_land_where_kafka_puts_them() {
        // Kafka's `UtilsTest` hashes: "21" → -973932308, "foobar" → -790332482,
        // "abc" → 479470107. Their low 31 bits modulo 7 are 3, 0 and 4.
        let script = vec![send(10, Some("21"), "a"), send(10, Some("foobar"), "b"), send(10, Some("abc"), "c")];
        let mut p = start(plain(), script, &[LEADER; 7]);
        p.handle_timeout(ms(10));
        let (_, events) = drain(&mut p);
        assert_eq!(invoked_partitions(&events), vec![3, 0, 4]);
    }

    #[test]
    fn linger_holds_records_then_sends_one_batch() {
        let config = ProducerConfig { linger_ms: 50, compression_type: Compression::Zstd, ..plain() };
        let script = vec![send(10, Some("k"), "a"), send(20, Some("k"), "b"), send(30, Some("k"), "c")];
        let mut p = start(config, script, &[LEADER]);
        for t in [10, 20, 30] {
            p.handle_timeout(ms(t));
            let (sent, events) = drain(&mut p);
            assert!(produces(&sent).is_empty(), "lingering at {t} ms: {sent:?}");
            assert_eq!(events.len(), 1, "{events:?}");
        }
        // The batch was created at 10 ms, so it is ready at 10 + linger.ms.
        assert_eq!(p.poll_deadline(), Some(ms(60)));
        p.handle_timeout(ms(59));
        assert!(produces(&drain(&mut p).0).is_empty());
        p.handle_timeout(ms(60));
        let sent = produces(&drain(&mut p).0);
        assert_eq!(sent.len(), 1);
        let (_, partition, batch) = &sent[0];
        assert_eq!(*partition, 0);
        assert_eq!(values(batch), ["a", "b", "c"]);
        assert_eq!(batch.records().iter().map(|r| r.offset_delta).collect::<Vec<_>>(), [0, 1, 2]);
        assert_eq!(batch.records().iter().map(|r| r.timestamp_ms).collect::<Vec<_>>(), [10, 20, 30]);
        assert_eq!((batch.producer_id(), batch.base_sequence()), (-1, -1), "no idempotence");
        assert_eq!(batch.compression(), Compression::Zstd, "the batch uses compression.type");
    }

    #[test]
    fn batch_size_closes_a_batch_and_an_oversized_record_gets_its_own() {
        // Key "k" and a 10-byte value make an 18-byte record (a length byte, then attributes,
        // timestamp delta, offset delta, 1+1 key, 1+10 value, header count), so after the
        // 61-byte batch header two records fill batch.size = 97 exactly.
        let config = ProducerConfig { batch_size: 97, ..plain() };
        let ten = "0123456789";
        let mut script: Vec<ScriptedSend> = (0..5).map(|_| send(10, Some("k"), ten)).collect();
        script.push(send(20, Some("k"), &"x".repeat(200)));
        script.push(send(20, Some("k"), ten));
        let mut p = start(config, script, &[LEADER]);
        p.handle_timeout(ms(10));
        let sent = produces(&drain(&mut p).0);
        let sizes: Vec<usize> = sent.iter().map(|(_, _, b)| b.record_count()).collect();
        assert_eq!(sizes, [2, 2, 1], "five records: two full batches and a partial one");
        p.handle_timeout(ms(20));
        let sent = produces(&drain(&mut p).0);
        let lengths: Vec<Vec<usize>> = sent
            .iter()
            .map(|(_, _, b)| b.records().iter().map(|r| r.value.as_deref().map_or(0, str::len)).collect())
            .collect();
        assert_eq!(lengths, [vec![200], vec![10]], "the 200-byte record is a batch of its own");
    }

    #[test]
    fn max_in_flight_caps_requests_per_connection_not_per_partition() {
        // batch.size 1: every record is a batch of its own. Two partitions on one broker.
        let config = ProducerConfig { batch_size: 1, max_in_flight_requests_per_connection: 2, ..plain() };
        let script = (0..6).map(|i| send_to(10, i % 2, &format!("r{i}"))).collect();
        let mut p = start(config, script, &[LEADER, LEADER]);
        p.handle_timeout(ms(10));
        let sent = produces(&drain(&mut p).0);
        // Two requests, each with one batch per partition (a request drains every partition of
        // the broker once, starting where the last drain stopped), and the third batch of each
        // partition waits.
        let batches: Vec<(u64, i32)> = sent.iter().map(|(c, p, _)| (*c, *p)).collect();
        let (first, second) = (sent[0].0, sent[2].0);
        assert_eq!(batches, [(first, 0), (first, 1), (second, 1), (second, 0)]);
        assert!(produces(&drain(&mut p).0).is_empty(), "two requests in flight: nothing more goes");
        // The answer to the first request frees its slot: the third request goes out.
        answer_request(&mut p, 21, first, &[(0, None, 0), (1, None, 0)]);
        let next = produces(&drain(&mut p).0);
        assert_eq!(next.iter().map(|(_, _, b)| values(b)[0].to_string()).collect::<Vec<_>>(), ["r4", "r5"]);
    }

    #[test]
    fn one_wake_up_sends_to_every_ready_broker_as_often_as_its_slots_allow() {
        // Partition 0 on LEADER has three batches, partition 1 on OTHER one: LEADER takes two
        // requests (its in-flight cap), OTHER one, all at the same wake-up: the sender's passes
        // repeat until one sends nothing.
        let config = ProducerConfig { batch_size: 1, max_in_flight_requests_per_connection: 2, ..plain() };
        let script = vec![send_to(10, 0, "a0"), send_to(10, 0, "a1"), send_to(10, 0, "a2"), send_to(10, 1, "b0")];
        let mut p = start(config, script, &[LEADER, OTHER]);
        p.handle_timeout(ms(10));
        let mut sent = Vec::new();
        while let Some(Effect::Send { to, message }) = p.poll_effect() {
            for (_, _, batch) in produces(&[*message]) {
                sent.push((to, values(&batch).join(",")));
            }
        }
        let expected = [(LEADER, "a0"), (OTHER, "b0"), (LEADER, "a1")].map(|(to, v)| (to, v.to_string()));
        assert_eq!(sent, expected);
        p.handle_timeout(ms(11));
        assert!(produces(&drain(&mut p).0).is_empty(), "LEADER's slots are full and OTHER has nothing left");
    }

    #[test]
    fn one_request_carries_a_batch_per_partition_and_each_answer_settles_its_own() {
        let script = vec![send_to(10, 0, "a"), send_to(10, 1, "b")];
        let mut p = start(plain(), script, &[LEADER, LEADER]);
        p.handle_timeout(ms(10));
        let sent = produces(&drain(&mut p).0);
        let request = sent[0].0;
        assert_eq!(
            sent.iter().map(|(c, p, b)| (*c, *p, values(b)[0].to_string())).collect::<Vec<_>>(),
            [(request, 0, "a".to_string()), (request, 1, "b".to_string())],
            "both partitions lead on one broker: one request"
        );
        // Partition 0 is stored; partition 1's leader moved, so only its batch goes again.
        answer_request(&mut p, 20, request, &[(0, None, 7), (1, Some(ErrorCode::NotLeaderOrFollower), -1)]);
        let (_, events) = drain(&mut p);
        assert_eq!(acked(&events), [("checkout#0".to_string(), 7)]);
        let retried: Vec<i32> = events
            .iter()
            .filter_map(|e| match e {
                Event::SendRetried { tp, .. } => Some(tp.partition),
                _ => None,
            })
            .collect();
        assert_eq!(retried, [1]);
        p.handle_timeout(ms(130));
        let again = produces(&drain(&mut p).0);
        assert_eq!(again.iter().map(|(_, p, b)| (*p, values(b)[0].to_string())).collect::<Vec<_>>(), [(1, "b".into())]);
    }

    #[test]
    fn without_idempotence_a_retried_batch_can_land_after_a_later_one() {
        let script = vec![send(10, Some("k"), "first"), send(20, Some("k"), "second")];
        let mut p = start(plain(), script, &[LEADER]);
        p.handle_timeout(ms(10));
        let first = produces(&drain(&mut p).0)[0].0;
        p.handle_timeout(ms(20));
        let second = produces(&drain(&mut p).0)[0].0;
        answer(&mut p, 25, first, Some(ErrorCode::NotLeaderOrFollower), -1);
        answer(&mut p, 26, second, None, 0);
        let (_, events) = drain(&mut p);
        assert_eq!(acked(&events), [("checkout#1".to_string(), 0)], "the later send is stored first");
        p.handle_timeout(ms(125));
        let retry = produces(&drain(&mut p).0);
        assert_eq!(values(&retry[0].2), ["first"]);
        answer(&mut p, 130, retry[0].0, None, 1);
        assert_eq!(acked(&drain(&mut p).1), [("checkout#0".to_string(), 1)], "sent first, stored second");
    }

    #[test]
    fn idempotent_batches_carry_sequences_and_a_retry_reuses_its_own() {
        let script = (0..6).map(|i| send(10 + 10 * (i / 2), Some("k"), &format!("r{i}"))).collect();
        let mut p = start(ProducerConfig::default(), script, &[LEADER]);
        let mut sent = Vec::new();
        for t in [10, 20, 30] {
            p.handle_timeout(ms(t));
            sent.extend(produces(&drain(&mut p).0));
        }
        let stamps: Vec<(i64, i16, i32)> =
            sent.iter().map(|(_, _, b)| (b.producer_id(), b.producer_epoch(), b.base_sequence())).collect();
        assert_eq!(stamps, [(PID, 0, 0), (PID, 0, 2), (PID, 0, 4)], "sequences 0, n, 2n for n = 2");
        answer(&mut p, 35, sent[0].0, None, 0);
        answer(&mut p, 40, sent[1].0, Some(ErrorCode::NotEnoughReplicas), -1);
        let (again, events) = drain(&mut p);
        assert!(produces(&again).is_empty());
        assert!(events.iter().any(|e| matches!(e, Event::SendRetried { records: 2, .. })));
        p.handle_timeout(ms(139));
        assert!(produces(&drain(&mut p).0).is_empty(), "retry.backoff.ms");
        p.handle_timeout(ms(140));
        let retry = produces(&drain(&mut p).0);
        assert_eq!(retry.len(), 1);
        let (_, _, batch) = &retry[0];
        assert_eq!(
            (batch.producer_id(), batch.producer_epoch(), batch.base_sequence()),
            (PID, 0, 2),
            "the same sequence"
        );
        assert_eq!(values(batch), ["r2", "r3"]);
    }

    #[test]
    fn out_of_order_sequence_bumps_the_epoch_and_restarts_sequences_at_zero() {
        let script = vec![
            send(10, Some("k"), "a0"),
            send(10, Some("k"), "a1"),
            send(20, Some("k"), "b0"),
            send(20, Some("k"), "b1"),
            send(150, Some("k"), "c0"),
        ];
        let mut p = start(ProducerConfig::default(), script, &[LEADER]);
        p.handle_timeout(ms(10));
        let a = produces(&drain(&mut p).0).remove(0);
        p.handle_timeout(ms(20));
        let b = produces(&drain(&mut p).0).remove(0);
        assert_eq!((a.2.base_sequence(), b.2.base_sequence()), (0, 2));
        // The broker lost sequence 0 (say, an unclean election): a gap.
        answer(&mut p, 30, a.0, Some(ErrorCode::OutOfOrderSequenceNumber), -1);
        let (sent, _) = drain(&mut p);
        let [Message::InitProducerId { correlation_id, producer_id, producer_epoch }] = sent.as_slice() else {
            panic!("an epoch bump: {sent:?}")
        };
        assert_eq!((*producer_id, *producer_epoch), (PID, 0), "KIP-360: the current id and epoch");
        // The batch after the gap is out of order too; it just waits for the bump.
        answer(&mut p, 31, b.0, Some(ErrorCode::OutOfOrderSequenceNumber), -1);
        assert!(drain(&mut p).0.is_empty(), "one bump for the partition");
        p.handle_message(
            ms(32),
            LEADER,
            Message::InitProducerIdResponse {
                correlation_id: *correlation_id,
                error: None,
                producer_id: PID,
                producer_epoch: 1,
            },
        );
        let (sent, events) = drain(&mut p);
        assert!(sent.is_empty(), "both batches back off: {sent:?}");
        assert!(events.iter().any(|e| matches!(e, Event::ProducerEpochBumped { producer_epoch: 1, .. })));
        // After the backoff the first batch goes again as sequence 0 of epoch 1; the second
        // waits until it is acknowledged, then follows as sequence 2.
        p.handle_timeout(ms(131));
        let retry = produces(&drain(&mut p).0);
        assert_eq!(retry.len(), 1);
        assert_eq!((retry[0].2.producer_epoch(), retry[0].2.base_sequence()), (1, 0));
        assert_eq!(values(&retry[0].2), ["a0", "a1"]);
        answer(&mut p, 140, retry[0].0, None, 0);
        let retry = produces(&drain(&mut p).0);
        assert_eq!((retry[0].2.producer_epoch(), retry[0].2.base_sequence()), (1, 2));
        assert_eq!(values(&retry[0].2), ["b0", "b1"]);
        p.handle_timeout(ms(150));
        let next = produces(&drain(&mut p).0);
        assert_eq!((next[0].2.producer_id(), next[0].2.producer_epoch(), next[0].2.base_sequence()), (PID, 1, 4));
    }

    #[test]
    fn other_idempotence_answers_follow_the_transaction_manager() {
        let script = vec![send(10, Some("k"), "dup"), send(20, Some("k"), "lost"), send(130, Some("k"), "fenced")];
        let mut p = start(ProducerConfig::default(), script, &[LEADER]);
        p.handle_timeout(ms(10));
        let dup = produces(&drain(&mut p).0).remove(0);
        // DUPLICATE_SEQUENCE_NUMBER: written before, offset unknown: a success at -1.
        answer(&mut p, 15, dup.0, Some(ErrorCode::DuplicateSequenceNumber), -1);
        assert_eq!(acked(&drain(&mut p).1), [("checkout#0".to_string(), -1)]);
        p.handle_timeout(ms(20));
        let lost = produces(&drain(&mut p).0).remove(0);
        // UNKNOWN_PRODUCER_ID: the broker has no state for the producer: bump, then retry.
        answer(&mut p, 25, lost.0, Some(ErrorCode::UnknownProducerId), -1);
        let (sent, events) = drain(&mut p);
        assert!(sent.iter().any(|m| matches!(m, Message::InitProducerId { producer_id: PID, producer_epoch: 0, .. })));
        assert!(events.iter().any(|e| matches!(e, Event::SendRetried { .. })));
        let bump = sent.iter().find_map(|m| match m {
            Message::InitProducerId { correlation_id, .. } => Some(*correlation_id),
            _ => None,
        });
        p.handle_message(
            ms(26),
            LEADER,
            Message::InitProducerIdResponse {
                correlation_id: bump.unwrap(),
                error: None,
                producer_id: PID,
                producer_epoch: 1,
            },
        );
        drain(&mut p);
        p.handle_timeout(ms(125));
        let retry = produces(&drain(&mut p).0).remove(0);
        assert_eq!((retry.2.producer_epoch(), retry.2.base_sequence()), (1, 0));
        answer(&mut p, 126, retry.0, None, 5);
        assert_eq!(acked(&drain(&mut p).1), [("checkout#1".to_string(), 5)]);
        // INVALID_PRODUCER_EPOCH: the batch fails and the producer asks for a fresh id.
        p.handle_timeout(ms(130));
        let fenced = produces(&drain(&mut p).0).remove(0);
        assert_eq!(fenced.2.base_sequence(), 1);
        answer(&mut p, 131, fenced.0, Some(ErrorCode::InvalidProducerEpoch), -1);
        let (sent, events) = drain(&mut p);
        assert!(events.iter().any(
            |e| matches!(e, Event::SendFailed { value, error: ErrorCode::InvalidProducerEpoch, .. } if &**value == "checkout#2")
        ));
        assert!(sent.iter().any(|m| matches!(m, Message::InitProducerId { producer_id: -1, producer_epoch: -1, .. })));
    }

    #[test]
    fn no_produce_before_a_producer_id_and_init_producer_id_is_retried_elsewhere() {
        let mut p = start_with(
            setup(ProducerConfig::default(), Era::default(), vec![send(10, Some("k"), "a")], Vec::new()),
            &[LEADER],
            false,
        );
        p.handle_timeout(ms(10));
        let (sent, events) = drain(&mut p);
        assert!(sent.is_empty(), "no producer id yet: {sent:?}");
        assert_eq!(events.len(), 1, "send() itself went through: {events:?}");
        // The first InitProducerId went to the first bootstrap broker at time 0 (correlation 2,
        // after the metadata request); it fails.
        p.handle_message(
            ms(15),
            LEADER,
            Message::InitProducerIdResponse {
                correlation_id: 2,
                error: Some(ErrorCode::CoordinatorNotAvailable),
                producer_id: -1,
                producer_epoch: -1,
            },
        );
        assert!(drain(&mut p).0.is_empty());
        assert_eq!(p.poll_deadline(), Some(ms(115)), "retry.backoff.ms later");
        p.handle_timeout(ms(115));
        let (sent, _) = drain(&mut p);
        let [Message::InitProducerId { correlation_id, producer_id: -1, producer_epoch: -1 }] = sent.as_slice() else {
            panic!("{sent:?}")
        };
        p.handle_message(
            ms(120),
            OTHER,
            Message::InitProducerIdResponse {
                correlation_id: *correlation_id,
                error: None,
                producer_id: 42,
                producer_epoch: 0,
            },
        );
        let (sent, events) = drain(&mut p);
        assert!(events.contains(&Event::ProducerIdGranted {
            producer: "checkout".into(),
            producer_id: 42,
            producer_epoch: 0
        }));
        let batch = &produces(&sent)[0].2;
        assert_eq!((batch.producer_id(), batch.producer_epoch(), batch.base_sequence()), (42, 0, 0));
    }

    #[test]
    fn a_full_buffer_blocks_send_and_fails_it_after_max_block_ms() {
        // Key "k", value "v": a 9-byte record, 70 bytes as a batch of its own, which fills
        // batch.size = 70. Each batch takes 70 bytes of buffer.memory = 140: two fit.
        let config = ProducerConfig { batch_size: 70, buffer_memory: 140, max_block_ms: 500, ..plain() };
        let script = vec![
            send(10, Some("k"), "v"),
            send(10, Some("k"), "v"),
            send(10, Some("k"), "v"),
            send(600, Some("k"), "v"),
        ];
        let mut p = start(config, script, &[LEADER]);
        p.handle_timeout(ms(10));
        let (sent, events) = drain(&mut p);
        let sent = produces(&sent);
        assert_eq!(sent.len(), 2, "two batches hold the whole buffer");
        assert_eq!(events.len(), 3, "the third send() was called and blocks: {events:?}");
        assert_eq!(p.poll_deadline(), Some(ms(510)));
        p.handle_timeout(ms(510));
        let (_, events) = drain(&mut p);
        assert_eq!(
            events,
            [Event::SendBlockedTimeout {
                producer: "checkout".into(),
                tp: TopicPartition::new("orders", 0),
                value: "checkout#2".into(),
                max_block_ms: 500,
                reason: "Failed to allocate memory within the configured max blocking time 500 ms.".into(),
            }]
        );
        // The next send blocks too, until an answer gives a batch's memory back.
        p.handle_timeout(ms(600));
        assert!(produces(&drain(&mut p).0).is_empty());
        answer(&mut p, 700, sent[0].0, None, 0);
        let (sent, events) = drain(&mut p);
        assert_eq!(acked(&events), [("checkout#0".to_string(), 0)]);
        assert_eq!(produces(&sent).len(), 1, "the blocked record got memory and was sent");
        assert!(!events.iter().any(|e| matches!(e, Event::SendBlockedTimeout { .. })));
    }

    #[test]
    fn a_record_over_max_request_size_fails_at_once() {
        // 100-byte value: a body of 108 bytes (its length takes two varint bytes), 110 with
        // the record's own length, 171 with the batch header.
        let config = ProducerConfig { max_request_size: 100, ..plain() };
        let mut p = start(config, vec![send(10, Some("k"), &"x".repeat(100))], &[LEADER]);
        p.handle_timeout(ms(10));
        let (sent, events) = drain(&mut p);
        assert!(sent.is_empty());
        assert!(matches!(events.as_slice(), [Event::SendInvoked { .. }, Event::SendTooLarge {
            size_bytes: 171,
            limit_bytes: 100,
            config,
            ..
        }] if config == "max.request.size"));
        assert_eq!(p.status().failed, 1);
    }

    #[test]
    fn flush_makes_lingering_batches_ready_and_reports_when_done() {
        let config = ProducerConfig { linger_ms: 10_000, ..plain() };
        let script = vec![send(10, Some("k"), "before"), send(25, Some("k"), "after")];
        let mut p = start_with(setup(config, Era::default(), script, vec![ms(20)]), &[LEADER], true);
        p.handle_timeout(ms(10));
        assert!(produces(&drain(&mut p).0).is_empty(), "lingering");
        p.handle_timeout(ms(20));
        let sent = produces(&drain(&mut p).0);
        assert_eq!(sent.len(), 1, "flush() makes the batch ready at once");
        // The application is inside flush(): the send scripted at 25 ms waits.
        p.handle_timeout(ms(25));
        assert!(drain(&mut p).1.is_empty());
        answer(&mut p, 30, sent[0].0, None, 0);
        let (sent, events) = drain(&mut p);
        assert!(
            matches!(
                events.as_slice(),
                [
                    Event::SendAcked { .. },
                    Event::ProducerFlushed { records: 1, waited_ms: 10, .. },
                    Event::SendInvoked { value, .. }
                ] if &**value == "checkout#1"
            ),
            "{events:?}"
        );
        assert!(produces(&sent).is_empty(), "after the flush, linger applies again");
    }

    #[test]
    fn delivery_timeout_counts_time_in_flight_and_request_timeout_retries() {
        let config = ProducerConfig { request_timeout_ms: 300, delivery_timeout_ms: 1000, ..plain() };
        let mut p = start(config, vec![send(10, Some("k"), "late")], &[LEADER]);
        p.handle_timeout(ms(10));
        let first = produces(&drain(&mut p).0)[0].0;
        // No answer in request.timeout.ms: the connection is closed and the batch retried,
        // although the broker may well have written it.
        p.handle_timeout(ms(310));
        let (_, events) = drain(&mut p);
        assert!(events.iter().any(|e| matches!(e, Event::SendRetried { reason, .. } if reason == "REQUEST_TIMED_OUT")));
        p.handle_timeout(ms(410));
        let second = produces(&drain(&mut p).0)[0].0;
        // The first attempt's answer comes on the closed connection: nobody reads it.
        answer(&mut p, 420, first, None, 0);
        assert!(drain(&mut p).1.is_empty());
        // 1000 ms after the batch was created it fails, though its second attempt is in flight.
        p.handle_timeout(ms(1010));
        let (_, events) = drain(&mut p);
        assert!(
            matches!(events.as_slice(), [Event::SendFailed { error: ErrorCode::RequestTimedOut, .. }]),
            "{events:?}"
        );
        answer(&mut p, 1020, second, None, 0);
        assert!(drain(&mut p).1.is_empty(), "the record already failed");
        assert_eq!(p.status(), ProducerStatus { sent: 1, acked: 0, failed: 1, queued: 0 });
    }

    #[test]
    fn message_too_large_from_the_broker_fails_without_retry() {
        let mut p = start(plain(), vec![send(10, Some("k"), "big")], &[LEADER]);
        p.handle_timeout(ms(10));
        let c = produces(&drain(&mut p).0)[0].0;
        answer(&mut p, 20, c, Some(ErrorCode::MessageTooLarge), -1);
        let (sent, events) = drain(&mut p);
        assert!(sent.is_empty());
        assert!(matches!(events.as_slice(), [Event::SendFailed { error: ErrorCode::MessageTooLarge, .. }]));
    }

    /// Keyless records at 10 ms intervals, each answered at once, on four partitions.
    fn keyless_partitions(version: KafkaVersion, config: ProducerConfig, count: u64) -> Vec<i32> {
        let script = (0..count).map(|i| send(10 * (i + 1), None, "v")).collect();
        let mut p = start_with(setup(config, version.era(), script, Vec::new()), &[LEADER; 4], true);
        let mut events = Vec::new();
        for i in 0..count {
            p.handle_timeout(ms(10 * (i + 1)));
            let (sent, e) = drain(&mut p);
            events.extend(e);
            for (c, partition, _) in produces(&sent) {
                answer_request(&mut p, 10 * (i + 1), c, &[(partition, None, 0)]);
            }
            drain(&mut p);
        }
        invoked_partitions(&events)
    }

    #[test]
    fn kip480_sticky_partitioner_switches_on_every_new_batch() {
        assert!(!KafkaVersion::V2_8.era().uniform_sticky_partitioner);
        // linger.ms=0: every batch leaves before the next record, so each record needs a new
        // batch and moves the sticky partition on.
        let partitions = keyless_partitions(KafkaVersion::V2_8, plain(), 12);
        assert!(partitions.windows(2).all(|w| w[0] != w[1]), "{partitions:?}");
        // A long linger keeps the batch open: the records share it, and its partition.
        let lingering = keyless_partitions(KafkaVersion::V2_8, ProducerConfig { linger_ms: 5_000, ..plain() }, 12);
        assert!(lingering.windows(2).all(|w| w[0] == w[1]), "{lingering:?}");
    }

    #[test]
    fn kip794_uniform_sticky_partitioner_switches_after_batch_size_bytes() {
        // A keyless 1-byte value is an 8-byte record, a 69-byte batch of its own. With
        // batch.size = 300 the fifth record brings the partition to 345 bytes, so the sixth
        // record goes to a freshly drawn partition (which may be the same one again).
        let config = ProducerConfig { batch_size: 300, ..plain() };
        let partitions = keyless_partitions(KafkaVersion::V4_0, config, 20);
        for (i, w) in partitions.windows(2).enumerate() {
            if (i + 1) % 5 != 0 {
                assert_eq!(w[0], w[1], "no switch before record {}: {partitions:?}", i + 1);
            }
        }
        assert!(partitions.windows(2).any(|w| w[0] != w[1]), "it does switch: {partitions:?}");
    }

    #[test]
    fn sequences_wrap_from_i32_max_to_zero() {
        assert_eq!(increment_sequence(0, 5), 5);
        assert_eq!(increment_sequence(i32::MAX - 1, 1), i32::MAX);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
    }

    #[test]
    fn record_sizes_follow_kafkas_varint_layout() {
        let record = |key: Option<&str>, value: &str| PendingRecord {
            id: SendId::from("id"),
            key: key.map(Key::from),
            value: PendingValue::Text(Arc::from(value)),
            created: Instant::ZERO,
        };
        assert_eq!(record_size_bytes(0, 0, &record(Some("k"), "v")), 9);
        assert_eq!(record_size_bytes(0, 0, &record(None, "v")), 8);
        assert_eq!(lone_batch_bytes(&record(Some("k"), "v")), 70);
        // Deltas of 64 and more take two varint bytes.
        assert_eq!(record_size_bytes(64, 64, &record(Some("k"), "v")), 11);
    }
}
