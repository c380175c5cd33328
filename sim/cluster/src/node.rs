//! The sans-IO node interface every broker, controller and client implements, named the way
//! quinn-proto names its own: inputs `handle_message` and `handle_timeout`; outputs
//! `poll_effect`, `poll_event` and `poll_deadline`.

use crate::event::Event;
use crate::ids::NodeId;
use crate::protocol::Message;
use crate::shared_bytes::SharedBytes;
use crate::time::Instant;
use std::collections::VecDeque;

/// A file's path on a node's disk (`orders-0/00000000000000000000.log`), shared rather than
/// owned and with a fingerprint of it taken once: a busy log appends to its segment's file tens
/// of thousands of times a simulated second, and each append carried a copy of the path, which
/// the disk then hashed to find the file (about 250 instructions an append in heavy.ron).
///
/// The fingerprint is FNV-1a of the path's bytes: fixed, so that the disk's order of its files,
/// and everything derived from it, is the same in every run. Two paths are equal when their
/// strings are; they are ordered by fingerprint, then by string.
#[derive(Clone)]
pub struct DiskPath {
    fingerprint: u64,
    path: std::sync::Arc<str>,
}

impl DiskPath {
    /// The path `path`, fingerprinted.
    pub fn new(path: &str) -> DiskPath {
        // FNV-1a, 64 bits: offset basis and prime from its specification.
        let fingerprint = path
            .bytes()
            .fold(0xcbf2_9ce4_8422_2325u64, |hash, byte| (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3));
        DiskPath { fingerprint, path: std::sync::Arc::from(path) }
    }

    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.path
    }
}

impl From<&str> for DiskPath {
    fn from(path: &str) -> DiskPath {
        DiskPath::new(path)
    }
}

impl From<String> for DiskPath {
    fn from(path: String) -> DiskPath {
        DiskPath::new(&path)
    }
}

impl std::ops::Deref for DiskPath {
    type Target = str;

    fn deref(&self) -> &str {
        &self.path
    }
}

impl std::fmt::Debug for DiskPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        std::fmt::Debug::fmt(&*self.path, f)
    }
}

impl std::fmt::Display for DiskPath {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.path)
    }
}

impl PartialEq for DiskPath {
    fn eq(&self, other: &DiskPath) -> bool {
        // Copies of one path share their string: comparing pointers spares reading it.
        self.fingerprint == other.fingerprint
            && (std::sync::Arc::ptr_eq(&self.path, &other.path) || self.path == other.path)
    }
}

impl Eq for DiskPath {}

impl PartialOrd for DiskPath {
    fn partial_cmp(&self, other: &DiskPath) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for DiskPath {
    fn cmp(&self, other: &DiskPath) -> std::cmp::Ordering {
        self.fingerprint.cmp(&other.fingerprint).then_with(|| {
            if std::sync::Arc::ptr_eq(&self.path, &other.path) {
                std::cmp::Ordering::Equal
            } else {
                self.path.cmp(&other.path)
            }
        })
    }
}

/// A write to the node's own disk, in the terms of a file system: files are named by a path
/// relative to the node's data directory (`orders-0/00000000000000000000.log`).
///
/// Writes land in the page cache first. Only [`DiskOp::Flush`] (an `fsync`) makes a file's bytes
/// durable, which is why a power loss can take back acknowledged records: Kafka does not flush
/// per write by default and relies on replication instead (`flush.messages`, `flush.ms`).
/// Truncation, deletion and [`DiskOp::WriteAtomically`] are metadata operations that the host
/// treats as durable at once, as a journaling file system does.
#[derive(Clone, Debug, PartialEq)]
pub enum DiskOp {
    /// Append bytes at the end of a file, creating it when missing. Pending until flushed.
    Append {
        /// The file: a [`DiskPath`], since appends are by far the most frequent writes (the
        /// other writes name their file by a plain string).
        path: DiskPath,
        /// The bytes, shared rather than owned: a record batch's encoding is one buffer that
        /// the leader's and every follower's disk hold together
        /// ([`RecordBatch::encoded`](crate::record::RecordBatch::encoded)), so a replicated
        /// batch costs its size in memory once, not once per replica.
        bytes: SharedBytes,
    },
    /// Cut a file to `len_bytes` (no-op when it is shorter).
    Truncate {
        /// The file.
        path: String,
        /// The new length in bytes.
        len_bytes: u64,
    },
    /// Replace a file's whole content durably: write a temporary file, `fsync` it and rename
    /// it over the old one, as Kafka writes its checkpoint files and swaps cleaned segments.
    WriteAtomically {
        /// The file.
        path: String,
        /// The new content.
        bytes: Vec<u8>,
    },
    /// Delete a file (no-op when missing).
    Delete {
        /// The file.
        path: String,
    },
    /// `fsync` a file: everything written to it so far becomes durable.
    Flush {
        /// The file.
        path: String,
    },
}

/// Something the host must do for the node.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Deliver `message` to node `to` through the simulated network.
    Send {
        /// The destination node.
        to: NodeId,
        /// The message, boxed: it is about 200 bytes, and goes through the outbox, the host's
        /// list of sends and the link's queue on its way, each a copy when unboxed.
        message: Box<Message>,
    },
    /// Apply a write to this node's disk.
    Disk(DiskOp),
}

/// A sans-IO state machine hosted by the simulator.
pub trait Node {
    /// A message arrived from `from`.
    fn handle_message(&mut self, now: Instant, from: NodeId, message: Message);
    /// The deadline from [`Node::poll_deadline`] passed (or the host woke for another reason;
    /// nodes check which of their timers are due).
    fn handle_timeout(&mut self, now: Instant);
    /// The connection to `peer` closed because its process died and the operating system
    /// reset the socket. Requests in flight to it fail at once, as Kafka's `NetworkClient`
    /// fails them with a disconnect. A network partition or a power loss gives no such signal:
    /// then only timeouts tell.
    fn handle_disconnect(&mut self, now: Instant, peer: NodeId);
    /// The process is being stopped gracefully (SIGTERM): the node says its goodbyes, such as
    /// a Raft leader's `EndQuorumEpoch`, before the host stops it. Most nodes have none.
    fn shutdown(&mut self, now: Instant) {
        let _ = now;
    }
    /// The next effect to execute, in order.
    fn poll_effect(&mut self) -> Option<Effect>;
    /// The next observation to record, in order.
    fn poll_event(&mut self) -> Option<Event>;
    /// When the node next needs [`Node::handle_timeout`].
    fn poll_deadline(&self) -> Option<Instant>;
}

/// The queues behind `poll_effect` and `poll_event`, shared by every node type.
#[derive(Debug, Default)]
pub struct Outbox {
    effects: VecDeque<Effect>,
    events: VecDeque<Event>,
}

impl Outbox {
    /// Queues a message.
    pub fn send(&mut self, to: NodeId, message: Message) {
        self.effects.push_back(Effect::Send { to, message: Box::new(message) });
    }

    /// Queues a message already boxed (one passed on from another outbox).
    pub fn send_boxed(&mut self, to: NodeId, message: Box<Message>) {
        self.effects.push_back(Effect::Send { to, message });
    }

    /// Queues a disk write.
    pub fn disk(&mut self, op: DiskOp) {
        self.effects.push_back(Effect::Disk(op));
    }

    /// Queues an observation.
    pub fn event(&mut self, event: Event) {
        self.events.push_back(event);
    }

    /// Next effect.
    pub fn poll_effect(&mut self) -> Option<Effect> {
        self.effects.pop_front()
    }

    /// Removes and returns the messages queued for `to`, keeping everything else in order.
    /// A combined node uses it to hand its broker's requests to its own controller without a
    /// network round trip.
    pub fn take_sends_to(&mut self, to: NodeId) -> Vec<Message> {
        // A combined node asks twice after every input, and nearly always nothing is addressed
        // to it: that answer must cost no allocation. Otherwise the queue is rotated once in
        // place, which keeps the order of what stays and the queue's buffer.
        if !self.effects.iter().any(|e| matches!(e, Effect::Send { to: dest, .. } if *dest == to)) {
            return Vec::new();
        }
        let mut taken = Vec::new();
        for _ in 0..self.effects.len() {
            match self.effects.pop_front().expect("the loop runs once per queued effect") {
                Effect::Send { to: dest, message } if dest == to => taken.push(*message),
                other => self.effects.push_back(other),
            }
        }
        taken
    }

    /// Next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        let event = self.events.pop_front();
        if event.is_none() && self.events.capacity() > Self::KEPT_CAPACITY {
            // A burst (a rate-driven producer catching up on the sends it could not make
            // before metadata came: 18,000 at one instant in heavy.ron) leaves a queue with room
            // for all of it, megabytes kept for the rest of the run. Drained, it gives that
            // back.
            self.events.shrink_to(Self::KEPT_CAPACITY);
        }
        event
    }

    /// Room for this many queued events is kept once the queue is drained; more is given back.
    const KEPT_CAPACITY: usize = 256;
}

/// A per-node random number generator seeded from `(run seed, node id, incarnation)` with
/// ChaCha8, so values are stable across platforms and releases.
pub fn node_rng(run_seed: u64, node: NodeId, incarnation: u64) -> rand_chacha::ChaCha8Rng {
    use rand::SeedableRng;
    let mut seed = [0u8; 32];
    seed[..8].copy_from_slice(&run_seed.to_le_bytes());
    seed[8..12].copy_from_slice(&node.0.to_le_bytes());
    seed[12..20].copy_from_slice(&incarnation.to_le_bytes());
    rand_chacha::ChaCha8Rng::from_seed(seed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::protocol::Message;

    fn request(correlation_id: u64) -> Message {
        Message::FindCoordinator { correlation_id, group_id: "g".into() }
    }

    #[test]
    fn a_drained_event_queue_gives_back_the_room_a_burst_took() {
        let mut outbox = Outbox::default();
        let event = |id| crate::event::Event::BrokerUnfenced { broker_id: NodeId(id) };
        for id in 0..10_000 {
            outbox.event(event(id));
        }
        assert!(outbox.events.capacity() >= 10_000);
        let drained: Vec<_> = std::iter::from_fn(|| outbox.poll_event()).collect();
        assert_eq!(drained.len(), 10_000, "every event comes out, in order");
        assert_eq!(drained[9_999], event(9_999));
        assert!(outbox.events.capacity() <= Outbox::KEPT_CAPACITY, "{}", outbox.events.capacity());
        // A queue within the kept room keeps it.
        outbox.event(event(1));
        let room = outbox.events.capacity();
        assert_eq!(outbox.poll_event(), Some(event(1)));
        assert_eq!(outbox.poll_event(), None);
        assert_eq!(outbox.events.capacity(), room);
    }

    #[test]
    fn taking_the_sends_to_one_node_keeps_the_rest_in_order() {
        let (me, peer) = (NodeId(1), NodeId(2));
        let mut outbox = Outbox::default();
        assert!(outbox.take_sends_to(me).is_empty(), "an empty outbox has nothing for anyone");
        outbox.send(peer, request(1));
        outbox.send(me, request(2));
        outbox.disk(DiskOp::Flush { path: "a".into() });
        outbox.send(me, request(3));
        outbox.send(peer, request(4));
        let taken: Vec<_> = outbox.take_sends_to(me).iter().map(Message::correlation_id).collect();
        assert_eq!(taken, [2, 3]);
        assert!(outbox.take_sends_to(me).is_empty(), "taken once");
        let rest: Vec<String> = std::iter::from_fn(|| outbox.poll_effect())
            .map(|e| match e {
                Effect::Send { to, message } => format!("{to:?} {}", message.correlation_id()),
                Effect::Disk(op) => format!("{op:?}"),
            })
            .collect();
        assert_eq!(rest.len(), 3);
        assert!(rest[0].ends_with(" 1") && rest[2].ends_with(" 4"), "{rest:?}");
        assert!(rest[1].starts_with("Flush"), "{rest:?}");
    }
}
