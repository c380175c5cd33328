//! The history oracle, after Jepsen's Kafka workload (jepsen-io/jepsen:
//! jepsen/src/jepsen/tests/kafka.clj; kafka-semantics §19).
//!
//! The trace holds every client operation in order. [`History::from_records`] (or a
//! [`HistoryBuilder`] fed as the trace grows) turns it into an explicit history, per client and
//! in trace order: every send (invoked, then acknowledged with its offset, failed for certain,
//! of unknown outcome, or still pending at the end), every poll with the offsets it returned,
//! every change of what a consumer reads (assignment, revocation, loss, seek, offset reset,
//! detected truncation), every failed commit, and every commit a group coordinator stored. [`check`] then compares the history with the partition
//! logs as the current leaders hold them at the end ([`FinalLog`]). It is a pure function, so
//! unit tests feed it hand-made histories; [`check_world_located`] only gathers the final logs of a
//! finished run.
//!
//! The anomalies, with Jepsen's names in brackets:
//!
//! * **lost acknowledged write** (`:lost-write`): a send the leader acknowledged is not in the
//!   final log, and no rule removed it: retention (its offset is below the log start offset) or
//!   compaction (a later acknowledged send has the same key, or it is a tombstone the cleaner
//!   dropped after `delete.retention.ms`).
//! * **duplicate** (`:duplicate`): one send stored at two offsets (a retry after an ambiguous
//!   failure).
//! * **inconsistent offsets** (`:inconsistent-offsets`): a send acknowledged at one offset but
//!   stored at another, or a consumer that read a record at an offset that now holds another.
//! * **poll skip** (`:poll-skip`, and `:int-poll-skip` inside one poll): within one consumer's
//!   uninterrupted ownership of a partition, its next poll began after offsets that hold
//!   records in the final log. Offsets that compaction or retention emptied, or that never held
//!   a data record, are not skipped records.
//! * **non-monotonic poll** (`:nonmonotonic-poll`, and `:int-nonmonotonic-poll`): within the
//!   same kind of ownership, a poll began at or before the offset the previous one ended at.
//! * **non-monotonic send** (`:nonmonotonic-send`): a producer's later send to a partition (in
//!   the order `send()` was called) was acknowledged at or below the offset of its previous
//!   acknowledged send there. Kafka allows it without idempotence when
//!   `max.in.flight.requests.per.connection` > 1 and a failed batch is retried after a later one
//!   was written; the idempotent producer's sequence numbers forbid it. Sends whose records the
//!   log lost are left out: after a truncation the same offsets are handed out again, and that
//!   is a lost write, not a reordering.
//! * **unseen** (Jepsen's `:unseen` narrowed to reads that went past, as in `:lost-write`): an
//!   acknowledged send still in the final log that a group reading its partition went past
//!   without any member polling it.
//!
//! Jepsen tolerates poll skips and non-monotonic polls across rebalances, because a partition
//! that changes hands is read again from the committed offset. Here ownership is tracked per
//! consumer and partition: it begins with `PartitionsAssigned` (which every consumer, with
//! `subscribe` or `assign`, reports when it starts, so a restarted consumer begins anew) and
//! ends with `PartitionsRevoked` or `PartitionsLost`; a seek, an offset reset or a detected
//! log truncation moves the position on purpose and begins it anew as well.
//!
//! Each send has a unique id: a rate-driven send's value is its id, and any other record
//! carries its id in a `kafkalab.id` header ([`cluster::record::Record::send_id`]), so values
//! written twice are told apart from distinct sends.

use crate::trace::{TraceBody, TraceRecord};
use crate::view::ClusterView;
use crate::world::World;
use cluster::chunked::Chunked;
use cluster::error::ErrorCode;
use cluster::event::Event;
use cluster::ids::{NodeId, TopicPartition};
use cluster::record::{put_varint, read_varint};
use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::cell::RefCell;
use std::cmp::Ordering;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// Anomaly counts. JSON field names are part of the `kafkalab run --json` contract.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct Anomalies {
    /// Acknowledged sends missing from the final log.
    pub lost_acked_writes: u64,
    /// Sends stored at more than one offset.
    pub duplicates: u64,
    /// Offsets that disagree between acknowledgement, log and reads.
    pub inconsistent_offsets: u64,
    /// Partitions the oracle could not judge because no leader was up at the end.
    pub unjudged_partitions: u64,
    /// Polls that skipped offsets holding records, within one consumer's uninterrupted
    /// ownership of a partition: one per pair of successive polls (or pair of successive
    /// records inside one poll) with records between them.
    #[serde(default)]
    pub poll_skips: u64,
    /// Polls that began at or before the offset the consumer's last poll ended at, within one
    /// uninterrupted ownership and without a seek: one per such pair.
    #[serde(default)]
    pub nonmonotonic_polls: u64,
    /// Sends acknowledged at or below the offset of the same producer's previous acknowledged
    /// send to the same partition: one per such pair.
    #[serde(default)]
    pub nonmonotonic_sends: u64,
    /// Acknowledged sends a group went past without polling: one per group and send.
    #[serde(default)]
    pub unseen: u64,
}

impl Anomalies {
    /// How many times the oracle found `anomaly`.
    pub fn count(&self, anomaly: crate::finding::Anomaly) -> u64 {
        use crate::finding::Anomaly;
        match anomaly {
            Anomaly::LostAckedWrite => self.lost_acked_writes,
            Anomaly::Duplicate => self.duplicates,
            Anomaly::InconsistentOffset => self.inconsistent_offsets,
            Anomaly::PollSkip => self.poll_skips,
            Anomaly::NonMonotonicPoll => self.nonmonotonic_polls,
            Anomaly::NonMonotonicSend => self.nonmonotonic_sends,
            Anomaly::Unseen => self.unseen,
        }
    }
}

/// Most findings listed per kind; the counts are always complete.
pub const FINDINGS_PER_KIND: usize = 5;

/// `12.345s` for the simulated time of a trace record.
pub(crate) fn at(record: &TraceRecord) -> String {
    secs(record.time_ns)
}

/// `12.345s` for a simulated time in nanoseconds.
fn secs(ns: u64) -> String {
    let ms = ns / 1_000_000;
    format!("{}.{:03}s", ms / 1000, ms % 1000)
}

// ---------------------------------------------------------------------------------------------
// Labels: send ids, keys and errors held compactly.

/// The number of a [`Label`] whose text does not end in a plain decimal number.
const NO_NUMBER: u64 = u64::MAX;

/// An interned stem: shared by every [`Label`] with the same text before its number, and found
/// by that text. Not `cluster::ids`' topic-name interner, whose `Arc<str>` is a two-word
/// pointer: an `Arc<String>` is one word, which keeps a label (one per send, polled record and
/// stored record) at 16 bytes instead of 24.
#[derive(Clone, Debug)]
struct Stem(Arc<String>);

impl Borrow<str> for Stem {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Stem {
    fn eq(&self, other: &Stem) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || self.0 == other.0
    }
}

impl Eq for Stem {}

impl PartialOrd for Stem {
    fn partial_cmp(&self, other: &Stem) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Stem {
    fn cmp(&self, other: &Stem) -> Ordering {
        self.0.as_str().cmp(other.0.as_str())
    }
}

/// The stems interned on one thread, with the few looked up last.
#[derive(Default)]
struct Stems {
    /// Every stem interned.
    all: BTreeSet<Stem>,
    /// The stems found or added last, most recent first: a run's labels come from a few
    /// producers and key kinds, so most lookups find their stem here without searching `all`.
    recent: [Option<Arc<String>>; 4],
}

thread_local! {
    /// The stems interned on this thread. A run's labels share a few stems (one per producer
    /// and kind of id, one per kind of key), so the set stays small; as with topic names, a
    /// label made on another thread is equal by content all the same.
    static STEMS: RefCell<Stems> = RefCell::new(Stems::default());
}

/// The interned stem with text `text`.
fn intern(text: &str) -> Arc<String> {
    STEMS.with(|stems| {
        let mut stems = stems.borrow_mut();
        let Stems { all, recent } = &mut *stems;
        if let Some(i) = recent.iter().position(|r| r.as_ref().is_some_and(|r| r.as_str() == text)) {
            recent[..=i].rotate_right(1);
            return Arc::clone(recent[0].as_ref().expect("just found"));
        }
        let shared = match all.get(text) {
            Some(found) => Arc::clone(&found.0),
            None => {
                let shared = Arc::new(text.to_string());
                all.insert(Stem(Arc::clone(&shared)));
                shared
            }
        };
        recent.rotate_right(1);
        recent[0] = Some(Arc::clone(&shared));
        shared
    })
}

/// The number of decimal digits of `n`.
fn digit_count(n: u64) -> u32 {
    n.checked_ilog10().map_or(1, |log| log + 1)
}

/// The decimal digits of `number` (none for [`NO_NUMBER`]), written at the end of `buffer`.
fn digits(number: u64, buffer: &mut [u8; 20]) -> &[u8] {
    if number == NO_NUMBER {
        return &[];
    }
    let mut n = number;
    let mut start = buffer.len();
    loop {
        start -= 1;
        buffer[start] = b'0' + (n % 10) as u8;
        n /= 10;
        if n == 0 {
            return &buffer[start..];
        }
    }
}

/// How the decimal strings of `a` and `b` compare as strings (`"10" < "9"`).
fn cmp_decimal(a: u64, b: u64) -> Ordering {
    let (da, db) = (digit_count(a), digit_count(b));
    // Pad the shorter number with zeros to the longer one's length (at most 19 digits, so it
    // fits): equal then means it is a prefix of the other, which sorts first.
    match da.cmp(&db) {
        Ordering::Equal => a.cmp(&b),
        Ordering::Less => (a * 10u64.pow(db - da)).cmp(&b).then(Ordering::Less),
        Ordering::Greater => a.cmp(&(b * 10u64.pow(da - db))).then(Ordering::Greater),
    }
}

/// A send id, record key or error name, held compactly. A long run holds one per send, polled
/// record and stored record, and nearly all of them are a stem many share and a decimal number
/// (`web-1-4711`, `key-42`): the stem is interned and only the number is stored, so a label
/// takes 16 bytes and no allocation of its own. It prints, compares and orders exactly as the
/// text it stands for.
#[derive(Clone)]
pub struct Label {
    /// The interned text before the number; the whole text when it does not end in a plain
    /// decimal number (one without a leading zero, of at most 19 digits).
    stem: Arc<String>,
    /// The number the text ends in, or [`NO_NUMBER`].
    number: u64,
}

impl Label {
    /// The label for `text`.
    pub fn new(text: &str) -> Label {
        let count = text.bytes().rev().take_while(u8::is_ascii_digit).count();
        let (stem, tail) = text.split_at(text.len() - count);
        // Only a canonical number gives the text back when printed: no leading zero, and short
        // enough to fit below `NO_NUMBER`.
        if (1..=19).contains(&count) && (count == 1 || !tail.starts_with('0')) {
            let number = tail.parse().expect("at most 19 decimal digits fit in a u64");
            Label { stem: intern(stem), number }
        } else {
            // Such labels are rare (hand-made ids, error names, keys without a number) and
            // may be one-offs, so their text is not kept on the thread for good.
            Label { stem: Arc::new(text.to_string()), number: NO_NUMBER }
        }
    }

    /// A total order for sorting and searching labels where the order itself does not show:
    /// by number, then by stem. It agrees with equality, and is much cheaper than the text
    /// order ([`Ord`]), which compares numbers digit by digit.
    fn search_order(&self, other: &Label) -> Ordering {
        self.number.cmp(&other.number).then_with(|| {
            if Arc::ptr_eq(&self.stem, &other.stem) {
                Ordering::Equal
            } else {
                self.stem.as_str().cmp(other.stem.as_str())
            }
        })
    }

    /// Whether `self` and `other` have the same stem text.
    fn same_stem(&self, other: &Label) -> bool {
        same_text(&self.stem, &other.stem)
    }
}

/// Whether two stems hold the same text: by pointer first, as interned stems are shared.
fn same_text(a: &Arc<String>, b: &Arc<String>) -> bool {
    Arc::ptr_eq(a, b) || a == b
}

/// A label ordered by [`Label::search_order`], in a map or sorted list that is only searched:
/// a long run's checks look up every acknowledged send's key and every record a group passed.
#[derive(Clone, Copy, Debug)]
struct Searched<'a>(&'a Label);

impl PartialEq for Searched<'_> {
    fn eq(&self, other: &Self) -> bool {
        self.cmp(other) == Ordering::Equal
    }
}

impl Eq for Searched<'_> {}

impl PartialOrd for Searched<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Searched<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.search_order(other.0)
    }
}

/// A label owned by a table that is only searched, ordered by [`Label::search_order`]: the text
/// order ([`Ord`] for [`Label`]) compares numbers digit by digit, and looking up each send's key
/// in text order was a quarter of the history's cost in a busy run.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SearchedLabel(Label);

impl PartialOrd for SearchedLabel {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for SearchedLabel {
    fn cmp(&self, other: &Self) -> Ordering {
        self.0.search_order(&other.0)
    }
}

impl From<&str> for Label {
    fn from(text: &str) -> Label {
        Label::new(text)
    }
}

impl std::fmt::Display for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.stem)?;
        if self.number != NO_NUMBER {
            write!(f, "{}", self.number)?;
        }
        Ok(())
    }
}

impl std::fmt::Debug for Label {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&self.to_string(), f)
    }
}

impl PartialEq for Label {
    fn eq(&self, other: &Label) -> bool {
        self.number == other.number && self.same_stem(other)
    }
}

impl Eq for Label {}

impl PartialEq<str> for Label {
    fn eq(&self, text: &str) -> bool {
        let mut buffer = [0; 20];
        text.strip_prefix(self.stem.as_str()).is_some_and(|tail| tail.as_bytes() == digits(self.number, &mut buffer))
    }
}

impl PartialOrd for Label {
    fn partial_cmp(&self, other: &Label) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Label {
    /// The order of the texts.
    fn cmp(&self, other: &Label) -> Ordering {
        if self.same_stem(other) {
            return match (self.number, other.number) {
                (NO_NUMBER, NO_NUMBER) => Ordering::Equal,
                (NO_NUMBER, _) => Ordering::Less,
                (_, NO_NUMBER) => Ordering::Greater,
                (a, b) => cmp_decimal(a, b),
            };
        }
        let (mut a, mut b) = ([0; 20], [0; 20]);
        let a = self.stem.as_bytes().iter().chain(digits(self.number, &mut a));
        a.cmp(other.stem.as_bytes().iter().chain(digits(other.number, &mut b)))
    }
}

// ---------------------------------------------------------------------------------------------
// The final logs.

/// A partition's final log, as the current leader holds it at the end of the run: its data
/// records (those with a send id, [`cluster::record::Record::send_id`]) by offset, and an index
/// to find them by send id. Both are flat vectors, not maps: a long run's logs hold millions of
/// records.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FinalLog {
    /// The broker leading the partition at the end.
    pub leader: NodeId,
    /// The leader's high watermark.
    pub high_watermark: i64,
    /// The log start offset: retention removed everything below it.
    pub log_start_offset: i64,
    /// Whether the topic's `cleanup.policy` includes `compact`.
    pub compacted: bool,
    /// The cleaner's checkpoint: compaction may have removed records only below it.
    pub first_dirty_offset: i64,
    /// `(offset, send id)` per record, in offset order, one per offset.
    records: Vec<(i64, Label)>,
    /// The distinct stems of the send ids in `records`, in text order.
    stems: Vec<Arc<String>>,
    /// Per record, `(number, stem's index in stems, index in records)`, sorted: a record's id
    /// is found by binary search, and one id's records sit together in offset order.
    by_id: Vec<(u64, u32, u32)>,
}

impl FinalLog {
    /// A log led by `leader` holding `records` (`(offset, send id)` pairs), starting at
    /// `log_start_offset`, with its high watermark after the last record, and not compacted.
    pub fn new(leader: NodeId, log_start_offset: i64, records: impl IntoIterator<Item = (i64, String)>) -> FinalLog {
        let mut log = FinalLog {
            leader,
            high_watermark: log_start_offset,
            log_start_offset,
            compacted: false,
            first_dirty_offset: log_start_offset,
            records: Vec::new(),
            stems: Vec::new(),
            by_id: Vec::new(),
        };
        log.set_records(records.into_iter().map(|(offset, id)| (offset, Label::new(&id))).collect());
        log.high_watermark = log.records.last().map_or(log_start_offset, |(o, _)| o + 1);
        log
    }

    /// Replaces the data records with `records` (`(offset, send id)` pairs, in any order; of
    /// two at the same offset the later one stays), keeping the watermarks and the cleaner's
    /// state: a test can so tamper with a real log.
    pub fn set_records(&mut self, mut records: Vec<(i64, Label)>) {
        // Stable, so records at the same offset keep their order; a log read from a broker is
        // in offset order already.
        records.sort_by_key(|(offset, _)| *offset);
        records.dedup_by(|later, earlier| {
            let same = later.0 == earlier.0;
            if same {
                std::mem::swap(later, earlier);
            }
            same
        });
        let mut stems: Vec<Arc<String>> = Vec::new();
        for (_, id) in &records {
            if !stems.last().is_some_and(|s| Arc::ptr_eq(s, &id.stem)) {
                stems.push(Arc::clone(&id.stem));
            }
        }
        stems.sort_by(|a, b| a.as_str().cmp(b.as_str()));
        stems.dedup();
        let index = u32::try_from(records.len()).expect("a partition's final log holds fewer than 2^32 records");
        let stem_of = |id: &Label| stems.binary_search_by(|s| s.as_str().cmp(id.stem.as_str())).expect("listed");
        let mut by_id: Vec<(u64, u32, u32)> =
            (0..index).map(|i| (records[i as usize].1.number, stem_of(&records[i as usize].1) as u32, i)).collect();
        by_id.sort_unstable_by_key(|&(number, stem, i)| (stem, number, i));
        (self.records, self.stems, self.by_id) = (records, stems, by_id);
    }

    /// The records, `(offset, send id)` in offset order.
    pub fn records(&self) -> &[(i64, Label)] {
        &self.records
    }

    /// The send id stored at `offset`, if a data record is.
    pub fn at(&self, offset: i64) -> Option<&Label> {
        let i = self.records.binary_search_by_key(&offset, |(o, _)| *o).ok()?;
        Some(&self.records[i].1)
    }

    /// The records held at offsets in `from..to`.
    pub fn between(&self, from: i64, to: i64) -> &[(i64, Label)] {
        if from >= to {
            return &[];
        }
        let start = self.records.partition_point(|(o, _)| *o < from);
        let end = self.records.partition_point(|(o, _)| *o < to);
        &self.records[start..end]
    }

    /// The offsets holding send `id`, in order (more than one for a duplicate).
    pub fn offsets_of(&self, id: &Label) -> impl Iterator<Item = i64> + Clone + '_ {
        let found = match self.stems.binary_search_by(|s| s.as_str().cmp(id.stem.as_str())) {
            Ok(stem) => {
                let key = (stem as u32, id.number);
                let start = self.by_id.partition_point(|&(number, stem, _)| (stem, number) < key);
                let end = start + self.by_id[start..].partition_point(|&(number, stem, _)| (stem, number) == key);
                &self.by_id[start..end]
            }
            Err(_) => &[],
        };
        found.iter().map(|&(_, _, i)| self.records[i as usize].0)
    }

    /// Every send id stored more than once, in id order, with its offsets in order.
    fn duplicates(&self) -> Vec<(&Label, Vec<i64>)> {
        let mut found: Vec<(&Label, Vec<i64>)> = self
            .by_id
            .chunk_by(|a, b| (a.0, a.1) == (b.0, b.1))
            .filter(|same| same.len() > 1)
            .map(|same| {
                let id = &self.records[same[0].2 as usize].1;
                (id, same.iter().map(|&(_, _, i)| self.records[i as usize].0).collect())
            })
            .collect();
        // The index orders numbers by value; ids as text order them digit by digit.
        found.sort_by(|a, b| a.0.cmp(b.0));
        found
    }
}

/// Reads the final log of every partition from its current leader. Returns the logs and the
/// number of partitions without a leader (or whose leader's log could not be read), which the
/// oracle cannot judge.
///
/// The logs of a long run hold millions of records; [`check_world_located`] reads them one partition at
/// a time instead, with [`final_log`].
pub fn final_logs(world: &World, view: &ClusterView) -> (BTreeMap<TopicPartition, FinalLog>, u64) {
    let mut logs = BTreeMap::new();
    let mut unjudged = 0;
    for (tp, leader) in leaders(view) {
        match final_log(world, &tp, leader) {
            Some(log) => {
                logs.insert(tp, log);
            }
            None => unjudged += 1,
        }
    }
    (logs, unjudged)
}

/// Every user partition of `view`, in topic and partition order, with its current leader
/// (`None` when it has none).
fn leaders(view: &ClusterView) -> impl Iterator<Item = (TopicPartition, Option<NodeId>)> + '_ {
    view.topics.iter().flat_map(|topic| {
        topic.partitions.iter().map(|p| (TopicPartition::new(topic.name.clone(), p.partition), p.leader.map(NodeId)))
    })
}

/// The final log of `tp` as `leader` holds it, or `None` when there is no leader or its log
/// cannot be read (the partition is then unjudged).
pub fn final_log(world: &World, tp: &TopicPartition, leader: Option<NodeId>) -> Option<FinalLog> {
    let leader = leader?;
    world.with_log(leader, tp, |log| {
        // Sized exactly: the report reads one final log at a time, and a doubling vector's
        // spare room was part of the run's peak (a third of a partition's records, for
        // heavy.ron's partitions).
        let mut records = Vec::with_capacity(log.batches().map(|b| b.record_count()).sum());
        for batch in log.batches() {
            for record in batch.records().iter() {
                let offset = batch.base_offset() + i64::from(record.offset_delta);
                if let Some(id) = record.send_id() {
                    records.push((offset, Label::new(id)));
                }
            }
        }
        let mut log = FinalLog {
            leader,
            high_watermark: log.high_watermark(),
            log_start_offset: log.log_start_offset(),
            compacted: log.config().is_compacted(),
            first_dirty_offset: log.first_dirty_offset(),
            records: Vec::new(),
            stems: Vec::new(),
            by_id: Vec::new(),
        };
        log.set_records(records);
        log
    })
}

// ---------------------------------------------------------------------------------------------
// The history.

/// When an operation happened: the trace record's sequence number and simulated time.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord)]
pub struct Stamp {
    /// Position in the trace.
    pub seq: u64,
    /// Simulated time, in nanoseconds since the run started.
    pub time_ns: u64,
}

impl Stamp {
    fn of(record: &TraceRecord) -> Stamp {
        Stamp { seq: record.seq, time_ns: record.time_ns }
    }

    /// `12.345s`.
    fn at(self) -> String {
        secs(self.time_ns)
    }
}

/// How a send ended, as its producer learned it (Jepsen's `:ok`, `:fail` and `:info`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SendOutcome {
    /// No answer by the end of the run: still in flight, or its producer crashed first. Its
    /// record may or may not be in the log.
    Pending,
    /// The leader acknowledged it at `offset` (-1 when the offset is unknown: `acks=0`, or a
    /// retry the broker recognised by its sequence number but whose offset it forgot).
    Acked {
        /// The offset.
        offset: i64,
        /// When the producer learned it.
        at: Stamp,
    },
    /// It failed for certain: nothing was sent (`max.block.ms`, `RecordTooLargeException`), or
    /// the broker refused it and no earlier attempt of it can have been written.
    Failed {
        /// The error, in Kafka's words ([`History::error_text`]).
        error: ErrorText,
        /// When the producer learned it.
        at: Stamp,
    },
    /// It failed without knowing whether the broker wrote it (Jepsen's indeterminate `:info`):
    /// a request or delivery timeout, a closed connection, `NOT_ENOUGH_REPLICAS_AFTER_APPEND`,
    /// or another error after an earlier attempt on its partition ended in one of those.
    Unknown {
        /// The error, in Kafka's words ([`History::error_text`]).
        error: ErrorText,
        /// When the producer learned it.
        at: Stamp,
    },
}

/// The words of a failed send's error, as their number in the history's table of them
/// ([`History::error_text`]): a run has a handful of distinct errors and millions of sends.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ErrorText(u32);

/// A partition, as its number in the history's table of the partitions sent to
/// ([`History::partition`]): four bytes in each send instead of a 24-byte [`TopicPartition`].
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct PartitionNumber(u32);

/// Which [`SendOutcome`] a [`Send`] holds, the rest of it being packed into the send. The
/// numbers are its two bits in a packed send ([`SendList`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
#[repr(u8)]
enum OutcomeKind {
    Pending = 0,
    Acked = 1,
    Failed = 2,
    Unknown = 3,
}

impl OutcomeKind {
    /// The kind numbered `bits & 3`.
    fn from_bits(bits: u8) -> OutcomeKind {
        [OutcomeKind::Pending, OutcomeKind::Acked, OutcomeKind::Failed, OutcomeKind::Unknown][usize::from(bits & 3)]
    }
}

/// One `send()`: the record and how it ended.
///
/// A long run's history holds millions of sends, so a send is packed into 56 bytes: its
/// partition, key and error are numbers in tables the history keeps, its outcome is stored as
/// its kind, one number (the offset or the error) and a time, and each time's position in the
/// trace takes 32 bits. Read it with [`Send::outcome`], [`Send::invoked`],
/// [`Send::partition`] and [`History::key`].
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Send {
    /// The send's unique id (the record's value, or its `kafkalab.id` header).
    pub id: Label,
    /// When `send()` was called, in nanoseconds of simulated time.
    invoked_ns: u64,
    /// When the outcome came, in nanoseconds (0 while pending).
    ended_ns: u64,
    /// The acknowledged offset, or the number of the error.
    detail: i64,
    /// The trace position of the `send()` call.
    invoked_seq: u32,
    /// The trace position of the outcome (0 while pending).
    ended_seq: u32,
    /// The record key's number in the history's table of keys ([`History::key`]), or
    /// [`NO_KEY`].
    key: u32,
    /// The partition the partitioner chose ([`History::partition`]).
    partition: u16,
    /// Which outcome `ended_*` and `detail` belong to.
    kind: OutcomeKind,
    /// Whether the record is a tombstone (a null value).
    pub tombstone: bool,
}

/// The [`Send::key`] number of a record without a key.
const NO_KEY: u32 = u32::MAX;

/// `stamp`'s trace position in the 32 bits a [`Send`] keeps for it. Panics past 2^32 trace
/// records, a run hundreds of times longer than the heavy benchmark.
fn seq32(stamp: Stamp) -> u32 {
    u32::try_from(stamp.seq).unwrap_or_else(|_| {
        panic!("trace record {} is past the 2^32 a send's history keeps; run a shorter scenario", stamp.seq)
    })
}

impl Send {
    /// A send invoked at `invoked`, still pending.
    fn new(id: Label, partition: PartitionNumber, key: u32, tombstone: bool, invoked: Stamp) -> Send {
        let partition = u16::try_from(partition.0).expect("a run sends to fewer than 65,536 partitions");
        Send {
            id,
            invoked_ns: invoked.time_ns,
            ended_ns: 0,
            detail: 0,
            invoked_seq: seq32(invoked),
            ended_seq: 0,
            key,
            partition,
            kind: OutcomeKind::Pending,
            tombstone,
        }
    }

    /// When `send()` was called.
    pub fn invoked(&self) -> Stamp {
        Stamp { seq: u64::from(self.invoked_seq), time_ns: self.invoked_ns }
    }

    /// The partition the partitioner chose ([`History::partition`]).
    pub fn partition(&self) -> PartitionNumber {
        PartitionNumber(u32::from(self.partition))
    }

    /// How it ended.
    pub fn outcome(&self) -> SendOutcome {
        let at = Stamp { seq: u64::from(self.ended_seq), time_ns: self.ended_ns };
        let error = ErrorText(self.detail as u32);
        match self.kind {
            OutcomeKind::Pending => SendOutcome::Pending,
            OutcomeKind::Acked => SendOutcome::Acked { offset: self.detail, at },
            OutcomeKind::Failed => SendOutcome::Failed { error, at },
            OutcomeKind::Unknown => SendOutcome::Unknown { error, at },
        }
    }

    fn set_outcome(&mut self, outcome: SendOutcome) {
        let (kind, detail, at) = match outcome {
            SendOutcome::Pending => (OutcomeKind::Pending, 0, Stamp::default()),
            SendOutcome::Acked { offset, at } => (OutcomeKind::Acked, offset, at),
            SendOutcome::Failed { error, at } => (OutcomeKind::Failed, i64::from(error.0), at),
            SendOutcome::Unknown { error, at } => (OutcomeKind::Unknown, i64::from(error.0), at),
        };
        (self.kind, self.detail, self.ended_ns, self.ended_seq) = (kind, detail, at.time_ns, seq32(at));
    }

    /// The acknowledged offset, when the send was acknowledged with a known one.
    fn acked_offset(&self) -> Option<(i64, Stamp)> {
        match self.outcome() {
            SendOutcome::Acked { offset, at } if offset >= 0 => Some((offset, at)),
            _ => None,
        }
    }
}

/// One poll's records from one partition.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Poll {
    /// The partition.
    pub tp: TopicPartition,
    /// `(offset, send id)` pairs in the order returned.
    pub records: PolledRecords,
    /// When `poll()` returned them.
    pub at: Stamp,
}

/// The `(offset, send id)` pairs of one poll, in the order returned, packed: a long run's
/// consumers return millions of records, and the history keeps every one.
///
/// Each pair takes about five bytes instead of the 24 of an `(i64, Label)`: three zig-zag
/// varints ([`cluster::record::put_varint`]), the offset as its difference from the pair
/// before's (1 for consecutive records), the id's stem as its place among the poll's distinct
/// stems, and the id's number (a label without one stores -1). Read them with
/// [`PolledRecords::iter`].
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct PolledRecords {
    /// The distinct stems of the ids, in the order they first came.
    stems: Box<[Arc<String>]>,
    /// The pairs, three varints each.
    bytes: Box<[u8]>,
    /// How many pairs.
    len: u32,
}

impl PolledRecords {
    /// Packs `records`, `(offset, send id)` pairs in the order returned.
    pub fn new(records: impl IntoIterator<Item = (i64, Label)>) -> PolledRecords {
        let mut stems: Vec<Arc<String>> = Vec::new();
        let mut bytes = Vec::new();
        let (mut previous, mut len) = (0i64, 0u32);
        for (offset, id) in records {
            // A poll's ids come from a few producers, so a short scan finds the stem; an
            // interned stem is found by its pointer.
            let stem = match stems.iter().position(|s| same_text(s, &id.stem)) {
                Some(i) => i,
                None => {
                    stems.push(Arc::clone(&id.stem));
                    stems.len() - 1
                }
            };
            put_varint(&mut bytes, offset.wrapping_sub(previous));
            put_varint(&mut bytes, stem as i64);
            // `NO_NUMBER` is u64::MAX, -1 as an i64: one byte.
            put_varint(&mut bytes, id.number as i64);
            previous = offset;
            len = len.checked_add(1).expect("a poll returns fewer than 2^32 records");
        }
        PolledRecords { stems: stems.into_boxed_slice(), bytes: bytes.into_boxed_slice(), len }
    }

    /// How many records the poll returned.
    pub fn len(&self) -> usize {
        self.len as usize
    }

    /// Whether the poll returned no record.
    pub fn is_empty(&self) -> bool {
        self.len == 0
    }

    /// The pairs in the order returned.
    pub fn iter(&self) -> impl Iterator<Item = (i64, Label)> + Clone + '_ {
        let mut rest = &self.bytes[..];
        let mut offset = 0i64;
        std::iter::from_fn(move || {
            if rest.is_empty() {
                return None;
            }
            let mut next = || read_varint(&mut rest).expect("PolledRecords::new wrote these bytes");
            offset = offset.wrapping_add(next());
            let stem = Arc::clone(&self.stems[next() as usize]);
            Some((offset, Label { stem, number: next() as u64 }))
        })
    }

    /// Each pair with the pair after it, in the order returned, read in one pass.
    pub fn consecutive(&self) -> impl Iterator<Item = ((i64, Label), (i64, Label))> + '_ {
        let mut pairs = self.iter();
        let mut previous = pairs.next();
        pairs.map(move |next| (previous.replace(next.clone()).expect("set before each pair"), next))
    }

    /// The first pair, if any.
    pub fn first(&self) -> Option<(i64, Label)> {
        self.iter().next()
    }

    /// The last pair, if any.
    pub fn last(&self) -> Option<(i64, Label)> {
        self.iter().last()
    }
}

/// One operation of one client other than a send, in the history.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum ClientOp {
    /// Records a consumer's `poll()` returned from one partition.
    Poll(Poll),
    /// `onPartitionsAssigned`: the consumer owns these partitions from now on.
    Assigned {
        /// The group (empty for a consumer without one).
        group: String,
        /// The generation.
        generation_id: i32,
        /// The partitions added.
        partitions: Vec<TopicPartition>,
        /// When.
        at: Stamp,
    },
    /// `onPartitionsRevoked`: the consumer gave these partitions up in an orderly way.
    Revoked {
        /// The group.
        group: String,
        /// The partitions.
        partitions: Vec<TopicPartition>,
        /// When.
        at: Stamp,
    },
    /// `onPartitionsLost`: the consumer dropped these partitions without committing.
    Lost {
        /// The group.
        group: String,
        /// The partitions.
        partitions: Vec<TopicPartition>,
        /// Why.
        reason: String,
        /// When.
        at: Stamp,
    },
    /// The consumer moved its position on purpose (`seek`, `seekToBeginning`, ...).
    Seeked {
        /// The partition.
        tp: TopicPartition,
        /// The new position.
        offset: i64,
        /// The method, in Kafka's names.
        how: String,
        /// When.
        at: Stamp,
    },
    /// The consumer had no valid position and applied `auto.offset.reset`.
    OffsetReset {
        /// The partition.
        tp: TopicPartition,
        /// The new position.
        offset: i64,
        /// The policy applied.
        policy: String,
        /// When.
        at: Stamp,
    },
    /// The consumer found the log truncated under its position (KIP-320).
    TruncationDetected {
        /// The partition.
        tp: TopicPartition,
        /// The position before.
        position: i64,
        /// Where the leader's log diverges: records at and above it were replaced.
        divergence_offset: i64,
        /// Whether the consumer moved back to the divergence point (else it stopped reading).
        reset: bool,
        /// When.
        at: Stamp,
    },
    /// A commit the application asked for was refused.
    CommitFailed {
        /// The group.
        group: String,
        /// The coordinator's error.
        error: ErrorCode,
        /// The offsets not committed.
        offsets: Vec<(TopicPartition, i64)>,
        /// When.
        at: Stamp,
    },
}

/// An offset a group coordinator stored (`OffsetCommitted`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Commit {
    /// The group.
    pub group: String,
    /// The partition.
    pub tp: TopicPartition,
    /// The committed offset: the next one the group will read.
    pub offset: i64,
    /// The coordinator, as the trace names it (`broker 2`).
    pub coordinator: String,
    /// When it was stored.
    pub at: Stamp,
}

/// The clients' history: per client id, its operations other than sends in trace order; per
/// producer, its sends in the order they were invoked; and the commits coordinators stored, in
/// trace order.
///
/// Sends are the bulk of a long run's history (millions of them), so they are kept apart from
/// the other operations, per producer and partition in a `SendList` that packs all but the
/// latest, with an index from send id to send that holds 8 bytes per send.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct History {
    /// Operations other than sends, per client id.
    pub clients: BTreeMap<String, Vec<ClientOp>>,
    /// Stored commits.
    pub commits: Vec<Commit>,
    /// Each producer's number (its index in `sends`), by id.
    producers: BTreeMap<String, u32>,
    /// Per producer number, its id and its sends per [`PartitionNumber`], each list in
    /// invocation order.
    sends: Vec<(String, Vec<SendList>)>,
    /// The stems of the send ids, by their number in a packed send ([`SendList`]).
    stems: Table<Arc<String>>,
    /// Where the latest send with each id sits, by the id's stem and then its number.
    index: BTreeMap<Stem, StemSlots>,
    /// The ids that more than one send had (only a hand-made or cut trace has such).
    reused: BTreeSet<Label>,
    /// The partitions sent to, by [`PartitionNumber`].
    partitions: Table<TopicPartition>,
    /// The record keys sent, by their number in [`Send`]: a run has few distinct keys and
    /// millions of sends. Every send looks its key up, so the table orders keys the cheap way
    /// ([`SearchedLabel`]).
    keys: Table<SearchedLabel>,
    /// The words of the sends' errors, by [`ErrorText`].
    errors: Table<String>,
    /// Tells the sealed block [`History::send_with_id`] unpacked last on a thread apart from
    /// any other history's, or this history's before it changed.
    cache_tag: CacheTag,
}

/// Which contents of which history the sealed block [`History::send_with_id`] unpacked last
/// belongs to. The checks look sends up by id in log order, so consecutive lookups mostly fall
/// in one block, which is then unpacked once instead of once per lookup. The block itself is
/// kept per thread ([`LAST_BLOCK`]), since the oracle checks each partition on two threads at
/// once ([`check_partition_in_two`]) and each thread reads blocks of its own. A cache only: it is not
/// part of a history's value (clones get a tag of their own, and equality ignores it), and
/// [`History::complete`] changes the tag, which forgets the block.
struct CacheTag(u64);

/// The next [`CacheTag`]: tags are never reused within a process.
static NEXT_CACHE_TAG: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(0);

impl CacheTag {
    fn fresh() -> CacheTag {
        CacheTag(NEXT_CACHE_TAG.fetch_add(1, std::sync::atomic::Ordering::Relaxed))
    }
}

impl Default for CacheTag {
    fn default() -> Self {
        CacheTag::fresh()
    }
}

impl Clone for CacheTag {
    fn clone(&self) -> Self {
        CacheTag::fresh()
    }
}

impl PartialEq for CacheTag {
    fn eq(&self, _: &CacheTag) -> bool {
        true
    }
}

impl Eq for CacheTag {}

impl std::fmt::Debug for CacheTag {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("CacheTag")
    }
}

/// A sealed block's place: producer number, partition number, block index.
type BlockKey = (u16, u16, usize);

thread_local! {
    /// The sealed block this thread unpacked last, with the [`CacheTag`] of the history it came
    /// from and its place in it.
    static LAST_BLOCK: std::cell::RefCell<Option<(u64, BlockKey, Vec<Send>)>> =
        const { std::cell::RefCell::new(None) };
}

/// Distinct values numbered in the order they came, found by number or by value.
#[derive(Clone, Debug, PartialEq, Eq)]
struct Table<T> {
    values: Vec<T>,
    numbers: BTreeMap<T, u32>,
}

impl<T> Default for Table<T> {
    fn default() -> Self {
        Table { values: Vec::new(), numbers: BTreeMap::new() }
    }
}

impl<T: Ord + Clone> Table<T> {
    /// The number of `value`, which is added if new.
    fn number<Q: Ord + ?Sized + ToOwned<Owned = T>>(&mut self, value: &Q) -> u32
    where
        T: Borrow<Q>,
    {
        if let Some(&n) = self.numbers.get(value) {
            return n;
        }
        let n = u32::try_from(self.values.len()).expect("fewer than 2^32 distinct values");
        self.values.push(value.to_owned());
        self.numbers.insert(value.to_owned(), n);
        n
    }

    fn get(&self, n: u32) -> &T {
        &self.values[n as usize]
    }

    fn find<Q: Ord + ?Sized>(&self, value: &Q) -> Option<u32>
    where
        T: Borrow<Q>,
    {
        self.numbers.get(value).copied()
    }
}

/// Where a send sits in the [`History`]: its producer's number, its partition's number, and its
/// index among that producer's sends to that partition.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
struct Slot {
    producer: u16,
    partition: u16,
    index: u32,
}

/// How many sends a sealed block of a [`SendList`] packs together.
const SEND_BLOCK: usize = 64;

/// How many sends a [`SendList`] keeps open before it seals its oldest block even though a send
/// in it has not ended. A fault can hold sends pending for seconds (a leader that died holds a
/// producer's batches until `delivery.timeout.ms`), and an outcome that comes to a sealed block
/// unpacks and packs the block again; the limit bounds the open sends of a producer that never
/// hears back.
const SEND_OPEN_LIMIT: usize = 16 * SEND_BLOCK;

/// One producer's sends to one partition, in invocation order: the older ones packed into
/// sealed blocks of [`SEND_BLOCK`] sends, the latest ones as [`Send`]s.
///
/// Why: a long run's history holds millions of sends, and a [`Send`] takes 56 bytes. Packed,
/// one takes about 20: a flags byte (outcome kind, tombstone) and zig-zag varints
/// ([`cluster::record::put_varint`]) for its id's stem (a number in [`History`]'s table) and
/// number, its invocation's time and trace position, its key, and for an ended send the time
/// and trace position of its outcome and its offset or error. Each figure is written as its
/// difference from the one before, the way Kafka's `DefaultRecord` writes its offset and
/// timestamp deltas: a producer's consecutive sends to one partition have nearby ids, times
/// and offsets.
///
/// Most sends end within a few dozen sends of their invocation, so a list seals its oldest
/// block only once [`SEND_BLOCK`] newer sends follow it and every send in it has ended (or
/// [`SEND_OPEN_LIMIT`] sends are open). An outcome that comes later unpacks its block, is set,
/// and packs it again.
#[derive(Clone, Debug, PartialEq, Eq)]
struct SendList {
    /// The partition of every send in the list.
    partition: u16,
    /// Sealed blocks of [`SEND_BLOCK`] sends each, packed by [`SendList::pack`].
    sealed: Vec<Box<[u8]>>,
    /// The sends after the sealed ones.
    open: Vec<Send>,
}

impl SendList {
    fn new(partition: u16) -> SendList {
        SendList { partition, sealed: Vec::new(), open: Vec::new() }
    }

    fn len(&self) -> usize {
        self.sealed.len() * SEND_BLOCK + self.open.len()
    }

    /// Adds `send` at the end, and seals the oldest open block once [`SEND_BLOCK`] sends follow
    /// it and every send in it has ended, or, whatever their outcomes, once [`SEND_OPEN_LIMIT`]
    /// sends are open.
    fn push(&mut self, send: Send, stems: &mut Table<Arc<String>>) {
        debug_assert_eq!(send.partition, self.partition);
        self.open.push(send);
        while self.open.len() >= 2 * SEND_BLOCK
            && (self.open.len() >= SEND_OPEN_LIMIT
                || self.open[..SEND_BLOCK].iter().all(|s| s.kind != OutcomeKind::Pending))
        {
            let block = SendList::pack(&self.open[..SEND_BLOCK], stems);
            self.sealed.push(block);
            self.open.drain(..SEND_BLOCK);
            if self.open.len() < 2 * SEND_BLOCK && self.open.capacity() > 4 * SEND_BLOCK {
                // A burst held many sends open; a long run keeps thousands of lists.
                self.open.shrink_to(4 * SEND_BLOCK);
            }
        }
    }

    /// The send at `index`.
    fn get(&self, index: usize, stems: &Table<Arc<String>>) -> Send {
        match self.sealed.get(index / SEND_BLOCK) {
            Some(block) => self.unpack(block, stems).nth(index % SEND_BLOCK).expect("a sealed block is full"),
            None => self.open[index - self.sealed.len() * SEND_BLOCK].clone(),
        }
    }

    /// Calls `change` on the send at `index`.
    fn update(&mut self, index: usize, stems: &mut Table<Arc<String>>, change: impl FnOnce(&mut Send)) {
        let block = index / SEND_BLOCK;
        if block < self.sealed.len() {
            let mut sends: Vec<Send> = self.unpack(&self.sealed[block], stems).collect();
            let before = sends[index % SEND_BLOCK].clone();
            change(&mut sends[index % SEND_BLOCK]);
            // A sealed block's sends have all ended, and a later outcome for one of them
            // usually changes nothing (only its first outcome counts): no need to pack again.
            if sends[index % SEND_BLOCK] != before {
                self.sealed[block] = SendList::pack(&sends, stems);
            }
        } else {
            change(&mut self.open[index - self.sealed.len() * SEND_BLOCK]);
        }
    }

    /// The sends in invocation order.
    fn iter<'a>(&'a self, stems: &'a Table<Arc<String>>) -> impl Iterator<Item = Send> + 'a {
        self.sealed.iter().flat_map(move |block| self.unpack(block, stems)).chain(self.open.iter().cloned())
    }

    /// `sends` packed: see [`SendList`].
    fn pack(sends: &[Send], stems: &mut Table<Arc<String>>) -> Box<[u8]> {
        let mut out = Vec::with_capacity(sends.len() * 24);
        let (mut number, mut invoked_ns, mut invoked_seq, mut detail) = (0u64, 0u64, 0u32, 0i64);
        for send in sends {
            out.push(send.kind as u8 | u8::from(send.tombstone) << 2);
            put_varint(&mut out, i64::from(stems.number(&send.id.stem)));
            put_varint(&mut out, send.id.number.wrapping_sub(number) as i64);
            put_varint(&mut out, send.invoked_ns.wrapping_sub(invoked_ns) as i64);
            put_varint(&mut out, i64::from(send.invoked_seq.wrapping_sub(invoked_seq) as i32));
            // `NO_KEY` is u32::MAX: plus one, it is 0 and takes one byte.
            put_varint(&mut out, i64::from(send.key.wrapping_add(1)));
            if send.kind != OutcomeKind::Pending {
                put_varint(&mut out, send.ended_ns.wrapping_sub(send.invoked_ns) as i64);
                put_varint(&mut out, i64::from(send.ended_seq.wrapping_sub(send.invoked_seq) as i32));
                put_varint(&mut out, send.detail.wrapping_sub(detail));
                detail = send.detail;
            }
            (number, invoked_ns, invoked_seq) = (send.id.number, send.invoked_ns, send.invoked_seq);
        }
        out.into_boxed_slice()
    }

    /// The sends `block` holds, as [`SendList::pack`] packed them.
    fn unpack<'a>(&self, block: &'a [u8], stems: &'a Table<Arc<String>>) -> impl Iterator<Item = Send> + 'a {
        let partition = self.partition;
        let mut rest = block;
        let (mut number, mut invoked_ns, mut invoked_seq, mut detail) = (0u64, 0u64, 0u32, 0i64);
        std::iter::from_fn(move || {
            let (&flags, tail) = rest.split_first()?;
            rest = tail;
            let mut next = || read_varint(&mut rest).expect("SendList::pack wrote these bytes");
            let stem = Arc::clone(stems.get(next() as u32));
            number = number.wrapping_add(next() as u64);
            invoked_ns = invoked_ns.wrapping_add(next() as u64);
            invoked_seq = invoked_seq.wrapping_add(next() as i32 as u32);
            let key = (next() as u32).wrapping_sub(1);
            let kind = OutcomeKind::from_bits(flags);
            let (mut ended_ns, mut ended_seq) = (0, 0);
            if kind != OutcomeKind::Pending {
                ended_ns = invoked_ns.wrapping_add(next() as u64);
                ended_seq = invoked_seq.wrapping_add(next() as i32 as u32);
                detail = detail.wrapping_add(next());
            }
            Some(Send {
                id: Label { stem, number },
                invoked_ns,
                ended_ns,
                detail: if kind == OutcomeKind::Pending { 0 } else { detail },
                invoked_seq,
                ended_seq,
                key,
                partition,
                kind,
                tombstone: flags & 4 != 0,
            })
        })
    }
}

/// The slots of the sends whose ids share one stem, by the ids' numbers. A producer numbers its
/// sends 0, 1, 2, ..., so a vector indexed by number holds them in 4 bytes each: the stem's
/// producer is kept once (a stem is one producer's), and a slot packs its partition number in
/// 10 bits and its index in 22. A slot that does not fit (another producer's, a partition
/// above 1,022, an index above 4 million) and a number far beyond the vector's end (or none)
/// go to a map instead, so that an odd id cannot make the vector huge.
///
/// Why: heavy.ron's producers send 1.2 million records, and at 8 bytes a slot the index was
/// 9.6 MB of the run's peak.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
struct StemSlots {
    /// The producer of the first slot recorded: the one every packed slot belongs to.
    producer: Option<u16>,
    /// Packed slots by number ([`StemSlots::pack`]), [`StemSlots::NONE`] where the number has
    /// no packed slot.
    dense: Chunked<u32>,
    /// Slots for numbers that were too far beyond `dense`'s end when they came, and slots that
    /// do not pack.
    sparse: BTreeMap<u64, Slot>,
}

impl StemSlots {
    /// How far beyond the end of `dense` a number may be and still extend it.
    const REACH: u64 = 1 << 16;
    /// A `dense` entry that holds no packed slot.
    const NONE: u32 = u32::MAX;
    /// The bits of a packed slot that hold its index.
    const INDEX_BITS: u32 = 22;

    /// `slot` packed in 32 bits, when it is the stem's producer's and its numbers fit.
    fn pack(&self, slot: Slot) -> Option<u32> {
        let fits = self.producer == Some(slot.producer)
            && slot.partition < (1 << (32 - Self::INDEX_BITS)) - 1
            && slot.index < 1 << Self::INDEX_BITS;
        fits.then(|| u32::from(slot.partition) << Self::INDEX_BITS | slot.index)
    }

    fn unpack(&self, packed: u32) -> Slot {
        Slot {
            producer: self.producer.expect("a packed slot's producer is the stem's"),
            partition: (packed >> Self::INDEX_BITS) as u16,
            index: packed & ((1 << Self::INDEX_BITS) - 1),
        }
    }

    fn get(&self, number: u64) -> Option<Slot> {
        let dense = usize::try_from(number).ok().and_then(|n| self.dense.try_get(n)).filter(|p| **p != Self::NONE);
        dense.map(|p| self.unpack(*p)).or_else(|| self.sparse.get(&number).copied())
    }

    /// Records `slot` for `number`; a lookup finds it rather than an earlier slot for the
    /// same number (one in `dense` is looked at first, a number beyond `dense` is never in it,
    /// and a slot that does not pack clears the number's entry in `dense`).
    fn insert(&mut self, number: u64, slot: Slot) {
        self.producer.get_or_insert(slot.producer);
        let len = self.dense.len() as u64;
        let packed = self.pack(slot);
        match packed {
            Some(packed) if number < len => *self.dense.get_mut(number as usize) = packed,
            Some(packed) if number - len < Self::REACH => {
                self.dense.extend_to(number as usize, Self::NONE);
                self.dense.push(packed);
            }
            _ => {
                if number < len {
                    *self.dense.get_mut(number as usize) = Self::NONE;
                }
                self.sparse.insert(number, slot);
            }
        }
    }
}

/// Whether an attempt that failed with `error` may still have been written: the request timed
/// out or its connection closed before an answer, or the leader appended the records but could
/// not replicate them to `min.insync.replicas`.
fn ambiguous(error: ErrorCode) -> bool {
    matches!(error, ErrorCode::RequestTimedOut | ErrorCode::NetworkException | ErrorCode::NotEnoughReplicasAfterAppend)
}

/// Builds a [`History`] record by record, as the trace grows: a run that does not hold its
/// whole trace in memory still has its clients' history at the end.
#[derive(Clone, Debug, Default)]
pub struct HistoryBuilder {
    history: History,
    /// Per producer and partition: the sequence number of the last retry after an ambiguous
    /// error. A batch that later fails with a plain error may have been written by that earlier
    /// attempt.
    ambiguous_retry: BTreeMap<(String, TopicPartition), u64>,
    /// The number in [`History::keys`] of each record key seen, by its text as sent: a busy
    /// run sends millions of records with a few thousand keys, and parsing each key into a
    /// [`Label`] to search the table was a fifth of the history's cost. Only looked up, never
    /// iterated, so its order cannot reach a run's output.
    key_numbers: std::collections::HashMap<Box<str>, u32>,
}

impl HistoryBuilder {
    /// The history of the records added so far.
    pub fn history(&self) -> &History {
        &self.history
    }

    /// The history, giving up the builder.
    pub fn into_history(self) -> History {
        self.history
    }

    /// Takes in the next trace record (records must come in trace order); records that are
    /// not client operations change nothing.
    pub fn add(&mut self, record: &TraceRecord) {
        let TraceBody::Event(event) = &record.body else { return };
        let HistoryBuilder { history, ambiguous_retry, key_numbers } = self;
        let at = Stamp::of(record);
        match event {
            Event::SendInvoked { producer, tp, key, value, tombstone } => {
                let partition = PartitionNumber(history.partitions.number(tp));
                let key = match key.as_deref() {
                    None => NO_KEY,
                    Some(k) => match key_numbers.get(k) {
                        Some(&number) => number,
                        None => {
                            let number = history.keys.number(&SearchedLabel(Label::new(k)));
                            key_numbers.insert(k.into(), number);
                            number
                        }
                    },
                };
                let send = Send::new(Label::new(value), partition, key, *tombstone, at);
                history.push_send(producer, send);
            }
            Event::SendAcked { producer, tp, offset, value } => {
                history.complete(producer, tp, value, at, |_, _| SendOutcome::Acked { offset: *offset, at });
            }
            Event::SendFailed { producer, tp, value, error } => {
                let retried = ambiguous_retry.get(&(producer.to_string(), tp.clone())).copied();
                history.complete(producer, tp, value, at, |invoked, errors| {
                    let error_name = error.name();
                    if ambiguous(*error) {
                        SendOutcome::Unknown { error: ErrorText(errors.number(error_name)), at }
                    } else if retried.is_some_and(|seq| seq > invoked.seq) {
                        let error = format!("{error_name} after an attempt that may have been written");
                        SendOutcome::Unknown { error: ErrorText(errors.number(error.as_str())), at }
                    } else {
                        SendOutcome::Failed { error: ErrorText(errors.number(error_name)), at }
                    }
                });
            }
            Event::SendBlockedTimeout { producer, tp, value, max_block_ms, .. } => {
                history.complete(producer, tp, value, at, |_, errors| {
                    let error = format!("TimeoutException after max.block.ms={max_block_ms}");
                    SendOutcome::Failed { error: ErrorText(errors.number(error.as_str())), at }
                });
            }
            Event::SendTooLarge { producer, tp, value, .. } => {
                history.complete(producer, tp, value, at, |_, errors| SendOutcome::Failed {
                    error: ErrorText(errors.number("RecordTooLargeException")),
                    at,
                });
            }
            Event::SendRetried { producer, tp, reason, .. } => {
                let was_ambiguous =
                    [ErrorCode::RequestTimedOut, ErrorCode::NetworkException, ErrorCode::NotEnoughReplicasAfterAppend]
                        .iter()
                        .any(|e| e.name() == reason);
                if was_ambiguous {
                    ambiguous_retry.insert((producer.clone(), tp.clone()), at.seq);
                }
            }
            Event::Polled { consumer, tp, records } => {
                let records = PolledRecords::new(records.iter().map(|(offset, id)| (*offset, Label::new(id))));
                history.push(consumer, ClientOp::Poll(Poll { tp: tp.clone(), records, at }));
            }
            Event::PartitionsAssigned { consumer, group, generation_id, partitions } => {
                let op = ClientOp::Assigned {
                    group: group.to_string(),
                    generation_id: *generation_id,
                    partitions: partitions.clone(),
                    at,
                };
                history.push(consumer, op);
            }
            Event::PartitionsRevoked { consumer, group, partitions } => {
                history
                    .push(consumer, ClientOp::Revoked { group: group.to_string(), partitions: partitions.clone(), at });
            }
            Event::PartitionsLost { consumer, group, partitions, reason } => {
                let op = ClientOp::Lost {
                    group: group.to_string(),
                    partitions: partitions.clone(),
                    reason: reason.clone(),
                    at,
                };
                history.push(consumer, op);
            }
            Event::Seeked { consumer, tp, offset, how } => {
                history.push(consumer, ClientOp::Seeked { tp: tp.clone(), offset: *offset, how: how.clone(), at });
            }
            Event::OffsetReset { consumer, tp, offset, policy } => {
                let op = ClientOp::OffsetReset { tp: tp.clone(), offset: *offset, policy: policy.clone(), at };
                history.push(consumer, op);
            }
            Event::LogTruncationDetected { consumer, tp, position, divergence_offset, reset } => {
                let op = ClientOp::TruncationDetected {
                    tp: tp.clone(),
                    position: *position,
                    divergence_offset: *divergence_offset,
                    reset: *reset,
                    at,
                };
                history.push(consumer, op);
            }
            Event::CommitFailed { consumer, group, error, offsets } => {
                let op =
                    ClientOp::CommitFailed { group: group.to_string(), error: *error, offsets: offsets.clone(), at };
                history.push(consumer, op);
            }
            Event::OffsetCommitted { group, tp, offset } => history.commits.push(Commit {
                group: group.to_string(),
                tp: tp.clone(),
                offset: *offset,
                coordinator: record.node.to_string(),
                at,
            }),
            _ => {}
        }
    }
}

impl History {
    /// Builds the history from trace records (which must be in trace order).
    pub fn from_records(records: &[TraceRecord]) -> History {
        let mut builder = HistoryBuilder::default();
        for record in records {
            builder.add(record);
        }
        builder.into_history()
    }

    fn push(&mut self, client: &str, op: ClientOp) {
        self.clients.entry(client.to_string()).or_default().push(op);
    }

    /// Adds `send` as `producer`'s latest.
    fn push_send(&mut self, producer: &str, send: Send) {
        let producer = match self.producers.get(producer) {
            Some(&number) => number,
            None => {
                let number = u32::try_from(self.sends.len()).expect("fewer than 2^32 producers");
                self.producers.insert(producer.to_string(), number);
                self.sends.push((producer.to_string(), Vec::new()));
                number
            }
        };
        let lists = &mut self.sends[producer as usize].1;
        let partition = send.partition;
        while lists.len() <= usize::from(partition) {
            let next = u16::try_from(lists.len()).expect("below a u16 partition number");
            lists.push(SendList::new(next));
        }
        let sends = &mut lists[usize::from(partition)];
        let slot = Slot {
            producer: u16::try_from(producer).expect("a run has fewer than 65,535 producers"),
            partition,
            index: u32::try_from(sends.len()).expect("fewer than 2^32 sends per producer and partition"),
        };
        let slots = match self.index.get_mut(send.id.stem.as_str()) {
            Some(slots) => slots,
            None => self.index.entry(Stem(Arc::clone(&send.id.stem))).or_default(),
        };
        if slots.get(send.id.number).is_some() {
            self.reused.insert(send.id.clone());
        }
        slots.insert(send.id.number, slot);
        sends.push(send, &mut self.stems);
    }

    /// Where the latest send with id `id` sits.
    fn slot(&self, id: &Label) -> Option<Slot> {
        self.index.get(id.stem.as_str())?.get(id.number)
    }

    /// The latest send with id `id`, with its producer.
    fn send_with_id(&self, id: &Label) -> Option<(&str, Send)> {
        let slot = self.slot(id)?;
        let (producer, lists) = &self.sends[usize::from(slot.producer)];
        let list = &lists[usize::from(slot.partition)];
        let index = slot.index as usize;
        let Some(block) = list.sealed.get(index / SEND_BLOCK) else {
            return Some((producer.as_str(), list.get(index, &self.stems)));
        };
        let key = (slot.producer, slot.partition, index / SEND_BLOCK);
        let send = LAST_BLOCK.with_borrow_mut(|last| {
            if last.as_ref().is_none_or(|(tag, k, _)| *tag != self.cache_tag.0 || *k != key) {
                *last = Some((self.cache_tag.0, key, list.unpack(block, &self.stems).collect()));
            }
            let (_, _, sends) = last.as_ref().expect("set above");
            sends[index % SEND_BLOCK].clone()
        });
        Some((producer.as_str(), send))
    }

    /// Records how the send `value` ended; only its first outcome counts. A completion without
    /// an invocation (a hand-made or cut trace) stands for a send invoked when it completed.
    fn complete(
        &mut self,
        producer: &str,
        tp: &TopicPartition,
        value: &str,
        at: Stamp,
        outcome: impl FnOnce(Stamp, &mut Table<String>) -> SendOutcome,
    ) {
        let id = Label::new(value);
        let slot = match self.slot(&id) {
            Some(slot) => slot,
            None => {
                let partition = PartitionNumber(self.partitions.number(tp));
                self.push_send(producer, Send::new(id.clone(), partition, NO_KEY, false, at));
                self.slot(&id).expect("just added")
            }
        };
        self.cache_tag = CacheTag::fresh();
        let list = &mut self.sends[usize::from(slot.producer)].1[usize::from(slot.partition)];
        let errors = &mut self.errors;
        list.update(slot.index as usize, &mut self.stems, |send| {
            if send.kind == OutcomeKind::Pending {
                send.set_outcome(outcome(send.invoked(), errors));
            }
        });
    }

    /// The partition numbered `number`.
    pub fn partition(&self, number: PartitionNumber) -> &TopicPartition {
        self.partitions.get(number.0)
    }

    /// The key of `send`'s record, `None` for a keyless record.
    pub fn key(&self, send: &Send) -> Option<&Label> {
        (send.key != NO_KEY).then(|| &self.keys.get(send.key).0)
    }

    /// The words of the error numbered `error`.
    pub fn error_text(&self, error: ErrorText) -> &str {
        self.errors.get(error.0)
    }

    /// Every send with its producer, producer by producer, each in invocation order (a
    /// producer's sends to its partitions merged by their trace positions).
    pub fn sends(&self) -> impl Iterator<Item = (&str, Send)> + '_ {
        self.producers.values().flat_map(move |&n| {
            let (producer, lists) = &self.sends[n as usize];
            let mut heads: Vec<_> = lists.iter().map(|list| list.iter(&self.stems).peekable()).collect();
            std::iter::from_fn(move || {
                let next = heads
                    .iter_mut()
                    .enumerate()
                    .filter_map(|(i, head)| head.peek().map(|send| (send.invoked_seq, i)))
                    .min()?;
                heads[next.1].next()
            })
            .map(move |send| (producer.as_str(), send))
        })
    }

    /// The sends to `tp` with their producers, in the order of [`History::sends`].
    pub fn sends_to<'h>(&'h self, tp: &'h TopicPartition) -> impl Iterator<Item = (&'h str, Send)> + 'h {
        let number = self.partitions.find(tp).map(|n| usize::try_from(n).expect("a u32 fits"));
        self.producers.values().flat_map(move |&n| {
            let (producer, lists) = &self.sends[n as usize];
            let list = number.and_then(|number| lists.get(number));
            list.into_iter().flat_map(move |list| list.iter(&self.stems)).map(move |send| (producer.as_str(), send))
        })
    }

    /// Every partition an operation in the history names, in order.
    pub fn partitions(&self) -> BTreeSet<&TopicPartition> {
        let mut partitions: BTreeSet<&TopicPartition> = self.partitions.values.iter().collect();
        for op in self.clients.values().flatten() {
            match op {
                ClientOp::Poll(Poll { tp, .. })
                | ClientOp::Seeked { tp, .. }
                | ClientOp::OffsetReset { tp, .. }
                | ClientOp::TruncationDetected { tp, .. } => {
                    partitions.insert(tp);
                }
                ClientOp::Assigned { partitions: tps, .. }
                | ClientOp::Revoked { partitions: tps, .. }
                | ClientOp::Lost { partitions: tps, .. } => partitions.extend(tps),
                ClientOp::CommitFailed { offsets, .. } => partitions.extend(offsets.iter().map(|(tp, _)| tp)),
            }
        }
        partitions
    }

    /// Every poll with its consumer, consumer by consumer, each in trace order.
    pub fn polls(&self) -> impl Iterator<Item = (&str, &Poll)> + '_ {
        self.clients.iter().flat_map(|(client, ops)| {
            ops.iter().filter_map(move |op| match op {
                ClientOp::Poll(poll) => Some((client.as_str(), poll)),
                _ => None,
            })
        })
    }

    /// The group `consumer` belongs to, from its rebalance and commit operations; `None` for a
    /// consumer without one.
    pub fn group_of(&self, consumer: &str) -> Option<&str> {
        self.clients.get(consumer)?.iter().find_map(|op| match op {
            ClientOp::Assigned { group, .. }
            | ClientOp::Revoked { group, .. }
            | ClientOp::Lost { group, .. }
            | ClientOp::CommitFailed { group, .. }
                if !group.is_empty() =>
            {
                Some(group.as_str())
            }
            _ => None,
        })
    }
}

// ---------------------------------------------------------------------------------------------
// The checks.

/// Findings per kind.
#[derive(Default)]
struct Found {
    lost: Findings,
    duplicates: Findings,
    inconsistent: Findings,
    poll_skips: Findings,
    nonmonotonic_polls: Findings,
    nonmonotonic_sends: Findings,
    unseen: Findings,
}

/// The findings of one kind: how many, and the first [`FINDINGS_PER_KIND`] of them in trace
/// order, in words. Only those are put into words: a run that lost thousands of writes lists
/// five of them, and formatting the rest was most of the oracle's time.
#[derive(Default)]
struct Findings {
    /// How many were found.
    count: u64,
    /// The first ones, as `(position in the trace, order found, words)`, in no order.
    first: Vec<(u64, u64, String)>,
}

impl Findings {
    /// A finding revealed by the trace record at `seq`, in the words `words` gives, which are
    /// asked for only while the finding is among the first in trace order. Of findings revealed
    /// by the same record, the one found first comes first.
    fn push(&mut self, seq: u64, words: impl FnOnce() -> String) {
        let key = (seq, self.count);
        self.count += 1;
        if self.first.len() < FINDINGS_PER_KIND {
            self.first.push((key.0, key.1, words()));
            return;
        }
        let last = (0..self.first.len()).max_by_key(|&i| (self.first[i].0, self.first[i].1)).expect("full");
        if key < (self.first[last].0, self.first[last].1) {
            self.first[last] = (key.0, key.1, words());
        }
    }

    /// Adds findings found apart (a later partition's, or another half's of the same
    /// partition): as if they had been pushed here after this list's, so the orders found and
    /// the first ones kept are those of finding them all in one pass.
    fn absorb(&mut self, later: Findings) {
        let offset = self.count;
        self.count += later.count;
        self.first.extend(later.first.into_iter().map(|(seq, order, words)| (seq, offset + order, words)));
        // The first ones overall are among the first ones of each part.
        self.first.sort_by_key(|&(seq, order, _)| (seq, order));
        self.first.truncate(FINDINGS_PER_KIND);
    }
}

impl Found {
    /// Adds findings found apart, kind by kind (see [`Findings::absorb`]).
    fn absorb(&mut self, later: Found) {
        let Found { lost, duplicates, inconsistent, poll_skips, nonmonotonic_polls, nonmonotonic_sends, unseen } =
            later;
        self.lost.absorb(lost);
        self.duplicates.absorb(duplicates);
        self.inconsistent.absorb(inconsistent);
        self.poll_skips.absorb(poll_skips);
        self.nonmonotonic_polls.absorb(nonmonotonic_polls);
        self.nonmonotonic_sends.absorb(nonmonotonic_sends);
        self.unseen.absorb(unseen);
    }
}

/// Checks each partition `partitions` yields, with its final log when it has one, and gives
/// what was found, the same as [`check_partition`] on each in that order.
///
/// With helper threads allowed ([`crate::set_helper_threads`]) each partition's checks run in
/// two halves at once ([`check_partition_in_two`]). The partitions themselves are checked one
/// after another, so only one final log is in memory at a time (`partitions` is lazy, and
/// reads the world): a final log of heavy.ron takes several megabytes, and the end of a run is
/// its peak.
fn check_partitions<L: Borrow<FinalLog>>(
    history: &History,
    partitions: impl Iterator<Item = (TopicPartition, Option<L>)>,
) -> Found {
    let threads = crate::helper_threads_allowed();
    let mut found = Found::default();
    for (tp, log) in partitions {
        let log = log.as_ref().map(Borrow::borrow);
        if !threads || !check_partition_in_two(history, &tp, log, &mut found) {
            check_partition(history, &tp, log, &mut found);
        }
    }
    found
}

/// [`check_partition`] in two halves at once: [`check_against_log`] here, and
/// [`check_order_and_unseen`] on a helper thread. The halves find different kinds of findings, so adding
/// the helper's to `found` afterwards gives what checking in one pass would. This was a fifth
/// of heavy.ron's wall time on one thread. Gives false, having checked nothing, when the
/// thread cannot start (inside a simulation, madsim refuses it).
fn check_partition_in_two(history: &History, tp: &TopicPartition, log: Option<&FinalLog>, found: &mut Found) -> bool {
    std::thread::scope(|scope| {
        let helper = std::thread::Builder::new().name("kafkalab-oracle".into()).spawn_scoped(scope, || {
            let mut other = Found::default();
            check_order_and_unseen(history, tp, log, &mut other);
            other
        });
        let Ok(helper) = helper else { return false };
        check_against_log(history, tp, log, found);
        match helper.join() {
            Ok(other) => found.absorb(other),
            Err(panic) => std::panic::resume_unwind(panic),
        }
        true
    })
}

/// Runs the oracle over the whole run: the history built from the trace as it grew
/// ([`World::with_history`]), the final logs from the current leaders. Each finding comes with
/// the sequence number of the record that revealed it (see [`check_located`]).
///
/// The final logs are read and checked one partition at a time, so that only one of them is
/// in memory at once: a long run's logs hold millions of records, and the end of the run,
/// when the history is complete, is when the run holds the most.
pub fn check_world_located(world: &World, view: &ClusterView) -> (Anomalies, Vec<(Option<u64>, String)>) {
    world.with_history(|history| {
        // The view's partitions, with their leaders, and any other the history names (a topic
        // deleted since), which has no log to compare with and does not count as unjudged.
        let mut partitions: BTreeMap<TopicPartition, Option<Option<NodeId>>> =
            leaders(view).map(|(tp, leader)| (tp, Some(leader))).collect();
        for tp in history.partitions() {
            partitions.entry(tp.clone()).or_insert(None);
        }
        let mut unjudged = 0;
        let logs = partitions.into_iter().map(|(tp, leader)| {
            let log = leader.and_then(|leader| final_log(world, &tp, leader));
            unjudged += u64::from(leader.is_some() && log.is_none());
            (tp, log)
        });
        let found = check_partitions(history, logs);
        let (mut anomalies, findings) = found.summarise();
        anomalies.unjudged_partitions = unjudged;
        (anomalies, findings)
    })
}

/// Checks `history` against the final `logs`. Returns the anomaly counts (complete) and the
/// findings in words (at most [`FINDINGS_PER_KIND`] per kind, then a line saying how many more).
/// Partitions missing from `logs` are judged only where the log is not needed (non-monotonic
/// polls and sends); `unjudged_partitions` is left for the caller, who knows why a log is
/// missing.
pub fn check(history: &History, logs: &BTreeMap<TopicPartition, FinalLog>) -> (Anomalies, Vec<String>) {
    let (anomalies, findings) = check_located(history, logs);
    (anomalies, findings.into_iter().map(|(_, text)| text).collect())
}

/// Like [`check`], with each finding's position: the sequence number of the trace record that
/// revealed it (`None` for a line counting the findings left out).
pub fn check_located(
    history: &History,
    logs: &BTreeMap<TopicPartition, FinalLog>,
) -> (Anomalies, Vec<(Option<u64>, String)>) {
    let mut partitions = history.partitions();
    partitions.extend(logs.keys());
    check_partitions(history, partitions.into_iter().map(|tp| (tp.clone(), logs.get(tp)))).summarise()
}

/// Every check of one partition, against its final log when there is one. Every anomaly is a
/// matter of one partition, so checking partition by partition finds what checking all at
/// once would; and since each kind's findings are listed in trace order, the same lists.
fn check_partition(history: &History, tp: &TopicPartition, log: Option<&FinalLog>, found: &mut Found) {
    check_against_log(history, tp, log, found);
    check_order_and_unseen(history, tp, log, found);
}

/// The checks of one partition against its final log: lost acknowledged writes, inconsistent
/// offsets, duplicates. They find no other kind than these.
fn check_against_log(history: &History, tp: &TopicPartition, log: Option<&FinalLog>, found: &mut Found) {
    if let Some(log) = log {
        check_acked_sends(history, tp, log, found);
        check_polled_offsets(history, tp, log, found);
        check_duplicates(tp, log, found);
    }
}

/// The checks of one partition's clients' order, and of records never seen: non-monotonic
/// sends and polls, poll skips, unseen records. They find no kind that
/// [`check_against_log`] finds.
fn check_order_and_unseen(history: &History, tp: &TopicPartition, log: Option<&FinalLog>, found: &mut Found) {
    check_nonmonotonic_sends(history, tp, log, found);
    check_poll_order(history, tp, log, found);
    if let Some(log) = log {
        check_unseen(history, tp, log, found);
    }
}

impl Found {
    /// The anomaly counts, and the findings of each kind in trace order, at most
    /// [`FINDINGS_PER_KIND`] of them and then a line saying how many more.
    fn summarise(self) -> (Anomalies, Vec<(Option<u64>, String)>) {
        let found = self;
        let anomalies = Anomalies {
            lost_acked_writes: found.lost.count,
            duplicates: found.duplicates.count,
            inconsistent_offsets: found.inconsistent.count,
            unjudged_partitions: 0,
            poll_skips: found.poll_skips.count,
            nonmonotonic_polls: found.nonmonotonic_polls.count,
            nonmonotonic_sends: found.nonmonotonic_sends.count,
            unseen: found.unseen.count,
        };
        let mut findings = Vec::new();
        for (kind, mut list) in [
            ("lost acknowledged writes", found.lost),
            ("duplicates", found.duplicates),
            ("inconsistent offsets", found.inconsistent),
            ("poll skips", found.poll_skips),
            ("non-monotonic polls", found.nonmonotonic_polls),
            ("non-monotonic sends", found.nonmonotonic_sends),
            ("unseen records", found.unseen),
        ] {
            list.first.sort_by_key(|&(seq, order, _)| (seq, order));
            let extra = list.count - list.first.len() as u64;
            findings.extend(list.first.into_iter().map(|(seq, _, text)| (Some(seq), text)));
            if extra > 0 {
                findings.push((None, format!("... and {extra} more {kind}")));
            }
        }
        (anomalies, findings)
    }
}

/// Lost acknowledged writes, and sends stored at another offset than acknowledged.
fn check_acked_sends(history: &History, tp: &TopicPartition, log: &FinalLog, found: &mut Found) {
    // Per key: the highest acknowledged offset. With the send's key and whether it is a
    // tombstone, it tells a compacted-away record from a lost one.
    let mut latest_acked: BTreeMap<Searched<'_>, i64> = BTreeMap::new();
    for (_, send) in history.sends_to(tp) {
        if let (SendOutcome::Acked { offset, .. }, Some(key)) = (send.outcome(), history.key(&send)) {
            let latest = latest_acked.entry(Searched(key)).or_insert(offset);
            *latest = (*latest).max(offset);
        }
    }
    // Retention removes whole segments below the log start; compaction removes a record once a
    // later one has its key, and a tombstone once its horizon passed. Both happen only in the
    // cleaned section, below the cleaner's checkpoint.
    let removed_by_rule = |log: &FinalLog, send: &Send, offset: i64| {
        if offset < 0 {
            // The offset is unknown (`acks=0`): only a log that deleted or cleaned nothing can
            // say for certain that the record is gone.
            return log.log_start_offset > 0 || log.compacted;
        }
        if offset < log.log_start_offset {
            return true;
        }
        let Some(key) = history.key(send).filter(|_| log.compacted && offset < log.first_dirty_offset) else {
            return false;
        };
        send.tombstone || latest_acked.get(&Searched(key)).is_some_and(|&latest| latest > offset)
    };
    for (producer, send) in history.sends_to(tp) {
        let SendOutcome::Acked { offset, at } = send.outcome() else { continue };
        let value = &send.id;
        let stored = log.offsets_of(value);
        match stored.clone().next() {
            None if removed_by_rule(log, &send, offset) => {}
            None => found.lost.push(at.seq, || {
                if offset < 0 {
                    format!(
                        "lost acknowledged write: {value} from {producer} was acknowledged at {tp} at {} without an offset (acks=0: sent counts as done), but the log of the current leader (broker {}) does not hold it",
                        at.at(),
                        log.leader
                    )
                } else {
                    let now_there = log.at(offset).map_or("nothing".to_string(), Label::to_string);
                    format!(
                        "lost acknowledged write: {value} from {producer} was acknowledged at {tp} offset {offset} at {}, but the log of the current leader (broker {}) does not hold it; offset {offset} now holds {now_there}",
                        at.at(),
                        log.leader
                    )
                }
            }),
            Some(_) if offset >= 0 && !stored.clone().any(|o| o == offset) => {
                let offsets: Vec<i64> = stored.collect();
                found.inconsistent.push(at.seq, || {
                    format!(
                        "inconsistent offset: {value} was acknowledged at {tp} offset {offset} at {} but is stored at {offsets:?}",
                        at.at()
                    )
                });
            }
            Some(_) => {}
        }
    }
}

/// Records a consumer read at an offset that now holds another record.
fn check_polled_offsets(history: &History, tp: &TopicPartition, log: &FinalLog, found: &mut Found) {
    for (consumer, poll) in history.polls().filter(|(_, poll)| poll.tp == *tp) {
        for (offset, id) in poll.records.iter() {
            if let Some(now_there) = log.at(offset) {
                if *now_there != id {
                    found.inconsistent.push(poll.at.seq, || {
                        format!(
                            "inconsistent offset: {consumer} read {id} at {tp} offset {offset} at {}, but that offset now holds {now_there}",
                            poll.at.at()
                        )
                    });
                }
            }
        }
    }
}

/// Sends stored at more than one offset.
fn check_duplicates(tp: &TopicPartition, log: &FinalLog, found: &mut Found) {
    for (id, offsets) in log.duplicates() {
        found
            .duplicates
            .push(0, || format!("duplicate: {id} is stored {} times in {tp}, at offsets {offsets:?}", offsets.len()));
    }
}

/// Jepsen's `nonmonotonic-send-cases`: per producer and partition, each acknowledged send
/// (with a known offset) against the previous one in invocation order.
///
/// A send whose record is no longer at its acknowledged offset in the final log is left out:
/// the log lost it (a truncation, after which the same offsets are handed out again) or holds it
/// elsewhere, which the oracle reports as a lost write or an inconsistent offset. What remains
/// are surviving records stored out of the order they were sent in: retries without idempotence
/// cause them, and, before Kafka 4.5 (KAFKA-15591), an idempotent producer's batches in flight
/// to a partition its leader has only just learnt about. Without a final log (no leader at the
/// end) every acknowledged send counts.
fn check_nonmonotonic_sends(history: &History, tp: &TopicPartition, log: Option<&FinalLog>, found: &mut Found) {
    let mut previous: BTreeMap<&str, Send> = BTreeMap::new();
    for (producer, send) in history.sends_to(tp) {
        let Some((offset, acked_at)) = send.acked_offset() else { continue };
        if log.is_some_and(|log| log.at(offset) != Some(&send.id)) {
            continue;
        }
        if let Some(earlier) = previous.get(producer) {
            let (earlier_offset, earlier_at) = earlier.acked_offset().expect("only acknowledged sends are kept");
            if offset <= earlier_offset {
                let relation = if offset == earlier_offset { "at the same offset as" } else { "below" };
                let stored = match log {
                    Some(log) => {
                        format!("both are stored there in the log of the current leader (broker {})", log.leader)
                    }
                    None => "the partition has no leader at the end to compare with".to_string(),
                };
                found.nonmonotonic_sends.push(acked_at.seq.max(earlier_at.seq), || {
                    format!(
                        "non-monotonic send: {producer} sent {} (at {}) before {} (at {}) to {tp}, but {} was acknowledged at offset {offset} (at {}), {relation} {}'s offset {earlier_offset} (acknowledged at {}); {stored}. Without idempotence, a batch that failed and was retried can land after a later batch when max.in.flight.requests.per.connection > 1; with it, before Kafka 4.5 (KAFKA-15591), so can a batch a brand-new partition's leader refused before it knew the partition",
                        earlier.id,
                        earlier.invoked().at(),
                        send.id,
                        send.invoked().at(),
                        send.id,
                        acked_at.at(),
                        earlier.id,
                        earlier_at.at(),
                    )
                });
            }
        }
        previous.insert(producer, send);
    }
}

/// `offsets 42 (v1), 43 (v2), 44 (v3) and 2 more`.
fn describe_records(records: &[(i64, Label)]) -> String {
    const SHOWN: usize = 3;
    let shown: Vec<String> = records.iter().take(SHOWN).map(|(o, id)| format!("{o} ({id})")).collect();
    let more = records.len().saturating_sub(SHOWN);
    let noun = if records.len() == 1 { "offset" } else { "offsets" };
    if more > 0 {
        format!("{noun} {} and {more} more", shown.join(", "))
    } else {
        format!("{noun} {}", shown.join(", "))
    }
}

/// One consumer's uninterrupted ownership of one partition, for the poll checks.
struct Ownership {
    /// How it began, in words (`assigned in group billing generation 3`).
    how: String,
    /// When it began.
    since: Stamp,
    /// The position it began at, when an event names it (seek, offset reset, truncation); an
    /// assignment resumes from the committed offset, which the consumer's history does not show.
    start: Option<i64>,
    /// The last record polled in it: offset, send id and when.
    last: Option<(i64, Label, Stamp)>,
}

/// Jepsen's `poll-skip+nonmonotonic-cases`, within one consumer's uninterrupted ownership of a
/// partition rather than across a whole process, and inside each poll as well (Jepsen's
/// `int-poll-skip` and `int-nonmonotonic-poll`).
fn check_poll_order(history: &History, tp: &TopicPartition, log: Option<&FinalLog>, found: &mut Found) {
    for (consumer, ops) in &history.clients {
        // The consumer's current ownership of `tp`, if it has one.
        let mut owned: Option<Ownership> = None;
        let begin = |how: String, since: Stamp, start: Option<i64>| Some(Ownership { how, since, start, last: None });
        for op in ops {
            match op {
                ClientOp::Assigned { group, generation_id, partitions, at } if partitions.contains(tp) => {
                    let how = if group.is_empty() {
                        "assigned with assign()".to_string()
                    } else {
                        format!("assigned in group {group} generation {generation_id}")
                    };
                    owned = begin(how, *at, None);
                }
                ClientOp::Revoked { partitions, .. } | ClientOp::Lost { partitions, .. } if partitions.contains(tp) => {
                    owned = None;
                }
                ClientOp::Seeked { tp: on, offset, how, at } if on == tp => {
                    owned = begin(format!("{how} to offset {offset}"), *at, Some(*offset));
                }
                ClientOp::OffsetReset { tp: on, offset, policy, at } if on == tp => {
                    owned = begin(format!("auto.offset.reset={policy} to offset {offset}"), *at, Some(*offset));
                }
                ClientOp::TruncationDetected { tp: on, divergence_offset, reset, at, .. } if on == tp => {
                    owned = if *reset {
                        let how = format!("moved back to offset {divergence_offset} after a log truncation");
                        begin(how, *at, Some(*divergence_offset))
                    } else {
                        None
                    };
                }
                ClientOp::Poll(poll) if poll.tp == *tp => {
                    let Some(((first, first_id), (last, last_id))) = poll.records.first().zip(poll.records.last())
                    else {
                        continue;
                    };
                    let ownership = owned.get_or_insert_with(|| Ownership {
                        how: "its first poll".into(),
                        since: poll.at,
                        start: None,
                        last: None,
                    });
                    let (how, since) = (&ownership.how, ownership.since);
                    let throughout =
                        || format!("{consumer} owned {tp} throughout ({how} at {}) and did not seek", since.at());
                    let held = |from: i64, to: i64| log.map_or(&[][..], |l| l.between(from, to));
                    let of_leader =
                        || log.map_or(String::new(), |l| format!(" of the current leader (broker {})", l.leader));
                    // Against the previous poll of the same ownership, or the position it began at.
                    match ownership.last {
                        Some((end, ref end_id, end_at)) if first <= end => found.nonmonotonic_polls.push(poll.at.seq, || {
                            format!(
                                "non-monotonic poll: {consumer} polled {tp} up to offset {end} ({end_id}) at {}, and its next poll at {} began at offset {first} ({first_id}), at or before where the last one ended, though {}",
                                end_at.at(),
                                poll.at.at(),
                                throughout()
                            )
                        }),
                        Some((end, ref end_id, end_at)) => {
                            let skipped = held(end + 1, first);
                            if !skipped.is_empty() {
                                found.poll_skips.push(poll.at.seq, || {
                                    format!(
                                        "poll skip: {consumer} polled {tp} up to offset {end} ({end_id}) at {}, and its next poll at {} began at offset {first} ({first_id}), skipping {} record(s) the log{leader} holds at {}; {}",
                                        end_at.at(),
                                        poll.at.at(),
                                        skipped.len(),
                                        describe_records(skipped),
                                        throughout(),
                                        leader = of_leader()
                                    )
                                });
                            }
                        }
                        None if ownership.start.is_some_and(|start| first < start) => found.nonmonotonic_polls.push(poll.at.seq, || {
                            format!(
                                "non-monotonic poll: {consumer}'s position in {tp} was set to offset {} ({} at {}), but its first poll after that, at {}, began below it, at offset {first} ({first_id})",
                                ownership.start.unwrap_or_default(),
                                ownership.how,
                                ownership.since.at(),
                                poll.at.at()
                            )
                        }),
                        None => {
                            let skipped = ownership.start.map(|start| held(start, first)).unwrap_or_default();
                            if !skipped.is_empty() {
                                found.poll_skips.push(poll.at.seq, || {
                                    format!(
                                        "poll skip: {consumer}'s position in {tp} was set to offset {} ({} at {}), but its first poll after that, at {}, began at offset {first} ({first_id}), skipping {} record(s) the log{leader} holds at {}",
                                        ownership.start.unwrap_or_default(),
                                        ownership.how,
                                        ownership.since.at(),
                                        poll.at.at(),
                                        skipped.len(),
                                        describe_records(skipped),
                                        leader = of_leader()
                                    )
                                });
                            }
                        }
                    }
                    // Inside the poll: each record against the one before it.
                    for ((a, a_id), (b, b_id)) in poll.records.consecutive() {
                        if b <= a {
                            found.nonmonotonic_polls.push(poll.at.seq, || {
                                format!(
                                    "non-monotonic poll: one poll of {tp} by {consumer} at {} returned offset {b} ({b_id}) after offset {a} ({a_id})",
                                    poll.at.at()
                                )
                            });
                            continue;
                        }
                        let skipped = held(a + 1, b);
                        if !skipped.is_empty() {
                            found.poll_skips.push(poll.at.seq, || {
                                format!(
                                    "poll skip: one poll of {tp} by {consumer} at {} returned offset {a} ({a_id}) then offset {b} ({b_id}), leaving out {} record(s) the log{leader} holds at {}",
                                    poll.at.at(),
                                    skipped.len(),
                                    describe_records(skipped),
                                    leader = of_leader()
                                )
                            });
                        }
                    }
                    ownership.last = Some((last, last_id, poll.at));
                }
                _ => {}
            }
        }
    }
}

/// Who reads a partition for [`check_unseen`]: a group, or a consumer without one.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Reader<'h> {
    Group(&'h str),
    Consumer(&'h str),
}

impl std::fmt::Display for Reader<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Reader::Group(g) => write!(f, "group {g}"),
            Reader::Consumer(c) => write!(f, "{c} (no group)"),
        }
    }
}

/// A stretch of a partition a reader read through from one starting point: it begins at a
/// seek, an offset reset, a detected truncation or the reader's first poll, and continues
/// across rebalances, since a new owner resumes from the offset the group committed.
struct Run<'h> {
    /// The first offset the reader meant to read.
    start: i64,
    /// How the run began, in words.
    how: String,
    /// When it began.
    since: Stamp,
    /// The highest offset polled in the run, by whom and when.
    highest: Option<(i64, &'h str, Stamp)>,
}

/// Acknowledged sends still in the final log, inside a stretch a reader read through (from
/// where it started to the highest offset it polled), that no consumer of the reader polled.
fn check_unseen(history: &History, tp: &TopicPartition, log: &FinalLog, found: &mut Found) {
    // The first acknowledged send with an id, in the order of `History::sends`: producer,
    // acknowledged offset (-1 if unknown) and when. Ids are unique but in hand-made or cut
    // traces, so the history's index finds it without a map of every acknowledged send.
    fn acked((producer, send): (&str, Send)) -> Option<(&str, i64, Stamp)> {
        match send.outcome() {
            SendOutcome::Acked { offset, at } => Some((producer, offset, at)),
            _ => None,
        }
    }
    let first_acked = |id: &Label| -> Option<(&str, i64, Stamp)> {
        if history.reused.contains(id) {
            history.sends().filter(|(_, send)| send.id == *id).find_map(acked)
        } else {
            history.send_with_id(id).and_then(acked)
        }
    };
    // Per reader: the position-changing operations and polls of its consumers in `tp`, merged
    // in trace order.
    let mut reads: BTreeMap<Reader<'_>, Vec<(&str, &ClientOp)>> = BTreeMap::new();
    for (consumer, ops) in &history.clients {
        let reader = history.group_of(consumer).map_or(Reader::Consumer(consumer), Reader::Group);
        for op in ops {
            let on = match op {
                ClientOp::Poll(Poll { tp, .. })
                | ClientOp::Seeked { tp, .. }
                | ClientOp::OffsetReset { tp, .. }
                | ClientOp::TruncationDetected { tp, .. } => tp,
                _ => continue,
            };
            if on == tp {
                reads.entry(reader.clone()).or_default().push((consumer.as_str(), op));
            }
        }
    }
    for (reader, mut ops) in reads {
        ops.sort_by_key(|(_, op)| op_stamp(op).seq);
        let mut runs: Vec<Run<'_>> = Vec::new();
        let mut current: Option<usize> = None;
        // Every id a consumer of the reader polled: sorted and searched once all are in. Sized
        // exactly, as the final log is: the report runs at the run's peak.
        let polled_count = ops.iter().map(|(_, op)| if let ClientOp::Poll(p) = op { p.records.len() } else { 0 }).sum();
        let mut polled: Vec<Label> = Vec::with_capacity(polled_count);
        for (consumer, op) in ops {
            match op {
                ClientOp::Seeked { offset, how, at, .. } => {
                    runs.push(Run {
                        start: *offset,
                        how: format!("{consumer}'s {how} to offset {offset}"),
                        since: *at,
                        highest: None,
                    });
                    current = Some(runs.len() - 1);
                }
                ClientOp::OffsetReset { offset, policy, at, .. } => {
                    let how = format!("{consumer}'s auto.offset.reset={policy} to offset {offset}");
                    runs.push(Run { start: *offset, how, since: *at, highest: None });
                    current = Some(runs.len() - 1);
                }
                ClientOp::TruncationDetected { divergence_offset, reset, at, .. } => {
                    // Records at and above the divergence were replaced: reading them earlier
                    // says nothing about the records there now.
                    for run in &mut runs {
                        if run.highest.is_some_and(|(h, _, _)| h >= *divergence_offset) {
                            run.highest = run.highest.map(|(_, c, t)| (divergence_offset - 1, c, t));
                        }
                    }
                    current = None;
                    if *reset {
                        let how =
                            format!("{consumer} moving back to offset {divergence_offset} after a log truncation");
                        runs.push(Run { start: *divergence_offset, how, since: *at, highest: None });
                        current = Some(runs.len() - 1);
                    }
                }
                ClientOp::Poll(poll) => {
                    let Some((first, _)) = poll.records.first() else { continue };
                    let index = *current.get_or_insert_with(|| {
                        runs.push(Run {
                            start: first,
                            how: format!("{consumer}'s first poll"),
                            since: poll.at,
                            highest: None,
                        });
                        runs.len() - 1
                    });
                    let mut top = first;
                    for (offset, id) in poll.records.iter() {
                        top = top.max(offset);
                        polled.push(id);
                    }
                    let run = &mut runs[index];
                    if run.highest.is_none_or(|(h, _, _)| top > h) {
                        run.highest = Some((top, consumer, poll.at));
                    }
                }
                _ => {}
            }
        }
        polled.sort_unstable_by(Label::search_order);
        polled.dedup_by(|a, b| a.search_order(b) == Ordering::Equal);
        let mut reported: BTreeSet<&Label> = BTreeSet::new();
        for run in &runs {
            let Some((highest, by, when)) = run.highest else { continue };
            for (offset, id) in log.between(run.start, highest + 1) {
                if polled.binary_search_by(|p| p.search_order(id)).is_ok() {
                    continue;
                }
                let Some((producer, acked_offset, acked_at)) = first_acked(id) else { continue };
                if !reported.insert(id) {
                    continue;
                }
                found.unseen.push(when.seq, || {
                    let committed = match reader {
                        Reader::Group(group) => history
                            .commits
                            .iter()
                            .find(|c| c.group == group && &c.tp == tp && c.offset > *offset)
                            .map(|c| {
                                format!(
                                    "; the group committed offset {} for {tp} at {} ({}), past it",
                                    c.offset,
                                    c.at.at(),
                                    c.coordinator
                                )
                            })
                            .unwrap_or_default(),
                        Reader::Consumer(_) => String::new(),
                    };
                    let acked_where =
                        if acked_offset >= 0 { format!("at offset {acked_offset}") } else { "(offset unknown)".into() };
                    let nobody = match reader {
                        Reader::Group(_) => "none of its consumers polled",
                        Reader::Consumer(_) => "it never polled",
                    };
                    format!(
                        "unseen: {reader} read {tp} from offset {} ({} at {}) up to offset {highest} ({by} at {}), but {nobody} {id} from {producer}, acknowledged {acked_where} at {} and held at offset {offset} in the log of the current leader (broker {}){committed}",
                        run.start,
                        run.how,
                        run.since.at(),
                        when.at(),
                        acked_at.at(),
                        log.leader
                    )
                });
            }
        }
    }
}

/// When a consumer operation happened.
fn op_stamp(op: &ClientOp) -> Stamp {
    match op {
        ClientOp::Poll(poll) => poll.at,
        ClientOp::Assigned { at, .. }
        | ClientOp::Revoked { at, .. }
        | ClientOp::Lost { at, .. }
        | ClientOp::Seeked { at, .. }
        | ClientOp::OffsetReset { at, .. }
        | ClientOp::TruncationDetected { at, .. }
        | ClientOp::CommitFailed { at, .. } => *at,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Builds hand-made traces: each call appends one client event, 10 ms after the last.
    #[derive(Default)]
    struct Trace {
        records: Vec<TraceRecord>,
    }

    fn tp(partition: i32) -> TopicPartition {
        TopicPartition::new("orders", partition)
    }

    impl Trace {
        fn event(&mut self, node: &str, event: Event) -> &mut Self {
            let seq = self.records.len() as u64;
            self.records.push(TraceRecord {
                seq,
                time_ns: (seq + 1) * 10_000_000,
                node: node.into(),
                body: TraceBody::Event(event),
            });
            self
        }

        fn send(&mut self, producer: &str, partition: i32, id: &str) -> &mut Self {
            self.send_keyed(producer, partition, id, None)
        }

        fn send_keyed(&mut self, producer: &str, partition: i32, id: &str, key: Option<&str>) -> &mut Self {
            let event = Event::SendInvoked {
                producer: producer.into(),
                tp: tp(partition),
                key: key.map(cluster::key::Key::from),
                value: id.into(),
                tombstone: false,
            };
            self.event(producer, event)
        }

        fn ack(&mut self, producer: &str, partition: i32, id: &str, offset: i64) -> &mut Self {
            let event = Event::SendAcked { producer: producer.into(), tp: tp(partition), offset, value: id.into() };
            self.event(producer, event)
        }

        fn fail(&mut self, producer: &str, partition: i32, id: &str, error: ErrorCode) -> &mut Self {
            let event = Event::SendFailed { producer: producer.into(), tp: tp(partition), value: id.into(), error };
            self.event(producer, event)
        }

        fn retried(&mut self, producer: &str, partition: i32, error: ErrorCode) -> &mut Self {
            let event = Event::SendRetried {
                producer: producer.into(),
                tp: tp(partition),
                records: 1,
                reason: error.name().into(),
            };
            self.event(producer, event)
        }

        /// Sends `r{offset}` for every offset in `offsets` and acknowledges each at its offset.
        fn produce(&mut self, offsets: impl IntoIterator<Item = i64>) -> &mut Self {
            for o in offsets {
                let id = format!("r{o}");
                self.send("checkout", 0, &id).ack("checkout", 0, &id, o);
            }
            self
        }

        /// A poll of orders-0 returning `r{offset}` for each offset.
        fn poll(&mut self, consumer: &str, offsets: impl IntoIterator<Item = i64>) -> &mut Self {
            let records = offsets.into_iter().map(|o| (o, format!("r{o}").into())).collect();
            self.event(consumer, Event::Polled { consumer: consumer.into(), tp: tp(0), records })
        }

        fn assign(&mut self, consumer: &str, group: &str, generation_id: i32) -> &mut Self {
            let event = Event::PartitionsAssigned {
                consumer: consumer.into(),
                group: group.into(),
                generation_id,
                partitions: vec![tp(0)],
            };
            self.event(consumer, event)
        }

        fn revoke(&mut self, consumer: &str, group: &str) -> &mut Self {
            let event =
                Event::PartitionsRevoked { consumer: consumer.into(), group: group.into(), partitions: vec![tp(0)] };
            self.event(consumer, event)
        }

        fn seek(&mut self, consumer: &str, offset: i64) -> &mut Self {
            let event = Event::Seeked { consumer: consumer.into(), tp: tp(0), offset, how: "seek".into() };
            self.event(consumer, event)
        }

        fn reset(&mut self, consumer: &str, offset: i64, policy: &str) -> &mut Self {
            let event = Event::OffsetReset { consumer: consumer.into(), tp: tp(0), offset, policy: policy.into() };
            self.event(consumer, event)
        }

        fn commit(&mut self, group: &str, offset: i64) -> &mut Self {
            self.event("broker 2", Event::OffsetCommitted { group: group.into(), tp: tp(0), offset })
        }

        fn check(&self, logs: &BTreeMap<TopicPartition, FinalLog>) -> (Anomalies, Vec<String>) {
            check(&History::from_records(&self.records), logs)
        }
    }

    /// orders-0 led by broker 1, holding `r{offset}` at each offset.
    fn log_of(offsets: impl IntoIterator<Item = i64>) -> BTreeMap<TopicPartition, FinalLog> {
        let log = FinalLog::new(NodeId(1), 0, offsets.into_iter().map(|o| (o, format!("r{o}"))));
        BTreeMap::from([(tp(0), log)])
    }

    fn clean(anomalies: &Anomalies) -> bool {
        *anomalies == Anomalies::default()
    }

    #[test]
    fn labels_print_compare_and_order_as_their_text() {
        // The first is the empty text.
        let texts: Vec<&str> = concat!(
            ",0,7,10,9,007,a,a0,a1,a10,a9,a007,a07x,web-1-0,web-1-5,web-1-10,web-1-,web-1#3,web-10-1,web,web5,",
            "key-999,key-1000,x18446744073709551615,x9999999999999999999,x99999999999999999999,REQUEST_TIMED_OUT,ü9,ü"
        )
        .split(',')
        .collect();
        let labels: Vec<Label> = texts.iter().map(|t| Label::new(t)).collect();
        for (text, label) in texts.iter().zip(&labels) {
            assert_eq!(label.to_string(), *text);
            assert_eq!(format!("{label:?}"), format!("{text:?}"));
            assert!(*label == **text, "{text}");
        }
        for (a, la) in texts.iter().zip(&labels) {
            for (b, lb) in texts.iter().zip(&labels) {
                assert_eq!(la.cmp(lb), a.cmp(b), "{a:?} against {b:?}");
                assert_eq!(la == lb, a == b, "{a:?} against {b:?}");
                assert_eq!(*la == **b, a == b, "{a:?} against the text {b:?}");
                assert_eq!(la.search_order(lb) == Ordering::Equal, a == b, "{a:?} against {b:?}");
                assert_eq!(la.search_order(lb), lb.search_order(la).reverse(), "{a:?} against {b:?}");
            }
        }
        // A label made on another thread has another stem, equal in text: the same label.
        let elsewhere = std::thread::spawn(|| Label::new("web-1-5")).join().expect("no panic");
        assert!(!Arc::ptr_eq(&elsewhere.stem, &Label::new("web-1-5").stem));
        assert_eq!(elsewhere.search_order(&Label::new("web-1-5")), Ordering::Equal);
        // Numbered labels share their stem and hold no text of their own.
        let (five, ten) = (Label::new("web-1-5"), Label::new("web-1-10"));
        assert!(Arc::ptr_eq(&five.stem, &ten.stem));
        assert_eq!(std::mem::size_of::<Label>(), 16);
        assert_eq!(std::mem::size_of::<Option<Label>>(), 16);
    }

    #[test]
    fn stem_slots_find_the_latest_slot_for_any_number() {
        let slot = |index| Slot { producer: 0, partition: 0, index };
        let mut slots = StemSlots::default();
        slots.insert(0, slot(0));
        slots.insert(3, slot(1));
        slots.insert(NO_NUMBER, slot(2));
        slots.insert(u64::MAX - 1, slot(3));
        assert_eq!(slots.dense.len(), 4, "near numbers extend the vector");
        assert_eq!(slots.sparse.len(), 2, "far numbers do not");
        assert_eq!([0, 1, 2, 3].map(|n| slots.get(n)), [Some(slot(0)), None, None, Some(slot(1))]);
        assert_eq!((slots.get(NO_NUMBER), slots.get(u64::MAX - 1)), (Some(slot(2)), Some(slot(3))));
        // A number far beyond the vector, then reached by it: the later slot wins.
        slots.insert(StemSlots::REACH + 10, slot(4));
        slots.insert(StemSlots::REACH, slot(5));
        assert_eq!(slots.get(StemSlots::REACH + 10), Some(slot(4)));
        slots.insert(StemSlots::REACH + 10, slot(6));
        slots.insert(3, slot(7));
        assert_eq!((slots.get(StemSlots::REACH + 10), slots.get(3)), (Some(slot(6)), Some(slot(7))));
    }

    /// A slot packs in 4 bytes when it is the stem's producer's and its numbers fit; any other
    /// goes to the map, and the latest slot for a number is found either way.
    #[test]
    fn stem_slots_pack_what_fits_and_map_the_rest() {
        let mut slots = StemSlots::default();
        let first = Slot { producer: 7, partition: 3, index: 9 };
        let widest = Slot { producer: 7, partition: 1022, index: (1 << 22) - 1 };
        let other_producer = Slot { producer: 8, partition: 3, index: 10 };
        let high_partition = Slot { producer: 7, partition: 1023, index: 0 };
        let high_index = Slot { producer: 7, partition: 0, index: 1 << 22 };
        slots.insert(0, first);
        slots.insert(1, widest);
        slots.insert(2, other_producer);
        slots.insert(3, high_partition);
        slots.insert(4, high_index);
        assert_eq!((slots.dense.len(), slots.sparse.len()), (2, 3), "two pack, three do not");
        assert_eq!(
            [0, 1, 2, 3, 4].map(|n| slots.get(n)),
            [first, widest, other_producer, high_partition, high_index].map(Some)
        );
        // A packed slot replaced by one that does not pack, and the other way round.
        slots.insert(1, other_producer);
        slots.insert(2, first);
        assert_eq!((slots.get(1), slots.get(2)), (Some(other_producer), Some(first)));
        slots.insert(5, first);
        assert_eq!((slots.get(3), slots.get(4), slots.get(5)), (Some(high_partition), Some(high_index), Some(first)));
    }

    #[test]
    fn a_final_log_finds_records_by_offset_and_id() {
        // Out of order, a duplicate, ids of several stems, and a later record at offset 5.
        let records = [(4, "b7"), (0, "a10"), (1, "a9"), (2, "b7"), (5, "x"), (3, "a2"), (5, "a100"), (7, "b70")];
        let log = FinalLog::new(NodeId(1), 0, records.map(|(o, id)| (o, id.to_string())));
        let offsets: Vec<i64> = log.records().iter().map(|(o, _)| *o).collect();
        assert_eq!(offsets, [0, 1, 2, 3, 4, 5, 7]);
        assert_eq!(log.high_watermark, 8);
        assert_eq!((log.at(5), log.at(6)), (Some(&Label::new("a100")), None));
        assert_eq!(log.between(2, 5).iter().map(|(_, id)| id.to_string()).collect::<Vec<_>>(), ["b7", "a2", "b7"]);
        let offsets_of = |id: &str| log.offsets_of(&Label::new(id)).collect::<Vec<_>>();
        assert_eq!(
            (offsets_of("b7"), offsets_of("a9"), offsets_of("x"), offsets_of("c1")),
            (vec![2, 4], vec![1], vec![], vec![])
        );
        let duplicates: Vec<(String, Vec<i64>)> =
            log.duplicates().into_iter().map(|(id, offsets)| (id.to_string(), offsets)).collect();
        assert_eq!(duplicates, [("b7".to_string(), vec![2, 4])]);
        let twice =
            FinalLog::new(NodeId(1), 0, [(0, "a10"), (1, "a9"), (2, "a10"), (3, "a9")].map(|(o, id)| (o, id.into())));
        let ids: Vec<String> = twice.duplicates().into_iter().map(|(id, _)| id.to_string()).collect();
        assert_eq!(ids, ["a10", "a9"], "in the order of the ids' text");
    }

    #[test]
    fn a_completion_without_an_invocation_and_a_reused_id_are_kept_apart() {
        let mut t = Trace::default();
        t.ack("checkout", 0, "a", 0).send("checkout", 0, "a").ack("checkout", 0, "a", 1).send("other", 0, "b");
        let history = History::from_records(&t.records);
        let sends: Vec<(&str, String, SendOutcome)> =
            history.sends().map(|(p, s)| (p, s.id.to_string(), s.outcome())).collect();
        assert_eq!(sends.len(), 3);
        assert!(matches!(sends[0], ("checkout", ref id, SendOutcome::Acked { offset: 0, .. }) if id == "a"));
        assert!(matches!(sends[1], ("checkout", ref id, SendOutcome::Acked { offset: 1, .. }) if id == "a"));
        assert!(matches!(sends[2], ("other", ref id, SendOutcome::Pending) if id == "b"));
        assert!(history.reused.contains(&Label::new("a")));
        let (producer, latest) = history.send_with_id(&Label::new("a")).expect("indexed");
        assert_eq!((producer, latest.invoked().seq), ("checkout", 1));
    }

    #[test]
    fn a_consumer_reading_straight_through_is_clean() {
        let mut t = Trace::default();
        t.produce(0..10).assign("c1", "billing", 1).reset("c1", 0, "earliest").poll("c1", 0..4).poll("c1", 4..10);
        let (anomalies, findings) = t.check(&log_of(0..10));
        assert!(clean(&anomalies), "{anomalies:?} {findings:#?}");
        assert!(findings.is_empty());
    }

    #[test]
    fn the_history_keeps_each_client_in_trace_order_with_send_outcomes() {
        let mut t = Trace::default();
        t.send("checkout", 0, "a")
            .send("checkout", 0, "b")
            .send("checkout", 0, "c")
            .send("checkout", 0, "d")
            .ack("checkout", 0, "b", 7)
            .fail("checkout", 0, "a", ErrorCode::RequestTimedOut)
            .fail("checkout", 0, "c", ErrorCode::NotLeaderOrFollower)
            .assign("c1", "billing", 1)
            .poll("c1", [7])
            .commit("billing", 8);
        let history = History::from_records(&t.records);
        let outcomes: Vec<(String, SendOutcome)> =
            history.sends().map(|(_, s)| (s.id.to_string(), s.outcome())).collect();
        assert_eq!(outcomes.iter().map(|(id, _)| id.as_str()).collect::<Vec<_>>(), ["a", "b", "c", "d"]);
        let error = |e| history.error_text(e);
        assert!(matches!(outcomes[0].1, SendOutcome::Unknown { error: e, .. } if error(e) == "REQUEST_TIMED_OUT"));
        assert!(matches!(outcomes[1].1, SendOutcome::Acked { offset: 7, .. }));
        assert!(matches!(outcomes[2].1, SendOutcome::Failed { error: e, .. } if error(e) == "NOT_LEADER_OR_FOLLOWER"));
        assert_eq!(outcomes[3].1, SendOutcome::Pending);
        let sends: Vec<Send> = history.sends().map(|(_, s)| s).collect();
        assert!(sends.iter().all(|s| history.partition(s.partition()) == &tp(0)));
        let c1 = &history.clients["c1"];
        assert!(matches!(&c1[0], ClientOp::Assigned { group, .. } if group == "billing"));
        assert!(matches!(&c1[1], ClientOp::Poll(p) if p.records.iter().eq([(7, Label::new("r7"))])));
        assert_eq!(history.group_of("c1"), Some("billing"));
        assert_eq!(history.commits.len(), 1);
        assert_eq!((history.commits[0].offset, history.commits[0].coordinator.as_str()), (8, "broker 2"));
    }

    #[test]
    fn a_plain_error_after_a_timed_out_attempt_leaves_the_outcome_unknown() {
        let mut t = Trace::default();
        t.send("checkout", 0, "a")
            .retried("checkout", 0, ErrorCode::RequestTimedOut)
            .fail("checkout", 0, "a", ErrorCode::NotLeaderOrFollower)
            .send("checkout", 0, "b")
            .fail("checkout", 0, "b", ErrorCode::NotLeaderOrFollower);
        let history = History::from_records(&t.records);
        let outcomes: Vec<SendOutcome> = history.sends().map(|(_, s)| s.outcome()).collect();
        assert!(matches!(outcomes[0], SendOutcome::Unknown { .. }), "{outcomes:?}");
        assert!(matches!(outcomes[1], SendOutcome::Failed { .. }), "{outcomes:?}");
        let texts: Vec<&str> = outcomes
            .iter()
            .map(|o| match *o {
                SendOutcome::Unknown { error, .. } | SendOutcome::Failed { error, .. } => history.error_text(error),
                _ => "",
            })
            .collect();
        assert_eq!(
            texts,
            ["NOT_LEADER_OR_FOLLOWER after an attempt that may have been written", "NOT_LEADER_OR_FOLLOWER"]
        );
    }

    #[test]
    fn a_send_is_packed_into_80_bytes() {
        // The size is what lets a long run's history fit (issue 10): a million sends take 80 MB.
        assert_eq!(std::mem::size_of::<Send>(), 56);
    }

    #[test]
    fn lost_writes_duplicates_and_inconsistent_offsets_are_still_found() {
        let mut t = Trace::default();
        t.produce(0..3).send("checkout", 0, "r3").ack("checkout", 0, "r3", 3);
        // r1 is gone, r2 is stored twice, r3 sits at 4 though acknowledged at 3.
        let log =
            FinalLog::new(NodeId(1), 0, [(0, "r0"), (2, "r2"), (3, "r2"), (4, "r3")].map(|(o, id)| (o, id.into())));
        let (anomalies, findings) = t.check(&BTreeMap::from([(tp(0), log)]));
        assert_eq!((anomalies.lost_acked_writes, anomalies.duplicates, anomalies.inconsistent_offsets), (1, 1, 1));
        assert!(findings.iter().any(|f| f.starts_with("lost acknowledged write: r1 from checkout")), "{findings:#?}");
    }

    #[test]
    fn an_acks_zero_send_missing_from_the_log_is_lost_unless_the_log_removed_records() {
        let mut t = Trace::default();
        t.produce(0..2).send("checkout", 0, "z").ack("checkout", 0, "z", -1);
        let (anomalies, findings) = t.check(&log_of(0..2));
        assert_eq!(anomalies.lost_acked_writes, 1, "{findings:#?}");
        assert!(findings[0].contains("without an offset (acks=0"), "{findings:#?}");
        // After retention deleted a segment the record may have been in it: not counted.
        let mut trimmed = log_of(0..2);
        trimmed.get_mut(&tp(0)).expect("one partition").log_start_offset = 1;
        assert_eq!(t.check(&trimmed).0.lost_acked_writes, 0);
    }

    #[test]
    fn a_poll_that_jumps_over_records_is_a_poll_skip() {
        let mut t = Trace::default();
        t.produce(0..6).assign("c1", "billing", 1).poll("c1", 0..2).poll("c1", 4..6);
        let (anomalies, findings) = t.check(&log_of(0..6));
        assert_eq!(anomalies.poll_skips, 1, "{findings:#?}");
        let skip = findings.iter().find(|f| f.starts_with("poll skip")).expect("a finding");
        assert!(skip.contains("offsets 2 (r2), 3 (r3)") && skip.contains("c1") && skip.contains("broker 1"), "{skip}");
        // The group went past r2 and r3 without reading them.
        assert_eq!(anomalies.unseen, 2);
        assert_eq!(anomalies.nonmonotonic_polls, 0);
    }

    #[test]
    fn a_jump_inside_one_poll_is_a_poll_skip() {
        let mut t = Trace::default();
        t.produce(0..4).assign("c1", "billing", 1).poll("c1", [0, 1, 3]);
        let (anomalies, findings) = t.check(&log_of(0..4));
        assert_eq!(anomalies.poll_skips, 1, "{findings:#?}");
        assert!(findings.iter().any(|f| f.contains("leaving out 1 record(s)") && f.contains("offset 2 (r2)")));
    }

    #[test]
    fn a_first_poll_after_a_seek_must_begin_at_the_new_position() {
        let mut t = Trace::default();
        t.produce(0..6).assign("c1", "billing", 1).seek("c1", 1).poll("c1", 3..6);
        let (anomalies, findings) = t.check(&log_of(0..6));
        assert_eq!(anomalies.poll_skips, 1, "{findings:#?}");
        assert!(findings[0].contains("set to offset 1") && findings[0].contains("offsets 1 (r1), 2 (r2)"));
    }

    #[test]
    fn gaps_left_by_compaction_or_never_filled_are_not_skips() {
        let mut t = Trace::default();
        // Offsets 2 and 3 hold nothing in the final log: compacted away, or a control record.
        t.produce([0, 1, 4, 5]).assign("c1", "billing", 1).poll("c1", 0..2).poll("c1", [4, 5]);
        let (anomalies, findings) = t.check(&log_of([0, 1, 4, 5]));
        assert!(clean(&anomalies), "{anomalies:?} {findings:#?}");
    }

    #[test]
    fn records_compacted_away_after_a_skip_no_longer_count() {
        // Keyed sends: k0 at 0, 1 and 2; the cleaner kept only offset 2 (below the dirty point 3).
        let mut t = Trace::default();
        for o in 0..4 {
            let id = format!("r{o}");
            let key = if o < 3 { "k0" } else { "k1" };
            t.send_keyed("checkout", 0, &id, Some(key)).ack("checkout", 0, &id, o);
        }
        t.assign("c1", "billing", 1).reset("c1", 0, "earliest").poll("c1", [0]).poll("c1", [2, 3]);
        let mut logs = log_of([2, 3]);
        let log = logs.get_mut(&tp(0)).expect("built");
        (log.compacted, log.first_dirty_offset) = (true, 3);
        let (anomalies, findings) = t.check(&logs);
        assert!(clean(&anomalies), "{anomalies:?} {findings:#?}");
    }

    #[test]
    fn a_poll_that_goes_back_within_one_ownership_is_non_monotonic() {
        let mut t = Trace::default();
        t.produce(0..6).assign("c1", "billing", 1).poll("c1", 0..3).poll("c1", 2..6);
        let (anomalies, findings) = t.check(&log_of(0..6));
        assert_eq!(anomalies.nonmonotonic_polls, 1, "{findings:#?}");
        assert_eq!(anomalies.poll_skips, 0);
        let finding = findings.iter().find(|f| f.starts_with("non-monotonic poll")).expect("a finding");
        assert!(finding.contains("up to offset 2 (r2)") && finding.contains("began at offset 2 (r2)"), "{finding}");
    }

    #[test]
    fn offsets_out_of_order_inside_one_poll_are_non_monotonic() {
        let mut t = Trace::default();
        t.produce(0..3).assign("c1", "billing", 1).poll("c1", [0, 2, 1]);
        let (anomalies, _) = t.check(&log_of(0..3));
        assert_eq!(anomalies.nonmonotonic_polls, 1);
    }

    #[test]
    fn a_rebalance_that_hands_the_partition_over_is_not_an_anomaly() {
        // c1 reads 0..=5 but committed only 3; c2 takes over and resumes from the committed
        // offset, reading 3..=5 again. Later c1 gets the partition back and resumes from 8.
        let mut t = Trace::default();
        t.produce(0..10)
            .assign("c1", "billing", 1)
            .reset("c1", 0, "earliest")
            .poll("c1", 0..6)
            .commit("billing", 3)
            .revoke("c1", "billing")
            .assign("c2", "billing", 2)
            .poll("c2", 3..8)
            .commit("billing", 8)
            .revoke("c2", "billing")
            .assign("c1", "billing", 3)
            .poll("c1", 8..10);
        let (anomalies, findings) = t.check(&log_of(0..10));
        assert!(clean(&anomalies), "{anomalies:?} {findings:#?}");
    }

    #[test]
    fn a_restarted_consumer_resumes_from_the_committed_offset_without_an_anomaly() {
        // A restart shows as a fresh PartitionsAssigned: every consumer reports one when it starts.
        let mut t = Trace::default();
        t.produce(0..8)
            .assign("c1", "billing", 1)
            .poll("c1", 0..5)
            .commit("billing", 2)
            .assign("c1", "billing", 2)
            .poll("c1", 2..8);
        let (anomalies, findings) = t.check(&log_of(0..8));
        assert!(clean(&anomalies), "{anomalies:?} {findings:#?}");
    }

    #[test]
    fn a_seek_back_is_not_non_monotonic() {
        let mut t = Trace::default();
        t.produce(0..6).assign("replayer", "", 1).poll("replayer", 0..6).seek("replayer", 0).poll("replayer", 0..6);
        let (anomalies, findings) = t.check(&log_of(0..6));
        assert!(clean(&anomalies), "{anomalies:?} {findings:#?}");
    }

    #[test]
    fn a_seek_forward_skips_on_purpose() {
        let mut t = Trace::default();
        t.produce(0..10).assign("c1", "billing", 1).poll("c1", 0..3).seek("c1", 7).poll("c1", 7..10);
        let (anomalies, findings) = t.check(&log_of(0..10));
        assert!(clean(&anomalies), "{anomalies:?} {findings:#?}");
    }

    #[test]
    fn a_group_starting_at_latest_need_not_read_what_came_before() {
        let mut t = Trace::default();
        t.produce(0..10).assign("c1", "audit", 1).reset("c1", 6, "latest").poll("c1", 6..10);
        let (anomalies, findings) = t.check(&log_of(0..10));
        assert!(clean(&anomalies), "{anomalies:?} {findings:#?}");
    }

    #[test]
    fn a_group_that_went_past_acknowledged_records_left_them_unseen() {
        // c1 reads 0..=3; the group's committed offset jumps to 6 and c2 resumes there: no
        // consumer skipped within its own ownership, but the group never read r4 and r5.
        let mut t = Trace::default();
        t.produce(0..10)
            .assign("c1", "billing", 1)
            .reset("c1", 0, "earliest")
            .poll("c1", 0..4)
            .commit("billing", 6)
            .revoke("c1", "billing")
            .assign("c2", "billing", 2)
            .poll("c2", 6..10);
        let (anomalies, findings) = t.check(&log_of(0..10));
        assert_eq!((anomalies.unseen, anomalies.poll_skips), (2, 0), "{findings:#?}");
        let unseen: Vec<&String> = findings.iter().filter(|f| f.starts_with("unseen")).collect();
        assert!(unseen[0].contains("group billing") && unseen[0].contains("r4 from checkout"), "{unseen:#?}");
        assert!(unseen[0].contains("committed offset 6"), "{unseen:#?}");
    }

    #[test]
    fn unacknowledged_or_removed_records_are_not_unseen() {
        // r2 was never acknowledged (its outcome is unknown), and offset 3 holds nothing.
        let mut t = Trace::default();
        t.produce([0, 1, 4, 5]).send("checkout", 0, "r2").fail("checkout", 0, "r2", ErrorCode::RequestTimedOut);
        t.assign("c1", "billing", 1).poll("c1", [0, 1]).revoke("c1", "billing").assign("c2", "billing", 2);
        t.poll("c2", [4, 5]);
        let (anomalies, findings) = t.check(&log_of([0, 1, 2, 4, 5]));
        assert_eq!(anomalies.unseen, 0, "{findings:#?}");
    }

    #[test]
    fn a_consumer_that_never_got_past_a_record_has_not_missed_it() {
        let mut t = Trace::default();
        t.produce(0..10).assign("c1", "billing", 1).poll("c1", 0..4);
        let (anomalies, findings) = t.check(&log_of(0..10));
        assert!(clean(&anomalies), "{anomalies:?} {findings:#?}");
    }

    #[test]
    fn a_detected_truncation_starts_over_at_the_divergence() {
        // c1 read 0..=7 from the old leader; the new one replaced 5.. with other records.
        let mut t = Trace::default();
        t.produce(0..8).assign("c1", "billing", 1).poll("c1", 0..8);
        for o in 5..8 {
            let id = format!("n{o}");
            t.send("checkout", 0, &id).ack("checkout", 0, &id, o);
        }
        let truncation = Event::LogTruncationDetected {
            consumer: "c1".into(),
            tp: tp(0),
            position: 8,
            divergence_offset: 5,
            reset: true,
        };
        t.event("c1", truncation);
        let records = (5..8).map(|o| (o, format!("n{o}").into())).collect();
        t.event("c1", Event::Polled { consumer: "c1".into(), tp: tp(0), records });
        let log = FinalLog::new(
            NodeId(1),
            0,
            (0..5).map(|o| (o, format!("r{o}"))).chain((5..8).map(|o| (o, format!("n{o}")))),
        );
        let (anomalies, findings) = t.check(&BTreeMap::from([(tp(0), log)]));
        assert_eq!((anomalies.nonmonotonic_polls, anomalies.poll_skips, anomalies.unseen), (0, 0, 0), "{findings:#?}");
        // What c1 read at 5..=7 before is gone: the old records are lost, those reads inconsistent.
        assert_eq!((anomalies.lost_acked_writes, anomalies.inconsistent_offsets), (3, 3));
    }

    #[test]
    fn a_later_send_acknowledged_lower_is_non_monotonic() {
        let mut t = Trace::default();
        t.send("checkout", 0, "a").send("checkout", 0, "b").ack("checkout", 0, "b", 0).ack("checkout", 0, "a", 1);
        let log = FinalLog::new(NodeId(1), 0, [(0, "b".to_string()), (1, "a".to_string())]);
        let (anomalies, findings) = t.check(&BTreeMap::from([(tp(0), log)]));
        assert_eq!(anomalies.nonmonotonic_sends, 1, "{findings:#?}");
        let finding = findings.iter().find(|f| f.starts_with("non-monotonic send")).expect("a finding");
        assert!(finding.contains("checkout sent a") && finding.contains("max.in.flight"), "{finding}");
    }

    #[test]
    fn offsets_handed_out_again_after_a_truncation_are_a_lost_write_not_a_non_monotonic_send() {
        // a was acknowledged at 1, the log was cut back to 1 and b got offset 1 again.
        let mut t = Trace::default();
        t.send("checkout", 0, "z").ack("checkout", 0, "z", 0).send("checkout", 0, "a").ack("checkout", 0, "a", 1);
        t.send("checkout", 0, "b").ack("checkout", 0, "b", 1);
        let log = FinalLog::new(NodeId(1), 0, [(0, "z".to_string()), (1, "b".to_string())]);
        let (anomalies, findings) = t.check(&BTreeMap::from([(tp(0), log)]));
        assert_eq!((anomalies.nonmonotonic_sends, anomalies.lost_acked_writes), (0, 1), "{findings:#?}");
        // Without a final log to tell, the acknowledgements alone show the order broken.
        let (anomalies, _) = t.check(&BTreeMap::new());
        assert_eq!(anomalies.nonmonotonic_sends, 1);
    }

    #[test]
    fn sends_in_order_other_partitions_and_unknown_offsets_are_monotonic() {
        let mut t = Trace::default();
        t.send("checkout", 0, "a")
            .send("checkout", 1, "b")
            .send("checkout", 0, "c")
            .send("checkout", 0, "d")
            .send("other", 0, "e")
            .ack("checkout", 1, "b", 0)
            .ack("checkout", 0, "a", 1)
            .ack("checkout", 0, "c", -1)
            .ack("checkout", 0, "d", 2)
            .ack("other", 0, "e", 0);
        let (anomalies, findings) = t.check(&BTreeMap::new());
        assert_eq!(anomalies.nonmonotonic_sends, 0, "{findings:#?}");
    }

    #[test]
    fn findings_are_capped_per_kind_but_counts_are_complete() {
        let mut t = Trace::default();
        t.produce(0..40).assign("c1", "billing", 1);
        for o in (0..40).step_by(4) {
            t.poll("c1", [o, o + 1]);
        }
        let (anomalies, findings) = t.check(&log_of(0..40));
        assert_eq!(anomalies.poll_skips, 9);
        let skips = findings.iter().filter(|f| f.starts_with("poll skip")).count();
        assert_eq!(skips, FINDINGS_PER_KIND);
        assert!(findings.contains(&format!("... and {} more poll skips", 9 - FINDINGS_PER_KIND)), "{findings:#?}");
    }

    #[test]
    fn findings_in_trace_order_are_put_into_words_only_while_among_the_first() {
        let mut findings = Findings::default();
        let mut worded = 0;
        for seq in 0..1000 {
            findings.push(seq, || {
                worded += 1;
                format!("finding {seq}")
            });
        }
        assert_eq!((findings.count, worded), (1000, FINDINGS_PER_KIND));
    }

    /// A send of producer `p` numbered `n`, invoked at trace position `seq`, ended as `kind`
    /// with `detail` unless pending.
    fn send_for_list(p: &str, n: u64, seq: u32, kind: OutcomeKind, detail: i64) -> Send {
        let invoked = Stamp { seq: u64::from(seq), time_ns: u64::from(seq) * 200_000 };
        let mut send =
            Send::new(Label::new(&format!("{p}-{n}")), PartitionNumber(3), n as u32 % 7, n.is_multiple_of(5), invoked);
        let at = Stamp { seq: invoked.seq + 40, time_ns: invoked.time_ns + 4_000_000 };
        match kind {
            OutcomeKind::Pending => {}
            OutcomeKind::Acked => send.set_outcome(SendOutcome::Acked { offset: detail, at }),
            OutcomeKind::Failed => send.set_outcome(SendOutcome::Failed { error: ErrorText(detail as u32), at }),
            OutcomeKind::Unknown => send.set_outcome(SendOutcome::Unknown { error: ErrorText(detail as u32), at }),
        }
        send
    }

    #[test]
    fn a_send_list_packs_a_producers_sends_into_about_twenty_bytes_each() {
        let mut stems = Table::default();
        let mut list = SendList::new(3);
        let sends: Vec<Send> = (0..1000)
            .map(|n| send_for_list("web-1", 250_000 + n, 13 * n as u32, OutcomeKind::Acked, 90_000 + 4 * n as i64))
            .collect();
        for send in &sends {
            list.push(send.clone(), &mut stems);
        }
        assert_eq!((list.len(), list.sealed.len(), list.open.len()), (1000, 14, 104));
        let packed: usize = list.sealed.iter().map(|b| b.len()).sum();
        assert!(packed <= 14 * SEND_BLOCK * 20, "{packed} bytes for {} sends", 14 * SEND_BLOCK);
        assert_eq!(list.iter(&stems).collect::<Vec<_>>(), sends);
        assert_eq!(list.get(5, &stems), sends[5]);
        assert_eq!(list.get(999, &stems), sends[999]);
        // A pending send holds its block open, until SEND_OPEN_LIMIT sends are open.
        let mut list = SendList::new(3);
        let pending = |n: u64| send_for_list("web-1", n, n as u32, OutcomeKind::Pending, 0);
        for n in 0..SEND_OPEN_LIMIT as u64 - 1 {
            list.push(
                if n == 0 { pending(n) } else { send_for_list("web-1", n, n as u32, OutcomeKind::Acked, 0) },
                &mut stems,
            );
        }
        assert_eq!(list.sealed.len(), 0);
        list.push(pending(SEND_OPEN_LIMIT as u64), &mut stems);
        // The forced seal takes the pending send's block; the blocks behind it have ended and
        // follow, all but the newest.
        assert_eq!((list.sealed.len(), list.open.len()), (SEND_OPEN_LIMIT / SEND_BLOCK - 1, SEND_BLOCK));
        assert_eq!(list.get(0, &stems), pending(0));
    }

    proptest::proptest! {
        /// A send list gives back the sends pushed, in order, by position and whole, whatever
        /// their ids, times and outcomes; and an outcome set later, in a sealed block or an open
        /// one, changes that send alone.
        #[test]
        fn a_send_list_gives_back_what_was_pushed(
            sends in proptest::collection::vec(
                (proptest::prop_oneof!["p", "web-[12]", "x-0"], 0u64..u64::MAX, 0u32..3_000, 0u8..4, proptest::num::i64::ANY),
                // Past SEND_OPEN_LIMIT, so that blocks holding pending sends are sealed too.
                0..1_300,
            ),
            changes in proptest::collection::vec((0usize..1_300, proptest::num::i64::ANY), 0..10),
        ) {
            let mut seq = 0;
            let mut expected: Vec<Send> = sends
                .iter()
                .map(|(p, n, gap, kind, detail)| {
                    seq += gap;
                    send_for_list(p, *n, seq, OutcomeKind::from_bits(*kind), *detail)
                })
                .collect();
            let mut stems = Table::default();
            let mut list = SendList::new(3);
            for send in &expected {
                list.push(send.clone(), &mut stems);
            }
            proptest::prop_assert!(list.open.len() < SEND_OPEN_LIMIT + SEND_BLOCK);
            for (index, offset) in changes {
                if index >= expected.len() {
                    continue;
                }
                let at = Stamp { seq: 7, time_ns: 9 };
                let change = |send: &mut Send| send.set_outcome(SendOutcome::Acked { offset, at });
                change(&mut expected[index]);
                list.update(index, &mut stems, change);
            }
            proptest::prop_assert_eq!(list.len(), expected.len());
            proptest::prop_assert_eq!(list.iter(&stems).collect::<Vec<_>>(), expected.clone());
            for (i, send) in expected.iter().enumerate() {
                proptest::prop_assert_eq!(&list.get(i, &stems), send);
            }
        }
    }

    #[test]
    fn a_polls_records_take_about_five_bytes_each() {
        // 500 consecutive offsets, ids from four producers with numbers up to 300,000: one byte
        // of offset difference, one of stem, three of number.
        let pairs = (0..500).map(|i| (1_000_000 + i, Label::new(&format!("web-{}-{}", i % 4 + 1, 299_000 + i))));
        let packed = PolledRecords::new(pairs);
        assert_eq!((packed.len(), packed.stems.len()), (500, 4));
        assert_eq!(packed.bytes.len(), 3 + 1 + 3 + 499 * 5, "the first offset takes three bytes, the others one");
    }

    proptest::proptest! {
        /// A poll's packed records read back as the pairs they were made from, in order,
        /// whatever the offsets (gaps, repeats, going back) and ids (numbered or not, stems
        /// shared or not).
        #[test]
        fn polled_records_read_back_as_given(
            pairs in proptest::collection::vec(
                (proptest::prop_oneof![-2i64..40, proptest::num::i64::ANY],
                 proptest::prop_oneof!["web-[12]-[1-9][0-9]{0,3}", "key-0[0-9]", "[a-c]{1,3}", "x-[1-9][0-9]{18}"]),
                0..30,
            )
        ) {
            let pairs: Vec<(i64, Label)> = pairs.iter().map(|(o, id)| (*o, Label::new(id))).collect();
            let packed = PolledRecords::new(pairs.clone());
            let back: Vec<(i64, Label)> = packed.iter().collect();
            proptest::prop_assert_eq!(packed.len(), pairs.len());
            proptest::prop_assert_eq!(packed.is_empty(), pairs.is_empty());
            proptest::prop_assert_eq!(packed.first(), pairs.first().cloned());
            proptest::prop_assert_eq!(packed.last(), pairs.last().cloned());
            let texts = |v: &[(i64, Label)]| v.iter().map(|(o, l)| (*o, l.to_string())).collect::<Vec<_>>();
            proptest::prop_assert_eq!(texts(&back), texts(&pairs));
            let windows: Vec<_> = pairs.windows(2).map(|w| (w[0].clone(), w[1].clone())).collect();
            proptest::prop_assert_eq!(packed.consecutive().collect::<Vec<_>>(), windows);
            proptest::prop_assert_eq!(back, pairs);
        }

        /// The findings kept are those a stable sort by trace position puts first, and the
        /// count is complete, whatever order they are found in.
        #[test]
        fn findings_keep_the_first_by_trace_position_then_by_discovery(
            seqs in proptest::collection::vec(0u64..12, 0..40)
        ) {
            let mut findings = Findings::default();
            for (i, &seq) in seqs.iter().enumerate() {
                findings.push(seq, || format!("found {i}"));
            }
            let mut expected: Vec<(u64, String)> =
                seqs.iter().enumerate().map(|(i, &seq)| (seq, format!("found {i}"))).collect();
            expected.sort_by_key(|(seq, _)| *seq);
            expected.truncate(FINDINGS_PER_KIND);
            findings.first.sort_by_key(|&(seq, order, _)| (seq, order));
            let kept: Vec<(u64, String)> = findings.first.into_iter().map(|(seq, _, words)| (seq, words)).collect();
            proptest::prop_assert_eq!(findings.count, seqs.len() as u64);
            proptest::prop_assert_eq!(kept, expected);
        }
    }
}

/// Findings of partitions checked apart add up to those of checking them one after another.
#[cfg(test)]
mod merge_tests {
    use super::*;

    proptest::proptest! {
        /// Findings pushed partition by partition into one list, and the same findings pushed
        /// into a list per partition and then absorbed in partition order, agree: the count,
        /// and the first ones with their order found and their words.
        #[test]
        fn absorbed_findings_are_those_found_in_one_pass(
            parts in proptest::collection::vec(proptest::collection::vec(0u64..40, 0..12), 0..6),
        ) {
            let mut one_pass = Findings::default();
            let mut merged = Findings::default();
            for (p, seqs) in parts.iter().enumerate() {
                let mut part = Findings::default();
                for (i, &seq) in seqs.iter().enumerate() {
                    one_pass.push(seq, || format!("partition {p}, finding {i}"));
                    part.push(seq, || format!("partition {p}, finding {i}"));
                }
                merged.absorb(part);
            }
            proptest::prop_assert_eq!(merged.count, one_pass.count);
            let sorted = |f: &Findings| {
                let mut first = f.first.clone();
                first.sort();
                first
            };
            proptest::prop_assert_eq!(sorted(&merged), sorted(&one_pass));
        }
    }
}

/// The oracle over a real run: clean as recorded, and with teeth once the history is tampered
/// with the way a buggy client or broker would.
#[cfg(test)]
mod run_tests {
    use super::*;

    /// The history and final logs of scenario 22 (one producer, one consumer, one partition).
    fn scenario_22() -> (Vec<TraceRecord>, BTreeMap<TopicPartition, FinalLog>) {
        let path =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios/22-one-partition-one-consumer.ron");
        let scenario = crate::scenario::load_file(&path).expect("scenario 22 loads");
        // A world runs on a fresh thread (see `crate::run`).
        std::thread::spawn(move || {
            let seed = scenario.seed;
            let mut world = World::new(scenario, seed);
            world.run_to_end();
            let (logs, _) = final_logs(&world, &world.view());
            (world.records_since(0), logs)
        })
        .join()
        .expect("the run finishes")
    }

    fn polls(records: &[TraceRecord]) -> Vec<usize> {
        (0..records.len())
            .filter(
                |&i| matches!(&records[i].body, TraceBody::Event(Event::Polled { records, .. }) if !records.is_empty()),
            )
            .collect()
    }

    #[test]
    fn a_real_run_is_clean_and_tampering_shows() {
        let (records, logs) = scenario_22();
        let (anomalies, findings) = check(&History::from_records(&records), &logs);
        assert!(anomalies == Anomalies::default(), "{anomalies:?} {findings:#?}");
        let polled = polls(&records);
        assert!(polled.len() > 10, "the consumer polled {} times", polled.len());
        let middle = polled[polled.len() / 2];

        // A poll the consumer never saw: the next one skips its records, which the group never reads.
        let mut dropped = records.clone();
        dropped.remove(middle);
        let (anomalies, _) = check(&History::from_records(&dropped), &logs);
        assert_eq!(anomalies.poll_skips, 1, "{anomalies:?}");
        assert!(anomalies.unseen >= 1, "{anomalies:?}");

        // The same poll returned twice: the second starts where the first did.
        let mut repeated = records.clone();
        repeated.insert(middle + 1, records[middle].clone());
        let (anomalies, _) = check(&History::from_records(&repeated), &logs);
        assert_eq!((anomalies.nonmonotonic_polls, anomalies.poll_skips), (1, 0), "{anomalies:?}");

        // Two acknowledgements with their offsets swapped, and the log agreeing: stored out of
        // send order.
        let acks: Vec<usize> = (0..records.len())
            .filter(|&i| matches!(&records[i].body, TraceBody::Event(Event::SendAcked { offset, .. }) if *offset >= 0))
            .collect();
        let (i, j) = (acks[acks.len() / 2], acks[acks.len() / 2 + 1]);
        let mut swapped = records.clone();
        let (
            TraceBody::Event(Event::SendAcked { offset: a, value: va, tp, .. }),
            TraceBody::Event(Event::SendAcked { offset: b, value: vb, .. }),
        ) = (&records[i].body, &records[j].body)
        else {
            unreachable!("both are acknowledgements")
        };
        for (k, offset) in [(i, *b), (j, *a)] {
            if let TraceBody::Event(Event::SendAcked { offset: o, .. }) = &mut swapped[k].body {
                *o = offset;
            }
        }
        let mut logs = logs.clone();
        let log = logs.get_mut(tp).expect("the partition has a log");
        let mut stored = log.records().to_vec();
        stored.extend([(*a, Label::new(vb)), (*b, Label::new(va))]);
        log.set_records(stored);
        let (anomalies, _) = check(&History::from_records(&swapped), &logs);
        assert_eq!(anomalies.nonmonotonic_sends, 1, "{anomalies:?}");
    }
}
