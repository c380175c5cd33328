//! Producer state of one partition replica: what the idempotent producer's checks need (KIP-98).
//!
//! Follows Kafka's `ProducerStateManager`, `ProducerStateEntry`, `ProducerAppendInfo` and
//! `UnifiedLog.analyzeAndValidateProducerState` (apache/kafka:
//! storage/src/main/java/org/apache/kafka/storage/internals/log/). Per producer id the replica
//! keeps the producer epoch and the metadata of the last [`NUM_BATCHES_TO_RETAIN`] batches
//! (first and last sequence, first and last offset, timestamp). A leader checks every client
//! batch against it before appending ([`ProducerStateManager::check_client_append`]); every
//! append, leader or follower, then updates it ([`ProducerStateManager::update`]).
//!
//! Differences from Kafka, on purpose:
//!
//! * Kafka writes a `.snapshot` file of this state per segment and, on recovery or truncation,
//!   loads the latest snapshot below the new end and replays only the batches after it. kafkalab
//!   writes no snapshot files and rebuilds the state from the whole log instead
//!   ([`ProducerStateManager::rebuild`]). The result is the same while every producer still has
//!   a batch in the log; a producer whose batches retention or the cleaner removed entirely is
//!   forgotten at the next rebuild, where Kafka would still know it from a snapshot. With KIP-360
//!   (2.5+) that only means the producer's next batch is accepted with any sequence.
//! * Producer ids do not expire (`producer.id.expiration.ms`, KIP-854), and transactions
//!   (coordinator epoch, open-transaction first offset, control batches) are not modelled:
//!   control batches are skipped.

use crate::error::ErrorCode;
use crate::record::{RecordBatch, NO_PRODUCER_ID};
use std::collections::{BTreeMap, VecDeque};

/// How many batches per producer id a replica remembers (Kafka's
/// `ProducerStateEntry.NUM_BATCHES_TO_RETAIN`). It matches the idempotent producer's cap of 5
/// in-flight requests per connection, so every retry still finds its original batch.
pub const NUM_BATCHES_TO_RETAIN: usize = 5;

/// `sequence + increment`, wrapping from `i32::MAX` to 0 as producer sequences do (Kafka's
/// `DefaultRecordBatch.incrementSequence`). `increment` is at least 0.
pub fn increment_sequence(sequence: i32, increment: i32) -> i32 {
    if sequence > i32::MAX - increment {
        increment - (i32::MAX - sequence) - 1
    } else {
        sequence + increment
    }
}

/// The sequence of a batch's last record: its base sequence plus its last offset delta,
/// wrapping (Kafka's `DefaultRecordBatch.lastSequence`). The cleaner keeps `last_offset_delta`
/// when it removes records, so a compacted batch keeps its sequence range.
pub fn last_sequence(batch: &RecordBatch) -> i32 {
    increment_sequence(batch.base_sequence(), batch.last_offset_delta())
}

/// Whether `next` is the sequence right after `last`, wrapping from `i32::MAX` to 0 (Kafka's
/// `ProducerAppendInfo.inSequence`).
pub fn in_sequence(last: i32, next: i32) -> bool {
    i64::from(next) == i64::from(last) + 1 || (next == 0 && last == i32::MAX)
}

/// What a replica remembers of one appended batch (Kafka's `BatchMetadata`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchMetadata {
    /// Sequence of the batch's first record.
    pub first_sequence: i32,
    /// Sequence of the batch's last record (wrapped, see [`last_sequence`]).
    pub last_sequence: i32,
    /// Offset of the batch's first record: what a duplicate is answered with.
    pub first_offset: i64,
    /// Offset of the batch's last record; an `acks=all` duplicate is answered once the high
    /// watermark passes it.
    pub last_offset: i64,
    /// The batch's largest record timestamp, in milliseconds.
    pub timestamp_ms: i64,
}

/// One producer id's state on a replica (Kafka's `ProducerStateEntry`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ProducerStateEntry {
    /// The epoch of the producer's latest batch.
    pub producer_epoch: i16,
    /// The last batches of that epoch, oldest first; at least one, at most
    /// [`NUM_BATCHES_TO_RETAIN`]. A new epoch starts the list afresh.
    pub batches: VecDeque<BatchMetadata>,
}

impl ProducerStateEntry {
    /// The last sequence of the newest batch.
    pub fn last_sequence(&self) -> i32 {
        self.batches.back().expect("a producer entry holds at least one batch").last_sequence
    }

    /// The cached batch with exactly this sequence range, if any (Kafka's
    /// `batchWithSequenceRange`).
    pub fn batch_with_sequence_range(&self, first_sequence: i32, last_sequence: i32) -> Option<BatchMetadata> {
        self.batches.iter().find(|b| b.first_sequence == first_sequence && b.last_sequence == last_sequence).copied()
    }
}

/// What a leader accepts as the first batch of a producer id it has no state for: a new
/// producer, or one whose batches are gone from the log. The era decides
/// ([`crate::era::Era::unknown_producer_rule`]).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum UnknownProducerRule {
    /// Before KIP-360 (Kafka 2.5): sequence 0 only, else `UNKNOWN_PRODUCER_ID` (59).
    SequenceZero,
    /// KIP-360 (2.5) until 4.5: any sequence, since the replica cannot tell a gap from a
    /// producer whose state expired.
    AnySequence,
    /// KAFKA-15591 (4.5), on a partition whose log has never held a record: sequence 0 only,
    /// else `OUT_OF_ORDER_SEQUENCE_NUMBER` (45). Without it, two batches in flight to a
    /// partition its leader has just learnt about can land in the wrong order: the first is
    /// refused because the broker does not know the partition yet, the second arrives once it
    /// does and is taken with any sequence. A partition that once held records keeps
    /// [`UnknownProducerRule::AnySequence`]; the log decides which applies
    /// ([`crate::log::PartitionLog::analyze_producer_append`]).
    SequenceZeroOnNeverWritten,
}

/// What a leader should do with a client's batch, when the producer checks pass.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ProducerAppendCheck {
    /// The batch has no producer id (a producer without idempotence): nothing to check.
    NoProducerId,
    /// The batch continues the producer's sequence (or starts a new epoch at 0): append it.
    Append,
    /// A retry of a batch the log already holds: append nothing and answer with the original
    /// batch's offsets and no error.
    Duplicate(BatchMetadata),
}

/// The producer state of one partition replica, by producer id (Kafka's
/// `ProducerStateManager`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ProducerStateManager {
    producers: BTreeMap<i64, ProducerStateEntry>,
}

impl ProducerStateManager {
    /// Rebuilds the state by replaying the producer fields of `batches`, oldest first, as a
    /// replica does after recovery or truncation (Kafka's `rebuildProducerState`, here always
    /// from the log start because kafkalab keeps no snapshot files).
    pub fn rebuild<'a>(batches: impl IntoIterator<Item = &'a RecordBatch>) -> ProducerStateManager {
        let mut state = ProducerStateManager::default();
        for batch in batches {
            state.update(batch);
        }
        state
    }

    /// The state of a producer id, if the replica has any.
    pub fn entry(&self, producer_id: i64) -> Option<&ProducerStateEntry> {
        self.producers.get(&producer_id)
    }

    /// Every producer id with state, in id order.
    pub fn producers(&self) -> impl Iterator<Item = (i64, &ProducerStateEntry)> + '_ {
        self.producers.iter().map(|(id, e)| (*id, e))
    }

    /// Checks a client's batch before a leader appends it, in Kafka's order
    /// (`analyzeAndValidateProducerState`, `ProducerAppendInfo.checkProducerEpoch` and
    /// `checkSequence`):
    ///
    /// 1. Same epoch and a cached batch with exactly the batch's (first, last) sequences →
    ///    [`ProducerAppendCheck::Duplicate`] with that batch's offsets.
    /// 2. An epoch below the producer's → `INVALID_PRODUCER_EPOCH` (47).
    /// 3. An epoch above the producer's → the first sequence must be 0, else
    ///    `OUT_OF_ORDER_SEQUENCE_NUMBER` (45).
    /// 4. The same epoch → the first sequence must follow the last one (wrapping from
    ///    `i32::MAX` to 0), else `OUT_OF_ORDER_SEQUENCE_NUMBER` (45).
    /// 5. No state for the producer id → as `unknown` says ([`UnknownProducerRule`]): before
    ///    KIP-360 (Kafka 2.5) only sequence 0, else `UNKNOWN_PRODUCER_ID` (59); from then on
    ///    any sequence; from KAFKA-15591 (4.5), on a log that never held a record, only
    ///    sequence 0, else `OUT_OF_ORDER_SEQUENCE_NUMBER` (45).
    ///
    /// A batch without a producer id (`producer_id` -1) is not checked. A batch with a producer
    /// id but a negative base sequence is refused with `INVALID_RECORD` (87), as Kafka's
    /// `LogValidator` refuses it.
    pub fn check_client_append(
        &self,
        batch: &RecordBatch,
        unknown: UnknownProducerRule,
    ) -> Result<ProducerAppendCheck, ErrorCode> {
        if batch.producer_id() <= NO_PRODUCER_ID {
            return Ok(ProducerAppendCheck::NoProducerId);
        }
        if batch.base_sequence() < 0 {
            return Err(ErrorCode::InvalidRecord);
        }
        let first = batch.base_sequence();
        let Some(entry) = self.producers.get(&batch.producer_id()) else {
            // New, or its batches are gone from the log: the replica cannot tell a gap from a
            // fresh start.
            return match unknown {
                _ if first == 0 => Ok(ProducerAppendCheck::Append),
                UnknownProducerRule::AnySequence => Ok(ProducerAppendCheck::Append),
                UnknownProducerRule::SequenceZero => Err(ErrorCode::UnknownProducerId),
                UnknownProducerRule::SequenceZeroOnNeverWritten => Err(ErrorCode::OutOfOrderSequenceNumber),
            };
        };
        let epoch = batch.producer_epoch();
        if epoch == entry.producer_epoch {
            if let Some(original) = entry.batch_with_sequence_range(first, last_sequence(batch)) {
                return Ok(ProducerAppendCheck::Duplicate(original));
            }
        }
        if epoch < entry.producer_epoch {
            return Err(ErrorCode::InvalidProducerEpoch);
        }
        if epoch > entry.producer_epoch {
            // A bumped epoch restarts the producer's sequences (KIP-360).
            return if first == 0 { Ok(ProducerAppendCheck::Append) } else { Err(ErrorCode::OutOfOrderSequenceNumber) };
        }
        if in_sequence(entry.last_sequence(), first) {
            Ok(ProducerAppendCheck::Append)
        } else {
            Err(ErrorCode::OutOfOrderSequenceNumber)
        }
    }

    /// Records an appended batch (offsets assigned), leader or follower alike, without checks:
    /// replication appends are not validated (Kafka's `AppendOrigin.REPLICATION`). A batch in a
    /// new epoch starts the producer's batch list afresh; the oldest of more than
    /// [`NUM_BATCHES_TO_RETAIN`] batches is forgotten. Batches without a producer id and control
    /// batches change nothing.
    pub fn update(&mut self, batch: &RecordBatch) {
        if batch.producer_id() <= NO_PRODUCER_ID || batch.is_control() {
            return;
        }
        let metadata = BatchMetadata {
            first_sequence: batch.base_sequence(),
            last_sequence: last_sequence(batch),
            first_offset: batch.base_offset(),
            last_offset: batch.last_offset(),
            timestamp_ms: batch.max_timestamp_ms(),
        };
        let entry = self
            .producers
            .entry(batch.producer_id())
            .or_insert_with(|| ProducerStateEntry { producer_epoch: batch.producer_epoch(), batches: VecDeque::new() });
        if entry.producer_epoch != batch.producer_epoch() {
            entry.producer_epoch = batch.producer_epoch();
            entry.batches.clear();
        }
        if entry.batches.len() == NUM_BATCHES_TO_RETAIN {
            entry.batches.pop_front();
        }
        entry.batches.push_back(metadata);
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::LogConfig;
    use crate::ids::TopicPartition;
    use crate::log::{Checkpoints, PartitionLog};
    use crate::node::DiskOp;
    use crate::record::Record;
    use std::sync::Arc;

    const PID: i64 = 1000;

    /// A client batch of `count` records from `PID` at `epoch`, sequences from `base_sequence`.
    fn batch(epoch: i16, base_sequence: i32, count: i32) -> RecordBatch {
        let records = (0..count)
            .map(|i| Record {
                offset_delta: i,
                timestamp_ms: 100,
                key: None,
                value: Some(Arc::from("v")),
                headers: Default::default(),
            })
            .collect();
        let mut b = RecordBatch::new(0, 0, 100, records);
        b.header_mut().producer_id = PID;
        b.header_mut().producer_epoch = epoch;
        b.header_mut().base_sequence = base_sequence;
        b
    }

    /// Appends as a leader would: offsets from `next_offset`, then the state update.
    fn append(state: &mut ProducerStateManager, next_offset: &mut i64, mut b: RecordBatch) -> i64 {
        b.header_mut().base_offset = *next_offset;
        *next_offset = b.next_offset();
        state.update(&b);
        b.base_offset()
    }

    fn check(state: &ProducerStateManager, b: &RecordBatch) -> Result<ProducerAppendCheck, ErrorCode> {
        state.check_client_append(b, UnknownProducerRule::AnySequence)
    }

    #[test]
    fn sequences_wrap_from_int_max_to_zero() {
        assert_eq!(increment_sequence(5, 3), 8);
        assert_eq!(increment_sequence(i32::MAX, 0), i32::MAX);
        assert_eq!(increment_sequence(i32::MAX, 1), 0);
        assert_eq!(increment_sequence(i32::MAX - 1, 3), 1);
        assert!(in_sequence(i32::MAX, 0));
        assert!(in_sequence(4, 5));
        assert!(!in_sequence(4, 4) && !in_sequence(4, 6) && !in_sequence(i32::MAX, 1));
        // Three records from MAX - 1: MAX - 1, MAX, 0.
        assert_eq!(last_sequence(&batch(0, i32::MAX - 1, 3)), 0);
    }

    #[test]
    fn batches_without_a_producer_id_are_not_checked() {
        let state = ProducerStateManager::default();
        let mut b = batch(0, 7, 1);
        b.header_mut().producer_id = NO_PRODUCER_ID;
        assert_eq!(check(&state, &b), Ok(ProducerAppendCheck::NoProducerId));
        let mut s = state.clone();
        s.update(&b);
        assert_eq!(s, ProducerStateManager::default());
        // With a producer id, a missing sequence is a malformed batch.
        assert_eq!(check(&state, &batch(0, -1, 1)), Err(ErrorCode::InvalidRecord));
    }

    #[test]
    fn each_of_the_last_five_batches_is_a_duplicate_answered_with_its_original_offset() {
        let mut state = ProducerStateManager::default();
        let mut next = 0;
        // Six batches of two records: sequences 0-1, 2-3, ..., 10-11 at offsets 0, 2, ..., 10.
        let offsets: Vec<i64> = (0..6).map(|i| append(&mut state, &mut next, batch(0, i * 2, 2))).collect();
        assert_eq!(offsets, vec![0, 2, 4, 6, 8, 10]);
        assert_eq!(state.entry(PID).unwrap().batches.len(), NUM_BATCHES_TO_RETAIN);
        for i in 1..6 {
            let retry = batch(0, i * 2, 2);
            let original = BatchMetadata {
                first_sequence: i * 2,
                last_sequence: i * 2 + 1,
                first_offset: i64::from(i) * 2,
                last_offset: i64::from(i) * 2 + 1,
                timestamp_ms: 100,
            };
            assert_eq!(check(&state, &retry), Ok(ProducerAppendCheck::Duplicate(original)), "batch {i}");
        }
        // The sixth-oldest batch is no longer cached: its retry is out of order, not a duplicate.
        assert_eq!(check(&state, &batch(0, 0, 2)), Err(ErrorCode::OutOfOrderSequenceNumber));
        // Only the exact range matches: a different split of cached sequences is out of order.
        assert_eq!(check(&state, &batch(0, 10, 1)), Err(ErrorCode::OutOfOrderSequenceNumber));
        // The next batch continues at 12.
        assert_eq!(check(&state, &batch(0, 12, 3)), Ok(ProducerAppendCheck::Append));
        assert_eq!(check(&state, &batch(0, 13, 1)), Err(ErrorCode::OutOfOrderSequenceNumber));
    }

    #[test]
    fn the_checks_apply_in_kafkas_order() {
        let mut state = ProducerStateManager::default();
        let mut next = 0;
        append(&mut state, &mut next, batch(3, 0, 1));
        append(&mut state, &mut next, batch(3, 1, 1));
        // 1. A duplicate wins over everything.
        assert!(matches!(check(&state, &batch(3, 1, 1)), Ok(ProducerAppendCheck::Duplicate(_))));
        // 2. A lower epoch is fenced, whatever its sequence (even one that would be a duplicate
        //    in its own epoch).
        assert_eq!(check(&state, &batch(2, 2, 1)), Err(ErrorCode::InvalidProducerEpoch));
        assert_eq!(check(&state, &batch(2, 1, 1)), Err(ErrorCode::InvalidProducerEpoch));
        // 3. A higher epoch must start at sequence 0.
        assert_eq!(check(&state, &batch(4, 2, 1)), Err(ErrorCode::OutOfOrderSequenceNumber));
        assert_eq!(check(&state, &batch(4, 0, 1)), Ok(ProducerAppendCheck::Append));
        // 4. The same epoch must continue the sequence: no gap, no going back.
        assert_eq!(check(&state, &batch(3, 2, 1)), Ok(ProducerAppendCheck::Append));
        assert_eq!(check(&state, &batch(3, 3, 1)), Err(ErrorCode::OutOfOrderSequenceNumber));
        assert_eq!(check(&state, &batch(3, 0, 2)), Err(ErrorCode::OutOfOrderSequenceNumber));
    }

    #[test]
    fn a_new_epoch_forgets_the_old_epochs_batches() {
        let mut state = ProducerStateManager::default();
        let mut next = 0;
        append(&mut state, &mut next, batch(0, 0, 1));
        append(&mut state, &mut next, batch(0, 1, 1));
        append(&mut state, &mut next, batch(1, 0, 1));
        let entry = state.entry(PID).unwrap();
        assert_eq!(entry.producer_epoch, 1);
        assert_eq!(entry.batches.len(), 1);
        assert_eq!(entry.batches[0].first_offset, 2);
        // A retry of the old epoch's batch is now fenced rather than a duplicate.
        assert_eq!(check(&state, &batch(0, 1, 1)), Err(ErrorCode::InvalidProducerEpoch));
    }

    #[test]
    fn an_unknown_producer_id_takes_any_sequence_from_kip_360_on() {
        let state = ProducerStateManager::default();
        // 2.5+ (KIP-360): the broker cannot tell a gap from a producer whose state is gone.
        assert_eq!(
            state.check_client_append(&batch(0, 42, 1), UnknownProducerRule::AnySequence),
            Ok(ProducerAppendCheck::Append)
        );
        assert_eq!(
            state.check_client_append(&batch(0, 0, 1), UnknownProducerRule::AnySequence),
            Ok(ProducerAppendCheck::Append)
        );
        // Before: only a producer starting at sequence 0 is accepted.
        assert_eq!(
            state.check_client_append(&batch(0, 42, 1), UnknownProducerRule::SequenceZero),
            Err(ErrorCode::UnknownProducerId)
        );
        assert_eq!(
            state.check_client_append(&batch(5, 0, 1), UnknownProducerRule::SequenceZero),
            Ok(ProducerAppendCheck::Append)
        );
        // 4.5+ (KAFKA-15591), on a log that never held a record: sequence 0 only, and a gap is
        // an out-of-order sequence the producer retries, not an unknown producer.
        let never_written = UnknownProducerRule::SequenceZeroOnNeverWritten;
        assert_eq!(
            state.check_client_append(&batch(0, 42, 1), never_written),
            Err(ErrorCode::OutOfOrderSequenceNumber)
        );
        assert_eq!(state.check_client_append(&batch(0, 0, 1), never_written), Ok(ProducerAppendCheck::Append));
    }

    #[test]
    fn the_sequence_wraps_from_int_max_to_zero() {
        let mut state = ProducerStateManager::default();
        let mut next = 0;
        append(&mut state, &mut next, batch(0, i32::MAX - 1, 2));
        assert_eq!(state.entry(PID).unwrap().last_sequence(), i32::MAX);
        assert_eq!(check(&state, &batch(0, 0, 2)), Ok(ProducerAppendCheck::Append));
        assert_eq!(check(&state, &batch(0, i32::MAX, 1)), Err(ErrorCode::OutOfOrderSequenceNumber));
        // A batch straddling the wrap: sequences MAX, 0, 1.
        let mut state = ProducerStateManager::default();
        let mut next = 0;
        append(&mut state, &mut next, batch(0, i32::MAX, 3));
        assert_eq!(state.entry(PID).unwrap().last_sequence(), 1);
        assert!(matches!(check(&state, &batch(0, i32::MAX, 3)), Ok(ProducerAppendCheck::Duplicate(_))));
        assert_eq!(check(&state, &batch(0, 2, 1)), Ok(ProducerAppendCheck::Append));
    }

    #[test]
    fn follower_updates_are_not_checked() {
        let mut state = ProducerStateManager::default();
        let mut next = 0;
        append(&mut state, &mut next, batch(3, 0, 1));
        // A replicated batch with a gap and a lower epoch is taken as it is.
        append(&mut state, &mut next, batch(2, 9, 1));
        let entry = state.entry(PID).unwrap();
        assert_eq!((entry.producer_epoch, entry.last_sequence(), entry.batches.len()), (2, 9, 1));
    }

    // ---- integration with the partition log ----

    fn tp() -> TopicPartition {
        TopicPartition::new("t", 0)
    }

    /// Applies disk writes to an in-memory data directory, every write durable.
    fn apply(files: &mut BTreeMap<String, Vec<u8>>, ops: Vec<DiskOp>) {
        for op in ops {
            match op {
                DiskOp::Append { path, bytes } => files.entry(path.to_string()).or_default().extend_from_slice(&bytes),
                DiskOp::Truncate { path, len_bytes } => {
                    if let Some(f) = files.get_mut(&path) {
                        f.truncate(len_bytes as usize);
                    }
                }
                DiskOp::WriteAtomically { path, bytes } => {
                    files.insert(path, bytes);
                }
                DiskOp::Delete { path } => {
                    files.remove(&path);
                }
                DiskOp::Flush { .. } => {}
            }
        }
    }

    /// A log with small segments holding 12 batches: nine of `PID` (epoch 0, then 1), one
    /// without a producer id, then two of `PID + 1`.
    fn populated_log() -> (PartitionLog, Vec<RecordBatch>) {
        let config = LogConfig { segment_bytes: 300, ..LogConfig::default() };
        let mut log = PartitionLog::new(tp(), config, 0);
        let mut sent = Vec::new();
        for i in 0..12 {
            let mut b = match i {
                0..=6 => batch(0, i * 2, 2),
                7 => batch(1, 0, 1),
                8 => batch(1, 1, 2),
                _ => batch(0, i - 10, 1),
            };
            match i {
                9 => b.header_mut().producer_id = NO_PRODUCER_ID,
                10 | 11 => b.header_mut().producer_id = PID + 1,
                _ => {}
            }
            let appended = log.append_batch_as_leader(0, b, 100);
            sent.push((*appended).clone());
        }
        (log, sent)
    }

    #[test]
    fn the_log_keeps_its_producer_state_and_checks_client_batches() {
        let (log, sent) = populated_log();
        assert_eq!(log.producer_state(), &ProducerStateManager::rebuild(&sent));
        let entry = log.producer_state().entry(PID).unwrap();
        assert_eq!((entry.producer_epoch, entry.last_sequence(), entry.batches.len()), (1, 2, 2));
        let retry = batch(1, 1, 2);
        let original = sent[8].base_offset();
        assert!(matches!(
            log.analyze_producer_append(&retry, UnknownProducerRule::AnySequence),
            Ok(ProducerAppendCheck::Duplicate(BatchMetadata { first_offset, .. })) if first_offset == original
        ));
        assert_eq!(
            log.analyze_producer_append(&batch(0, 14, 1), UnknownProducerRule::AnySequence),
            Err(ErrorCode::InvalidProducerEpoch)
        );
    }

    /// KAFKA-15591 (4.5): the rule for an unknown producer depends on whether the log has ever
    /// held a record. An empty new log takes only sequence 0; once a record is in (here another
    /// producer's), any first sequence goes again, as it does in a log whose start has moved.
    #[test]
    fn a_log_that_never_held_a_record_takes_only_sequence_zero_from_kafka_4_5_on() {
        let rule = UnknownProducerRule::SequenceZeroOnNeverWritten;
        let mut log = PartitionLog::new(tp(), LogConfig::default(), 0);
        assert_eq!(log.analyze_producer_append(&batch(0, 34, 1), rule), Err(ErrorCode::OutOfOrderSequenceNumber));
        assert_eq!(
            log.analyze_producer_append(&batch(0, 34, 1), UnknownProducerRule::AnySequence),
            Ok(ProducerAppendCheck::Append)
        );
        assert_eq!(log.analyze_producer_append(&batch(0, 0, 1), rule), Ok(ProducerAppendCheck::Append));
        let mut other = batch(0, 0, 1);
        other.header_mut().producer_id = PID + 1;
        log.append_batch_as_leader(0, other, 100);
        assert_eq!(log.analyze_producer_append(&batch(0, 34, 1), rule), Ok(ProducerAppendCheck::Append));
        let mut moved = PartitionLog::new(tp(), LogConfig::default(), 0);
        moved.truncate_fully_and_start_at(100, 200);
        assert_eq!(moved.analyze_producer_append(&batch(0, 34, 1), rule), Ok(ProducerAppendCheck::Append));
    }

    #[test]
    fn truncation_rebuilds_the_state_of_the_kept_prefix() {
        let (full, sent) = populated_log();
        assert!(full.segments().len() > 2, "the test needs several segments");
        for keep in 0..sent.len() {
            let mut log = full.clone();
            log.truncate_to(sent[keep].base_offset(), 200);
            assert_eq!(log.log_end_offset(), sent[keep].base_offset());
            let expected = ProducerStateManager::rebuild(&sent[..keep]);
            assert_eq!(log.producer_state(), &expected, "truncated to batch {keep}");
        }
        let mut log = full.clone();
        log.truncate_fully_and_start_at(100, 200);
        assert_eq!(log.producer_state(), &ProducerStateManager::default());
    }

    #[test]
    fn recovery_rebuilds_the_same_state() {
        let (mut log, sent) = populated_log();
        let mut files = BTreeMap::new();
        apply(&mut files, log.take_disk_ops());
        let prefix = format!("{}/", PartitionLog::dir_name(&tp()));
        let dir: BTreeMap<String, Vec<u8>> = files
            .iter()
            .filter_map(|(path, bytes)| path.strip_prefix(&prefix).map(|name| (name.to_string(), bytes.clone())))
            .collect();
        let loaded = PartitionLog::load(tp(), log.config().clone(), &dir, Checkpoints::default(), 300);
        assert_eq!(loaded.log_end_offset(), log.log_end_offset());
        assert_eq!(loaded.producer_state(), log.producer_state());
        assert_eq!(loaded.producer_state(), &ProducerStateManager::rebuild(&sent));
        // A torn last batch is cut on recovery, and so is its producer state.
        let active = dir.keys().filter(|name| name.ends_with(".log")).max().unwrap().clone();
        let mut torn = dir.clone();
        let bytes = torn.get_mut(&active).unwrap();
        bytes.truncate(bytes.len() - 3);
        let loaded = PartitionLog::load(tp(), log.config().clone(), &torn, Checkpoints::default(), 300);
        assert_eq!(loaded.log_end_offset(), sent[11].base_offset());
        assert_eq!(loaded.producer_state(), &ProducerStateManager::rebuild(&sent[..11]));
    }
}
