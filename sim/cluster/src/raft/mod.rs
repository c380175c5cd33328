//! KRaft: the pull-based Raft that replicates the metadata log `__cluster_metadata` (KIP-595),
//! with pre-vote (KIP-996) and check-quorum.
//!
//! One [`RaftClient`] runs in every node that reads the metadata log. Controllers are *voters*:
//! they elect a leader among themselves, and the leader is the active controller. Brokers are
//! *observers*: they fetch the log like a follower but never vote and never count toward a
//! commit. The shape follows apache/kafka: raft/src/main/java/org/apache/kafka/raft/
//! (`KafkaRaftClient`, `QuorumState`, `LeaderState`, `FollowerState`, `CandidateState`,
//! `ProspectiveState`, `UnattachedState`, `ResignedState`).
//!
//! The rules a learner meets in Kafka's code:
//!
//! - **Epochs.** Every election is for a new epoch. Any message from a higher epoch moves a node
//!   into that epoch first (to Follower when the sender names a leader, else to Unattached).
//!   The epoch, the vote and the leader are written to `quorum-state` before anything else
//!   happens, so a restart never forgets a vote.
//! - **Pre-vote.** When its timer runs out a voter becomes *Prospective* and asks the others
//!   whether they *would* vote for it, without bumping the epoch. Only with a majority of yes
//!   does it become a *Candidate* at `epoch + 1`. A follower that is fetching happily from a
//!   leader says no, so a node that was cut off cannot disrupt a healthy quorum when it returns.
//! - **Vote.** A voter grants at most one vote per epoch, and only to a candidate whose log is
//!   at least as up to date as its own: `(last epoch, end offset)` compared as a pair.
//! - **BeginQuorumEpoch.** The winner announces itself to every voter, resending until each
//!   has acknowledged or fetched. It appends a `LeaderChange` control record at once.
//! - **Fetch.** Followers pull `(fetch_offset, last_fetched_epoch)`. The leader checks the pair
//!   against its leader-epoch cache; if the follower's log diverges it answers
//!   `diverging_epoch = (epoch, end_offset)` and the follower truncates there and fetches
//!   again. Otherwise it answers records and its high watermark, or holds the fetch up to
//!   500 ms when there is nothing new (long poll).
//! - **Commit.** The leader sorts the voters' end offsets (its own included) and takes the
//!   one a majority has reached. It becomes the high watermark only if it is above the
//!   leader's epoch start offset: a leader commits an entry of its own epoch before exposing
//!   anything older (Raft §5.4.2). The high watermark never goes back.
//! - **Check-quorum.** A leader that has not been fetched from by a majority within
//!   1.5 × `controller.quorum.fetch.timeout.ms` resigns: it cannot be sure it still leads.
//! - **EndQuorumEpoch.** A leader that shuts down (or resigns) tells the voters, listing
//!   successors by log progress; the first may start an election at once.
//! - **Durability.** The leader flushes before counting its own end offset and followers flush
//!   before they fetch again (KafkaRaftClient flushes every append), so a power loss never
//!   takes back an entry a voter has acknowledged.

use crate::config::{BrokerConfig, LogConfig};
use crate::error::ErrorCode;
use crate::event::Event;
use crate::ids::{NodeId, TopicPartition};
use crate::key::Key;
use crate::log::{Checkpoints, PartitionLog};
use crate::metadata::MetadataRecord;
use crate::node::{DiskOp, Effect, Outbox};
use crate::protocol::Message;
use crate::record::RecordBatch;
use crate::time::Instant;
use core::time::Duration;
use rand::Rng;
use rand_chacha::ChaCha8Rng;
use serde::{Deserialize, Serialize};
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;

/// The metadata topic's name (KIP-500).
pub const METADATA_TOPIC: &str = "__cluster_metadata";
/// The file, inside `__cluster_metadata-0/`, that keeps the election state (Kafka's
/// `quorum-state`).
pub const QUORUM_STATE_FILE: &str = "quorum-state";
/// How long the leader may hold a fetch that has nothing new (KafkaRaftClient's
/// `FETCH_MAX_WAIT_MS`, 500).
pub const FETCH_MAX_WAIT_MS: u64 = 500;
/// Most bytes of records one fetch response carries.
const FETCH_MAX_BYTES: usize = 1 << 20;

/// The metadata log's only partition.
pub fn metadata_tp() -> TopicPartition {
    TopicPartition::new(METADATA_TOPIC, 0)
}

/// The path of the `quorum-state` file in a node's data directory.
pub fn quorum_state_path() -> String {
    format!("{}/{QUORUM_STATE_FILE}", PartitionLog::dir_name(&metadata_tp()))
}

/// Quorum timing and membership, from the `controller.quorum.*` configs (Kafka's
/// `QuorumConfig`).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumConfig {
    /// The voters' node ids (`controller.quorum.voters`), sorted.
    pub voters: Vec<NodeId>,
    /// `controller.quorum.election.timeout.ms` (1000): a voter without a leader waits a random
    /// time in `[T, 2T)` before it campaigns.
    pub election_timeout_ms: u64,
    /// `controller.quorum.fetch.timeout.ms` (2000): a follower that has not fetched
    /// successfully for this long campaigns; a leader checks its quorum over 1.5 × this.
    pub fetch_timeout_ms: u64,
    /// `controller.quorum.election.backoff.max.ms` (1000): the longest pause after a lost
    /// election.
    pub election_backoff_max_ms: u64,
    /// `controller.quorum.request.timeout.ms` (2000): how long a request may stay unanswered.
    pub request_timeout_ms: u64,
    /// `controller.quorum.retry.backoff.ms` (20): the pause before a failed request is retried,
    /// and the base of the exponential election backoff.
    pub retry_backoff_ms: u64,
    /// A teaching knob with no Kafka equivalent: every voter's first election timeout is
    /// exactly `T` instead of random, so all of them campaign at once and split the vote, as
    /// RaftScope shows it. Later timeouts stay random, which is what resolves the split.
    pub aligned_first_election: bool,
}

impl QuorumConfig {
    /// The quorum settings of `config` for the given voters.
    pub fn new(config: &BrokerConfig, voters: Vec<NodeId>, aligned_first_election: bool) -> QuorumConfig {
        let mut voters = voters;
        voters.sort();
        QuorumConfig {
            voters,
            election_timeout_ms: config.controller_quorum_election_timeout_ms,
            fetch_timeout_ms: config.controller_quorum_fetch_timeout_ms,
            election_backoff_max_ms: config.controller_quorum_election_backoff_max_ms,
            request_timeout_ms: config.controller_quorum_request_timeout_ms,
            retry_backoff_ms: config.controller_quorum_retry_backoff_ms,
            aligned_first_election,
        }
    }

    /// Votes needed to win an election or commit an entry: `floor(N / 2) + 1`.
    pub fn majority(&self) -> usize {
        self.voters.len() / 2 + 1
    }
}

/// A replica's role in the quorum, as `kafka-metadata-quorum.sh` and Kafka's `QuorumState`
/// name them.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub enum QuorumRole {
    /// A voter that knows no leader for its epoch and is waiting (it may have voted).
    Unattached,
    /// A voter asking for pre-votes, without bumping the epoch (KIP-996).
    Prospective,
    /// A voter that bumped the epoch, voted for itself and asks for votes.
    Candidate,
    /// The elected leader: the active controller.
    Leader,
    /// A voter fetching from a known leader.
    Follower,
    /// A former leader that gave up its epoch (shutdown or check-quorum) and waits for the next.
    Resigned,
    /// A non-voter (a broker) that reads the log.
    Observer,
}

impl QuorumRole {
    /// The name Kafka's tools print.
    pub fn name(self) -> &'static str {
        match self {
            QuorumRole::Unattached => "Unattached",
            QuorumRole::Prospective => "Prospective",
            QuorumRole::Candidate => "Candidate",
            QuorumRole::Leader => "Leader",
            QuorumRole::Follower => "Follower",
            QuorumRole::Resigned => "Resigned",
            QuorumRole::Observer => "Observer",
        }
    }
}

/// What the leader knows about one replica that fetches from it.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ReplicaProgress {
    /// The replica's end offset as its last valid fetch reported it; -1 before the first.
    pub log_end_offset: i64,
    /// When it last fetched.
    pub last_fetch: Option<Instant>,
    /// When it last fetched at or above the leader's end offset.
    pub last_caught_up: Option<Instant>,
}

/// A replica as `kafka-metadata-quorum.sh describe --replication` lists it.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ReplicaDescription {
    /// The node.
    pub node_id: NodeId,
    /// Its end offset as the leader knows it (-1 when unknown).
    pub log_end_offset: i64,
    /// When it last fetched, in milliseconds of simulated time.
    pub last_fetch_ms: Option<u64>,
    /// When it last caught up with the leader, in milliseconds of simulated time.
    pub last_caught_up_ms: Option<u64>,
}

/// One replica's quorum state, for checkers and views.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct QuorumStatus {
    /// The node.
    pub node_id: NodeId,
    /// Its role.
    pub role: QuorumRole,
    /// Its epoch.
    pub epoch: i32,
    /// The leader it knows for its epoch.
    pub leader_id: Option<NodeId>,
    /// The candidate it voted for in its epoch.
    pub voted_id: Option<NodeId>,
    /// Its metadata log end offset.
    pub log_end_offset: i64,
    /// Its high watermark: records below are committed.
    pub high_watermark: i64,
    /// Whether the leader has committed an entry of its own epoch (always `false` off the
    /// leader). Until then the leader's high watermark is the one it had as a follower.
    pub leader_committed: bool,
    /// The leader's view of every voter and observer (leader only), voters first.
    pub replicas: Vec<(ReplicaDescription, bool)>,
}

#[derive(Clone, Debug)]
struct LeaderState {
    epoch_start_offset: i64,
    voters: BTreeMap<NodeId, ReplicaProgress>,
    observers: BTreeMap<NodeId, ReplicaProgress>,
    /// Voters that acknowledged `BeginQuorumEpoch` or fetched in this epoch.
    acknowledged: BTreeSet<NodeId>,
    begin_resend_at: Instant,
    /// Voters heard from since the check-quorum timer was last reset.
    fetched_since_check: BTreeSet<NodeId>,
    check_quorum_deadline: Instant,
    committed_in_epoch: bool,
}

#[derive(Clone, Debug)]
enum State {
    Unattached {
        election_deadline: Instant,
    },
    /// `last_leader` is the leader it followed before it timed out: answers naming that leader
    /// do not send it back (KIP-996's `ProspectiveState.leaderId`).
    Prospective {
        granted: BTreeSet<NodeId>,
        rejected: BTreeSet<NodeId>,
        election_deadline: Instant,
        last_leader: Option<NodeId>,
    },
    Candidate {
        granted: BTreeSet<NodeId>,
        rejected: BTreeSet<NodeId>,
        deadline: Instant,
        backing_off: bool,
    },
    Leader(Box<LeaderState>),
    Follower {
        leader: NodeId,
        fetch_deadline: Instant,
        has_fetched: bool,
        /// The leader said goodbye with EndQuorumEpoch.
        leader_resigned: bool,
    },
    Resigned {
        election_deadline: Instant,
    },
}

#[derive(Clone, Copy, Debug)]
struct InFlight {
    correlation_id: u64,
    to: NodeId,
    sent: Instant,
}

#[derive(Clone, Debug)]
struct ParkedFetch {
    from: NodeId,
    correlation_id: u64,
    fetch_offset: i64,
    deadline: Instant,
}

/// The durable election state in `quorum-state`.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct ElectionState {
    /// The epoch.
    pub epoch: i32,
    /// The leader of that epoch, if known.
    pub leader_id: Option<NodeId>,
    /// The candidate voted for in that epoch.
    pub voted_id: Option<NodeId>,
}

impl ElectionState {
    /// The file's bytes, in the JSON shape Kafka's `FileQuorumStateStore` writes.
    pub fn encode(&self, voters: &[NodeId]) -> Vec<u8> {
        let voters: Vec<String> = voters.iter().map(|v| format!("{{\"voterId\":{}}}", v.0)).collect();
        format!(
            "{{\"clusterId\":\"\",\"leaderId\":{},\"leaderEpoch\":{},\"votedId\":{},\"appliedOffset\":0,\"currentVoters\":[{}],\"data_version\":0}}\n",
            self.leader_id.map_or(-1, |l| l.0),
            self.epoch,
            self.voted_id.map_or(-1, |v| v.0),
            voters.join(",")
        )
        .into_bytes()
    }

    /// Reads the file back. Returns `None` when it is missing fields; the file is written
    /// atomically, so that means it was never written.
    pub fn decode(bytes: &[u8]) -> Option<ElectionState> {
        let text = std::str::from_utf8(bytes).ok()?;
        let field = |name: &str| -> Option<i32> {
            let start = text.find(&format!("\"{name}\":"))? + name.len() + 3;
            let rest = &text[start..];
            let end = rest.find([',', '}']).unwrap_or(rest.len());
            rest[..end].trim().parse().ok()
        };
        let node = |n: i32| (n >= 0).then_some(NodeId(n));
        Some(ElectionState {
            epoch: field("leaderEpoch")?,
            leader_id: node(field("leaderId")?),
            voted_id: node(field("votedId")?),
        })
    }
}

/// One node's Raft replica of the metadata log.
pub struct RaftClient {
    id: NodeId,
    config: QuorumConfig,
    rng: ChaCha8Rng,
    log: PartitionLog,
    /// Decoded records with the epoch of their batch, one per offset from 0.
    entries: Vec<(i32, MetadataRecord)>,
    epoch: i32,
    /// The candidate this node voted for in `epoch` (itself as a candidate or leader). Kept
    /// across role changes within the epoch, so no node ever votes twice in one epoch.
    voted: Option<NodeId>,
    state: State,
    outbox: Outbox,
    next_correlation_id: u64,
    fetch_in_flight: Option<InFlight>,
    fetch_not_before: Instant,
    bootstrap_index: usize,
    /// Failed elections in a row, for the exponential backoff.
    retries: u32,
    parked: Vec<ParkedFetch>,
    first_election: bool,
}

/// Encodes metadata records into a batch's records (key: the record type; value: its fields).
fn encode_records(records: &[MetadataRecord], now_ms: i64) -> Vec<crate::record::Record> {
    records
        .iter()
        .enumerate()
        .map(|(i, r)| crate::record::Record {
            offset_delta: i as i32,
            timestamp_ms: now_ms,
            key: Some(Key::from(r.type_name())),
            value: Some(Arc::from(r.encode())),
            headers: Default::default(),
        })
        .collect()
}

fn decode_batch(batch: &RecordBatch) -> Vec<(i32, MetadataRecord)> {
    batch
        .records()
        .iter()
        .map(|r| {
            let value = r.value.as_deref().unwrap_or_default();
            let record = MetadataRecord::decode(value).unwrap_or_else(|e| {
                panic!("metadata record at offset {} passed its CRC but does not decode: {e}", batch.offset_of(r))
            });
            (batch.partition_leader_epoch(), record)
        })
        .collect()
}

impl RaftClient {
    /// Starts a replica from the node's files (path → bytes, the whole data directory).
    /// A voter whose `quorum-state` names itself as leader comes back Resigned, as in Kafka:
    /// a restarted node cannot know what it committed, so it waits for the next election.
    pub fn new(
        now: Instant,
        id: NodeId,
        config: QuorumConfig,
        rng: ChaCha8Rng,
        files: &BTreeMap<String, Vec<u8>>,
    ) -> RaftClient {
        let tp = metadata_tp();
        let prefix = format!("{}/", PartitionLog::dir_name(&tp));
        let dir_files: BTreeMap<String, Vec<u8>> = files
            .iter()
            .filter_map(|(path, bytes)| path.strip_prefix(&prefix).map(|name| (name.to_string(), bytes.clone())))
            .collect();
        let election = dir_files.get(QUORUM_STATE_FILE).and_then(|b| ElectionState::decode(b));
        let log_config = LogConfig::default();
        let log = if dir_files.is_empty() {
            PartitionLog::new(tp, log_config, now.as_millis() as i64)
        } else {
            PartitionLog::load(tp, log_config, &dir_files, Checkpoints::default(), now.as_millis() as i64)
        };
        let entries = log.batches().flat_map(|b| decode_batch(b)).collect();
        let mut client = RaftClient {
            id,
            config,
            rng,
            log,
            entries,
            epoch: 0,
            voted: None,
            state: State::Unattached { election_deadline: now },
            outbox: Outbox::default(),
            next_correlation_id: 0,
            fetch_in_flight: None,
            fetch_not_before: now,
            bootstrap_index: id.0.unsigned_abs() as usize,
            retries: 0,
            parked: Vec::new(),
            first_election: true,
        };
        client.drain_log();
        let election = election.unwrap_or_default();
        client.epoch = election.epoch;
        client.voted = election.voted_id;
        client.state = match election.leader_id {
            Some(leader) if leader == id => State::Resigned { election_deadline: client.election_deadline(now) },
            Some(leader) => State::Follower {
                leader,
                fetch_deadline: now + client.fetch_timeout(),
                has_fetched: false,
                leader_resigned: false,
            },
            // A lone voter elects itself at once (KafkaRaftClient does the same).
            None if client.config.voters == [id] => State::Unattached { election_deadline: now },
            None => State::Unattached { election_deadline: client.election_deadline(now) },
        };
        client.persist();
        client.outbox.event(Event::QuorumStateChanged {
            role: client.role(),
            epoch: client.epoch,
            leader_id: client.leader_id(),
            voted_id: client.voted_id(),
            reason: "started".into(),
        });
        client
    }

    // ---- accessors ----

    /// This node's id.
    pub fn id(&self) -> NodeId {
        self.id
    }

    /// Whether this node votes.
    pub fn is_voter(&self) -> bool {
        self.config.voters.contains(&self.id)
    }

    /// The quorum's voters.
    pub fn voters(&self) -> &[NodeId] {
        &self.config.voters
    }

    /// The current epoch.
    pub fn epoch(&self) -> i32 {
        self.epoch
    }

    /// The role now.
    pub fn role(&self) -> QuorumRole {
        match &self.state {
            _ if !self.is_voter() => QuorumRole::Observer,
            State::Unattached { .. } => QuorumRole::Unattached,
            State::Prospective { .. } => QuorumRole::Prospective,
            State::Candidate { .. } => QuorumRole::Candidate,
            State::Leader(_) => QuorumRole::Leader,
            State::Follower { .. } => QuorumRole::Follower,
            State::Resigned { .. } => QuorumRole::Resigned,
        }
    }

    /// The leader of the current epoch, if known.
    pub fn leader_id(&self) -> Option<NodeId> {
        match &self.state {
            State::Leader(_) => Some(self.id),
            State::Follower { leader, .. } => Some(*leader),
            _ => None,
        }
    }

    fn voted_id(&self) -> Option<NodeId> {
        self.voted
    }

    /// Whether this node leads and has committed an entry of its own epoch, so everything
    /// before its epoch start is committed too: the moment Kafka's controller becomes active.
    pub fn is_leader_ready(&self) -> bool {
        matches!(&self.state, State::Leader(l) if l.committed_in_epoch)
    }

    /// The high watermark: entries below it are committed.
    pub fn high_watermark(&self) -> i64 {
        self.log.high_watermark()
    }

    /// The log end offset.
    pub fn log_end_offset(&self) -> i64 {
        self.log.log_end_offset()
    }

    /// The decoded entries `(epoch, record)`, one per offset from 0, committed or not.
    pub fn entries(&self) -> &[(i32, MetadataRecord)] {
        &self.entries
    }

    /// The metadata log itself (segments, epochs), for dumps.
    pub fn log(&self) -> &PartitionLog {
        &self.log
    }

    /// A snapshot for checkers and views.
    pub fn status(&self) -> QuorumStatus {
        let describe = |(id, p): (&NodeId, &ReplicaProgress)| ReplicaDescription {
            node_id: *id,
            log_end_offset: p.log_end_offset,
            last_fetch_ms: p.last_fetch.map(|t| t.as_millis()),
            last_caught_up_ms: p.last_caught_up.map(|t| t.as_millis()),
        };
        let (replicas, leader_committed) = match &self.state {
            State::Leader(l) => (
                l.voters
                    .iter()
                    .map(|r| (describe(r), true))
                    .chain(l.observers.iter().map(|r| (describe(r), false)))
                    .collect(),
                l.committed_in_epoch,
            ),
            _ => (Vec::new(), false),
        };
        QuorumStatus {
            node_id: self.id,
            role: self.role(),
            epoch: self.epoch,
            leader_id: self.leader_id(),
            voted_id: self.voted_id(),
            log_end_offset: self.log.log_end_offset(),
            high_watermark: self.log.high_watermark(),
            leader_committed,
            replicas,
        }
    }

    /// Moves everything queued into `outbox`: messages, disk writes and events.
    pub fn drain_into(&mut self, outbox: &mut Outbox) {
        self.drain_log();
        while let Some(effect) = self.outbox.poll_effect() {
            match effect {
                Effect::Send { to, message } => outbox.send_boxed(to, message),
                Effect::Disk(op) => outbox.disk(op),
            }
        }
        while let Some(event) = self.outbox.poll_event() {
            outbox.event(event);
        }
    }

    fn drain_log(&mut self) {
        for op in self.log.take_disk_ops() {
            self.outbox.disk(op);
        }
        // Segment rolls and flushes of the metadata log are routine; they are not reported.
        self.log.take_events();
    }

    // ---- helpers ----

    fn correlation_id(&mut self) -> u64 {
        self.next_correlation_id += 1;
        self.next_correlation_id
    }

    fn fetch_timeout(&self) -> Duration {
        Duration::from_millis(self.config.fetch_timeout_ms)
    }

    fn request_timeout(&self) -> Duration {
        Duration::from_millis(self.config.request_timeout_ms)
    }

    /// A random election timeout in `[T, 2T)`, from the node's seeded PRNG.
    fn election_deadline(&mut self, now: Instant) -> Instant {
        let t = self.config.election_timeout_ms.max(1);
        if self.first_election && self.config.aligned_first_election && self.epoch == 0 {
            return now + Duration::from_millis(t);
        }
        now + Duration::from_millis(t + self.rng.gen_range(0..t))
    }

    /// The pause after a lost election: random up to `retry.backoff.ms × 2^retries`, capped by
    /// `election.backoff.max.ms` (Kafka's `binaryExponentialElectionBackoffMs`).
    fn election_backoff(&mut self) -> Duration {
        let cap = self
            .config
            .retry_backoff_ms
            .max(1)
            .saturating_mul(1u64 << self.retries.min(20))
            .min(self.config.election_backoff_max_ms.max(1));
        Duration::from_millis(self.rng.gen_range(0..=cap))
    }

    fn last_epoch_and_offset(&self) -> (i32, i64) {
        (self.entries.last().map_or(0, |(e, _)| *e), self.log.log_end_offset())
    }

    fn others(&self) -> Vec<NodeId> {
        self.config.voters.iter().copied().filter(|v| *v != self.id).collect()
    }

    fn persist(&mut self) {
        // A resigned leader still records itself as the epoch's leader, as Kafka's
        // ResignedState does, so a restart brings it back Resigned again.
        let leader_id = match self.state {
            State::Resigned { .. } => Some(self.id),
            _ => self.leader_id(),
        };
        let state = ElectionState { epoch: self.epoch, leader_id, voted_id: self.voted_id() };
        self.outbox
            .disk(DiskOp::WriteAtomically { path: quorum_state_path(), bytes: state.encode(&self.config.voters) });
    }

    fn transition(&mut self, epoch: i32, state: State, reason: &str) {
        let before = (self.role(), self.epoch, self.leader_id(), self.voted_id());
        assert!(epoch >= self.epoch, "node {}: epoch went back from {} to {epoch}", self.id, self.epoch);
        if epoch > self.epoch {
            self.voted = None;
        }
        if matches!(state, State::Candidate { .. }) {
            self.voted = Some(self.id);
        }
        self.epoch = epoch;
        self.state = state;
        if !matches!(self.state, State::Leader(_)) {
            self.parked.clear();
        }
        let after = (self.role(), self.epoch, self.leader_id(), self.voted_id());
        if before != after {
            self.persist();
            self.outbox.event(Event::QuorumStateChanged {
                role: after.0,
                epoch: after.1,
                leader_id: after.2,
                voted_id: after.3,
                reason: reason.to_string(),
            });
        }
    }

    fn become_unattached(&mut self, now: Instant, epoch: i32, reason: &str) {
        let election_deadline = self.election_deadline(now);
        self.transition(epoch, State::Unattached { election_deadline }, reason);
    }

    fn become_follower(&mut self, now: Instant, epoch: i32, leader: NodeId, reason: &str) {
        self.retries = 0;
        let fetch_deadline = now + self.fetch_timeout();
        let state = State::Follower { leader, fetch_deadline, has_fetched: false, leader_resigned: false };
        self.transition(epoch, state, reason);
        // A fetch to whoever we followed before is worthless now.
        self.fetch_in_flight = None;
        self.fetch_not_before = now;
    }

    /// Moves to a higher epoch seen in any message. Returns whether it did.
    fn observe_epoch(&mut self, now: Instant, epoch: i32, leader: Option<NodeId>, reason: &str) -> bool {
        if epoch > self.epoch {
            match leader {
                Some(l) if l != self.id => self.become_follower(now, epoch, l, reason),
                _ if self.is_voter() => self.become_unattached(now, epoch, reason),
                _ => {
                    // An observer learns the epoch and keeps looking for the leader.
                    self.transition(epoch, State::Unattached { election_deadline: now }, reason)
                }
            }
            return true;
        }
        if epoch == self.epoch {
            if let Some(l) = leader.filter(|l| *l != self.id) {
                let knows = matches!(self.state, State::Follower { leader, .. } if leader == l);
                let may_follow = match &self.state {
                    State::Unattached { .. } | State::Candidate { .. } => true,
                    State::Prospective { last_leader, .. } => *last_leader != Some(l),
                    _ => false,
                };
                if !knows && may_follow {
                    self.become_follower(now, epoch, l, reason);
                    return true;
                }
            }
        }
        false
    }

    fn become_prospective(&mut self, now: Instant) {
        let election_deadline = self.election_deadline(now);
        self.first_election = false;
        let granted: BTreeSet<NodeId> = [self.id].into();
        let last_leader = match &self.state {
            State::Follower { leader, .. } => Some(*leader),
            State::Prospective { last_leader, .. } => *last_leader,
            _ => None,
        };
        self.transition(
            self.epoch,
            State::Prospective { granted, rejected: BTreeSet::new(), election_deadline, last_leader },
            "election timeout: asking for pre-votes",
        );
        self.fetch_in_flight = None;
        if self.config.majority() <= 1 {
            return self.become_candidate(now);
        }
        let (last_epoch, last_offset) = self.last_epoch_and_offset();
        for to in self.others() {
            let correlation_id = self.correlation_id();
            self.outbox.send(
                to,
                Message::Vote {
                    correlation_id,
                    candidate_id: self.id,
                    candidate_epoch: self.epoch,
                    last_offset_epoch: last_epoch,
                    last_offset,
                    pre_vote: true,
                },
            );
        }
    }

    fn become_candidate(&mut self, now: Instant) {
        let deadline = self.election_deadline(now);
        let granted: BTreeSet<NodeId> = [self.id].into();
        self.transition(
            self.epoch + 1,
            State::Candidate { granted, rejected: BTreeSet::new(), deadline, backing_off: false },
            "won the pre-vote: campaigning in a new epoch",
        );
        if self.config.majority() <= 1 {
            return self.become_leader(now);
        }
        let (last_epoch, last_offset) = self.last_epoch_and_offset();
        for to in self.others() {
            let correlation_id = self.correlation_id();
            self.outbox.send(
                to,
                Message::Vote {
                    correlation_id,
                    candidate_id: self.id,
                    candidate_epoch: self.epoch,
                    last_offset_epoch: last_epoch,
                    last_offset,
                    pre_vote: false,
                },
            );
        }
    }

    fn become_leader(&mut self, now: Instant) {
        self.retries = 0;
        let epoch_start_offset = self.log.log_end_offset();
        let check = now + self.fetch_timeout().mul_f64(1.5);
        let leader = LeaderState {
            epoch_start_offset,
            voters: self
                .config
                .voters
                .iter()
                .map(|v| (*v, ReplicaProgress { log_end_offset: -1, ..Default::default() }))
                .collect(),
            observers: BTreeMap::new(),
            acknowledged: [self.id].into(),
            begin_resend_at: now + self.request_timeout(),
            fetched_since_check: BTreeSet::new(),
            check_quorum_deadline: check,
            committed_in_epoch: false,
        };
        self.transition(self.epoch, State::Leader(Box::new(leader)), "won the election");
        self.fetch_in_flight = None;
        self.log.assign_epoch_start(self.epoch);
        for to in self.others() {
            self.send_begin(to);
        }
        // The LeaderChange control record gives the new epoch an entry to commit at once.
        let voters = self.config.voters.clone();
        self.append_unchecked(now, vec![MetadataRecord::LeaderChange { leader_id: self.id, voters }]);
    }

    fn send_begin(&mut self, to: NodeId) {
        let correlation_id = self.correlation_id();
        self.outbox
            .send(to, Message::BeginQuorumEpoch { correlation_id, leader_id: self.id, leader_epoch: self.epoch });
    }

    // ---- the leader's log ----

    /// Appends records as the leader, in one batch. Returns the offset after the batch, which
    /// the caller waits for the high watermark to pass, or `None` when this node does not lead.
    pub fn append(&mut self, now: Instant, records: Vec<MetadataRecord>) -> Option<i64> {
        if !matches!(self.state, State::Leader(_)) || records.is_empty() {
            return None;
        }
        Some(self.append_unchecked(now, records))
    }

    fn append_unchecked(&mut self, now: Instant, records: Vec<MetadataRecord>) -> i64 {
        let now_ms = now.as_millis() as i64;
        let batch = self.log.append_as_leader(self.epoch, encode_records(&records, now_ms), now_ms);
        // Kafka's raft leader flushes before its own end offset counts toward the commit.
        self.log.flush(self.log.log_end_offset(), now_ms);
        self.drain_log();
        self.entries.extend(records.into_iter().map(|r| (batch.partition_leader_epoch(), r)));
        let end = self.log.log_end_offset();
        let id = self.id;
        if let State::Leader(l) = &mut self.state {
            let own = l.voters.entry(id).or_default();
            own.log_end_offset = end;
            own.last_fetch = Some(now);
            own.last_caught_up = Some(now);
        }
        self.maybe_advance_high_watermark(now);
        self.answer_parked(now, false);
        end
    }

    fn maybe_advance_high_watermark(&mut self, now: Instant) -> bool {
        let majority = self.config.majority();
        let State::Leader(l) = &mut self.state else { return false };
        let mut ends: Vec<i64> = l.voters.values().map(|p| p.log_end_offset).collect();
        ends.sort_unstable_by(|a, b| b.cmp(a));
        let Some(&candidate) = ends.get(majority - 1) else { return false };
        if candidate <= l.epoch_start_offset || candidate <= self.log.high_watermark() {
            return false;
        }
        l.committed_in_epoch = true;
        self.log.set_high_watermark(candidate);
        self.outbox.event(Event::MetadataCommitted { epoch: self.epoch, high_watermark: candidate });
        let _ = now;
        true
    }

    // ---- inputs ----

    /// Handles a quorum message (`Vote`, `BeginQuorumEpoch`, `EndQuorumEpoch`, `QuorumFetch`
    /// and their responses). Returns `false` for any other message, which the caller handles.
    pub fn handle_message(&mut self, now: Instant, from: NodeId, message: Message) -> bool {
        match message {
            Message::Vote {
                correlation_id,
                candidate_id,
                candidate_epoch,
                last_offset_epoch,
                last_offset,
                pre_vote,
            } => self.handle_vote(
                now,
                from,
                correlation_id,
                candidate_id,
                candidate_epoch,
                (last_offset_epoch, last_offset),
                pre_vote,
            ),
            Message::VoteResponse { leader_epoch, leader_id, vote_granted, pre_vote, .. } => {
                self.handle_vote_response(now, from, leader_epoch, leader_id, vote_granted, pre_vote)
            }
            Message::BeginQuorumEpoch { correlation_id, leader_id, leader_epoch } => {
                let error = if leader_epoch < self.epoch || !self.is_voter() {
                    Some(ErrorCode::FencedLeaderEpoch)
                } else {
                    if leader_epoch > self.epoch
                        || !matches!(self.state, State::Follower { leader, .. } if leader == leader_id)
                    {
                        assert!(
                            !(leader_epoch == self.epoch && matches!(self.state, State::Leader(_))),
                            "node {} leads epoch {} and was told {} leads it too",
                            self.id,
                            self.epoch,
                            leader_id
                        );
                        self.become_follower(now, leader_epoch, leader_id, "BeginQuorumEpoch from the new leader");
                    }
                    None
                };
                let (leader_epoch, leader_id) = (self.epoch, self.leader_id());
                self.outbox
                    .send(from, Message::BeginQuorumEpochResponse { correlation_id, error, leader_epoch, leader_id });
            }
            Message::BeginQuorumEpochResponse { leader_epoch, leader_id, error, .. } => {
                if !self.observe_epoch(now, leader_epoch, leader_id, "a BeginQuorumEpoch answer carried a higher epoch")
                    && error.is_none()
                {
                    if let State::Leader(l) = &mut self.state {
                        l.acknowledged.insert(from);
                    }
                }
            }
            Message::EndQuorumEpoch { correlation_id, leader_id, leader_epoch, preferred_successors } => {
                self.handle_end_quorum_epoch(now, leader_id, leader_epoch, &preferred_successors);
                let (leader_epoch, leader_id) = (self.epoch, self.leader_id());
                self.outbox.send(
                    from,
                    Message::EndQuorumEpochResponse { correlation_id, error: None, leader_epoch, leader_id },
                );
            }
            Message::EndQuorumEpochResponse { leader_epoch, leader_id, .. } => {
                self.observe_epoch(now, leader_epoch, leader_id, "an EndQuorumEpoch answer carried a higher epoch");
            }
            Message::QuorumFetch {
                correlation_id,
                replica_id,
                current_leader_epoch,
                fetch_offset,
                last_fetched_epoch,
                max_wait_ms,
            } => self.handle_fetch(
                now,
                from,
                correlation_id,
                replica_id,
                current_leader_epoch,
                fetch_offset,
                last_fetched_epoch,
                max_wait_ms,
            ),
            Message::QuorumFetchResponse {
                correlation_id,
                error,
                leader_epoch,
                leader_id,
                high_watermark,
                diverging_epoch,
                batches,
            } => self.handle_fetch_response(
                now,
                from,
                correlation_id,
                error,
                leader_epoch,
                leader_id,
                high_watermark,
                diverging_epoch,
                batches,
            ),
            _ => return false,
        }
        self.after_input(now);
        true
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_vote(
        &mut self,
        now: Instant,
        from: NodeId,
        correlation_id: u64,
        candidate: NodeId,
        candidate_epoch: i32,
        candidate_log: (i32, i64),
        pre_vote: bool,
    ) {
        if self.is_voter() && candidate_epoch > self.epoch {
            self.become_unattached(now, candidate_epoch, "a vote request carried a higher epoch");
        }
        let log_ok = candidate_log >= self.last_epoch_and_offset();
        let verdict: Result<(), &str> = if !self.is_voter() {
            Err("it is not a voter")
        } else if candidate_epoch < self.epoch {
            Err("its epoch is older")
        } else if !log_ok {
            Err("its log is behind")
        } else if pre_vote {
            match &self.state {
                State::Leader(_) => Err("this node leads the epoch"),
                State::Follower { has_fetched: true, .. } => Err("this follower is fetching from a live leader"),
                _ => Ok(()),
            }
        } else {
            match &self.state {
                State::Leader(_) => Err("it leads this epoch"),
                State::Follower { .. } => Err("it knows the leader of this epoch"),
                // Repeating a vote already cast is always allowed (a lost answer).
                _ if self.voted == Some(candidate) => Ok(()),
                State::Unattached { .. } | State::Prospective { .. } if self.voted.is_none() => Ok(()),
                State::Unattached { .. } | State::Prospective { .. } => Err("it already voted in this epoch"),
                State::Resigned { .. } => Err("it resigned this epoch and waits for the next"),
                State::Candidate { .. } => Err("it is campaigning itself"),
            }
        };
        let granted = verdict.is_ok();
        if granted && !pre_vote && self.voted != Some(candidate) {
            let election_deadline = self.election_deadline(now);
            self.voted = Some(candidate);
            self.state = State::Unattached { election_deadline };
            self.persist();
            self.outbox.event(Event::QuorumStateChanged {
                role: self.role(),
                epoch: self.epoch,
                leader_id: None,
                voted_id: self.voted,
                reason: "voted".into(),
            });
        }
        self.outbox.event(Event::VoteCast {
            candidate,
            epoch: candidate_epoch,
            pre_vote,
            granted,
            reason: verdict.err().map(str::to_string),
        });
        let (leader_epoch, leader_id) = (self.epoch, self.leader_id());
        self.outbox.send(
            from,
            Message::VoteResponse {
                correlation_id,
                error: None,
                leader_epoch,
                leader_id,
                vote_granted: granted,
                pre_vote,
            },
        );
    }

    fn handle_vote_response(
        &mut self,
        now: Instant,
        from: NodeId,
        leader_epoch: i32,
        leader_id: Option<NodeId>,
        granted: bool,
        pre_vote: bool,
    ) {
        let majority = self.config.majority();
        let voters = self.config.voters.len();
        if self.observe_epoch(now, leader_epoch, leader_id, "a vote answer carried a higher epoch") {
            return;
        }
        if leader_epoch != self.epoch {
            return;
        }
        match &mut self.state {
            State::Prospective { granted: yes, rejected: no, .. } if pre_vote => {
                if granted {
                    yes.insert(from);
                } else {
                    no.insert(from);
                }
                if yes.len() >= majority {
                    self.become_candidate(now);
                } else if no.len() > voters - majority {
                    // Kafka returns to Unattached (or Follower) and waits for the next timeout.
                    self.retries += 1;
                    let election_deadline =
                        now + self.election_backoff() + Duration::from_millis(self.config.election_timeout_ms);
                    self.transition(self.epoch, State::Unattached { election_deadline }, "lost the pre-vote");
                }
            }
            State::Candidate { granted: yes, rejected: no, backing_off: false, .. } if !pre_vote => {
                if granted {
                    yes.insert(from);
                } else {
                    no.insert(from);
                }
                if yes.len() >= majority {
                    self.become_leader(now);
                } else if no.len() > voters - majority {
                    self.candidate_backs_off(now, "lost the election");
                }
            }
            _ => {}
        }
    }

    fn candidate_backs_off(&mut self, now: Instant, why: &str) {
        self.retries += 1;
        let backoff = self.election_backoff();
        if let State::Candidate { deadline, backing_off, .. } = &mut self.state {
            *deadline = now + backoff;
            *backing_off = true;
        }
        self.outbox.event(Event::ElectionFailed {
            epoch: self.epoch,
            reason: why.to_string(),
            backoff_ms: crate::time::ms(backoff),
        });
    }

    fn handle_end_quorum_epoch(&mut self, now: Instant, leader_id: NodeId, leader_epoch: i32, successors: &[NodeId]) {
        if self.observe_epoch(now, leader_epoch, Some(leader_id), "EndQuorumEpoch carried a higher epoch") {
            // Fall through: we now follow the resigning leader and shorten our timer below.
        }
        if leader_epoch != self.epoch {
            return;
        }
        // The first preferred successor may campaign at once; the others wait longer the
        // further down the list they are (Kafka's `endEpochElectionBackoff`).
        let backoff = match successors.iter().position(|s| *s == self.id) {
            Some(0) => Duration::ZERO,
            Some(rank) => Duration::from_millis(
                self.config
                    .retry_backoff_ms
                    .max(1)
                    .saturating_mul(1u64 << rank.min(20))
                    .min(self.config.election_backoff_max_ms),
            ),
            None => Duration::from_millis(self.config.election_backoff_max_ms),
        };
        if let State::Follower { leader, fetch_deadline, has_fetched, leader_resigned } = &mut self.state {
            if *leader == leader_id {
                *fetch_deadline = (*fetch_deadline).min(now + backoff);
                // The leader said it is gone, so this follower no longer defends it against
                // pre-votes.
                *has_fetched = false;
                *leader_resigned = true;
            }
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_fetch(
        &mut self,
        now: Instant,
        from: NodeId,
        correlation_id: u64,
        replica_id: NodeId,
        current_leader_epoch: i32,
        fetch_offset: i64,
        last_fetched_epoch: i32,
        max_wait_ms: u64,
    ) {
        let reply = |this: &mut RaftClient, error: Option<ErrorCode>, diverging: Option<(i32, i64)>, batches| {
            let message = this.fetch_response(correlation_id, error, diverging, batches);
            this.outbox.send(from, message);
        };
        if current_leader_epoch > self.epoch && self.is_voter() {
            // The fetcher knows a newer epoch: learn it (it names no leader here).
            self.observe_epoch(now, current_leader_epoch, None, "a fetch carried a higher epoch");
        }
        if !matches!(self.state, State::Leader(_)) {
            return reply(self, Some(ErrorCode::NotLeaderOrFollower), None, Vec::new());
        }
        if current_leader_epoch < self.epoch {
            return reply(self, Some(ErrorCode::FencedLeaderEpoch), None, Vec::new());
        }
        // Divergence check: does the fetcher's log agree with ours at (fetch_offset, epoch)?
        if fetch_offset > 0 || last_fetched_epoch >= 0 {
            let (epoch, end) = self.log.epochs().end_offset_for(last_fetched_epoch, self.log.log_end_offset());
            if epoch != last_fetched_epoch || end < fetch_offset {
                return reply(self, None, Some((epoch, end.max(0))), Vec::new());
            }
        }
        let leo = self.log.log_end_offset();
        let is_voter = self.config.voters.contains(&replica_id);
        let majority = self.config.majority();
        let check_window = self.fetch_timeout().mul_f64(1.5);
        let State::Leader(l) = &mut self.state else { unreachable!() };
        let progress =
            if is_voter { l.voters.entry(replica_id).or_default() } else { l.observers.entry(replica_id).or_default() };
        progress.log_end_offset = fetch_offset;
        progress.last_fetch = Some(now);
        if fetch_offset >= leo {
            progress.last_caught_up = Some(now);
        }
        if is_voter {
            l.acknowledged.insert(replica_id);
            l.fetched_since_check.insert(replica_id);
            if l.fetched_since_check.len() + 1 >= majority {
                l.fetched_since_check.clear();
                l.check_quorum_deadline = now + check_window;
            }
        }
        let hw_moved = self.maybe_advance_high_watermark(now);
        if hw_moved {
            self.answer_parked(now, false);
        }
        if fetch_offset < leo || hw_moved {
            let batches = self.log.read(fetch_offset, leo, FETCH_MAX_BYTES);
            return reply(self, None, None, batches);
        }
        self.parked.retain(|p| p.from != from);
        self.parked.push(ParkedFetch {
            from,
            correlation_id,
            fetch_offset,
            deadline: now + Duration::from_millis(max_wait_ms.min(FETCH_MAX_WAIT_MS)),
        });
    }

    fn answer_parked(&mut self, now: Instant, expired_only: bool) {
        if !matches!(self.state, State::Leader(_)) {
            self.parked.clear();
            return;
        }
        let leo = self.log.log_end_offset();
        for p in std::mem::take(&mut self.parked) {
            if expired_only && now < p.deadline {
                self.parked.push(p);
                continue;
            }
            let batches = self.log.read(p.fetch_offset, leo, FETCH_MAX_BYTES);
            let message = self.fetch_response(p.correlation_id, None, None, batches);
            self.outbox.send(p.from, message);
        }
    }

    /// A fetch answer carrying this node's epoch, the leader it knows and its high watermark.
    fn fetch_response(
        &self,
        correlation_id: u64,
        error: Option<ErrorCode>,
        diverging_epoch: Option<(i32, i64)>,
        batches: Vec<Arc<RecordBatch>>,
    ) -> Message {
        Message::QuorumFetchResponse {
            correlation_id,
            error,
            leader_epoch: self.epoch,
            leader_id: self.leader_id(),
            high_watermark: self.log.high_watermark(),
            diverging_epoch,
            batches,
        }
    }

    #[allow(clippy::too_many_arguments)]
    fn handle_fetch_response(
        &mut self,
        now: Instant,
        from: NodeId,
        correlation_id: u64,
        error: Option<ErrorCode>,
        leader_epoch: i32,
        leader_id: Option<NodeId>,
        high_watermark: i64,
        diverging: Option<(i32, i64)>,
        batches: Vec<Arc<RecordBatch>>,
    ) {
        if self.fetch_in_flight.map(|f| f.correlation_id) != Some(correlation_id) {
            return;
        }
        self.fetch_in_flight = None;
        let why = if leader_id.is_some() {
            "a fetch answer named a newer leader"
        } else {
            "a fetch answer carried a newer epoch"
        };
        if self.observe_epoch(now, leader_epoch, leader_id, why) {
            if leader_id.is_none() && !self.is_voter() {
                // A newer epoch without a leader yet: ask the next voter after a pause.
                self.bootstrap_index += 1;
                self.fetch_not_before = now + Duration::from_millis(self.config.retry_backoff_ms);
            }
            return;
        }
        let following = matches!(self.state, State::Follower { leader, .. } if leader == from);
        if error.is_some() || !following || leader_epoch != self.epoch {
            // Not the leader (any more): try again after a pause, elsewhere if an observer.
            self.fetch_not_before = now + Duration::from_millis(self.config.retry_backoff_ms);
            if !self.is_voter() && !following {
                self.bootstrap_index += 1;
            }
            return;
        }
        if let State::Follower { fetch_deadline, has_fetched, .. } = &mut self.state {
            *fetch_deadline = now + Duration::from_millis(self.config.fetch_timeout_ms);
            *has_fetched = true;
        }
        let now_ms = now.as_millis() as i64;
        if let Some((epoch, end)) = diverging {
            let (_, local_end) = self.log.epochs().end_offset_for(epoch, self.log.log_end_offset());
            let to = if local_end < 0 { 0 } else { end.min(local_end) };
            let before = self.log.log_end_offset();
            let to = self.log.truncate_to(to, now_ms);
            self.entries.truncate(to as usize);
            self.outbox.event(Event::MetadataLogTruncated {
                diverging_epoch: epoch,
                from_offset: before,
                to_offset: to,
            });
            return;
        }
        for batch in batches {
            if batch.next_offset() <= self.log.log_end_offset() {
                continue;
            }
            let decoded = decode_batch(&batch);
            self.log.append_as_follower(batch, now_ms);
            self.entries.extend(decoded);
        }
        // Followers flush before they fetch again: the next fetch offset is what the leader
        // counts toward the commit.
        self.log.flush(self.log.log_end_offset(), now_ms);
        let hw = high_watermark.min(self.log.log_end_offset());
        if hw > self.log.high_watermark() {
            self.log.set_high_watermark(hw);
        }
    }

    /// A peer's process died and its connections reset: a fetch to it fails now.
    pub fn handle_disconnect(&mut self, now: Instant, peer: NodeId) {
        if self.fetch_in_flight.is_some_and(|f| f.to == peer) {
            self.fetch_in_flight = None;
            self.fetch_not_before = now + Duration::from_millis(self.config.retry_backoff_ms);
            if !self.is_voter() && !matches!(self.state, State::Follower { leader, .. } if leader == peer) {
                self.bootstrap_index += 1;
            }
        }
        self.parked.retain(|p| p.from != peer);
        self.after_input(now);
    }

    /// Timers: elections, fetch timeouts, check-quorum, resends, long-poll expiry.
    pub fn handle_timeout(&mut self, now: Instant) {
        if let Some(f) = self.fetch_in_flight {
            if now.saturating_since(f.sent) >= self.request_timeout() {
                self.fetch_in_flight = None;
                if !self.is_voter() {
                    self.bootstrap_index += 1;
                }
            }
        }
        match &self.state {
            State::Unattached { election_deadline, .. } | State::Resigned { election_deadline }
                if now >= *election_deadline && self.is_voter() =>
            {
                self.become_prospective(now);
            }
            State::Prospective { election_deadline, .. } if now >= *election_deadline => {
                // Not enough answers in time: wait a little, then ask again.
                self.retries += 1;
                let election_deadline = now + self.election_backoff();
                self.transition(self.epoch, State::Unattached { election_deadline }, "pre-vote timed out");
            }
            State::Candidate { deadline, backing_off, .. } if now >= *deadline => {
                if *backing_off {
                    self.become_prospective(now);
                } else {
                    self.candidate_backs_off(now, "election timed out (split vote)");
                }
            }
            State::Follower { fetch_deadline, leader, leader_resigned, .. } if now >= *fetch_deadline => {
                if self.is_voter() {
                    let (leader, resigned) = (*leader, *leader_resigned);
                    if !resigned {
                        self.outbox.event(Event::LeaderUnreachable { leader_id: leader, epoch: self.epoch });
                    }
                    self.become_prospective(now);
                } else {
                    // An observer forgets the leader and asks the voters again.
                    self.bootstrap_index += 1;
                    self.transition(self.epoch, State::Unattached { election_deadline: now }, "fetch timed out");
                }
            }
            State::Leader(l) => {
                let quorum_lost = self.checks_quorum() && now >= l.check_quorum_deadline;
                let resend = now >= l.begin_resend_at;
                let unacked: Vec<NodeId> =
                    self.config.voters.iter().copied().filter(|v| !l.acknowledged.contains(v)).collect();
                if quorum_lost {
                    self.resign(now, "check-quorum: no fetch from a majority of voters within 1.5 × the fetch timeout");
                } else if resend {
                    let next = now + self.request_timeout();
                    if let State::Leader(l) = &mut self.state {
                        l.begin_resend_at = next;
                    }
                    for to in unacked {
                        self.send_begin(to);
                    }
                }
            }
            _ => {}
        }
        self.answer_parked(now, true);
        self.after_input(now);
    }

    /// Gives up leadership: tells the other voters (EndQuorumEpoch), preferring the most
    /// caught-up ones as successors, and waits for the next election as Resigned.
    pub fn resign(&mut self, now: Instant, reason: &str) {
        let State::Leader(l) = &self.state else { return };
        let mut successors: Vec<(i64, NodeId)> =
            l.voters.iter().filter(|(id, _)| **id != self.id).map(|(id, p)| (p.log_end_offset, *id)).collect();
        successors.sort_by(|a, b| b.0.cmp(&a.0).then(a.1.cmp(&b.1)));
        let preferred_successors: Vec<NodeId> = successors.into_iter().map(|(_, id)| id).collect();
        self.outbox.event(Event::LeaderResigned { epoch: self.epoch, reason: reason.to_string() });
        let election_deadline = self.election_deadline(now);
        self.transition(self.epoch, State::Resigned { election_deadline }, reason);
        for to in self.others() {
            let correlation_id = self.correlation_id();
            self.outbox.send(
                to,
                Message::EndQuorumEpoch {
                    correlation_id,
                    leader_id: self.id,
                    leader_epoch: self.epoch,
                    preferred_successors: preferred_successors.clone(),
                },
            );
        }
    }

    /// Sends the next fetch when the node follows a leader (or, as an observer, looks for one).
    /// The log's disk writes are queued first, so a host executing effects in order has
    /// flushed what the fetch offset claims before the fetch leaves.
    fn after_input(&mut self, now: Instant) {
        self.drain_log();
        if self.fetch_in_flight.is_some() || now < self.fetch_not_before {
            return;
        }
        let to = match &self.state {
            State::Follower { leader, .. } => *leader,
            State::Unattached { .. } if !self.is_voter() && !self.config.voters.is_empty() => {
                self.config.voters[self.bootstrap_index % self.config.voters.len()]
            }
            _ => return,
        };
        let correlation_id = self.correlation_id();
        self.fetch_in_flight = Some(InFlight { correlation_id, to, sent: now });
        let last_fetched_epoch = self.entries.last().map_or(-1, |(e, _)| *e);
        self.outbox.send(
            to,
            Message::QuorumFetch {
                correlation_id,
                replica_id: self.id,
                current_leader_epoch: self.epoch,
                fetch_offset: self.log.log_end_offset(),
                last_fetched_epoch,
                max_wait_ms: FETCH_MAX_WAIT_MS,
            },
        );
    }

    /// Whether the leader resigns when a majority of voters has not fetched within the
    /// check-quorum window (KIP-595's `checkQuorum`): only with other voters to hear from.
    fn checks_quorum(&self) -> bool {
        self.config.voters.len() > 1
    }

    /// When [`RaftClient::handle_timeout`] is next needed.
    pub fn poll_deadline(&self) -> Option<Instant> {
        let mut next: Option<Instant> = None;
        let mut consider = |t: Instant| next = Some(next.map_or(t, |n: Instant| n.min(t)));
        match &self.state {
            State::Unattached { election_deadline, .. } | State::Resigned { election_deadline } => {
                if self.is_voter() {
                    consider(*election_deadline)
                }
            }
            State::Prospective { election_deadline, .. } => consider(*election_deadline),
            State::Candidate { deadline, .. } => consider(*deadline),
            State::Follower { fetch_deadline, .. } => consider(*fetch_deadline),
            State::Leader(l) => {
                // A lone voter is its own majority: its check-quorum deadline never moves and
                // never matters, and waking for it would spin once it has passed.
                if self.checks_quorum() {
                    consider(l.check_quorum_deadline);
                }
                if self.config.voters.iter().any(|v| !l.acknowledged.contains(v)) {
                    consider(l.begin_resend_at);
                }
            }
        }
        for p in &self.parked {
            consider(p.deadline);
        }
        match self.fetch_in_flight {
            Some(f) => consider(f.sent + self.request_timeout()),
            None => {
                let wants_fetch = matches!(self.state, State::Follower { .. })
                    || (!self.is_voter() && matches!(self.state, State::Unattached { .. }));
                if wants_fetch {
                    consider(self.fetch_not_before);
                }
            }
        }
        next
    }
}

#[cfg(test)]
mod tests;
