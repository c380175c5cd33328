//! One partition on one broker: its log plus the replication state Kafka keeps in
//! `kafka.cluster.Partition` (apache/kafka: core/src/main/scala/kafka/cluster/Partition.scala).
//!
//! As leader it tracks every follower's log end offset and caught-up time, advances the high
//! watermark by Kafka's rule, and decides when the ISR must shrink or may expand. As follower it
//! only holds its log and the high watermark it learned from the leader.

use crate::ids::{NodeId, TopicPartition};
use crate::log::PartitionLog;
use crate::metadata::PartitionState;
use crate::time::Instant;
use core::time::Duration;
use std::collections::BTreeMap;

/// What the leader knows about one follower, learned only from that follower's fetches
/// (`kafka.cluster.Replica` / `ReplicaState`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct FollowerState {
    /// The follower's LEO as of its last fetch (its `fetch_offset`), -1 until it fetches.
    pub log_end_offset: i64,
    /// The last time the follower was caught up (see [`Partition::record_follower_fetch`]).
    pub last_caught_up_time: Instant,
    /// When its last fetch arrived.
    pub last_fetch_time: Instant,
    /// The leader's LEO when that fetch arrived.
    pub last_fetch_leader_log_end_offset: i64,
}

/// An ISR change the leader proposed to the controller and awaits (KIP-497).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct PendingIsrChange {
    /// The proposed ISR.
    pub isr: Vec<NodeId>,
    /// When the `AlterPartition` was sent.
    pub sent_at: Instant,
}

/// A partition replica on a broker.
#[derive(Clone, Debug)]
pub struct Partition {
    /// The partition.
    pub tp: TopicPartition,
    /// This broker.
    pub local: NodeId,
    /// The replica's log.
    pub log: PartitionLog,
    /// The committed partition state from metadata (replicas, ISR, leader, epochs).
    pub state: PartitionState,
    /// Effective `min.insync.replicas`.
    pub min_insync_replicas: i32,
    /// Follower states, when this replica leads.
    pub followers: BTreeMap<NodeId, FollowerState>,
    /// An ISR change in flight, when this replica leads.
    pub pending_isr: Option<PendingIsrChange>,
    /// Whether the high watermark stops while the ISR is below `min.insync.replicas`
    /// (KAFKA-15583, Kafka 3.7; [`crate::era::Era::freeze_hw_under_min_isr`]). On by default.
    pub freeze_hw_under_min_isr: bool,
    /// As a follower of the leader-epoch era before KAFKA-10554: whether the replica must first
    /// ask the leader where its last epoch ends (`OffsetsForLeaderEpoch`, KIP-101) before it
    /// may fetch. Kafka's fetcher calls this partition state `Truncating`.
    pub truncating: bool,
    /// The log end offset and high watermark the broker's purgatories last saw (see
    /// `Broker::drain_logs`): a delayed operation can only become completable when one of them
    /// moves.
    pub(crate) purgatory_seen: (i64, i64),
    /// Whether [`Partitions`] has listed this replica as touched since the purgatories last
    /// looked, so that it is listed once however often it is borrowed mutably.
    touched: bool,
}

impl Partition {
    /// A replica with `log`, in the role `state` gives it.
    pub fn new(local: NodeId, log: PartitionLog, state: PartitionState, min_insync_replicas: i32) -> Partition {
        Partition {
            tp: state.tp.clone(),
            local,
            log,
            state,
            min_insync_replicas,
            followers: BTreeMap::new(),
            pending_isr: None,
            freeze_hw_under_min_isr: true,
            truncating: false,
            purgatory_seen: (-1, -1),
            touched: false,
        }
    }

    /// Whether this replica leads the partition.
    pub fn is_leader(&self) -> bool {
        self.state.leader == Some(self.local)
    }

    /// The leader epoch this replica is in.
    pub fn leader_epoch(&self) -> i32 {
        self.state.leader_epoch
    }

    /// The committed ISR.
    pub fn isr(&self) -> &[NodeId] {
        &self.state.isr
    }

    /// The members of the maximal ISR, without collecting them: the committed ISR, then each
    /// replica a pending change adds, once. Removals count only once committed, so the leader
    /// never under-counts copies while waiting (KIP-497).
    fn maximal_isr_members(&self) -> impl Iterator<Item = NodeId> + '_ {
        let isr = &self.state.isr;
        let proposed: &[NodeId] = self.pending_isr.as_ref().map_or(&[], |pending| &pending.isr);
        let added = (0..proposed.len())
            .filter(move |&i| !isr.contains(&proposed[i]) && !proposed[..i].contains(&proposed[i]))
            .map(move |i| proposed[i]);
        isr.iter().copied().chain(added)
    }

    /// How many brokers [`Partition::maximal_isr`] names, counted without building it: the
    /// produce purgatory asks for every batch it completes.
    pub fn maximal_isr_len(&self) -> usize {
        self.maximal_isr_members().count()
    }

    /// The maximal ISR: the committed ISR plus replicas a pending change adds (see
    /// `Partition::maximal_isr_members`).
    pub fn maximal_isr(&self) -> Vec<NodeId> {
        self.maximal_isr_members().collect()
    }

    /// Becomes leader in `state.leader_epoch` (`Partition.makeLeader`): the epoch starts at the
    /// current LEO, and every follower's state restarts as caught up now with an unknown LEO,
    /// so nobody is dropped from the ISR for time spent before this election.
    pub fn make_leader(&mut self, now: Instant, state: PartitionState) {
        self.log.assign_epoch_start(state.leader_epoch);
        self.followers = state
            .replicas
            .iter()
            .filter(|r| **r != self.local)
            .map(|r| {
                (
                    *r,
                    FollowerState {
                        log_end_offset: -1,
                        last_caught_up_time: now,
                        last_fetch_time: now,
                        last_fetch_leader_log_end_offset: -1,
                    },
                )
            })
            .collect();
        self.pending_isr = None;
        self.truncating = false;
        self.state = state;
    }

    /// Becomes a follower (or leaderless replica) in `state.leader_epoch`.
    pub fn make_follower(&mut self, state: PartitionState) {
        self.truncating = false;
        self.followers.clear();
        self.pending_isr = None;
        self.state = state;
    }

    /// Where a follower must truncate, given the leader's answer `(epoch, end)` about the
    /// follower's epochs (`AbstractFetcherThread.getOffsetTruncationState`), with whether that
    /// settles it. The rules: an unknown end leaves the log alone; an unknown epoch (the
    /// pre-KIP-279 answer) cuts at `min(end, LEO)`; otherwise the follower looks the epoch up in
    /// its own cache: nothing at or below it → `min(end, LEO)`; a different best epoch → its own
    /// end for that epoch, and it must ask again (KIP-279); the same epoch → the smaller end.
    pub fn truncation_target(&self, epoch: i32, end: i64) -> (i64, bool) {
        let leo = self.log.log_end_offset();
        let (target, done) = if end < 0 {
            (leo, true)
        } else if epoch < 0 {
            (end.min(leo), true)
        } else {
            let (own_epoch, own_end) = self.log.epochs().end_offset_for(epoch, leo);
            if own_epoch < 0 {
                (end.min(leo), true)
            } else if own_epoch != epoch {
                (own_end.min(leo), false)
            } else {
                (own_end.min(end).min(leo), true)
            }
        };
        (target.max(self.log.log_start_offset()), done)
    }

    /// Applies a committed state with the same leader and epoch: an ISR change, or a
    /// reassignment that adds or removes replicas (`Partition.updateAssignmentAndIsr`). On the
    /// leader, an added replica starts being tracked with an unknown LEO and a removed one is
    /// forgotten.
    pub fn update_committed_state(&mut self, state: PartitionState) {
        if let Some(pending) = &self.pending_isr {
            if state.partition_epoch > self.state.partition_epoch || pending.isr == state.isr {
                self.pending_isr = None;
            }
        }
        if self.is_leader() {
            self.followers.retain(|r, _| state.replicas.contains(r));
            for r in state.replicas.iter().filter(|r| **r != self.local) {
                self.followers.entry(*r).or_insert(FollowerState {
                    log_end_offset: -1,
                    last_caught_up_time: Instant::ZERO,
                    last_fetch_time: Instant::ZERO,
                    last_fetch_leader_log_end_offset: -1,
                });
            }
        }
        self.state = state;
    }

    /// Updates a follower's state from a fetch at `fetch_offset` (`Replica.updateFetchState`):
    /// caught up now if it asked for the leader's LEO; caught up as of its previous fetch if it
    /// asked for at least what the LEO was then; otherwise unchanged. This keeps a follower in
    /// sync under a steady trickle of writes.
    pub fn record_follower_fetch(&mut self, now: Instant, follower: NodeId, fetch_offset: i64) {
        let leader_leo = self.log.log_end_offset();
        if let Some(f) = self.followers.get_mut(&follower) {
            if fetch_offset >= leader_leo {
                f.last_caught_up_time = now;
            } else if fetch_offset >= f.last_fetch_leader_log_end_offset {
                f.last_caught_up_time = f.last_caught_up_time.max(f.last_fetch_time);
            }
            f.log_end_offset = fetch_offset;
            f.last_fetch_time = now;
            f.last_fetch_leader_log_end_offset = leader_leo;
        }
    }

    /// Leader high-watermark rule (`Partition.maybeIncrementLeaderHW`): in the 3.7+ era frozen
    /// while the committed ISR is below `min.insync.replicas` (KAFKA-15583, see
    /// [`Partition::freeze_hw_under_min_isr`]); otherwise the smallest LEO among the leader and
    /// the maximal ISR's followers; never lowered. Returns the new high watermark when it moved.
    pub fn maybe_advance_high_watermark(&mut self) -> Option<i64> {
        let advanced = self.high_watermark_advance();
        if let Some(high_watermark) = advanced {
            self.log.set_high_watermark(high_watermark);
        }
        advanced
    }

    /// The high watermark [`Partition::maybe_advance_high_watermark`] would move to now, if it
    /// would move: the same rule, without changing anything.
    pub fn high_watermark_advance(&self) -> Option<i64> {
        // The candidate is at most the leader's LEO, so a leader whose high watermark has
        // reached its LEO (a quiet partition) has nothing to look up.
        if !self.is_leader() || self.log.high_watermark() >= self.log.log_end_offset() {
            return None;
        }
        if self.freeze_hw_under_min_isr && (self.state.isr.len() as i32) < self.min_insync_replicas {
            return None;
        }
        let mut candidate = self.log.log_end_offset();
        // The maximal ISR without collecting it: this runs on every follower fetch.
        for replica in self.maximal_isr_members() {
            if replica == self.local {
                continue;
            }
            let leo = self.followers.get(&replica).map_or(-1, |f| f.log_end_offset);
            if leo < 0 {
                // An ISR member that has not fetched since this election holds the HW back.
                return None;
            }
            candidate = candidate.min(leo);
        }
        (candidate > self.log.high_watermark()).then_some(candidate)
    }

    /// ISR followers that are not caught up (`Partition.getOutOfSyncReplicas`): their last
    /// caught-up time is more than `replica.lag.time.max.ms` ago.
    pub fn out_of_sync_replicas(&self, now: Instant, replica_lag_time_max: Duration) -> Vec<NodeId> {
        self.state
            .isr
            .iter()
            .copied()
            .filter(|r| *r != self.local)
            .filter(|r| {
                self.followers.get(r).is_some_and(|f| {
                    f.log_end_offset != self.log.log_end_offset()
                        && now.saturating_since(f.last_caught_up_time) > replica_lag_time_max
                })
            })
            .collect()
    }

    /// Whether `follower`, not in the ISR, may join it (`isFollowerInSync`): its LEO is at least
    /// the high watermark and at least the start of the leader's current epoch.
    pub fn may_join_isr(&self, follower: NodeId) -> bool {
        if self.state.isr.contains(&follower) {
            return false;
        }
        let Some(f) = self.followers.get(&follower) else { return false };
        let epoch_start =
            self.log.epochs().entries().iter().find(|(e, _)| *e == self.state.leader_epoch).map_or(0, |(_, s)| *s);
        f.log_end_offset >= self.log.high_watermark() && f.log_end_offset >= epoch_start
    }
}

/// A broker's partition replicas in partition order, which remembers every replica lent out
/// mutably since it was last asked ([`Partitions::take_touched`]).
///
/// The purgatories (Kafka's `DelayedOperationPurgatory`) need to know which partitions' log end
/// offset or high watermark moved after each request. Only a replica that was borrowed mutably
/// can have moved, and every mutable borrow goes through this type, so the broker looks at the
/// touched few instead of all of its replicas: with the 50 partitions of `__consumer_offsets`,
/// that scan was the broker's largest cost per request. The replicas sit in a vector sorted by
/// partition, so that a touched replica is remembered by its position.
#[derive(Clone, Debug, Default)]
pub struct Partitions {
    /// The partitions, sorted; `keys[i]` is `replicas[i].tp`. Searching them apart from the
    /// replicas touches fewer cache lines.
    keys: Vec<TopicPartition>,
    replicas: Vec<Partition>,
    /// Positions of the replicas touched since the last [`Partitions::take_touched`], each once.
    touched: Vec<usize>,
    /// How many times replicas were lent out mutably: the clock of [`Partitions::lent_at`].
    loans: u64,
    /// Each topic's first position in `keys`, in topic order: a broker's replicas of a topic are
    /// mostly its partitions 0, 1, 2, ..., so partition `p` is mostly at the topic's first
    /// position plus `p`, found without a search (see [`Partitions::position`]).
    topic_starts: Vec<(crate::ids::Topic, usize)>,
    /// `lent_ats[i]` is when `replicas[i]` was last lent out ([`Partitions::lent_at`]). Kept
    /// apart from the replicas, so that an observer finds the replicas lent out since its last
    /// look by reading eight bytes per replica instead of a cache line of each
    /// ([`Partitions::lent_since`]).
    lent_ats: Vec<u64>,
    /// The count of the last loan that moved replicas to other places (one added or removed):
    /// an observer that looked before it follows the replicas by their old places.
    moved_at: u64,
}

/// Where a replica sits in its [`Partitions`] ([`Partitions::slot`]), so that several steps on
/// one replica search for it once. Good until a replica is added or removed.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ReplicaSlot(usize);

impl ReplicaSlot {
    /// The replica's position among its broker's replicas in partition order (the order of
    /// [`Partitions::values`]), for an observer that keeps something per replica in that
    /// order.
    pub fn index(self) -> usize {
        self.0
    }
}

impl Partitions {
    /// The position of `tp`, or where it would go.
    fn position(&self, tp: &TopicPartition) -> Result<usize, usize> {
        // A broker hosts a few topics; interned names compare by pointer.
        if let Some(&(_, start)) = self.topic_starts.iter().find(|(topic, _)| *topic == tp.topic) {
            let guess = usize::try_from(tp.partition).ok().and_then(|p| p.checked_add(start));
            if let Some(i) = guess.filter(|&i| self.keys.get(i) == Some(tp)) {
                return Ok(i);
            }
        }
        self.keys.binary_search(tp)
    }

    /// Recomputes [`Partitions::topic_starts`] after a replica came or went.
    fn index_topics(&mut self) {
        self.topic_starts.clear();
        for (i, key) in self.keys.iter().enumerate() {
            if self.topic_starts.last().is_none_or(|(topic, _)| *topic != key.topic) {
                self.topic_starts.push((key.topic.clone(), i));
            }
        }
    }

    /// Notes that replicas moved to other places: counted as a loan of its own, so that an
    /// observer who looked just before is told by [`Partitions::lent_since`] to look at all.
    fn note_moved(&mut self) {
        self.loans += 1;
        self.moved_at = self.loans;
    }

    /// How many times replicas were lent out mutably so far: the clock of
    /// [`Partitions::lent_at`], to give [`Partitions::lent_since`] later.
    pub fn loans(&self) -> u64 {
        self.loans
    }

    /// When the replica at `slot` was last lent out mutably, on this collection's count of
    /// loans ([`Partitions::loans`]; 0 for a replica never lent out).
    ///
    /// Every change to a replica of a broker goes through such a loan, except a follower's fetch
    /// bookkeeping ([`Partitions::record_follower_fetch_at`]). So while this stays the same, the
    /// replica's log, high watermark, partition state and pending ISR change all stand still,
    /// and an observer that looked at them then need not look again (the invariant checker
    /// skips such replicas at its 10 ms quanta). A replica removed and added again gets a later
    /// count than any it had, since the count belongs to the collection.
    ///
    /// Panics when `slot` is out of range, as [`Partitions::at`] does.
    pub fn lent_at(&self, slot: ReplicaSlot) -> u64 {
        self.lent_ats[slot.0]
    }

    /// Every replica's [`Partitions::lent_at`], in the order of [`Partitions::values`].
    pub fn lent_ats(&self) -> &[u64] {
        &self.lent_ats
    }

    /// The places of the replicas lent out mutably after loan `since` (an earlier
    /// [`Partitions::loans`] of this collection), in partition order; `None` when a replica was
    /// added or removed since, which moved the others (or when `since` is not of this
    /// collection), and the caller must start again from [`Partitions::values`].
    ///
    /// Why: the invariant checker looks at the replicas that changed at every 10 ms quantum. A
    /// quiet broker of tutorial.ron lends out a handful of its 53 replicas in that time, and
    /// reading every replica's loan count to find them was most of the checker's
    /// own cost.
    pub fn lent_since(&self, since: u64) -> Option<impl Iterator<Item = ReplicaSlot> + '_> {
        (since >= self.moved_at && since <= self.loans)
            .then(|| self.lent_ats.iter().enumerate().filter(move |&(_, &at)| at > since).map(|(i, _)| ReplicaSlot(i)))
    }

    /// How many replicas this broker hosts.
    pub fn len(&self) -> usize {
        self.replicas.len()
    }

    /// Whether this broker hosts no replica.
    pub fn is_empty(&self) -> bool {
        self.replicas.is_empty()
    }

    /// Lists the replica at `i` as touched unless it already is, and lends it out.
    fn touch(&mut self, i: usize) -> &mut Partition {
        self.loans += 1;
        self.lent_ats[i] = self.loans;
        let p = &mut self.replicas[i];
        if !p.touched {
            p.touched = true;
            self.touched.push(i);
        }
        p
    }

    /// The replica of `tp`.
    pub fn get(&self, tp: &TopicPartition) -> Option<&Partition> {
        self.position(tp).ok().map(|i| &self.replicas[i])
    }

    /// The replica of `tp`, looked for first where `hint` says it was: a caller that asks for
    /// the same replica again and again (the produce purgatory, for each waiting batch at each
    /// pass) keeps the hint, which this sets. A hint is checked against the replica's key, so
    /// one made stale by a replica added or removed only costs the search it would have saved.
    pub fn get_hinted(&self, tp: &TopicPartition, hint: &mut Option<ReplicaSlot>) -> Option<&Partition> {
        self.slot_hinted(tp, hint).map(|slot| self.at(slot))
    }

    /// Where the replica of `tp` sits, looked for first where `hint` says, as in
    /// [`Partitions::get_hinted`]: for a caller that keeps a hint per partition (a fetch
    /// session, for each of its partitions at each fetch). The hint is set to the place found.
    pub fn slot_hinted(&self, tp: &TopicPartition, hint: &mut Option<ReplicaSlot>) -> Option<ReplicaSlot> {
        if let Some(ReplicaSlot(i)) = *hint {
            if self.keys.get(i) == Some(tp) {
                return Some(ReplicaSlot(i));
            }
        }
        let slot = ReplicaSlot(self.position(tp).ok()?);
        *hint = Some(slot);
        Some(slot)
    }

    /// Whether this broker hosts a replica of `tp`.
    pub fn contains_key(&self, tp: &TopicPartition) -> bool {
        self.position(tp).is_ok()
    }

    /// Every replica, in partition order.
    pub fn values(&self) -> std::slice::Iter<'_, Partition> {
        self.replicas.iter()
    }

    /// The replica of `tp`, borrowed mutably, which lists it as touched.
    pub fn get_mut(&mut self, tp: &TopicPartition) -> Option<&mut Partition> {
        let i = self.position(tp).ok()?;
        Some(self.touch(i))
    }

    /// Every replica in partition order, borrowed mutably, which lists them all as touched.
    pub fn values_mut(&mut self) -> std::slice::IterMut<'_, Partition> {
        self.loans += 1;
        for p in &mut self.replicas {
            p.touched = true;
        }
        self.lent_ats.fill(self.loans);
        self.touched.clear();
        self.touched.extend(0..self.replicas.len());
        self.replicas.iter_mut()
    }

    /// The replica of `tp`, made by `make` if there is none yet; listed as touched either way.
    pub fn get_or_insert_with(&mut self, tp: TopicPartition, make: impl FnOnce() -> Partition) -> &mut Partition {
        let i = match self.position(&tp) {
            Ok(i) => i,
            Err(i) => {
                let p = make();
                debug_assert_eq!(p.tp, tp, "a replica is filed under its own partition");
                self.note_moved();
                self.keys.insert(i, tp);
                self.lent_ats.insert(i, 0);
                self.replicas.insert(i, p);
                self.index_topics();
                // The replicas after it moved up one place.
                for t in &mut self.touched {
                    if *t >= i {
                        *t += 1;
                    }
                }
                i
            }
        };
        self.touch(i)
    }

    /// Removes the replica of `tp` and gives it back.
    pub fn remove(&mut self, tp: &TopicPartition) -> Option<Partition> {
        let i = self.position(tp).ok()?;
        self.note_moved();
        self.keys.remove(i);
        self.lent_ats.remove(i);
        let p = self.replicas.remove(i);
        self.index_topics();
        // The replicas after it moved down one place; its own place is forgotten.
        self.touched.retain(|&t| t != i);
        for t in &mut self.touched {
            if *t > i {
                *t -= 1;
            }
        }
        Some(p)
    }

    /// Where the replica of `tp` sits, for the `*_at` methods below, which then need no search.
    /// The place is good until a replica is added or removed.
    pub fn slot(&self, tp: &TopicPartition) -> Option<ReplicaSlot> {
        self.position(tp).ok().map(ReplicaSlot)
    }

    /// The replica at `slot`.
    ///
    /// Panics when `slot` is out of range: a slot kept across an added or removed replica.
    pub fn at(&self, slot: ReplicaSlot) -> &Partition {
        &self.replicas[slot.0]
    }

    /// The replica at `slot`, borrowed mutably, which lists it as touched.
    ///
    /// Panics when `slot` is out of range, as [`Partitions::at`] does.
    pub fn at_mut(&mut self, slot: ReplicaSlot) -> &mut Partition {
        self.touch(slot.0)
    }

    /// Takes in a follower's fetch at `fetch_offset` of the replica at `slot`
    /// ([`Partition::record_follower_fetch`]) and gives the replica back for reading.
    ///
    /// The replica is not listed as touched and its [`Partitions::lent_at`] stays: the
    /// follower's fetch state moves neither the log nor the high watermark. A fetch that does
    /// move them (an ISR expansion, a higher high watermark) borrows the replica again with
    /// [`Partitions::at_mut`]. This is what lets a fetch read a partition with nothing new
    /// without making every observer look at it again.
    ///
    /// Panics when `slot` is out of range, as [`Partitions::at`] does.
    pub fn record_follower_fetch_at(
        &mut self,
        slot: ReplicaSlot,
        now: Instant,
        follower: NodeId,
        fetch_offset: i64,
    ) -> &Partition {
        let p = &mut self.replicas[slot.0];
        p.record_follower_fetch(now, follower, fetch_offset);
        p
    }

    /// Visits the replicas touched since the last call, in partition order (the order a scan
    /// of all of them would visit them in, so that what the broker does for each comes out in
    /// the same order), each borrowed mutably once. The list starts empty again.
    pub fn take_touched(&mut self, mut visit: impl FnMut(&mut Partition)) {
        self.touched.sort_unstable();
        self.loans += 1;
        for &i in &self.touched {
            self.lent_ats[i] = self.loans;
            let p = &mut self.replicas[i];
            p.touched = false;
            visit(p);
        }
        self.touched.clear();
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::record::unkeyed;

    const A: NodeId = NodeId(1);
    const B: NodeId = NodeId(2);
    const C: NodeId = NodeId(3);

    fn leader_with(isr: Vec<NodeId>, min_isr: i32, records: usize) -> Partition {
        let state = PartitionState {
            tp: TopicPartition::new("orders", 0),
            replicas: vec![A, B, C],
            isr,
            leader: Some(A),
            leader_epoch: 0,
            partition_epoch: 0,
            adding_replicas: vec![],
            removing_replicas: vec![],
        };
        let mut p = Partition::new(
            A,
            PartitionLog::new(TopicPartition::new("orders", 0), crate::config::LogConfig::default(), 0),
            state.clone(),
            min_isr,
        );
        p.make_leader(Instant::ZERO, state);
        for i in 0..records {
            p.log.append_as_leader(0, vec![unkeyed(&format!("v{i}"))], 0);
        }
        p
    }

    #[test]
    fn high_watermark_is_the_smallest_isr_log_end_offset() {
        // The reference's example: LEOs 10/8/6 → HW 6.
        let mut p = leader_with(vec![A, B, C], 2, 10);
        p.record_follower_fetch(Instant::from_millis(1), B, 8);
        assert_eq!(p.maybe_advance_high_watermark(), None, "C has not fetched yet");
        p.record_follower_fetch(Instant::from_millis(1), C, 6);
        assert_eq!(p.maybe_advance_high_watermark(), Some(6));
        // C leaves the ISR: HW moves to B's LEO.
        let mut state = p.state.clone();
        state.isr = vec![A, B];
        state.partition_epoch = 1;
        p.update_committed_state(state);
        assert_eq!(p.maybe_advance_high_watermark(), Some(8));
    }

    #[test]
    fn high_watermark_never_goes_down_and_freezes_below_min_isr() {
        let mut p = leader_with(vec![A, B], 2, 5);
        p.record_follower_fetch(Instant::from_millis(1), B, 5);
        assert_eq!(p.maybe_advance_high_watermark(), Some(5));
        p.record_follower_fetch(Instant::from_millis(2), B, 3);
        assert_eq!(p.maybe_advance_high_watermark(), None);
        assert_eq!(p.log.high_watermark(), 5);
        // ISR {A} below min ISR 2: new leader appends do not commit (KAFKA-15583).
        let mut state = p.state.clone();
        state.isr = vec![A];
        state.partition_epoch = 1;
        p.update_committed_state(state);
        let record = unkeyed("x");
        p.log.append_as_leader(0, vec![record], 0);
        assert_eq!(p.maybe_advance_high_watermark(), None);
        assert_eq!(p.log.high_watermark(), 5);
    }

    #[test]
    fn a_pending_isr_addition_counts_for_the_high_watermark() {
        let mut p = leader_with(vec![A], 1, 4);
        assert_eq!(p.maybe_advance_high_watermark(), Some(4));
        p.record_follower_fetch(Instant::from_millis(1), B, 4);
        assert!(p.may_join_isr(B));
        p.pending_isr = Some(PendingIsrChange { isr: vec![A, B], sent_at: Instant::from_millis(1) });
        let record = unkeyed("y");
        p.log.append_as_leader(0, vec![record], 0);
        assert_eq!(p.maybe_advance_high_watermark(), None, "B (pending) has not fetched offset 4 yet");
        p.record_follower_fetch(Instant::from_millis(2), B, 5);
        assert_eq!(p.maybe_advance_high_watermark(), Some(5));
    }

    #[test]
    fn the_maximal_isr_is_counted_as_it_is_collected() {
        let mut p = leader_with(vec![A, B], 1, 4);
        let mut seen = Vec::new();
        for pending in [None, Some(vec![A, B, C]), Some(vec![A]), Some(vec![C, C, A]), Some(Vec::new())] {
            p.pending_isr = pending.map(|isr| PendingIsrChange { isr, sent_at: Instant::from_millis(1) });
            assert_eq!(p.maximal_isr_len(), p.maximal_isr().len(), "pending {:?}", p.pending_isr);
            seen.push(p.maximal_isr_len());
        }
        assert_eq!(seen, vec![2, 3, 2, 3, 2], "a pending change adds, never removes; a repeat counts once");
    }

    #[test]
    fn a_stuck_follower_falls_out_of_sync_after_the_lag_time() {
        let lag = Duration::from_millis(30_000);
        let mut p = leader_with(vec![A, B, C], 1, 3);
        p.record_follower_fetch(Instant::from_millis(100), B, 3);
        p.record_follower_fetch(Instant::from_millis(100), C, 1);
        // At 30.0s C (caught up at election time 0) is not yet past the lag time...
        assert!(p.out_of_sync_replicas(Instant::from_millis(30_000), lag).is_empty());
        // ...but a little later it is, while B (caught up) stays.
        assert_eq!(p.out_of_sync_replicas(Instant::from_millis(30_001), lag), vec![C]);
        // A follower that keeps up with a trickle of writes stays in sync: it fetched at least
        // the LEO the leader had at its previous fetch.
        p.record_follower_fetch(Instant::from_millis(29_000), C, 3);
        assert!(p.out_of_sync_replicas(Instant::from_millis(40_000), lag).is_empty());
    }

    #[test]
    fn a_follower_joins_the_isr_only_once_it_reaches_the_high_watermark_and_epoch_start() {
        let mut p = leader_with(vec![A, B], 1, 6);
        p.record_follower_fetch(Instant::from_millis(1), B, 6);
        p.maybe_advance_high_watermark();
        p.record_follower_fetch(Instant::from_millis(1), C, 5);
        assert!(!p.may_join_isr(C));
        p.record_follower_fetch(Instant::from_millis(2), C, 6);
        assert!(p.may_join_isr(C));
        assert!(!p.may_join_isr(B), "already in the ISR");
    }

    /// `lent_since` lists the replicas lent out since an observer's look, and gives up when a
    /// replica came or went.
    #[test]
    fn lent_since_lists_the_loans_since_a_look() {
        let (a, b, c) = (TopicPartition::new("t", 0), TopicPartition::new("t", 1), TopicPartition::new("t", 2));
        let mut map = Partitions::default();
        for tp in [&a, &b, &c] {
            map.get_or_insert_with(tp.clone(), || replica(tp, 1));
        }
        map.take_touched(|_| {});
        let look = map.loans();
        assert_eq!(map.lent_since(look).map(Iterator::count), Some(0), "nothing lent since");
        map.get_mut(&c).expect("hosted");
        map.get_mut(&a).expect("hosted");
        map.take_touched(|_| {});
        let listed: Vec<usize> = map.lent_since(look).expect("known").map(ReplicaSlot::index).collect();
        assert_eq!(listed, [0, 2], "in partition order");
        // A replica added moves the others' places: the observer must look at them all.
        let later = map.loans();
        map.get_or_insert_with(TopicPartition::new("s", 0), || replica(&TopicPartition::new("s", 0), 1));
        assert!(map.lent_since(later).is_none());
        assert!(map.lent_since(look).is_none());
        // A look after the move is served again, with the new places.
        map.take_touched(|_| {});
        let look = map.loans();
        map.get_mut(&c).expect("hosted");
        let listed: Vec<usize> = map.lent_since(look).expect("known").map(ReplicaSlot::index).collect();
        assert_eq!(listed, [3], "`t-2` sits after `s-0` now");
        // Every replica lent out at once is listed.
        let look = map.loans();
        map.values_mut().for_each(drop);
        assert_eq!(map.lent_since(look).map(Iterator::count), Some(4));
    }

    /// A replica of `tp` with no role, whose `min_insync_replicas` serves as a mark.
    fn replica(tp: &TopicPartition, mark: i32) -> Partition {
        let state = PartitionState {
            tp: tp.clone(),
            replicas: vec![A],
            isr: vec![A],
            leader: None,
            leader_epoch: -1,
            partition_epoch: 0,
            adding_replicas: vec![],
            removing_replicas: vec![],
        };
        let log = PartitionLog::new(tp.clone(), crate::config::LogConfig::default(), 0);
        Partition::new(A, log, state, mark)
    }

    /// One step on a [`Partitions`] and on its model.
    #[derive(Clone, Debug)]
    enum Step {
        Insert(u8),
        Remove(u8),
        GetMut(u8),
        Get(u8),
        /// A mutable loan found by place: `slot`, then `at_mut`.
        AtMut(u8),
        /// A follower's fetch, which lends nothing: `slot`, then `record_follower_fetch_at`.
        FollowerFetch(u8),
        ValuesMut,
        Take,
        /// An observer's look: `lent_since` lists, since the previous look, exactly the
        /// replicas whose `lent_at` moved, in partition order.
        Observe,
    }

    fn step() -> impl proptest::strategy::Strategy<Value = Step> {
        use proptest::prelude::*;
        prop_oneof![
            (0u8..8).prop_map(Step::Insert),
            (0u8..8).prop_map(Step::Remove),
            (0u8..8).prop_map(Step::GetMut),
            (0u8..8).prop_map(Step::Get),
            (0u8..8).prop_map(Step::AtMut),
            (0u8..8).prop_map(Step::FollowerFetch),
            Just(Step::ValuesMut),
            Just(Step::Take),
            Just(Step::Observe),
        ]
    }

    proptest::proptest! {
        /// `Partitions` holds what a `BTreeMap` would, in the same order, and `take_touched`
        /// visits exactly the replicas borrowed mutably since the last take, in partition order,
        /// whatever was inserted and removed in between. A replica's `lent_at` stays exactly
        /// while it is not lent out (a follower's fetch lends nothing), and a loan gives it a
        /// count later than any seen before, even after a removal and a new insert. A lookup with
        /// a hint kept from earlier lookups finds the same replica as a search, however stale
        /// the hint has become. An observer looking between inputs learns from `lent_since`
        /// every replica lent out since its previous look, or that it must look at them all.
        #[test]
        fn partitions_track_what_was_touched(steps in proptest::collection::vec(step(), 0..300)) {
            use std::collections::BTreeSet;
            let mut lent_at: BTreeMap<TopicPartition, u64> = BTreeMap::new();
            let mut latest_loan = 0;
            // Two topics whose partitions interleave in the order.
            let tp = |n: u8| TopicPartition::new(if n.is_multiple_of(2) { "a" } else { "b" }, i32::from(n / 2));
            let mut map = Partitions::default();
            let mut model: BTreeMap<TopicPartition, i32> = BTreeMap::new();
            let mut touched: BTreeSet<TopicPartition> = BTreeSet::new();
            let mut hints: BTreeMap<u8, Option<ReplicaSlot>> = BTreeMap::new();
            // The observer's previous look: the count of loans, and each replica's `lent_at`.
            let mut observed: Option<(u64, BTreeMap<TopicPartition, u64>)> = None;
            let mut mark = 0;
            for step in steps {
                mark += 1;
                // The replicas this step lends out.
                let mut lent: BTreeSet<TopicPartition> = BTreeSet::new();
                match step {
                    Step::Insert(n) => {
                        lent.insert(tp(n));
                        let p = map.get_or_insert_with(tp(n), || replica(&tp(n), mark));
                        proptest::prop_assert_eq!(&p.tp, &tp(n));
                        model.entry(tp(n)).or_insert(mark);
                        touched.insert(tp(n));
                    }
                    Step::Remove(n) => {
                        let gone = map.remove(&tp(n)).map(|p| p.min_insync_replicas);
                        proptest::prop_assert_eq!(gone, model.remove(&tp(n)));
                        touched.remove(&tp(n));
                    }
                    Step::GetMut(n) => {
                        if let Some(p) = map.get_mut(&tp(n)) {
                            p.min_insync_replicas = mark;
                        }
                        if let Some(m) = model.get_mut(&tp(n)) {
                            *m = mark;
                            touched.insert(tp(n));
                            lent.insert(tp(n));
                        }
                    }
                    Step::Get(n) => {
                        proptest::prop_assert_eq!(map.get(&tp(n)).map(|p| p.min_insync_replicas), model.get(&tp(n)).copied());
                        proptest::prop_assert_eq!(map.contains_key(&tp(n)), model.contains_key(&tp(n)));
                        let hinted = map.get_hinted(&tp(n), hints.entry(n).or_insert(None));
                        proptest::prop_assert_eq!(
                            hinted.map(|p| (p.tp.clone(), p.min_insync_replicas)),
                            model.get(&tp(n)).map(|m| (tp(n), *m))
                        );
                    }
                    Step::AtMut(n) => {
                        if let Some(slot) = map.slot(&tp(n)) {
                            map.at_mut(slot).min_insync_replicas = mark;
                        }
                        if let Some(m) = model.get_mut(&tp(n)) {
                            *m = mark;
                            touched.insert(tp(n));
                            lent.insert(tp(n));
                        }
                    }
                    Step::FollowerFetch(n) => {
                        if let Some(slot) = map.slot(&tp(n)) {
                            let p = map.record_follower_fetch_at(slot, Instant::from_millis(1), B, 0);
                            proptest::prop_assert_eq!(&p.tp, &tp(n));
                        }
                    }
                    Step::ValuesMut => {
                        for p in map.values_mut() {
                            p.min_insync_replicas = mark;
                        }
                        for (tp, m) in model.iter_mut() {
                            *m = mark;
                            touched.insert(tp.clone());
                            lent.insert(tp.clone());
                        }
                    }
                    Step::Observe => {}
                    Step::Take => {
                        let mut visited = Vec::new();
                        map.take_touched(|p| visited.push(p.tp.clone()));
                        lent.extend(visited.iter().cloned());
                        proptest::prop_assert_eq!(visited, std::mem::take(&mut touched).into_iter().collect::<Vec<_>>());
                    }
                }
                if matches!(step, Step::Observe) {
                    if let Some((since, seen)) = &observed {
                        if let Some(slots) = map.lent_since(*since) {
                            let listed: Vec<TopicPartition> = slots.map(|slot| map.at(slot).tp.clone()).collect();
                            let now: Vec<&TopicPartition> = map.values().map(|p| &p.tp).collect();
                            proptest::prop_assert_eq!(now, seen.keys().collect::<Vec<_>>(), "replicas came or went");
                            let moved: Vec<TopicPartition> =
                                map.values().zip(map.lent_ats()).filter(|(p, &at)| at != seen[&p.tp]).map(|(p, _)| p.tp.clone()).collect();
                            proptest::prop_assert_eq!(listed, moved, "the replicas lent out since the last look");
                        }
                    }
                    observed = Some((map.loans(), map.values().map(|p| p.tp.clone()).zip(map.lent_ats().iter().copied()).collect()));
                }
                let mut newest = latest_loan;
                for (p, &at) in map.values().zip(map.lent_ats()) {
                    if lent.contains(&p.tp) {
                        proptest::prop_assert!(at > latest_loan, "{} was lent out at {at}, not after {latest_loan}", p.tp);
                    } else {
                        proptest::prop_assert_eq!(Some(at), lent_at.get(&p.tp).copied(), "{} was not lent out", p.tp);
                    }
                    newest = newest.max(at);
                }
                latest_loan = newest;
                lent_at = map.values().map(|p| p.tp.clone()).zip(map.lent_ats().iter().copied()).collect();
                let held: Vec<_> = map.values().map(|p| (p.tp.clone(), p.min_insync_replicas)).collect();
                let expected: Vec<_> = model.iter().map(|(tp, m)| (tp.clone(), *m)).collect();
                proptest::prop_assert_eq!(held, expected);
            }
        }
    }
}
