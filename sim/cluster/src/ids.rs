//! Identifiers shared by every node: node ids and topic-partitions.

use serde::{Deserialize, Serialize};
use std::fmt;

/// A node's `node.id`. Brokers use 1, 2, 3, ... as in Kafka's quickstart; dedicated controllers
/// and the clients get ids from ranges of their own (see [`NodeId::CONTROLLER`] and
/// [`NodeId::FIRST_CLIENT`]) so a trace line always says which kind of node spoke. In a combined
/// cluster (`process.roles=broker,controller`) the first brokers are the controllers too.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct NodeId(pub i32);

impl NodeId {
    /// The first dedicated controller; the others follow (3001, 3002, ...), as KRaft examples
    /// number them.
    pub const CONTROLLER: NodeId = NodeId(3000);
    /// Clients (producers, consumers) are numbered from here, in scenario order.
    pub const FIRST_CLIENT: NodeId = NodeId(5000);

    /// Whether this id is in the broker range (below the dedicated controllers').
    pub fn is_broker(self) -> bool {
        self.0 > 0 && self.0 < Self::CONTROLLER.0
    }
}

impl fmt::Display for NodeId {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)
    }
}

/// A topic and a partition number, printed the way Kafka logs it (`orders-0`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: String,
    /// Partition index, from 0.
    pub partition: i32,
}

impl TopicPartition {
    /// Builds `topic-partition`.
    pub fn new(topic: impl Into<String>, partition: i32) -> TopicPartition {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}
