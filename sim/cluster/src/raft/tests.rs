//! Engine-level tests of [`RaftClient`], in the style of etcd-raft's and openraft's unit tests:
//! each test drives one or a few clients with exact inputs (messages, timeouts, appends,
//! restarts) and asserts the exact messages, `quorum-state` writes, events and state
//! transitions that come out.
//!
//! Covered: the pre-vote → vote → leader path with its `LeaderChange` record; the vote rules
//! (log comparison as `(last epoch, end offset)`, one vote per epoch, adopting a higher epoch,
//! refusing an older one); the pre-vote rules of KIP-996; the commit rule (Raft §5.4.2), long
//! polls and the follower high watermark; fetch divergence and truncation; check-quorum; the
//! follower fetch timeout; EndQuorumEpoch successors; durability of the vote and of leadership
//! across restarts; observers; split votes and the election backoff.
//!
//! [`Replica`] wraps a client: it queues the messages the client sends, applies its disk
//! writes to an in-memory data directory (so it can be restarted from it) and keeps its
//! events. [`deliver`] and [`exchange`] carry queued messages between replicas; a message to a
//! node that is not handed to them is lost, which is how the tests cut the network. Peers that
//! take no part are played by hand with literal messages.

use super::*;
use crate::node::node_rng;
use QuorumRole::{Candidate, Follower, Leader, Observer, Prospective, Resigned, Unattached};

type Files = BTreeMap<String, Vec<u8>>;

const SEED: u64 = 42;
const VOTERS: [i32; 3] = [1, 2, 3];

fn t(ms: u64) -> Instant {
    Instant::from_millis(ms)
}

fn millis(ms: u64) -> Duration {
    Duration::from_millis(ms)
}

/// The instant one nanosecond before `at`: a timer due at `at` must not fire yet.
fn just_before(at: Instant) -> Instant {
    Instant::from_nanos(at.as_nanos() - 1)
}

fn id(n: i32) -> NodeId {
    NodeId(n)
}

fn config(voters: &[i32]) -> QuorumConfig {
    QuorumConfig {
        voters: voters.iter().copied().map(NodeId).collect(),
        election_timeout_ms: 1000,
        fetch_timeout_ms: 2000,
        election_backoff_max_ms: 1000,
        request_timeout_ms: 2000,
        retry_backoff_ms: 20,
        aligned_first_election: true,
    }
}

fn record(broker: i32) -> MetadataRecord {
    MetadataRecord::FenceBroker { broker_id: NodeId(broker) }
}

fn leader_change(leader: i32) -> MetadataRecord {
    MetadataRecord::LeaderChange { leader_id: id(leader), voters: VOTERS.map(id).to_vec() }
}

// ---- messages and events, spelled out ----

fn vote_request(candidate: i32, correlation_id: u64, epoch: i32, log: (i32, i64), pre_vote: bool) -> Message {
    Message::Vote {
        correlation_id,
        candidate_id: id(candidate),
        candidate_epoch: epoch,
        last_offset_epoch: log.0,
        last_offset: log.1,
        pre_vote,
    }
}

fn vote_response(correlation_id: u64, epoch: i32, leader: Option<i32>, granted: bool, pre_vote: bool) -> Message {
    Message::VoteResponse {
        correlation_id,
        error: None,
        leader_epoch: epoch,
        leader_id: leader.map(id),
        vote_granted: granted,
        pre_vote,
    }
}

fn begin_epoch(correlation_id: u64, leader: i32, epoch: i32) -> Message {
    Message::BeginQuorumEpoch { correlation_id, leader_id: id(leader), leader_epoch: epoch }
}

fn begin_epoch_response(correlation_id: u64, epoch: i32, leader: i32) -> Message {
    Message::BeginQuorumEpochResponse { correlation_id, error: None, leader_epoch: epoch, leader_id: Some(id(leader)) }
}

fn end_epoch(correlation_id: u64, leader: i32, epoch: i32, successors: &[i32]) -> Message {
    Message::EndQuorumEpoch {
        correlation_id,
        leader_id: id(leader),
        leader_epoch: epoch,
        preferred_successors: successors.iter().copied().map(NodeId).collect(),
    }
}

fn fetch(correlation_id: u64, replica: i32, epoch: i32, fetch_offset: i64, last_fetched_epoch: i32) -> Message {
    Message::QuorumFetch {
        correlation_id,
        replica_id: id(replica),
        current_leader_epoch: epoch,
        fetch_offset,
        last_fetched_epoch,
        max_wait_ms: FETCH_MAX_WAIT_MS,
    }
}

/// A successful fetch answer from `leader`.
fn fetch_response(
    correlation_id: u64,
    epoch: i32,
    leader: i32,
    high_watermark: i64,
    batches: Vec<Arc<RecordBatch>>,
) -> Message {
    Message::QuorumFetchResponse {
        correlation_id,
        error: None,
        leader_epoch: epoch,
        leader_id: Some(id(leader)),
        high_watermark,
        diverging_epoch: None,
        batches,
    }
}

fn state_changed(role: QuorumRole, epoch: i32, leader: Option<i32>, voted: Option<i32>, reason: &str) -> Event {
    Event::QuorumStateChanged {
        role,
        epoch,
        leader_id: leader.map(id),
        voted_id: voted.map(id),
        reason: reason.to_string(),
    }
}

fn vote_cast(candidate: i32, epoch: i32, pre_vote: bool, refusal: Option<&str>) -> Event {
    Event::VoteCast {
        candidate: id(candidate),
        epoch,
        pre_vote,
        granted: refusal.is_none(),
        reason: refusal.map(str::to_string),
    }
}

fn election(epoch: i32, leader: Option<i32>, voted: Option<i32>) -> ElectionState {
    ElectionState { epoch, leader_id: leader.map(id), voted_id: voted.map(id) }
}

/// `(base offset, leader epoch)` of each batch.
fn batch_ids(batches: &[Arc<RecordBatch>]) -> Vec<(i64, i32)> {
    batches.iter().map(|b| (b.base_offset(), b.partition_leader_epoch())).collect()
}

/// The epoch of each entry, by offset.
fn entry_epochs(r: &Replica) -> Vec<i32> {
    r.raft.entries().iter().map(|(e, _)| *e).collect()
}

/// Applies a disk write to a data directory (every write counts as durable here).
fn apply(files: &mut Files, op: &DiskOp) {
    match op {
        DiskOp::Append { path, bytes } => files.entry(path.to_string()).or_default().extend_from_slice(bytes),
        DiskOp::WriteAtomically { path, bytes } => {
            files.insert(path.clone(), bytes.clone());
        }
        DiskOp::Truncate { path, len_bytes } => {
            if let Some(file) = files.get_mut(path) {
                file.truncate(*len_bytes as usize);
            }
        }
        DiskOp::Delete { path } => {
            files.remove(path);
        }
        DiskOp::Flush { .. } => {}
    }
}

/// The `quorum-state` contents these disk writes leave, in order.
fn quorum_state_writes(ops: &[DiskOp]) -> Vec<ElectionState> {
    ops.iter()
        .filter_map(|op| match op {
            DiskOp::WriteAtomically { path, bytes } if *path == quorum_state_path() => {
                Some(ElectionState::decode(bytes).expect("quorum-state decodes"))
            }
            _ => None,
        })
        .collect()
}

// ---- the harness ----

/// One node's client with its data directory and what it has put out so far.
struct Replica {
    raft: RaftClient,
    files: Files,
    incarnation: u64,
    sent: Vec<(NodeId, Message)>,
    disk: Vec<DiskOp>,
    events: Vec<Event>,
}

impl Replica {
    /// A first start with an empty data directory.
    fn start(now: Instant, node: i32, voters: &[i32]) -> Replica {
        Replica::boot(now, node, config(voters), Files::new(), 1)
    }

    fn boot(now: Instant, node: i32, config: QuorumConfig, files: Files, incarnation: u64) -> Replica {
        let raft = RaftClient::new(now, id(node), config, node_rng(SEED, id(node), incarnation), &files);
        let mut replica = Replica { raft, files, incarnation, sent: Vec::new(), disk: Vec::new(), events: Vec::new() };
        replica.pump();
        replica
    }

    /// The same node started again from what its disk holds now (a crash and restart).
    fn restart(&self, now: Instant) -> Replica {
        Replica::boot(now, self.id().0, self.raft.config.clone(), self.files.clone(), self.incarnation + 1)
    }

    fn id(&self) -> NodeId {
        self.raft.id()
    }

    fn status(&self) -> QuorumStatus {
        self.raft.status()
    }

    /// Moves the client's output into the queues and applies its disk writes.
    fn pump(&mut self) {
        let mut outbox = Outbox::default();
        self.raft.drain_into(&mut outbox);
        while let Some(effect) = outbox.poll_effect() {
            match effect {
                Effect::Send { to, message } => self.sent.push((to, *message)),
                Effect::Disk(op) => {
                    apply(&mut self.files, &op);
                    self.disk.push(op);
                }
            }
        }
        while let Some(event) = outbox.poll_event() {
            self.events.push(event);
        }
    }

    /// Takes the queued messages.
    fn sent(&mut self) -> Vec<(NodeId, Message)> {
        self.pump();
        std::mem::take(&mut self.sent)
    }

    /// The queued messages, left in the queue.
    fn queued(&mut self) -> &[(NodeId, Message)] {
        self.pump();
        &self.sent
    }

    /// Takes the disk writes done since the last call.
    fn disk(&mut self) -> Vec<DiskOp> {
        self.pump();
        std::mem::take(&mut self.disk)
    }

    /// Takes the events since the last call.
    fn events(&mut self) -> Vec<Event> {
        self.pump();
        std::mem::take(&mut self.events)
    }

    /// Forgets all output so far (queued messages are lost).
    fn clear(&mut self) {
        self.sent();
        self.disk();
        self.events();
    }

    fn recv(&mut self, now: Instant, from: i32, message: Message) {
        assert!(self.raft.handle_message(now, id(from), message), "a quorum message");
        self.pump();
    }

    fn tick(&mut self, now: Instant) {
        self.raft.handle_timeout(now);
        self.pump();
    }
}

/// Hands `to` the messages `from` has queued for it, in order; the others stay queued.
fn deliver(from: &mut Replica, to: &mut Replica, now: Instant) -> usize {
    from.pump();
    let (mine, rest): (Vec<_>, Vec<_>) = std::mem::take(&mut from.sent).into_iter().partition(|(d, _)| *d == to.id());
    from.sent = rest;
    let count = mine.len();
    for (_, message) in mine {
        to.recv(now, from.id().0, message);
    }
    count
}

/// Delivers messages among `nodes` until none is left; messages to anyone else are lost.
fn exchange(nodes: &mut [&mut Replica], now: Instant) {
    for _ in 0..100 {
        let mut moved = false;
        for i in 0..nodes.len() {
            let from = nodes[i].id();
            for (to, message) in nodes[i].sent() {
                if let Some(j) = nodes.iter().position(|n| n.id() == to) {
                    nodes[j].recv(now, from.0, message);
                    moved = true;
                }
            }
        }
        if !moved {
            return;
        }
    }
    panic!("the replicas never stopped talking");
}

/// Answers yes, from each of `granting`, to the votes (or pre-votes) `r` has queued. Other
/// queued messages are dropped.
fn grant(r: &mut Replica, now: Instant, pre_vote: bool, granting: &[i32]) {
    for (to, message) in r.sent() {
        if let Message::Vote { correlation_id, candidate_epoch, pre_vote: p, .. } = message {
            if p == pre_vote && granting.contains(&to.0) {
                r.recv(now, to.0, vote_response(correlation_id, candidate_epoch, None, true, pre_vote));
            }
        }
    }
}

/// Fires `r`'s election timer at `now` and has `granting` grant its pre-votes and votes.
fn win_election(r: &mut Replica, now: Instant, granting: &[i32]) {
    r.tick(now);
    assert_eq!(r.raft.role(), Prospective);
    grant(r, now, true, granting);
    assert_eq!(r.raft.role(), Candidate);
    grant(r, now, false, granting);
    assert_eq!(r.raft.role(), Leader);
}

/// Three voters at 1.5 s: node 1 leads epoch 1, its LeaderChange at offset 0 is committed and
/// every high watermark is 1; both followers have a fetch parked at the leader. Output cleared.
fn cluster() -> [Replica; 3] {
    let [mut r1, mut r2, mut r3] = VOTERS.map(|n| Replica::start(t(0), n, &VOTERS));
    r1.tick(t(1000));
    exchange(&mut [&mut r1, &mut r2, &mut r3], t(1000));
    // The long polls expire: the follower whose fetch was parked learns the high watermark.
    r1.tick(t(1500));
    exchange(&mut [&mut r1, &mut r2, &mut r3], t(1500));
    assert_eq!((r1.raft.role(), r1.raft.epoch()), (Leader, 1));
    for r in [&r2, &r3] {
        assert_eq!((r.raft.role(), r.status().leader_id), (Follower, Some(id(1))));
    }
    for r in [&mut r1, &mut r2, &mut r3] {
        assert_eq!((r.status().log_end_offset, r.status().high_watermark), (1, 1));
        assert_eq!(r.raft.entries(), &[(1, leader_change(1))]);
        r.clear();
    }
    [r1, r2, r3]
}

// ---- 1. the election path ----

#[test]
fn election_timeout_leads_through_pre_vote_and_vote_to_leader_with_leader_change() {
    let voters = VOTERS.map(id);
    let mut r1 = Replica::start(t(0), 1, &VOTERS);
    assert_eq!(r1.events(), vec![state_changed(Unattached, 0, None, None, "started")]);
    r1.clear();
    // `aligned_first_election`: the first timeout is exactly election.timeout.ms.
    assert_eq!(r1.raft.poll_deadline(), Some(t(1000)));
    r1.tick(just_before(t(1000)));
    assert_eq!(r1.sent(), vec![]);
    assert_eq!(r1.raft.role(), Unattached);

    // Prospective: a pre-vote in the *current* epoch with the log pair, to every other voter.
    r1.tick(t(1000));
    assert_eq!((r1.raft.role(), r1.raft.epoch()), (Prospective, 0));
    assert_eq!(
        r1.sent(),
        vec![(id(2), vote_request(1, 1, 0, (0, 0), true)), (id(3), vote_request(1, 2, 0, (0, 0), true))]
    );
    assert_eq!(r1.events(), vec![state_changed(Prospective, 0, None, None, "election timeout: asking for pre-votes")]);
    assert_eq!(quorum_state_writes(&r1.disk()), vec![election(0, None, None)]);

    // Its own pre-vote and node 2's make a majority of 3: Candidate in epoch 1, which votes for
    // itself and writes that vote to quorum-state before asking anyone.
    r1.recv(t(1010), 2, vote_response(1, 0, None, true, true));
    assert_eq!((r1.raft.role(), r1.raft.epoch(), r1.status().voted_id), (Candidate, 1, Some(id(1))));
    assert_eq!(
        r1.disk(),
        vec![DiskOp::WriteAtomically { path: quorum_state_path(), bytes: election(1, None, Some(1)).encode(&voters) }]
    );
    let file = String::from_utf8(r1.files[&quorum_state_path()].clone()).unwrap();
    assert!(file.contains("\"leaderId\":-1,\"leaderEpoch\":1,\"votedId\":1"), "{file}");
    assert_eq!(
        r1.sent(),
        vec![(id(2), vote_request(1, 3, 1, (0, 0), false)), (id(3), vote_request(1, 4, 1, (0, 0), false))]
    );
    assert_eq!(
        r1.events(),
        vec![state_changed(Candidate, 1, None, Some(1), "won the pre-vote: campaigning in a new epoch")]
    );

    // A late pre-vote answer from epoch 0 changes nothing.
    r1.recv(t(1011), 3, vote_response(2, 0, None, true, true));
    assert_eq!((r1.sent(), r1.events(), r1.raft.role()), (vec![], vec![], Candidate));

    // One real vote makes the majority: Leader. It announces itself to both others and appends
    // the LeaderChange control record at its epoch start (offset 0), not yet committed.
    r1.recv(t(1020), 3, vote_response(4, 1, None, true, false));
    assert_eq!((r1.raft.role(), r1.raft.epoch(), r1.raft.leader_id()), (Leader, 1, Some(id(1))));
    assert_eq!(r1.sent(), vec![(id(2), begin_epoch(5, 1, 1)), (id(3), begin_epoch(6, 1, 1))]);
    assert_eq!(r1.events(), vec![state_changed(Leader, 1, Some(1), Some(1), "won the election")]);
    assert_eq!(quorum_state_writes(&r1.disk()), vec![election(1, Some(1), Some(1))]);
    assert_eq!(r1.raft.entries(), &[(1, leader_change(1))]);
    assert_eq!(batch_ids(&r1.raft.log().batches().cloned().collect::<Vec<_>>()), vec![(0, 1)]);
    assert_eq!(r1.raft.log().epochs().entries(), &[(1, 0)]);
    let status = r1.status();
    assert_eq!((status.log_end_offset, status.high_watermark, status.leader_committed), (1, 0, false));
    let describe = |node: i32, leo: i64, at: Option<u64>| ReplicaDescription {
        node_id: id(node),
        log_end_offset: leo,
        last_fetch_ms: at,
        last_caught_up_ms: at,
    };
    assert_eq!(
        status.replicas,
        vec![(describe(1, 1, Some(1020)), true), (describe(2, -1, None), true), (describe(3, -1, None), true)]
    );
}

#[test]
fn lone_voter_elects_itself_on_its_first_timeout_and_commits_at_once() {
    let mut r = Replica::start(t(0), 1, &[1]);
    r.clear();
    assert_eq!(r.raft.poll_deadline(), Some(t(0)));
    r.tick(t(0));
    assert_eq!(r.sent(), vec![]);
    assert_eq!((r.raft.role(), r.raft.epoch(), r.raft.high_watermark()), (Leader, 1, 1));
    assert!(r.raft.is_leader_ready());
    assert_eq!(
        r.events(),
        vec![
            state_changed(Prospective, 0, None, None, "election timeout: asking for pre-votes"),
            state_changed(Candidate, 1, None, Some(1), "won the pre-vote: campaigning in a new epoch"),
            state_changed(Leader, 1, Some(1), Some(1), "won the election"),
            Event::MetadataCommitted { epoch: 1, high_watermark: 1 },
        ]
    );
}

/// A lone voter's leader never hears a fetch, so its check-quorum deadline stays where the
/// election put it. Once that time has passed it must not be a wake-up: the simulator would
/// step the controller every millisecond for the rest of the run, doing nothing.
#[test]
fn lone_leader_has_no_deadline_once_its_check_quorum_window_has_passed() {
    let mut r = Replica::start(t(0), 1, &[1]);
    r.tick(t(0));
    assert_eq!(r.raft.role(), Leader);
    r.clear();
    let late = t(60_000);
    r.tick(late);
    assert_eq!((r.raft.role(), r.raft.epoch()), (Leader, 1), "a lone voter keeps its leadership");
    assert_eq!(r.sent(), vec![]);
    assert_eq!(r.events(), vec![]);
    assert!(
        r.raft.poll_deadline().is_none_or(|d| d > late),
        "a deadline at or before the last tick, {:?}, would wake the leader again at once",
        r.raft.poll_deadline()
    );
}

#[test]
fn prospective_refused_by_a_majority_returns_to_unattached_in_the_same_epoch() {
    let mut r1 = Replica::start(t(0), 1, &VOTERS);
    r1.tick(t(1000));
    r1.clear();
    r1.recv(t(1010), 2, vote_response(1, 0, None, false, true));
    assert_eq!(r1.raft.role(), Prospective);
    r1.recv(t(1020), 3, vote_response(2, 0, None, false, true));
    assert_eq!((r1.raft.role(), r1.raft.epoch(), r1.status().voted_id), (Unattached, 0, None));
    assert_eq!(r1.events(), vec![state_changed(Unattached, 0, None, None, "lost the pre-vote")]);
    assert_eq!(r1.sent(), vec![]);
    // It waits a backoff plus an election timeout before asking again.
    let next = r1.raft.poll_deadline().unwrap();
    assert!(next >= t(2020) && next <= t(2020 + 40), "{next:?}");
}

// ---- 2. vote granting ----

#[test]
fn unattached_voter_grants_one_vote_per_epoch_and_repeats_it_to_the_same_candidate() {
    let mut r2 = Replica::start(t(0), 2, &VOTERS);
    r2.clear();

    // Candidate 1 in epoch 1 with a log (0, 0) as long as ours: granted, after moving to epoch 1.
    r2.recv(t(10), 1, vote_request(1, 11, 1, (0, 0), false));
    assert_eq!(r2.sent(), vec![(id(1), vote_response(11, 1, None, true, false))]);
    assert_eq!(
        r2.events(),
        vec![
            state_changed(Unattached, 1, None, None, "a vote request carried a higher epoch"),
            state_changed(Unattached, 1, None, Some(1), "voted"),
            vote_cast(1, 1, false, None),
        ]
    );
    assert_eq!(quorum_state_writes(&r2.disk()), vec![election(1, None, None), election(1, None, Some(1))]);
    assert_eq!((r2.raft.role(), r2.status().voted_id), (Unattached, Some(id(1))));

    // Candidate 3 in the same epoch: refused, nothing written.
    r2.recv(t(20), 3, vote_request(3, 12, 1, (0, 0), false));
    assert_eq!(r2.sent(), vec![(id(3), vote_response(12, 1, None, false, false))]);
    assert_eq!(r2.events(), vec![vote_cast(3, 1, false, Some("it already voted in this epoch"))]);
    assert_eq!(quorum_state_writes(&r2.disk()), vec![]);
    assert_eq!(r2.status().voted_id, Some(id(1)));

    // Candidate 1 asking again (a retry): granted again.
    r2.recv(t(30), 1, vote_request(1, 13, 1, (0, 0), false));
    assert_eq!(r2.sent(), vec![(id(1), vote_response(13, 1, None, true, false))]);
    assert_eq!(r2.events(), vec![vote_cast(1, 1, false, None)]);
    assert_eq!((r2.raft.epoch(), r2.status().voted_id), (1, Some(id(1))));
}

#[test]
fn vote_is_refused_to_a_candidate_whose_log_is_behind_compared_epoch_first() {
    let [mut r1, mut r2, mut r3] = cluster();
    // Every log gets a second entry in epoch 1: (last epoch, end offset) = (1, 2).
    r1.raft.append(t(1600), vec![record(7)]);
    exchange(&mut [&mut r1, &mut r2, &mut r3], t(1600));
    assert_eq!((r2.status().log_end_offset, r2.status().high_watermark), (2, 2));
    r2.clear();

    // Epoch 2 with (1, 1): one entry short. Refused, though the epoch is adopted first.
    r2.recv(t(1700), 3, vote_request(3, 31, 2, (1, 1), false));
    assert_eq!(r2.sent(), vec![(id(3), vote_response(31, 2, None, false, false))]);
    assert_eq!(
        r2.events(),
        vec![
            state_changed(Unattached, 2, None, None, "a vote request carried a higher epoch"),
            vote_cast(3, 2, false, Some("its log is behind")),
        ]
    );
    assert_eq!(quorum_state_writes(&r2.disk()), vec![election(2, None, None)]);

    // (0, 5): longer, but its last epoch is older. Refused: the epoch is compared first.
    r2.recv(t(1710), 3, vote_request(3, 32, 2, (0, 5), false));
    assert_eq!(r2.sent(), vec![(id(3), vote_response(32, 2, None, false, false))]);
    assert_eq!(r2.events(), vec![vote_cast(3, 2, false, Some("its log is behind"))]);
    assert_eq!((r2.disk(), r2.status().voted_id), (vec![], None));

    // (1, 2): as up to date as ours. Granted; the refusals did not spend the vote.
    r2.recv(t(1720), 1, vote_request(1, 33, 2, (1, 2), false));
    assert_eq!(r2.sent(), vec![(id(1), vote_response(33, 2, None, true, false))]);
    assert_eq!(r2.events(), vec![state_changed(Unattached, 2, None, Some(1), "voted"), vote_cast(1, 2, false, None)]);
    assert_eq!(quorum_state_writes(&r2.disk()), vec![election(2, None, Some(1))]);
}

#[test]
fn vote_request_with_a_higher_epoch_moves_even_the_leader_to_that_epoch_first() {
    let [mut r1, _r2, _r3] = cluster();
    r1.recv(t(1600), 2, vote_request(2, 41, 2, (1, 1), false));
    // The parked fetches of epoch 1 are dropped, not answered.
    assert_eq!(r1.sent(), vec![(id(2), vote_response(41, 2, None, true, false))]);
    assert_eq!(
        r1.events(),
        vec![
            state_changed(Unattached, 2, None, None, "a vote request carried a higher epoch"),
            state_changed(Unattached, 2, None, Some(2), "voted"),
            vote_cast(2, 2, false, None),
        ]
    );
    assert_eq!(quorum_state_writes(&r1.disk()), vec![election(2, None, None), election(2, None, Some(2))]);
    assert_eq!((r1.raft.role(), r1.raft.epoch(), r1.status().voted_id), (Unattached, 2, Some(id(2))));
    assert_eq!(r1.raft.append(t(1600), vec![record(7)]), None);
}

#[test]
fn vote_from_an_older_epoch_is_refused_with_the_receivers_epoch_and_leader() {
    let [_r1, mut r2, _r3] = cluster();
    r2.recv(t(1600), 3, vote_request(3, 51, 0, (0, 0), false));
    assert_eq!(r2.sent(), vec![(id(3), vote_response(51, 1, Some(1), false, false))]);
    assert_eq!(r2.events(), vec![vote_cast(3, 0, false, Some("its epoch is older"))]);
    r2.recv(t(1610), 3, vote_request(3, 52, 0, (0, 0), true));
    assert_eq!(r2.sent(), vec![(id(3), vote_response(52, 1, Some(1), false, true))]);
    assert_eq!(r2.events(), vec![vote_cast(3, 0, true, Some("its epoch is older"))]);
    assert_eq!(r2.disk(), vec![]);
    assert_eq!((r2.raft.role(), r2.raft.epoch(), r2.raft.leader_id()), (Follower, 1, Some(id(1))));
}

// ---- 3. pre-vote (KIP-996) ----

#[test]
fn follower_fetching_from_a_live_leader_refuses_pre_votes_and_so_does_the_leader() {
    let [mut r1, mut r2, _r3] = cluster();
    r2.recv(t(1600), 3, vote_request(3, 21, 1, (1, 1), true));
    assert_eq!(r2.sent(), vec![(id(3), vote_response(21, 1, Some(1), false, true))]);
    assert_eq!(r2.events(), vec![vote_cast(3, 1, true, Some("this follower is fetching from a live leader"))]);
    assert_eq!(r2.disk(), vec![]);
    assert_eq!((r2.raft.role(), r2.raft.epoch(), r2.raft.leader_id()), (Follower, 1, Some(id(1))));

    r1.recv(t(1600), 3, vote_request(3, 22, 1, (1, 1), true));
    assert_eq!(r1.sent(), vec![(id(3), vote_response(22, 1, Some(1), false, true))]);
    assert_eq!(r1.events(), vec![vote_cast(3, 1, true, Some("this node leads the epoch"))]);
    assert_eq!(r1.raft.role(), Leader);
}

#[test]
fn follower_that_has_not_fetched_yet_grants_a_pre_vote_and_stays_follower() {
    let mut r2 = Replica::start(t(0), 2, &VOTERS);
    r2.clear();
    r2.recv(t(100), 1, begin_epoch(7, 1, 1));
    assert_eq!(r2.sent(), vec![(id(1), begin_epoch_response(7, 1, 1)), (id(1), fetch(1, 2, 1, 0, -1))]);
    assert_eq!(r2.events(), vec![state_changed(Follower, 1, Some(1), None, "BeginQuorumEpoch from the new leader")]);
    assert_eq!(quorum_state_writes(&r2.disk()), vec![election(1, Some(1), None)]);

    r2.recv(t(200), 3, vote_request(3, 21, 1, (0, 0), true));
    assert_eq!(r2.sent(), vec![(id(3), vote_response(21, 1, Some(1), true, true))]);
    assert_eq!(r2.events(), vec![vote_cast(3, 1, true, None)]);
    // A pre-vote is only a question: nothing is written, nothing changes.
    assert_eq!(r2.disk(), vec![]);
    let status = r2.status();
    assert_eq!((status.role, status.epoch, status.leader_id, status.voted_id), (Follower, 1, Some(id(1)), None));
}

#[test]
fn granting_a_pre_vote_neither_spends_the_vote_nor_changes_the_epoch() {
    let mut r2 = Replica::start(t(0), 2, &VOTERS);
    r2.recv(t(10), 1, vote_request(1, 11, 1, (0, 0), false));
    r2.clear();

    r2.recv(t(20), 3, vote_request(3, 12, 1, (0, 0), true));
    assert_eq!(r2.sent(), vec![(id(3), vote_response(12, 1, None, true, true))]);
    assert_eq!(r2.events(), vec![vote_cast(3, 1, true, None)]);
    assert_eq!(r2.disk(), vec![]);
    assert_eq!((r2.raft.epoch(), r2.status().voted_id), (1, Some(id(1))));

    // The real vote in that epoch is still node 1's.
    r2.recv(t(30), 3, vote_request(3, 13, 1, (0, 0), false));
    assert_eq!(r2.sent(), vec![(id(3), vote_response(13, 1, None, false, false))]);
    assert_eq!(r2.events(), vec![vote_cast(3, 1, false, Some("it already voted in this epoch"))]);
}

// ---- 4. commit ----

/// Node 1 alone, its peers played by hand: leader of epoch 1 with the LeaderChange at 0 and a
/// record at 1, neither committed; it resigns and wins epoch 2, whose LeaderChange lands at 2.
/// Returns it, output cleared, with the time it won.
fn leader_with_older_uncommitted_entries() -> (Replica, Instant) {
    let mut r1 = Replica::start(t(0), 1, &VOTERS);
    win_election(&mut r1, t(1000), &[2, 3]);
    assert_eq!(r1.raft.append(t(1000), vec![record(7)]), Some(2));
    r1.raft.resign(t(1100), "test");
    r1.clear();
    let now = r1.raft.poll_deadline().expect("a resigned voter campaigns again");
    win_election(&mut r1, now, &[2, 3]);
    r1.clear();
    assert_eq!(r1.raft.epoch(), 2);
    (r1, now)
}

#[test]
fn leader_commits_only_once_a_majority_holds_an_entry_of_its_own_epoch() {
    let (mut r1, now) = leader_with_older_uncommitted_entries();
    assert_eq!(entry_epochs(&r1), vec![1, 1, 2]);
    assert_eq!(r1.raft.log().epochs().entries(), &[(1, 0), (2, 2)]);
    assert_eq!((r1.status().log_end_offset, r1.status().high_watermark), (3, 0));

    // Voter 3 holds offsets 0 and 1 (epoch 1): with the leader that is a majority, yet nothing
    // is committed, because the epoch-2 entry at 2 is not on a majority (Raft §5.4.2).
    r1.recv(now + millis(10), 3, fetch(31, 3, 2, 2, 1));
    let tail = r1.raft.log().read(2, 3, FETCH_MAX_BYTES);
    assert_eq!(batch_ids(&tail), vec![(2, 2)]);
    assert_eq!(r1.sent(), vec![(id(3), fetch_response(31, 2, 1, 0, tail))]);
    assert_eq!((r1.status().high_watermark, r1.status().leader_committed), (0, false));
    assert!(!r1.raft.is_leader_ready());
    assert_eq!(r1.events(), vec![]);

    // Observer 4 is caught up, but observers do not count: its fetch is parked (long poll).
    r1.recv(now + millis(20), 4, fetch(41, 4, 2, 3, 2));
    assert_eq!(r1.sent(), vec![]);
    assert_eq!(r1.status().high_watermark, 0);
    assert_eq!(r1.raft.poll_deadline(), Some(now + millis(20 + FETCH_MAX_WAIT_MS)));

    // Voter 3 reaches the end: offset 3 is on a majority and covers an epoch-2 entry.
    r1.recv(now + millis(30), 3, fetch(32, 3, 2, 3, 2));
    assert_eq!(r1.events(), vec![Event::MetadataCommitted { epoch: 2, high_watermark: 3 }]);
    assert_eq!((r1.status().high_watermark, r1.status().leader_committed), (3, true));
    assert!(r1.raft.is_leader_ready());
    // The parked fetch is answered with the new high watermark, then voter 3's.
    assert_eq!(
        r1.sent(),
        vec![(id(4), fetch_response(41, 2, 1, 3, vec![])), (id(3), fetch_response(32, 2, 1, 3, vec![]))]
    );
    let observers: Vec<(NodeId, i64, bool)> =
        r1.status().replicas.iter().map(|(d, voter)| (d.node_id, d.log_end_offset, *voter)).collect();
    assert_eq!(observers, vec![(id(1), 3, true), (id(2), -1, true), (id(3), 3, true), (id(4), 3, false)]);
}

#[test]
fn follower_high_watermark_is_the_leaders_capped_by_its_own_log_end() {
    let (mut r1, now) = leader_with_older_uncommitted_entries();
    r1.recv(now, 3, fetch(31, 3, 2, 3, 2));
    assert_eq!(r1.status().high_watermark, 3);
    let batches: Vec<Arc<RecordBatch>> = r1.raft.log().batches().cloned().collect();
    assert_eq!(batch_ids(&batches), vec![(0, 1), (1, 1), (2, 2)]);

    let mut r2 = Replica::start(now, 2, &VOTERS);
    r2.clear();
    r2.recv(now, 1, begin_epoch(99, 1, 2));
    assert_eq!(r2.sent(), vec![(id(1), begin_epoch_response(99, 2, 1)), (id(1), fetch(1, 2, 2, 0, -1))]);

    // The leader's high watermark is 3 but only offset 0 arrived: the follower's is 1.
    r2.recv(now + millis(5), 1, fetch_response(1, 2, 1, 3, batches[..1].to_vec()));
    assert_eq!((r2.status().log_end_offset, r2.status().high_watermark), (1, 1));
    assert_eq!(r2.sent(), vec![(id(1), fetch(2, 2, 2, 1, 1))]);

    r2.recv(now + millis(10), 1, fetch_response(2, 2, 1, 3, batches[1..].to_vec()));
    assert_eq!((r2.status().log_end_offset, r2.status().high_watermark), (3, 3));
    assert_eq!(r2.raft.entries(), r1.raft.entries());
    assert_eq!(r2.sent(), vec![(id(1), fetch(3, 2, 2, 3, 2))]);

    // A lower high watermark in a later answer does not take it back.
    r2.recv(now + millis(15), 1, fetch_response(3, 2, 1, 2, vec![]));
    assert_eq!(r2.status().high_watermark, 3);
}

// ---- 5. divergence ----

#[test]
fn fetch_from_a_diverged_log_is_answered_with_the_diverging_epoch_and_the_follower_truncates() {
    let mut r1 = Replica::start(t(0), 1, &VOTERS);
    let mut r2 = Replica::start(t(0), 2, &VOTERS);
    r2.clear();

    // Epoch 1: node 1 leads (node 3 votes by hand) and both 1 and 2 get offsets 0 and 1.
    win_election(&mut r1, t(1000), &[2, 3]);
    r1.raft.append(t(1000), vec![record(7)]);
    exchange(&mut [&mut r1, &mut r2], t(1000));
    assert_eq!((r2.status().log_end_offset, r2.status().high_watermark), (2, 2));

    // Epoch 2: node 2 loses touch with 1, wins with node 3's votes and appends offsets 2 and 3,
    // which never leave it.
    win_election(&mut r2, t(3000), &[3]);
    r2.raft.append(t(3000), vec![record(8)]);
    assert_eq!(entry_epochs(&r2), vec![1, 1, 2, 2]);
    assert_eq!(r2.raft.log().epochs().entries(), &[(1, 0), (2, 2)]);

    // Node 1 hears of epoch 2, then loses touch with 2 and wins epoch 3 with node 3's votes:
    // its log has no epoch 2 at all, and its LeaderChange goes to offset 2.
    assert_eq!(deliver(&mut r2, &mut r1, t(3100)), 1);
    assert_eq!((r1.raft.role(), r1.raft.epoch()), (Follower, 2));
    r1.clear();
    win_election(&mut r1, t(5100), &[3]);
    assert_eq!(r1.raft.epoch(), 3);
    assert_eq!(entry_epochs(&r1), vec![1, 1, 3]);
    assert_eq!(r1.raft.log().epochs().entries(), &[(1, 0), (3, 2)]);

    // Node 2 follows epoch 3 and fetches from its end, (4, epoch 2).
    r2.clear();
    assert_eq!(deliver(&mut r1, &mut r2, t(5200)), 1);
    r1.clear();
    assert_eq!((r2.raft.role(), r2.raft.epoch()), (Follower, 3));
    assert_eq!(r2.queued(), &[(id(1), begin_epoch_response(12, 3, 1)), (id(1), fetch(10, 2, 3, 4, 2))]);

    // The leader's epoch cache says epoch 2 does not exist; the largest epoch below it is 1,
    // which ends at offset 2. No records.
    deliver(&mut r2, &mut r1, t(5200));
    assert_eq!(
        r1.queued(),
        &[(
            id(2),
            Message::QuorumFetchResponse {
                correlation_id: 10,
                error: None,
                leader_epoch: 3,
                leader_id: Some(id(1)),
                high_watermark: 2,
                diverging_epoch: Some((1, 2)),
                batches: vec![],
            }
        )]
    );

    // The follower cuts its log at 2 and fetches again from there, with the epoch of offset 1.
    r2.events();
    deliver(&mut r1, &mut r2, t(5200));
    assert_eq!(r2.events(), vec![Event::MetadataLogTruncated { diverging_epoch: 1, from_offset: 4, to_offset: 2 }]);
    assert_eq!(entry_epochs(&r2), vec![1, 1]);
    assert_eq!((r2.status().log_end_offset, r2.status().high_watermark), (2, 2));
    assert_eq!(r2.raft.log().epochs().entries(), &[(1, 0)]);
    assert_eq!(r2.queued(), &[(id(1), fetch(11, 2, 3, 2, 1))]);

    // That fetch is valid: the leader sends its epoch-3 batch, and the logs agree.
    deliver(&mut r2, &mut r1, t(5210));
    let sent = r1.queued().to_vec();
    let [(to, Message::QuorumFetchResponse { diverging_epoch: None, batches, high_watermark: 2, .. })] = &sent[..]
    else {
        panic!("expected one plain fetch answer: {sent:?}");
    };
    assert_eq!((*to, batch_ids(batches)), (id(2), vec![(2, 3)]));
    r1.events();
    exchange(&mut [&mut r1, &mut r2], t(5210));
    assert_eq!(r2.raft.entries(), r1.raft.entries());
    assert_eq!(r1.events(), vec![Event::MetadataCommitted { epoch: 3, high_watermark: 3 }]);
    assert_eq!(r2.status().high_watermark, 3);
}

// ---- 6. check-quorum ----

#[test]
fn leader_without_fetches_from_a_majority_for_one_and_a_half_fetch_timeouts_resigns() {
    let mut r1 = Replica::start(t(0), 1, &VOTERS);
    win_election(&mut r1, t(1000), &[2, 3]);
    r1.clear();
    // Voter 3 fetches twice at 1.1 s (catching up, which commits offset 0); voter 2 never does.
    r1.recv(t(1100), 3, fetch(31, 3, 1, 0, -1));
    r1.recv(t(1100), 3, fetch(32, 3, 1, 1, 1));
    assert_eq!(r1.status().high_watermark, 1);
    r1.clear();

    // BeginQuorumEpoch is resent after request.timeout.ms to the voter that never answered.
    r1.tick(t(3000));
    assert_eq!(r1.sent(), vec![(id(2), begin_epoch(7, 1, 1))]);

    // The check-quorum timer runs 3 s from the last majority (1 + voter 3 at 1.1 s).
    assert_eq!(r1.raft.poll_deadline(), Some(t(4100)));
    r1.tick(just_before(t(4100)));
    assert_eq!((r1.raft.role(), r1.sent(), r1.events()), (Leader, vec![], vec![]));

    r1.tick(t(4100));
    let reason = "check-quorum: no fetch from a majority of voters within 1.5 × the fetch timeout";
    assert_eq!(
        r1.events(),
        vec![
            Event::LeaderResigned { epoch: 1, reason: reason.to_string() },
            state_changed(Resigned, 1, None, Some(1), reason),
        ]
    );
    assert_eq!((r1.raft.role(), r1.raft.epoch()), (Resigned, 1));
    // Successors by fetch progress: 3 (offset 1) before 2 (never fetched).
    assert_eq!(r1.sent(), vec![(id(2), end_epoch(8, 1, 1, &[3, 2])), (id(3), end_epoch(9, 1, 1, &[3, 2]))]);
    assert_eq!(r1.raft.append(t(4100), vec![record(7)]), None);
}

#[test]
fn leader_fetched_from_by_one_follower_of_two_keeps_leading() {
    let mut r1 = Replica::start(t(0), 1, &VOTERS);
    win_election(&mut r1, t(1000), &[2, 3]);
    r1.recv(t(1000), 2, fetch(100, 2, 1, 0, -1));
    r1.clear();
    // Voter 2 fetches every second (each long poll expires after 500 ms); voter 3 is silent.
    for k in 1..=10u64 {
        let at = t(1000 + 1000 * k);
        r1.recv(at, 2, fetch(100 + k, 2, 1, 1, 1));
        r1.tick(at + millis(FETCH_MAX_WAIT_MS));
        assert_eq!(r1.raft.role(), Leader, "at {at}");
    }
    assert!(!r1.sent().iter().any(|(_, m)| matches!(m, Message::EndQuorumEpoch { .. })));
    assert!(!r1.events().iter().any(|e| matches!(e, Event::LeaderResigned { .. })));
    // The last fetch was at 11 s: without more, it resigns at 14 s exactly.
    r1.tick(just_before(t(14_000)));
    assert_eq!(r1.raft.role(), Leader);
    r1.tick(t(14_000));
    assert_eq!(r1.raft.role(), Resigned);
    assert!(matches!(r1.events().as_slice(), [Event::LeaderResigned { epoch: 1, .. }, ..]));
}

// ---- 7. fetch timeout ----

#[test]
fn follower_without_a_fetch_answer_for_fetch_timeout_becomes_prospective() {
    let mut r2 = Replica::start(t(0), 2, &VOTERS);
    r2.clear();
    r2.recv(t(100), 1, begin_epoch(50, 1, 1));
    assert_eq!(r2.sent(), vec![(id(1), begin_epoch_response(50, 1, 1)), (id(1), fetch(1, 2, 1, 0, -1))]);
    assert_eq!(r2.raft.poll_deadline(), Some(t(2100)));

    // An answer (an expired long poll, empty) restarts the timer.
    r2.recv(t(1000), 1, fetch_response(1, 1, 1, 0, vec![]));
    assert_eq!(r2.sent(), vec![(id(1), fetch(2, 2, 1, 0, -1))]);
    assert_eq!(r2.raft.poll_deadline(), Some(t(3000)));
    r2.tick(just_before(t(3000)));
    assert_eq!((r2.raft.role(), r2.sent()), (Follower, vec![]));
    r2.clear();

    r2.tick(t(3000));
    assert_eq!(
        r2.events(),
        vec![
            Event::LeaderUnreachable { leader_id: id(1), epoch: 1 },
            state_changed(Prospective, 1, None, None, "election timeout: asking for pre-votes"),
        ]
    );
    assert_eq!((r2.raft.role(), r2.raft.epoch()), (Prospective, 1));
    assert_eq!(
        r2.sent(),
        vec![(id(1), vote_request(2, 3, 1, (0, 0), true)), (id(3), vote_request(2, 4, 1, (0, 0), true))]
    );
}

// ---- 8. EndQuorumEpoch ----

#[test]
fn end_quorum_epoch_lets_the_first_preferred_successor_campaign_at_once() {
    let [mut r1, mut r2, mut r3] = cluster();
    // The leader appends at 1.6 s; only node 3 receives it (the answer to node 2 is lost), so
    // node 3 is further along (offset 2) than node 2 (offset 1).
    r1.raft.append(t(1600), vec![record(7)]);
    for _ in 0..2 {
        deliver(&mut r1, &mut r3, t(1600));
        deliver(&mut r3, &mut r1, t(1600));
    }
    r1.clear();
    r3.clear();
    let progress: Vec<(NodeId, i64)> =
        r1.status().replicas.iter().map(|(d, _)| (d.node_id, d.log_end_offset)).collect();
    assert_eq!(progress, vec![(id(1), 2), (id(2), 1), (id(3), 2)]);

    r1.raft.resign(t(1700), "controlled shutdown");
    assert_eq!(r1.sent(), vec![(id(2), end_epoch(7, 1, 1, &[3, 2])), (id(3), end_epoch(8, 1, 1, &[3, 2]))]);
    assert_eq!(
        r1.events(),
        vec![
            Event::LeaderResigned { epoch: 1, reason: "controlled shutdown".into() },
            state_changed(Resigned, 1, None, Some(1), "controlled shutdown"),
        ]
    );
    r1.raft.resign(t(1700), "controlled shutdown");
    assert_eq!(r1.sent(), vec![], "resigning twice does nothing");

    // Rebuild the messages to deliver them one by one.
    let eq3 = end_epoch(8, 1, 1, &[3, 2]);
    let eq2 = end_epoch(7, 1, 1, &[3, 2]);
    r3.recv(t(1710), 1, eq3);
    assert_eq!(
        r3.sent(),
        vec![(
            id(1),
            Message::EndQuorumEpochResponse { correlation_id: 8, error: None, leader_epoch: 1, leader_id: Some(id(1)) }
        )]
    );
    assert_eq!(r3.raft.poll_deadline(), Some(t(1710)));
    // The second successor waits retry.backoff.ms × 2^1.
    r2.recv(t(1710), 1, eq2);
    assert_eq!(r2.raft.poll_deadline(), Some(t(1750)));
    r2.clear();

    // The leader said goodbye, so this is no "leader unreachable" timeout.
    r3.tick(t(1710));
    assert_eq!(
        r3.events(),
        vec![state_changed(Prospective, 1, None, Some(1), "election timeout: asking for pre-votes"),]
    );
    assert_eq!(
        r3.queued(),
        &[(id(1), vote_request(3, 6, 1, (1, 2), true)), (id(2), vote_request(3, 7, 1, (1, 2), true))]
    );
    // Node 2, no longer defending a leader that left, grants; so does the resigned node 1.
    exchange(&mut [&mut r1, &mut r2, &mut r3], t(1710));
    assert_eq!((r3.raft.role(), r3.raft.epoch()), (Leader, 2));
    for r in [&r1, &r2] {
        assert_eq!((r.raft.role(), r.raft.epoch(), r.raft.leader_id()), (Follower, 2, Some(id(3))));
        assert_eq!(r.raft.entries(), r3.raft.entries());
    }
    assert_eq!(r3.status().high_watermark, 3);
}

// ---- 9. durability ----

#[test]
fn candidate_restarts_with_its_epoch_and_its_vote_for_itself() {
    let mut r1 = Replica::start(t(0), 1, &VOTERS);
    r1.tick(t(1000));
    grant(&mut r1, t(1000), true, &[2]);
    assert_eq!((r1.raft.role(), r1.raft.epoch()), (Candidate, 1));

    let mut again = r1.restart(t(1200));
    assert_eq!(again.events(), vec![state_changed(Unattached, 1, None, Some(1), "started")]);
    let status = again.status();
    assert_eq!((status.role, status.epoch, status.voted_id), (Unattached, 1, Some(id(1))));
    again.clear();

    // It already voted in epoch 1 (for itself): another candidate of epoch 1 is refused.
    again.recv(t(1300), 2, vote_request(2, 21, 1, (0, 0), false));
    assert_eq!(again.sent(), vec![(id(2), vote_response(21, 1, None, false, false))]);
    assert_eq!(again.events(), vec![vote_cast(2, 1, false, Some("it already voted in this epoch"))]);
    assert_eq!(again.disk(), vec![]);
}

#[test]
fn leader_restarts_resigned_with_its_log() {
    let mut r1 = Replica::start(t(0), 1, &VOTERS);
    win_election(&mut r1, t(1000), &[2, 3]);
    r1.raft.append(t(1000), vec![record(7)]);
    r1.pump();

    let mut again = r1.restart(t(1500));
    assert_eq!(again.events(), vec![state_changed(Resigned, 1, None, Some(1), "started")]);
    let status = again.status();
    assert_eq!(
        (status.role, status.epoch, status.leader_id, status.voted_id, status.log_end_offset),
        (Resigned, 1, None, Some(id(1)), 2)
    );
    assert_eq!(again.raft.entries(), r1.raft.entries());
    assert_eq!(again.raft.log().epochs().entries(), &[(1, 0)]);
    assert_eq!(again.raft.append(t(1500), vec![record(8)]), None);
    again.clear();

    // It waits for its election timer, then asks for pre-votes in epoch 1 with its log.
    let next = again.raft.poll_deadline().unwrap();
    assert!(next >= t(2500) && next < t(3500), "{next:?}");
    again.tick(next);
    assert_eq!(again.raft.role(), Prospective);
    assert_eq!(
        again.sent(),
        vec![(id(2), vote_request(1, 1, 1, (1, 2), true)), (id(3), vote_request(1, 2, 1, (1, 2), true))]
    );
}

#[test]
fn follower_restarts_following_its_leader_and_fetches_at_once() {
    let [_r1, r2, _r3] = cluster();
    let mut again = r2.restart(t(1600));
    let status = again.status();
    assert_eq!(
        (status.role, status.epoch, status.leader_id, status.voted_id, status.log_end_offset),
        (Follower, 1, Some(id(1)), Some(id(1)), 1)
    );
    assert_eq!(again.raft.poll_deadline(), Some(t(1600)));
    again.clear();
    again.tick(t(1600));
    assert_eq!(again.sent(), vec![(id(1), fetch(1, 2, 1, 1, 1))]);
}

// ---- 10. observers ----

#[test]
fn observer_never_votes_and_tries_the_voters_in_turn() {
    let mut r4 = Replica::start(t(0), 4, &VOTERS);
    assert_eq!(r4.events(), vec![state_changed(Observer, 0, None, None, "started")]);
    r4.clear();
    assert_eq!(r4.raft.poll_deadline(), Some(t(0)));
    r4.tick(t(0));
    assert_eq!(r4.sent(), vec![(id(2), fetch(1, 4, 0, 0, -1))]);

    // Nobody answers: after each request timeout it asks the next voter. Never a Vote.
    let mut sent = Vec::new();
    let mut now = t(0);
    for _ in 0..6 {
        now = r4.raft.poll_deadline().unwrap();
        r4.tick(now);
        sent.extend(r4.sent());
    }
    assert_eq!(now, t(12_000));
    assert_eq!(
        sent,
        vec![
            (id(3), fetch(2, 4, 0, 0, -1)),
            (id(1), fetch(3, 4, 0, 0, -1)),
            (id(2), fetch(4, 4, 0, 0, -1)),
            (id(3), fetch(5, 4, 0, 0, -1)),
            (id(1), fetch(6, 4, 0, 0, -1)),
            (id(2), fetch(7, 4, 0, 0, -1)),
        ]
    );
    assert_eq!(r4.raft.role(), Observer);

    // A vote request moves nothing.
    r4.recv(now, 3, vote_request(3, 9, 5, (0, 0), false));
    assert_eq!(r4.sent(), vec![(id(3), vote_response(9, 0, None, false, false))]);
    assert_eq!(r4.events(), vec![vote_cast(3, 5, false, Some("it is not a voter"))]);
    assert_eq!(r4.raft.epoch(), 0);
}

#[test]
fn observer_follows_the_leader_a_voter_names_and_does_not_count_toward_commit() {
    let [mut r1, mut r2, _r3] = cluster();
    let mut r4 = Replica::start(t(1500), 4, &VOTERS);
    r4.clear();
    r4.tick(t(1500));
    assert_eq!(r4.queued(), &[(id(2), fetch(1, 4, 0, 0, -1))]);

    deliver(&mut r4, &mut r2, t(1510));
    assert_eq!(
        r2.queued(),
        &[(
            id(4),
            Message::QuorumFetchResponse {
                correlation_id: 1,
                error: Some(ErrorCode::NotLeaderOrFollower),
                leader_epoch: 1,
                leader_id: Some(id(1)),
                high_watermark: 1,
                diverging_epoch: None,
                batches: vec![],
            }
        )]
    );
    deliver(&mut r2, &mut r4, t(1520));
    let status = r4.status();
    assert_eq!((status.role, status.epoch, status.leader_id), (Observer, 1, Some(id(1))));
    assert_eq!(r4.queued(), &[(id(1), fetch(2, 4, 1, 0, -1))]);

    exchange(&mut [&mut r1, &mut r4], t(1530));
    assert_eq!(r4.raft.entries(), r1.raft.entries());
    assert_eq!((r4.status().log_end_offset, r4.status().high_watermark), (1, 1));
    assert_eq!(
        r1.status().replicas.last().map(|(d, voter)| (d.node_id, d.log_end_offset, *voter)),
        Some((id(4), 1, false))
    );
    assert!(!r4.sent().iter().any(|(_, m)| matches!(m, Message::Vote { .. })));
    assert_eq!(r1.events(), vec![]);
}

// ---- 11. split vote ----

#[test]
fn split_vote_fails_after_the_election_timeout_and_backs_off_before_the_next_pre_vote() {
    // Nodes 1 and 2 time out together (aligned first election); node 3 is unreachable.
    let mut r1 = Replica::start(t(0), 1, &VOTERS);
    let mut r2 = Replica::start(t(0), 2, &VOTERS);
    r1.tick(t(1000));
    r2.tick(t(1000));
    assert_eq!(
        r1.queued(),
        &[(id(2), vote_request(1, 1, 0, (0, 0), true)), (id(3), vote_request(1, 2, 0, (0, 0), true))]
    );
    r1.events();
    r2.events();

    // Each Prospective grants the other's pre-vote: neither defends a leader.
    deliver(&mut r1, &mut r2, t(1000));
    assert_eq!(r2.events(), vec![vote_cast(1, 0, true, None)]);
    deliver(&mut r2, &mut r1, t(1000));
    assert_eq!((r1.raft.role(), r1.raft.epoch()), (Candidate, 1));
    // Node 1's grant makes 2 a Candidate of epoch 1 too; then node 1's vote request reaches it.
    deliver(&mut r1, &mut r2, t(1000));
    assert_eq!((r2.raft.role(), r2.raft.epoch()), (Candidate, 1));
    assert_eq!(r2.queued().last(), Some(&(id(1), vote_response(3, 1, None, false, false))));
    assert_eq!(r2.events().last(), Some(&vote_cast(1, 1, false, Some("it is campaigning itself"))));
    deliver(&mut r2, &mut r1, t(1000));
    assert_eq!(r1.events().last(), Some(&vote_cast(2, 1, false, Some("it is campaigning itself"))));
    deliver(&mut r1, &mut r2, t(1000));

    for (r, others) in [(&mut r1, [2, 3]), (&mut r2, [1, 3])] {
        r.clear();
        let me = r.id().0;
        assert_eq!((r.raft.role(), r.raft.epoch(), r.status().voted_id), (Candidate, 1, Some(id(me))));
        // One grant (its own), one refusal, one silence: it waits out the election timeout.
        let timeout = r.raft.poll_deadline().unwrap();
        assert!(timeout >= t(2000) && timeout < t(3000), "{timeout:?}");
        r.tick(just_before(timeout));
        assert_eq!((r.raft.role(), r.sent(), r.events()), (Candidate, vec![], vec![]));

        r.tick(timeout);
        let events = r.events();
        let [Event::ElectionFailed { epoch: 1, reason, backoff_ms }] = events.as_slice() else {
            panic!("expected one ElectionFailed: {events:?}");
        };
        assert_eq!(reason, "election timed out (split vote)");
        // First failure: random up to retry.backoff.ms × 2 (with SEED, not zero).
        assert!(*backoff_ms > 0 && *backoff_ms <= 40, "{backoff_ms}");
        assert_eq!((r.raft.role(), r.sent()), (Candidate, vec![]));
        let resume = timeout + millis(*backoff_ms);
        assert_eq!(r.raft.poll_deadline(), Some(resume));
        r.tick(just_before(resume));
        assert_eq!((r.raft.role(), r.sent(), r.events()), (Candidate, vec![], vec![]));

        r.tick(resume);
        assert_eq!((r.raft.role(), r.raft.epoch()), (Prospective, 1));
        assert_eq!(
            r.sent(),
            vec![
                (id(others[0]), vote_request(me, 5, 1, (0, 0), true)),
                (id(others[1]), vote_request(me, 6, 1, (0, 0), true)),
            ]
        );
    }
}

#[test]
fn candidate_refused_by_a_majority_backs_off_at_once() {
    let mut r1 = Replica::start(t(0), 1, &VOTERS);
    r1.tick(t(1000));
    grant(&mut r1, t(1000), true, &[2]);
    r1.clear();
    r1.recv(t(1010), 2, vote_response(3, 1, None, false, false));
    assert_eq!(r1.events(), vec![]);
    r1.recv(t(1020), 3, vote_response(4, 1, None, false, false));
    let events = r1.events();
    let [Event::ElectionFailed { epoch: 1, reason, backoff_ms }] = events.as_slice() else {
        panic!("expected one ElectionFailed: {events:?}");
    };
    assert_eq!(reason, "lost the election");
    assert_eq!(r1.raft.role(), Candidate);
    assert_eq!(r1.raft.poll_deadline(), Some(t(1020) + millis(*backoff_ms)));
}
