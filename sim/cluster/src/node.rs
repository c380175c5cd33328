//! The sans-IO node interface every broker, controller and client implements, named the way
//! quinn-proto names its own: inputs `handle_message` and `handle_timeout`; outputs
//! `poll_effect`, `poll_event` and `poll_deadline`.

use crate::event::Event;
use crate::ids::{NodeId, TopicPartition};
use crate::metadata::MetadataRecord;
use crate::protocol::Message;
use crate::record::RecordBatch;
use crate::time::Instant;
use std::collections::VecDeque;
use std::sync::Arc;

/// A write to the node's own disk. The walking skeleton's disk makes every write durable at
/// once; the storage work adds page-cache semantics (`flush.messages`, `flush.ms`) behind the
/// same operations.
#[derive(Clone, Debug, PartialEq)]
pub enum DiskOp {
    /// Append a batch to a partition's log file.
    Append {
        /// The partition.
        tp: TopicPartition,
        /// The batch.
        batch: Arc<RecordBatch>,
    },
    /// Cut a partition's log file back so it ends at `offset`.
    Truncate {
        /// The partition.
        tp: TopicPartition,
        /// The new log end offset.
        offset: i64,
    },
    /// Append a record to the controller's metadata log.
    AppendMetadata {
        /// The metadata record.
        record: MetadataRecord,
    },
}

/// Something the host must do for the node.
#[derive(Clone, Debug, PartialEq)]
pub enum Effect {
    /// Deliver `message` to node `to` through the simulated network.
    Send {
        /// The destination node.
        to: NodeId,
        /// The message.
        message: Message,
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

    /// Next event.
    pub fn poll_event(&mut self) -> Option<Event> {
        self.events.pop_front()
    }
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
