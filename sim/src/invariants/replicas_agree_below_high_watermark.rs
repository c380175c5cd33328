//! *ReplicasAgreeBelowHighWatermark*: no two replicas hold different records below both their
//! high watermarks.
//!
//! Committed records are never lost or changed: a record below the high watermark is on every
//! ISR member, and leader epochs (KIP-101, KIP-279) make a replica that rejoins truncate
//! whatever the leader does not have before it fetches on, so replicas that agree on an
//! offset's epoch agree on everything before it (kafka-semantics §7, §10: "resynchronised
//! replicas agree up to the shorter LEO"). Before KIP-101 the second scenario of §10 broke it:
//! two replicas kept different records at one offset for good. The check is the partition
//! version of Kafka's Raft simulation's `ConsistentCommittedData` (apache/kafka:
//! raft/src/test/java/org/apache/kafka/raft/RaftEventSimulationTest.java): every record below a
//! replica's high watermark must equal the record first seen committed at that offset on any
//! replica, which also catches a committed record replaced after every replica that held it
//! went away (a power loss on all of them).
//!
//! An unclean election that the topic allows (`unclean.leader.election.enable`, KIP-106) gives
//! up committed records knowingly: the new leader's log is the partition from then on. So does
//! a failure outside Kafka's promise ("as long as one in-sync replica stays alive"): every
//! replica down at once, one of them back with less than it had. A record written in or after
//! such an epoch that differs from one first seen committed before it replaces it as the first
//! seen, and the other replicas are compared again from there. A replica that keeps the old
//! record after that (before KIP-101 a returning replica did) now disagrees with the partition
//! and is caught.
//!
//! A disagreement is judged on ISR members. A replica outside the ISR may still be
//! resynchronising: a restarted replica comes back with its old log and its checkpointed high
//! watermark and learns where to truncate only from its first exchange with the leader
//! (`OffsetsForLeaderEpoch`, or the fetch response's diverging epoch since Kafka 2.7), so for a
//! moment it holds a lost record below its high watermark. Its disagreement is held, and judged
//! again whenever the replica changes; at the latest when it rejoins the ISR, which is when
//! Kafka counts it as holding the committed log again.
//!
//! Incremental: per partition the records first seen committed, by offset (the stored batch is
//! shared, so keeping it costs a reference count, and consecutive records of one batch first
//! seen on one broker are kept as one run: a long run commits millions of records), and per
//! replica the offset
//! below which it was compared. Each record is compared once per replica, when the replica's
//! high watermark passes it; a replica that restarted or truncated is compared again from its
//! log start. A follower whose high watermark lags compares less, never differently. Records
//! compaction removed are simply absent: they are not compared, and are not a disagreement.

use super::{describe_record, LogRead};
use cluster::ids::{NodeId, TopicPartition};
use cluster::record::{Record, RecordBatch};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The record first seen committed at an offset.
#[derive(Clone, Copy, Debug)]
struct FirstSeen<'a> {
    batch: &'a Arc<RecordBatch>,
    index: usize,
    broker: NodeId,
}

/// The records of the batches compared last, decoded once for all the records compared in
/// them: two copies are compared record by record only when they are neither the same stored
/// batch nor the same bytes (a compacted copy, or a different record), and decoding a batch
/// per record would cost its length squared. A batch that holds its records decoded is
/// borrowed, not copied. Kept per partition from one observation to the next: a replica
/// outside the ISR that holds a disagreement is compared again at every quantum.
#[derive(Clone, Debug, Default)]
struct Decoded {
    /// The batch a first-seen record came from, and its records when they had to be decoded.
    first: Option<(Arc<RecordBatch>, Option<Vec<Record>>)>,
    /// The replica's batch being compared, and its records when they had to be decoded.
    replica: Option<(Arc<RecordBatch>, Option<Vec<Record>>)>,
    /// The last two batches whose bytes were compared, and whether they were the same: a
    /// batch's records are compared one by one, and its bytes once.
    same: Option<(Arc<RecordBatch>, Arc<RecordBatch>, bool)>,
}

impl Decoded {
    fn records<'a>(
        slot: &'a mut Option<(Arc<RecordBatch>, Option<Vec<Record>>)>,
        batch: &Arc<RecordBatch>,
    ) -> &'a [Record] {
        if !slot.as_ref().is_some_and(|(b, _)| Arc::ptr_eq(b, batch)) {
            let decoded = batch.decoded_records().is_none().then(|| batch.records().into_owned());
            *slot = Some((Arc::clone(batch), decoded));
        }
        let (batch, decoded) = slot.as_ref().expect("set above");
        decoded.as_deref().or_else(|| batch.decoded_records()).expect("decoded or held decoded")
    }

    /// Whether `a` and `b` hold the same bytes ([`RecordBatch::same_bytes`]).
    fn same_bytes(&mut self, a: &Arc<RecordBatch>, b: &Arc<RecordBatch>) -> bool {
        match &self.same {
            Some((x, y, same)) if Arc::ptr_eq(x, a) && Arc::ptr_eq(y, b) => *same,
            _ => {
                let same = a.same_bytes(b);
                self.same = Some((Arc::clone(a), Arc::clone(b), same));
                same
            }
        }
    }

    /// The first-seen record `first` and the replica's record at `index` of `batch`.
    fn pair<'a>(
        &'a mut self,
        first: &FirstSeen<'_>,
        batch: &Arc<RecordBatch>,
        index: usize,
    ) -> (&'a Record, &'a Record) {
        let Decoded { first: first_slot, replica, .. } = self;
        (&Decoded::records(first_slot, first.batch)[first.index], &Decoded::records(replica, batch)[index])
    }
}

/// Records first seen committed on one broker that are consecutive records of one batch:
/// `batch.records()[first..first + len]`. Their offsets ascend but need not be consecutive (a
/// compacted batch has gaps); an offset in a gap is not in the run. A run reads only offsets,
/// which a batch gives without decoding its records ([`RecordBatch::offset_at`]).
///
/// 16 bytes: a run holds at most 65,535 records (a longer stretch of one batch is two runs),
/// and its broker is a place in [`FirstSeenLog::brokers`].
#[derive(Clone, Debug)]
struct Run {
    batch: Arc<RecordBatch>,
    first: u32,
    len: u16,
    broker: u16,
}

impl Run {
    /// The offset of the run's record at position `at`.
    fn offset(&self, at: u32) -> i64 {
        debug_assert!(at < u32::from(self.len));
        self.batch.offset_at((self.first + at) as usize)
    }

    /// The position of the first record at or after `offset` (`len` when there is none).
    fn position(&self, offset: i64) -> u32 {
        let index = self.batch.index_at_or_after(offset) as u32;
        index.clamp(self.first, self.first + u32::from(self.len)) - self.first
    }

    /// The run's records from position `at` on, as a run (empty when `at` is the end).
    fn rest_from(&self, at: u32) -> Option<(i64, Run)> {
        let len = self.len - u16::try_from(at).expect("a position within the run");
        let rest = Run { batch: self.batch.clone(), first: self.first + at, len, broker: self.broker };
        (rest.len > 0).then(|| (rest.offset(0), rest))
    }
}

/// The records first seen committed in one partition, by offset, as runs keyed by their first
/// offset. They behave as a map from offset to [`FirstSeen`]; the runs only save memory.
///
/// The runs are a vector sorted by first offset, not a `BTreeMap`: nearly every run is added at
/// the end (the high watermark moves forward), a vector holds a run in 24 bytes where the map's
/// half-full nodes took about 64, and it grows by a quarter at a time instead of doubling. A
/// long run keeps a run per committed batch: heavy.ron's 335,000.
#[derive(Clone, Debug, Default)]
struct FirstSeenLog {
    /// `(first offset, run)`, ascending; each run ends before the next one starts.
    runs: Vec<(i64, Run)>,
    /// The brokers the runs were first seen on, each once, in the order they first came.
    brokers: Vec<NodeId>,
}

impl FirstSeenLog {
    /// The index of the run that would hold `offset` (the last one starting at or before it),
    /// with the position in it of the first record at or after `offset`.
    fn locate(&self, offset: i64) -> Option<(usize, &Run, u32)> {
        let i = self.partition_from_end(|start| start <= offset).checked_sub(1)?;
        let run = &self.runs[i].1;
        Some((i, run, run.position(offset)))
    }

    /// As [`FirstSeenLog::locate`], for offsets asked for in ascending order: `cursor` is the
    /// index found last (any index will do; 0 to start). A replica's batches follow the runs
    /// one after another, so the run sought is most often the one at `cursor` or the next, found
    /// without searching the whole log (heavy.ron keeps a run per committed batch, tens of
    /// thousands per partition, and a search of them cost about 200 instructions).
    fn locate_from(&self, offset: i64, cursor: &mut usize) -> Option<(usize, &Run, u32)> {
        let start_at = |i: usize| self.runs.get(i).map(|(start, _)| *start);
        let i = if start_at(*cursor).is_some_and(|start| start <= offset) {
            // The runs are sorted, so the one sought is at the cursor or after it.
            let after = *cursor + 1;
            if start_at(after).is_none_or(|start| start > offset) {
                *cursor
            } else if start_at(after + 1).is_none_or(|start| start > offset) {
                after
            } else {
                self.partition_from_end(|start| start <= offset) - 1
            }
        } else {
            self.partition_from_end(|start| start <= offset).checked_sub(1)?
        };
        *cursor = i;
        let run = &self.runs[i].1;
        Some((i, run, run.position(offset)))
    }

    fn get(&self, offset: i64) -> Option<FirstSeen<'_>> {
        let (_, run, at) = self.locate(offset)?;
        (at < u32::from(run.len) && run.offset(at) == offset).then_some(FirstSeen {
            batch: &run.batch,
            index: (run.first + at) as usize,
            broker: self.brokers[usize::from(run.broker)],
        })
    }

    /// The number of runs whose start satisfies `starts_before`, which must hold for a prefix
    /// of the runs (as `slice::partition_point` asks): found by probing back from the end at
    /// distances 1, 2, 4, ..., then searching between the last two probes.
    ///
    /// Why from the end: the offsets looked up and the runs put are nearly always near the
    /// high watermark, at the end of a vector of tens of thousands of runs per partition in
    /// heavy.ron. A search of the whole vector touched about fifteen runs, most of them cache
    /// misses; this touches a few runs next to the last, which the last append left in the
    /// cache.
    fn partition_from_end(&self, starts_before: impl Fn(i64) -> bool) -> usize {
        let n = self.runs.len();
        let mut step = 1;
        // Every run from `n - step / 2` on starts too late; the loop ends at a run that does
        // not, or past the first run.
        while step <= n && !starts_before(self.runs[n - step].0) {
            step *= 2;
        }
        let (low, high) = (n.saturating_sub(step), n - step / 2);
        low + self.runs[low..high].partition_point(|(start, _)| starts_before(*start))
    }

    /// Puts `run`, starting at `start`, in its place; no run starts there.
    fn put(&mut self, start: i64, run: Run) {
        let i = self.partition_from_end(|s| s < start);
        debug_assert!(self.runs.get(i).is_none_or(|(s, _)| *s > start), "a run already starts at {start}");
        if self.runs.len() == self.runs.capacity() {
            self.runs.reserve_exact((self.runs.len() / 4).max(16));
        }
        self.runs.insert(i, (start, run));
    }

    /// Makes `batch.records()[index]` (at `offset`) the record first seen at `offset`, on
    /// `broker`, replacing any record there.
    fn insert(&mut self, offset: i64, batch: &Arc<RecordBatch>, index: usize, broker: NodeId) {
        // Cut the run that spans `offset` (a replaced record, or a gap) so none does.
        if let Some((i, run, at)) = self.locate(offset) {
            if at < u32::from(run.len) {
                let replaced = run.offset(at) == offset;
                let after = run.rest_from(if replaced { at + 1 } else { at });
                if at == 0 {
                    self.runs.remove(i);
                } else {
                    self.runs[i].1.len = u16::try_from(at).expect("a position within the run");
                }
                if let Some((next, rest)) = after {
                    self.put(next, rest);
                }
            }
        }
        // Extend the run before it when the record follows that run's last one in its batch.
        let index = u32::try_from(index).expect("a batch holds fewer than 2^32 records");
        let broker = self.place(broker);
        let before = self.partition_from_end(|start| start < offset);
        if let Some((_, run)) = before.checked_sub(1).map(|i| &mut self.runs[i]) {
            let follows = run.first + u32::from(run.len) == index;
            if Arc::ptr_eq(&run.batch, batch) && run.broker == broker && follows && run.len < u16::MAX {
                run.len += 1;
                return;
            }
        }
        self.put(offset, Run { batch: batch.clone(), first: index, len: 1, broker });
    }

    /// `broker`'s place in [`FirstSeenLog::brokers`], added when it is new.
    fn place(&mut self, broker: NodeId) -> u16 {
        let place = match self.brokers.iter().position(|b| *b == broker) {
            Some(place) => place,
            None => {
                self.brokers.push(broker);
                self.brokers.len() - 1
            }
        };
        u16::try_from(place).expect("a partition's records are first seen on fewer than 65,536 brokers")
    }

    /// Whether every run ends before `offset`: nothing is first seen at or after it.
    fn ends_before(&self, offset: i64) -> bool {
        self.runs.last().is_none_or(|(_, run)| run.offset(u32::from(run.len) - 1) < offset)
    }

    /// Makes `batch.records()[start..end]` the records first seen at their offsets, on
    /// `broker`, when every run ends before the first of them ([`FirstSeenLog::ends_before`]):
    /// the same runs as inserting them one by one ([`FirstSeenLog::insert`]), found without a
    /// search per record. This is how nearly every record is first seen, at the end of the log,
    /// as the high watermark moves on; heavy.ron first sees about 20,000 a second.
    fn append(&mut self, batch: &Arc<RecordBatch>, start: usize, end: usize, broker: NodeId) {
        debug_assert!(start < end && self.ends_before(batch.offset_at(start)));
        let broker = self.place(broker);
        let mut index = u32::try_from(start).expect("a batch holds fewer than 2^32 records");
        let end = u32::try_from(end).expect("a batch holds fewer than 2^32 records");
        while index < end {
            if let Some((_, run)) = self.runs.last_mut() {
                let follows = run.first + u32::from(run.len) == index;
                if Arc::ptr_eq(&run.batch, batch) && run.broker == broker && follows && run.len < u16::MAX {
                    let added = (end - index).min(u32::from(u16::MAX - run.len));
                    run.len += u16::try_from(added).expect("at most what a run has room for");
                    index += added;
                    continue;
                }
            }
            self.put(batch.offset_at(index as usize), Run { batch: batch.clone(), first: index, len: 1, broker });
            index += 1;
        }
    }
}

#[derive(Clone, Debug, Default)]
struct PartitionHistory {
    committed: FirstSeenLog,
    /// Per replica, offsets below this were compared.
    checked: BTreeMap<NodeId, i64>,
    /// Leader epochs from which committed records may legitimately be gone: an unclean
    /// election the topic allows, or the first epoch after every replica lost its copy.
    reset_epochs: BTreeSet<i32>,
    /// The batches compared record by record last.
    decoded: Decoded,
}

/// Per partition, the committed records as first seen and how far each replica was compared.
#[derive(Clone, Debug, Default)]
pub struct ReplicasAgreeBelowHighWatermark {
    partitions: BTreeMap<TopicPartition, PartitionHistory>,
}

/// Whether two copies of the record at one offset are the same record: the same leader epoch
/// and the same contents (timestamp, key, value, headers). Compaction and recompression change
/// neither.
fn same(a_batch: &RecordBatch, a: &Record, b_batch: &RecordBatch, b: &Record) -> bool {
    a_batch.partition_leader_epoch() == b_batch.partition_leader_epoch()
        && a.timestamp_ms == b.timestamp_ms
        && a.key == b.key
        && a.value == b.value
        && a.headers == b.headers
}

impl ReplicasAgreeBelowHighWatermark {
    /// The controller elected a leader of `tp` uncleanly in `leader_epoch`, and the topic
    /// allows it.
    pub fn unclean_election(&mut self, tp: &TopicPartition, leader_epoch: i32) {
        self.history_lost(tp, leader_epoch);
    }

    /// Committed records of `tp` may have been lost beyond Kafka's promise (every replica was
    /// down at once, one came back with less than it had): records of leader epochs from
    /// `from_epoch` on may replace earlier ones.
    pub fn history_lost(&mut self, tp: &TopicPartition, from_epoch: i32) {
        self.partitions.entry(tp.clone()).or_default().reset_epochs.insert(from_epoch);
    }

    /// Compares the records of `broker`'s replica of `tp` below its high watermark that were
    /// not compared yet. `fresh` says the replica's log may have been rewritten since its last
    /// observation (first sighting, restart, truncation): it is compared again from its start.
    /// `in_isr` says whether the replica is in the ISR it knows; outside it, a disagreement is
    /// held and compared again at the next observation.
    ///
    /// # Errors
    /// The first offset where the replica holds another record than the one first seen
    /// committed there, with both records.
    pub fn observe(
        &mut self,
        broker: NodeId,
        tp: &TopicPartition,
        log: &impl LogRead,
        fresh: bool,
        in_isr: bool,
    ) -> Result<(), String> {
        let history = self.partitions.entry(tp.clone()).or_default();
        if fresh {
            history.checked.remove(&broker);
        }
        let high_watermark = log.high_watermark();
        let from = history.checked.get(&broker).copied().unwrap_or(i64::MIN).max(log.log_start_offset());
        if from >= high_watermark {
            return Ok(());
        }
        let mut verdict = Ok(());
        // Where a held disagreement stops the comparison, for a replica outside the ISR.
        let mut held = None;
        let decoded = &mut history.decoded;
        // Where the last batch's run was found: the next batch's is most often the next run.
        let mut cursor = 0;
        'batches: for batch in log.batches_from(from) {
            if batch.base_offset() >= high_watermark {
                break;
            }
            // Most often the records to compare were first seen in this very stored batch (the
            // replicas share their leader's batches), as one run: then all of them agree, and
            // one lookup settles the batch instead of one per record.
            let (start, end) = (batch.index_at_or_after(from), batch.index_at_or_after(high_watermark));
            if start < end {
                // Records past everything first seen so far are first seen here, all of them.
                if history.committed.ends_before(batch.offset_at(start)) {
                    history.committed.append(batch, start, end, broker);
                    continue;
                }
                if let Some((_, run, _)) = history.committed.locate_from(batch.offset_at(start), &mut cursor) {
                    let indexes = run.first as usize..(run.first as usize + usize::from(run.len));
                    if Arc::ptr_eq(&run.batch, batch) && indexes.contains(&start) && end <= indexes.end {
                        continue;
                    }
                }
            }
            for (index, offset) in batch.record_offsets().enumerate() {
                if offset < from {
                    continue;
                }
                if offset >= high_watermark {
                    break;
                }
                match history.committed.get(offset) {
                    // The same stored batch, or a copy of its bytes (a replica that read its log
                    // back from disk): the same record, known without decoding.
                    Some(first)
                        if first.index == index
                            && (Arc::ptr_eq(first.batch, batch) || decoded.same_bytes(first.batch, batch)) => {}
                    Some(first)
                        if {
                            let (first_record, record) = decoded.pair(&first, batch, index);
                            same(first.batch, first_record, batch, record)
                        } => {}
                    Some(first) => {
                        let (before, now) = (first.batch.partition_leader_epoch(), batch.partition_leader_epoch());
                        if before < now && history.reset_epochs.range(before + 1..=now).next().is_some() {
                            // Lost to an allowed unclean election, or beyond Kafka's promise:
                            // this is the partition now.
                            history.committed.insert(offset, batch, index, broker);
                            for checked in history.checked.values_mut() {
                                *checked = (*checked).min(offset);
                            }
                            continue;
                        }
                        if !in_isr {
                            held = Some(offset);
                            break 'batches;
                        }
                        if verdict.is_ok() {
                            let (first_record, record) = decoded.pair(&first, batch, index);
                            verdict = Err(format!(
                                "broker {broker} holds {} (leader epoch {}) at offset {offset} of {tp}, below its \
                                 high watermark {high_watermark}, but broker {} held {} (leader epoch {}) there, \
                                 committed first",
                                describe_record(record),
                                batch.partition_leader_epoch(),
                                first.broker,
                                describe_record(first_record),
                                first.batch.partition_leader_epoch()
                            ));
                        }
                    }
                    None => {
                        history.committed.insert(offset, batch, index, broker);
                    }
                }
            }
        }
        history.checked.insert(broker, held.unwrap_or(high_watermark));
        verdict
    }
}

#[cfg(test)]
mod tests {
    use super::super::test_log::{record, TestLog};
    use super::*;

    const A: NodeId = NodeId(1);
    const B: NodeId = NodeId(2);

    fn tp() -> TopicPartition {
        TopicPartition::new("payments", 0)
    }

    #[test]
    fn different_records_below_both_high_watermarks_are_caught() {
        // KIP-101's second scenario: offset 1 is m2 on one replica and m3 on the other.
        let mut a = TestLog::default();
        a.append(0, vec![record("acct-1", Some("m1"))]);
        a.append(0, vec![record("acct-1", Some("m2"))]);
        a.high_watermark = 2;
        let mut b = TestLog::default();
        b.push(a.batches[0].clone());
        b.append(1, vec![record("acct-1", Some("m3"))]);
        b.high_watermark = 2;
        let mut c = ReplicasAgreeBelowHighWatermark::default();
        c.observe(A, &tp(), &a, true, true).unwrap();
        let verdict = c.observe(B, &tp(), &b, true, true).unwrap_err();
        assert!(verdict.contains("broker 2 holds acct-1=m3 (leader epoch 1) at offset 1"), "{verdict}");
        assert!(verdict.contains("broker 1 held acct-1=m2 (leader epoch 0)"), "{verdict}");
    }

    #[test]
    fn a_truncated_uncommitted_tail_a_lagging_follower_and_compaction_are_fine() {
        let mut leader = TestLog::default();
        leader.append(0, vec![record("a", Some("1")), record("b", Some("1"))]);
        leader.append(0, vec![record("a", Some("2"))]);
        leader.high_watermark = 2;
        let mut c = ReplicasAgreeBelowHighWatermark::default();
        c.observe(A, &tp(), &leader, true, true).unwrap();
        // A follower copied both batches but knows a high watermark of 1 only.
        let mut follower = leader.clone();
        follower.high_watermark = 1;
        c.observe(B, &tp(), &follower, true, true).unwrap();
        // The leader's uncommitted offset 2 is replaced after an election: never committed, so
        // no disagreement.
        let mut new_leader = TestLog::default();
        new_leader.push(leader.batches[0].clone());
        new_leader.append(1, vec![record("c", Some("1"))]);
        new_leader.high_watermark = 3;
        c.observe(B, &tp(), &new_leader, true, true).unwrap();
        // The old leader truncates its tail and copies the new one's.
        c.observe(A, &tp(), &new_leader, true, true).unwrap();
        // Compaction removed offset 0 on one replica; the survivor at 1 still agrees.
        let mut compacted = new_leader.clone();
        compacted.remove_record(0);
        c.observe(A, &tp(), &compacted, true, true).unwrap();
        // A restarted replica reloads its log and is compared again: still the same records.
        c.observe(B, &tp(), &new_leader.reloaded(), true, true).unwrap();
    }

    #[test]
    fn a_record_lost_to_an_allowed_unclean_election_is_replaced_and_a_replica_keeping_it_is_caught() {
        // Scenario 15: m2 committed at offset 1 on broker 2; both brokers fail; broker 1
        // returns without m2 and is elected uncleanly in epoch 1, writing m3 at offset 1.
        let mut b2 = TestLog::default();
        b2.append(0, vec![record("acct-1", Some("m1"))]);
        b2.append(0, vec![record("acct-1", Some("m2"))]);
        b2.high_watermark = 2;
        let mut b1 = TestLog::default();
        b1.push(b2.batches[0].clone());
        b1.append(1, vec![record("acct-1", Some("m3"))]);
        b1.high_watermark = 2;
        let mut c = ReplicasAgreeBelowHighWatermark::default();
        c.observe(B, &tp(), &b2, true, true).unwrap();
        // Without an unclean election this is committed data replaced.
        let mut strict = c.clone();
        assert!(strict.observe(A, &tp(), &b1, true, true).is_err());
        c.unclean_election(&tp(), 1);
        c.observe(A, &tp(), &b1, true, true).unwrap();
        // Broker 2 returns outside the ISR, still holding m2 below its checkpointed high
        // watermark: held while it resynchronises.
        let mut before_kip_101 = c.clone();
        c.observe(B, &tp(), &b2.reloaded(), true, false).unwrap();
        // With leader epochs it truncates m2 and copies m3, then rejoins the ISR: fine.
        c.observe(B, &tp(), &b1.reloaded(), true, false).unwrap();
        c.observe(B, &tp(), &b1.reloaded(), false, true).unwrap();
        // Before KIP-101 it keeps m2 and rejoins the ISR anyway: the replicas disagree.
        before_kip_101.observe(B, &tp(), &b2, true, false).unwrap();
        let verdict = before_kip_101.observe(B, &tp(), &b2, false, true).unwrap_err();
        assert!(verdict.contains("broker 2 holds acct-1=m2 (leader epoch 0) at offset 1"), "{verdict}");
    }

    /// A run is 24 bytes with its key, so it holds at most 65,535 records: a longer stretch of
    /// one batch becomes a second run, and every record is still found.
    #[test]
    fn a_batch_longer_than_a_run_is_split_in_two_runs() {
        assert_eq!(std::mem::size_of::<(i64, Run)>(), 24);
        let count = 70_000;
        let records = (0..count).map(|i| Record { offset_delta: i, ..record("k", Some("v")) }).collect();
        let batch = Arc::new(RecordBatch::new(10, 0, 0, records).into_encoded_only());
        let mut runs = FirstSeenLog::default();
        for index in 0..count as usize {
            runs.insert(10 + index as i64, &batch, index, B);
        }
        assert_eq!(runs.runs.len(), 2, "65,535 records, then the rest");
        for index in [0, 65_534, 65_535, 65_536, count as usize - 1] {
            let found = runs.get(10 + index as i64).expect("first seen");
            assert_eq!((found.index, found.broker), (index, B));
        }
        assert!(runs.get(10 + i64::from(count)).is_none() && runs.get(9).is_none());
        // A record first seen on another broker cuts the run and names that broker.
        runs.insert(20, &batch, 10, A);
        assert_eq!(runs.get(20).map(|f| f.broker), Some(A));
        assert_eq!(runs.get(21).map(|f| (f.index, f.broker)), Some((11, B)));
    }

    /// The runs of a first-seen log, as plain values to compare.
    fn run_shapes(log: &FirstSeenLog) -> Vec<(i64, usize, u32, u16, NodeId)> {
        log.runs
            .iter()
            .map(|(start, run)| {
                (*start, Arc::as_ptr(&run.batch) as usize, run.first, run.len, log.brokers[usize::from(run.broker)])
            })
            .collect()
    }

    proptest::proptest! {
        /// The search from the end finds what a search of the whole vector finds, for any
        /// number of runs and any offset before, among or after their starts.
        #[test]
        fn the_search_from_the_end_finds_what_a_whole_search_finds(
            starts in proptest::collection::btree_set(-50i64..50, 0..70),
            offset in -60i64..60,
        ) {
            let batch = Arc::new(RecordBatch::new(0, 0, 0, vec![record("k", Some("v"))]).into_encoded_only());
            let log = FirstSeenLog {
                runs: starts.iter().map(|&s| (s, Run { batch: batch.clone(), first: 0, len: 1, broker: 0 })).collect(),
                brokers: vec![A],
            };
            for strict in [false, true] {
                let starts_before = |start: i64| if strict { start < offset } else { start <= offset };
                let whole = log.runs.partition_point(|(start, _)| starts_before(*start));
                proptest::prop_assert_eq!(log.partition_from_end(starts_before), whole);
            }
        }

        /// Appending records past the last run gives the very runs that inserting them one by
        /// one gives: extending the last run when they continue it in the same batch on the
        /// same broker, new runs otherwise, and a new run after 65,535 records.
        #[test]
        fn appending_at_the_end_gives_the_runs_of_inserting_one_by_one(
            steps in proptest::collection::vec((0usize..3, 1usize..5, proptest::bool::ANY, proptest::bool::ANY), 1..12),
        ) {
            // Three batches, offsets 0-99, 100-199 and 200-65,799 (a batch longer than a run),
            // taken in order in slices that may skip records.
            let batch = |base: i64, count: i32| {
                let records = (0..count).map(|d| Record { offset_delta: d, ..record("k", Some("v")) }).collect();
                Arc::new(RecordBatch::new(base, 0, 0, records).into_encoded_only())
            };
            let batches = [batch(0, 100), batch(100, 100), batch(200, 65_600)];
            let (mut appended, mut inserted) = (FirstSeenLog::default(), FirstSeenLog::default());
            let mut at = 0i64;
            for (b, len, skip, on_a) in steps {
                let b = b.max(batches.iter().position(|x| x.base_offset() + x.record_count() as i64 > at).unwrap_or(3));
                let Some(batch) = batches.get(b) else { break };
                let start = batch.index_at_or_after(at + i64::from(skip));
                let long = if b == 2 { 65_530 } else { 0 };
                let end = (start + len + long).min(batch.record_count());
                if start >= end {
                    continue;
                }
                let broker = if on_a { A } else { B };
                proptest::prop_assert!(appended.ends_before(batch.offset_at(start)));
                appended.append(batch, start, end, broker);
                for index in start..end {
                    inserted.insert(batch.offset_at(index), batch, index, broker);
                }
                proptest::prop_assert_eq!(run_shapes(&appended), run_shapes(&inserted));
                at = batch.offset_at(end - 1) + 1;
            }
        }

        /// The runs behave exactly as a map from offset to the first-seen record would: random
        /// inserts (extending, replacing and filling gaps of compacted batches, on two brokers)
        /// leave every offset answering what the map answers.
        #[test]
        fn first_seen_runs_behave_as_a_map_by_offset(
            batches in proptest::collection::vec((proptest::collection::btree_set(0i32..12, 1..8), proptest::bool::ANY), 1..5),
            inserts in proptest::collection::vec((0usize..5, 0usize..8, proptest::bool::ANY), 0..60),
        ) {
            // Batches may overlap in offsets, as copies of one offset on different replicas do.
            let batches: Vec<Arc<RecordBatch>> = batches
                .iter()
                .enumerate()
                .map(|(b, (deltas, dense))| {
                    // A dense batch (a producer's) has offset deltas 0, 1, 2, ...; the others
                    // have the gaps compaction leaves.
                    let deltas: Vec<i32> = if *dense { (0..deltas.len() as i32).collect() } else { deltas.iter().copied().collect() };
                    let records = deltas
                        .iter()
                        .map(|&d| Record { offset_delta: d, ..record("k", Some(&format!("{b}-{d}"))) })
                        .collect();
                    // Dense batches are held as their bytes alone, as a log stores them;
                    // batches with gaps keep their records decoded.
                    Arc::new(RecordBatch::new(b as i64 * 4, 0, 0, records).into_encoded_only())
                })
                .collect();
            let mut runs = FirstSeenLog::default();
            let mut model: BTreeMap<i64, (usize, usize, NodeId)> = BTreeMap::new();
            for (b, i, on_a) in inserts {
                let batch = &batches[b % batches.len()];
                let index = i % batch.record_count();
                let offset = batch.offset_at(index);
                let broker = if on_a { A } else { B };
                runs.insert(offset, batch, index, broker);
                model.insert(offset, (b % batches.len(), index, broker));
                for offset in -1..40 {
                    let got = runs.get(offset).map(|f| {
                        let b = batches.iter().position(|x| Arc::ptr_eq(x, f.batch)).expect("one of the batches");
                        (b, f.index, f.broker)
                    });
                    proptest::prop_assert_eq!(got, model.get(&offset).copied(), "offset {}", offset);
                }
                // The cursor finds what a search finds, whatever index it holds (a stale one, or
                // one past the end, included), and then holds the index found.
                let place = |found: Option<(usize, &Run, u32)>| found.map(|(i, _, at)| (i, at));
                for offset in -1..40 {
                    let searched = place(runs.locate(offset));
                    for start in 0..runs.runs.len() + 2 {
                        let mut cursor = start;
                        let found = place(runs.locate_from(offset, &mut cursor));
                        proptest::prop_assert_eq!(found, searched, "offset {} from {}", offset, start);
                        if let Some((i, _)) = found {
                            proptest::prop_assert_eq!(cursor, i);
                        }
                    }
                }
            }
        }
    }
}
