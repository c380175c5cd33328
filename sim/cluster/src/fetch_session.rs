//! Incremental fetch sessions (KIP-227, Kafka 1.1).
//!
//! Without sessions, every Fetch names every partition its sender follows from that leader, and
//! the leader answers every one of them, even when nothing changed. A follower of
//! `__consumer_offsets` sends and receives its 50 partitions this way about twice a second, for
//! nothing. KIP-227 lets the leader remember a fetcher's partitions in a *fetch session*:
//!
//! - A **full** request (session epoch 0, [`FetchMetadata::INITIAL`]) names every partition, as
//!   before. The leader answers them all and, if its cache has room, keeps them in a new session
//!   whose id it returns.
//! - Each later request is **incremental**: it carries the session id and the next session
//!   epoch (1, 2, ...), names only the partitions whose fetch state changed (a new fetch offset,
//!   leader epoch or last fetched epoch) and lists the partitions to drop
//!   (`forgotten_topics_data`). The leader reads every partition of the session, as before,
//!   but answers only those with records, an error, or a high watermark or log start offset
//!   other than the one it last sent.
//! - A request with epoch -1 ([`FetchMetadata::SESSIONLESS`], Kafka's `FINAL_EPOCH`) is
//!   answered in full and makes no session: what fetchers from before Kafka 1.1 send.
//!
//! The leader side is [`FetchSessionCache`] (Kafka's `FetchSessionCache` and
//! `FetchManager.newContext`, in `FetchSession.scala`); the fetcher side is
//! [`FetchSessionHandler`] (Kafka's `FetchSessionHandler.java`). Session errors
//! (`FETCH_SESSION_ID_NOT_FOUND`, `INVALID_FETCH_SESSION_EPOCH`) and lost requests send the
//! fetcher back to a full request. The broker setting `max.incremental.fetch.session.cache.slots`
//! bounds the cache; 0 turns sessions off.
//!
//! Two differences from Kafka, both invisible in what the lab shows:
//! - a session keeps its partitions in partition order, where Kafka moves a partition that
//!   returned records to the end (so a response-wide byte limit is shared fairly). The lab's
//!   fetches have only a per-partition limit, so order has no effect on what is read, and
//!   partition order makes a session answer in the same order as a full request;
//! - an answer that tells a follower to truncate (a diverging epoch) is cached like an error,
//!   so it is sent again next time: the lab's follower does not take the high watermark from
//!   such an answer, and must not miss it later.

use crate::error::ErrorCode;
use crate::ids::TopicPartition;
use crate::protocol::{FetchPartition, FetchPartitionResponse};
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use std::collections::BTreeMap;

/// The session id of a request or response that has no session (Kafka's `INVALID_SESSION_ID`).
pub const INVALID_SESSION_ID: i32 = 0;
/// The session epoch of a full request that asks for a new session (`INITIAL_EPOCH`).
pub const INITIAL_EPOCH: i32 = 0;
/// The session epoch of a full request that wants no session (`FINAL_EPOCH`).
pub const FINAL_EPOCH: i32 = -1;
/// How long a session must go unused before a new one may evict it, in milliseconds (Kafka's
/// `MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS`, fixed at 2 minutes, not a config).
pub const MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS: u64 = 120_000;

/// The session id and epoch a Fetch request carries (Kafka's `FetchMetadata`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct FetchMetadata {
    /// The session, or [`INVALID_SESSION_ID`].
    pub session_id: i32,
    /// [`INITIAL_EPOCH`] or [`FINAL_EPOCH`] for a full request; from 1 on for incremental ones.
    pub epoch: i32,
}

impl FetchMetadata {
    /// A full request that makes no session: fetchers before KIP-227, and the lab's eras
    /// before Kafka 1.1.
    pub const SESSIONLESS: FetchMetadata = FetchMetadata { session_id: INVALID_SESSION_ID, epoch: FINAL_EPOCH };
    /// A full request that asks for a new session.
    pub const INITIAL: FetchMetadata = FetchMetadata { session_id: INVALID_SESSION_ID, epoch: INITIAL_EPOCH };

    /// Whether the request names all its partitions (epoch 0 or -1).
    pub fn is_full(self) -> bool {
        self.epoch == INITIAL_EPOCH || self.epoch == FINAL_EPOCH
    }

    /// The first incremental request of a session the leader just made.
    fn new_incremental(session_id: i32) -> FetchMetadata {
        FetchMetadata { session_id, epoch: next_epoch(INITIAL_EPOCH) }
    }

    /// The request after this one in the same session.
    fn next_incremental(self) -> FetchMetadata {
        FetchMetadata { session_id: self.session_id, epoch: next_epoch(self.epoch) }
    }

    /// A full request that also closes this session on the leader.
    fn next_close_existing(self) -> FetchMetadata {
        FetchMetadata { session_id: self.session_id, epoch: INITIAL_EPOCH }
    }
}

/// The epoch after `epoch`: -1 stays -1, and after `i32::MAX` comes 1 (0 means "full").
pub fn next_epoch(epoch: i32) -> i32 {
    if epoch < 0 {
        FINAL_EPOCH
    } else if epoch == i32::MAX {
        1
    } else {
        epoch + 1
    }
}

/// What a fetcher sends next: the metadata, the partitions to send and the ones to forget.
#[derive(Clone, Debug, PartialEq)]
pub struct FetchRequestData {
    /// Session id and epoch.
    pub metadata: FetchMetadata,
    /// All partitions in a full request; in an incremental one, only those added or changed.
    pub partitions: Vec<FetchPartition>,
    /// Partitions the session drops (Kafka's `ForgottenTopicsData`); empty in full requests.
    pub forgotten_topics_data: Vec<TopicPartition>,
}

/// A fetcher's side of a session with one leader (Kafka's `FetchSessionHandler`): what it
/// last told the leader about each partition, and the metadata of its next request.
#[derive(Clone, Debug)]
pub struct FetchSessionHandler {
    /// False before Kafka 1.1: every request is [`FetchMetadata::SESSIONLESS`] and names all.
    sessions: bool,
    next: FetchMetadata,
    /// The session's partitions as last sent, in partition order.
    partitions: Vec<FetchPartition>,
    /// How many partitions the last request was built from ([`FetchSessionHandler::build`]).
    last_wanted: usize,
}

impl FetchSessionHandler {
    /// A handler whose first request is full. With `sessions` false, it never asks for a
    /// session (the lab's eras before Kafka 1.1).
    pub fn new(sessions: bool) -> FetchSessionHandler {
        let next = if sessions { FetchMetadata::INITIAL } else { FetchMetadata::SESSIONLESS };
        FetchSessionHandler { sessions, next, partitions: Vec::new(), last_wanted: 0 }
    }

    /// How many partitions the last request was built from: the room the fetcher makes for
    /// the next one's list, which is nearly always as long. Grown from nothing, a follower's
    /// list of its quiet `__consumer_offsets` partitions was allocated four times a fetch.
    pub fn last_wanted(&self) -> usize {
        self.last_wanted
    }

    /// The metadata the next request will carry.
    pub fn next_metadata(&self) -> FetchMetadata {
        self.next
    }

    /// Builds the next request from every partition the fetcher wants now, in partition order
    /// (`FetchSessionHandler.Builder.build`). A full request sends them all; an incremental one
    /// sends those that are new or differ from what the session holds, and forgets those no
    /// longer wanted.
    pub fn build(&mut self, wanted: Vec<FetchPartition>) -> FetchRequestData {
        debug_assert!(wanted.windows(2).all(|w| w[0].tp < w[1].tp), "wanted partitions must be in partition order");
        self.last_wanted = wanted.len();
        if !self.sessions {
            return FetchRequestData {
                metadata: FetchMetadata::SESSIONLESS,
                partitions: wanted,
                forgotten_topics_data: Vec::new(),
            };
        }
        if self.next.is_full() {
            self.partitions.clone_from(&wanted);
            return FetchRequestData { metadata: self.next, partitions: wanted, forgotten_topics_data: Vec::new() };
        }
        let mut send = Vec::new();
        let mut forgotten = Vec::new();
        let mut old = std::mem::take(&mut self.partitions).into_iter().peekable();
        for fp in &wanted {
            while let Some(gone) = old.next_if(|o| o.tp < fp.tp) {
                forgotten.push(gone.tp);
            }
            match old.next_if(|o| o.tp == fp.tp) {
                Some(same) if same == *fp => {}
                _ => send.push(fp.clone()),
            }
        }
        forgotten.extend(old.map(|gone| gone.tp));
        self.partitions = wanted;
        FetchRequestData { metadata: self.next, partitions: send, forgotten_topics_data: forgotten }
    }

    /// Takes in a response's session fields (`FetchSessionHandler.handleResponse`). Returns
    /// whether its partitions may be used: not after a session error, nor when the response
    /// names a partition the session does not hold (or, to a full request, leaves one out).
    /// Either way the next request is full.
    pub fn handle_response(
        &mut self,
        error: Option<ErrorCode>,
        session_id: i32,
        partitions: &[FetchPartitionResponse],
    ) -> bool {
        if !self.sessions {
            return error.is_none();
        }
        if let Some(error) = error {
            self.next = if error == ErrorCode::FetchSessionIdNotFound {
                FetchMetadata::INITIAL
            } else {
                self.next.next_close_existing()
            };
            return false;
        }
        let known = partitions.iter().all(|r| self.partitions.binary_search_by(|p| p.tp.cmp(&r.tp)).is_ok());
        let complete = !self.next.is_full() || partitions.len() == self.partitions.len();
        if !known || !complete {
            self.next = self.next.next_close_existing();
            return false;
        }
        self.next = match (session_id, self.next.is_full()) {
            // The leader made no session, or closed this one.
            (INVALID_SESSION_ID, _) => FetchMetadata::INITIAL,
            (id, true) => FetchMetadata::new_incremental(id),
            (_, false) => self.next.next_incremental(),
        };
        true
    }

    /// The request was lost or timed out (`FetchSessionHandler.handleError`): the next one is
    /// full and closes the session, since the leader's idea of it can no longer be trusted.
    pub fn handle_error(&mut self) {
        if self.sessions {
            self.next = self.next.next_close_existing();
        }
    }
}

/// One partition of a session on the leader (Kafka's `CachedPartition`): the fetcher's last
/// fetch state, and what the leader last answered for it.
#[derive(Clone, Debug, PartialEq)]
pub struct CachedPartition {
    /// The fetcher's fetch state, as last sent.
    pub fetch: FetchPartition,
    /// The high watermark last sent, or -1 to send the partition next time whatever it holds.
    high_watermark: i64,
    /// The log start offset last sent, or -1.
    log_start_offset: i64,
    /// Where the leader's replica of the partition sat when it was last read
    /// ([`crate::partition::Partitions::slot_hinted`]): every fetch of the session reads every
    /// one of its partitions, most of them with nothing new, and the hint spares the search
    /// for each. Only a hint: it is checked against the replica's key before it is used.
    pub replica_hint: Option<crate::partition::ReplicaSlot>,
}

impl CachedPartition {
    fn new(fetch: FetchPartition) -> CachedPartition {
        CachedPartition { fetch, high_watermark: -1, log_start_offset: -1, replica_hint: None }
    }

    /// The high watermark and log start offset last sent for this partition, as
    /// `(high_watermark, log_start_offset)` (-1 for one to send next time whatever it is).
    /// A read that finds no records, no error and these two offsets has nothing to send
    /// (`CachedPartition::must_respond` would leave it out), so the leader need not make an
    /// answer for it at all.
    pub fn last_sent(&self) -> (i64, i64) {
        (self.high_watermark, self.log_start_offset)
    }

    /// Whether `answer` must go in the response, remembering what it sends
    /// (`CachedPartition.maybeUpdateResponseData`).
    fn must_respond(&mut self, answer: &FetchPartitionResponse) -> bool {
        let mut must = !answer.batches.is_empty();
        if self.high_watermark != answer.high_watermark {
            self.high_watermark = answer.high_watermark;
            must = true;
        }
        if self.log_start_offset != answer.log_start_offset {
            self.log_start_offset = answer.log_start_offset;
            must = true;
        }
        if answer.error.is_some() || answer.diverging_epoch.is_some() {
            // Sent again next time, so the fetcher hears the high watermark once it can use it.
            self.high_watermark = -1;
            must = true;
        }
        must
    }
}

/// A session on the leader (Kafka's `FetchSession`).
#[derive(Clone, Debug)]
pub struct FetchSession {
    /// The session id, positive and unique on this broker.
    pub id: i32,
    /// Made by a follower (true) or a consumer: followers' sessions are harder to evict.
    privileged: bool,
    /// The session's partitions, in partition order.
    partitions: Vec<CachedPartition>,
    creation_ms: u64,
    last_used_ms: u64,
    /// The epoch the next incremental request must carry.
    epoch: i32,
}

impl FetchSession {
    fn position(&self, tp: &TopicPartition) -> Result<usize, usize> {
        self.partitions.binary_search_by(|c| c.fetch.tp.cmp(tp))
    }
}

/// How a leader answers one Fetch request (Kafka's `FetchContext` kinds).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum FetchContext {
    /// Answer the request's partitions in full and make no session.
    Sessionless,
    /// Answer the request's partitions in full and make a session from them if there is room.
    Full {
        /// Whether the fetcher is a follower.
        privileged: bool,
    },
    /// Answer the session's partitions, only those that changed.
    Incremental {
        /// The session.
        session_id: i32,
        /// The session's epoch once this request is taken in: a response is made only if the
        /// session is still at it (no newer request came meanwhile).
        epoch: i32,
    },
    /// Answer nothing but this error (`FETCH_SESSION_ID_NOT_FOUND`,
    /// `INVALID_FETCH_SESSION_EPOCH`).
    Error(ErrorCode),
}

/// A leader's fetch sessions (Kafka's `FetchSessionCache` with `FetchManager`): at most
/// `max.incremental.fetch.session.cache.slots` of them.
#[derive(Clone, Debug)]
pub struct FetchSessionCache {
    max_entries: usize,
    sessions: BTreeMap<i32, FetchSession>,
    /// Draws session ids. Kafka draws them at random so that a fetcher's old id is unlikely to
    /// name another fetcher's session after a restart.
    rng: ChaCha8Rng,
}

impl FetchSessionCache {
    /// An empty cache of at most `max_entries` sessions, drawing ids from `rng`.
    pub fn new(max_entries: usize, rng: ChaCha8Rng) -> FetchSessionCache {
        FetchSessionCache { max_entries, sessions: BTreeMap::new(), rng }
    }

    /// How many sessions the cache holds.
    pub fn len(&self) -> usize {
        self.sessions.len()
    }

    /// How many sessions the cache holds for followers (`privileged`) or for consumers.
    pub fn count(&self, privileged: bool) -> usize {
        self.sessions.values().filter(|s| s.privileged == privileged).count()
    }

    /// Whether the cache holds no session.
    pub fn is_empty(&self) -> bool {
        self.sessions.is_empty()
    }

    /// The session's partitions, in partition order; empty if there is no such session.
    pub fn partitions(&self, session_id: i32) -> &[CachedPartition] {
        self.sessions.get(&session_id).map_or(&[], |s| &s.partitions)
    }

    /// Lends out the session's partitions, so that the caller can read them while it changes
    /// other state; give them back with [`FetchSessionCache::put_back`].
    pub fn take_partitions(&mut self, session_id: i32) -> Vec<CachedPartition> {
        self.sessions.get_mut(&session_id).map(|s| std::mem::take(&mut s.partitions)).unwrap_or_default()
    }

    /// Gives back what [`FetchSessionCache::take_partitions`] lent out.
    pub fn put_back(&mut self, session_id: i32, partitions: Vec<CachedPartition>) {
        if let Some(s) = self.sessions.get_mut(&session_id) {
            s.partitions = partitions;
        }
    }

    /// Decides how to answer a request and takes in its partitions (`FetchManager.newContext`).
    /// A full request closes the session it names; an incremental one must name a session
    /// this cache holds, at the epoch it expects.
    pub fn new_context(
        &mut self,
        now_ms: u64,
        metadata: FetchMetadata,
        partitions: &[FetchPartition],
        forgotten: &[TopicPartition],
        privileged: bool,
    ) -> FetchContext {
        if metadata.is_full() {
            if metadata.session_id != INVALID_SESSION_ID {
                self.sessions.remove(&metadata.session_id);
            }
            return if metadata.epoch == FINAL_EPOCH {
                FetchContext::Sessionless
            } else {
                FetchContext::Full { privileged }
            };
        }
        let Some(session) = self.sessions.get_mut(&metadata.session_id) else {
            return FetchContext::Error(ErrorCode::FetchSessionIdNotFound);
        };
        if session.epoch != metadata.epoch {
            return FetchContext::Error(ErrorCode::InvalidFetchSessionEpoch);
        }
        // `FetchSession.update`: sent partitions are added or take their new fetch state.
        for fp in partitions {
            match session.position(&fp.tp) {
                Ok(i) => session.partitions[i].fetch.clone_from(fp),
                Err(i) => session.partitions.insert(i, CachedPartition::new(fp.clone())),
            }
        }
        for tp in forgotten {
            if let Ok(i) = session.position(tp) {
                session.partitions.remove(i);
            }
        }
        if session.partitions.is_empty() {
            self.sessions.remove(&metadata.session_id);
            return FetchContext::Sessionless;
        }
        session.last_used_ms = now_ms;
        session.epoch = next_epoch(session.epoch);
        FetchContext::Incremental { session_id: session.id, epoch: session.epoch }
    }

    /// Makes the response once the answers are known (`updateAndGenerateResponseData`):
    /// `(error, session_id, partitions)`. A full context makes its session here, from the
    /// request (`request`) and the answers; an incremental one keeps only the answers that
    /// must be sent. `answers` are in the order of the context's partitions: for a full or
    /// sessionless context one per partition of the request; for an incremental one, any of
    /// the session's partitions, those left out being ones the leader found nothing new for
    /// ([`CachedPartition::last_sent`]).
    pub fn respond(
        &mut self,
        now_ms: u64,
        context: FetchContext,
        request: &[FetchPartition],
        answers: Vec<FetchPartitionResponse>,
    ) -> (Option<ErrorCode>, i32, Vec<FetchPartitionResponse>) {
        match context {
            FetchContext::Sessionless => (None, INVALID_SESSION_ID, answers),
            FetchContext::Error(error) => (Some(error), INVALID_SESSION_ID, Vec::new()),
            FetchContext::Full { privileged } => {
                let id = self.maybe_create_session(now_ms, privileged, request, &answers);
                (None, id, answers)
            }
            FetchContext::Incremental { session_id, epoch } => {
                let Some(session) = self.sessions.get_mut(&session_id).filter(|s| s.epoch == epoch) else {
                    // A newer request of the session came while this one waited: its fetcher
                    // has given up on this one.
                    return (Some(ErrorCode::InvalidFetchSessionEpoch), session_id, Vec::new());
                };
                // Both are in partition order, the answers a subsequence of the session's
                // partitions: one pass pairs each answer with its partition.
                let mut cached = session.partitions.iter_mut();
                let mut kept = answers;
                kept.retain(|answer| {
                    let partition = cached
                        .find(|c| c.fetch.tp == answer.tp)
                        .expect("each answer is for one of the session's partitions, in their order");
                    partition.must_respond(answer)
                });
                (None, session_id, kept)
            }
        }
    }

    /// Makes a session from a full request and its answers if there is room, or if one can be
    /// evicted (`FetchSessionCache.maybeCreateSession`). Returns its id, or
    /// [`INVALID_SESSION_ID`].
    fn maybe_create_session(
        &mut self,
        now_ms: u64,
        privileged: bool,
        request: &[FetchPartition],
        answers: &[FetchPartitionResponse],
    ) -> i32 {
        if request.is_empty()
            || (self.sessions.len() >= self.max_entries && !self.try_evict(now_ms, privileged, request.len()))
        {
            return INVALID_SESSION_ID;
        }
        let mut partitions: Vec<CachedPartition> = request
            .iter()
            .zip(answers)
            .map(|(fp, answer)| {
                let mut cached = CachedPartition::new(fp.clone());
                cached.must_respond(answer);
                cached
            })
            .collect();
        partitions.sort_by(|a, b| a.fetch.tp.cmp(&b.fetch.tp));
        partitions.dedup_by(|a, b| a.fetch.tp == b.fetch.tp);
        let id = loop {
            let id = self.rng.gen_range(1..i32::MAX);
            if !self.sessions.contains_key(&id) {
                break id;
            }
        };
        let epoch = next_epoch(INITIAL_EPOCH);
        self.sessions
            .insert(id, FetchSession { id, privileged, partitions, creation_ms: now_ms, last_used_ms: now_ms, epoch });
        id
    }

    /// Evicts one session to make room for a new one of `size` partitions
    /// (`FetchSessionCache.tryEvict`): the least recently used if it went unused for
    /// [`MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS`]; otherwise the least valuable of the
    /// sessions older than that (followers' sessions are worth more than consumers', then larger
    /// ones more than smaller), if it is worth less than the new one. A follower may also evict a
    /// consumer's session of any age. Kafka decides a session's age when it was last used; the
    /// lab decides it now.
    fn try_evict(&mut self, now_ms: u64, privileged: bool, size: usize) -> bool {
        let stale = self
            .sessions
            .values()
            .min_by_key(|s| (s.last_used_ms, s.id))
            .filter(|s| now_ms.saturating_sub(s.last_used_ms) > MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS)
            .map(|s| s.id);
        let victim = stale.or_else(|| {
            let old =
                |s: &FetchSession| now_ms.saturating_sub(s.creation_ms) > MIN_INCREMENTAL_FETCH_SESSION_EVICTION_MS;
            self.sessions
                .values()
                .filter(|s| old(s) || (privileged && !s.privileged))
                .min_by_key(|s| (s.privileged, s.partitions.len(), s.id))
                .filter(|s| (privileged, size) > (s.privileged, s.partitions.len()))
                .map(|s| s.id)
        });
        victim.is_some_and(|id| self.sessions.remove(&id).is_some())
    }
}

#[cfg(test)]
mod tests;
