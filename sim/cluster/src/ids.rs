//! Identifiers shared by every node: node ids and topic-partitions.

use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::Arc;

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

/// A topic name, shared rather than copied.
///
/// Every partition, message, fetch and trace record names its topic, and a broker looks its
/// partitions up by [`TopicPartition`] after every input. With a `String` each of those copies
/// allocated and each lookup compared the names byte by byte; a `Topic` is an interned
/// `Arc<str>`: a copy is a reference count, and two names built from the same text on one thread
/// share one allocation, so comparing them is a pointer comparison. It orders, compares,
/// hashes, prints and serialises exactly as the `String` it holds (a JSON string), so traces and
/// digests do not change.
#[derive(Clone, Deserialize)]
#[serde(from = "String")]
pub struct Topic(Arc<str>);

impl Serialize for Topic {
    fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        serializer.serialize_str(&self.0)
    }
}

thread_local! {
    /// The names interned on this thread. A simulation runs on one thread, so its topics share
    /// allocations; a name made on another thread (a swarm worker) is equal by content all the
    /// same, only compared more slowly.
    static TOPICS: RefCell<BTreeSet<Arc<str>>> = const { RefCell::new(BTreeSet::new()) };
}

impl Topic {
    /// The interned topic named `name`.
    pub fn new(name: &str) -> Topic {
        TOPICS.with(|topics| {
            let mut topics = topics.borrow_mut();
            if let Some(shared) = topics.get(name) {
                return Topic(Arc::clone(shared));
            }
            let shared: Arc<str> = Arc::from(name);
            topics.insert(Arc::clone(&shared));
            Topic(shared)
        })
    }

    /// The name.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl Deref for Topic {
    type Target = str;

    fn deref(&self) -> &str {
        &self.0
    }
}

impl AsRef<str> for Topic {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl Borrow<str> for Topic {
    fn borrow(&self) -> &str {
        &self.0
    }
}

impl PartialEq for Topic {
    fn eq(&self, other: &Topic) -> bool {
        Arc::ptr_eq(&self.0, &other.0) || *self.0 == *other.0
    }
}

impl Eq for Topic {}

impl PartialOrd for Topic {
    fn partial_cmp(&self, other: &Topic) -> Option<std::cmp::Ordering> {
        Some(self.cmp(other))
    }
}

impl Ord for Topic {
    fn cmp(&self, other: &Topic) -> std::cmp::Ordering {
        if Arc::ptr_eq(&self.0, &other.0) {
            return std::cmp::Ordering::Equal;
        }
        // Two topics of a cluster mostly differ in their first byte (`__consumer_offsets` and
        // a user's topic), which settles the order without a call to `memcmp`: a broker's
        // partition map compares topics at every lookup.
        let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
        match (a.first(), b.first()) {
            (Some(x), Some(y)) if x != y => x.cmp(y),
            _ => a.cmp(b),
        }
    }
}

impl Hash for Topic {
    fn hash<H: Hasher>(&self, state: &mut H) {
        // As `str` hashes, so that `Borrow<str>` lookups in hashed maps agree.
        (*self.0).hash(state);
    }
}

impl fmt::Debug for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(&*self.0, f)
    }
}

impl fmt::Display for Topic {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl From<&str> for Topic {
    fn from(name: &str) -> Topic {
        Topic::new(name)
    }
}

impl From<&String> for Topic {
    fn from(name: &String) -> Topic {
        Topic::new(name)
    }
}

impl From<String> for Topic {
    fn from(name: String) -> Topic {
        Topic::new(&name)
    }
}

impl From<&Topic> for Topic {
    fn from(topic: &Topic) -> Topic {
        topic.clone()
    }
}

impl From<Topic> for String {
    fn from(topic: Topic) -> String {
        topic.0.to_string()
    }
}

impl PartialEq<str> for Topic {
    fn eq(&self, other: &str) -> bool {
        *self.0 == *other
    }
}

impl PartialEq<&str> for Topic {
    fn eq(&self, other: &&str) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<String> for Topic {
    fn eq(&self, other: &String) -> bool {
        *self.0 == **other
    }
}

impl PartialEq<Topic> for str {
    fn eq(&self, other: &Topic) -> bool {
        *self == *other.0
    }
}

impl PartialEq<Topic> for &str {
    fn eq(&self, other: &Topic) -> bool {
        **self == *other.0
    }
}

impl PartialEq<Topic> for String {
    fn eq(&self, other: &Topic) -> bool {
        **self == *other.0
    }
}

/// A topic and a partition number, printed the way Kafka logs it (`orders-0`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
pub struct TopicPartition {
    /// Topic name.
    pub topic: Topic,
    /// Partition index, from 0.
    pub partition: i32,
}

impl TopicPartition {
    /// Builds `topic-partition`.
    pub fn new(topic: impl Into<Topic>, partition: i32) -> TopicPartition {
        TopicPartition { topic: topic.into(), partition }
    }
}

impl fmt::Display for TopicPartition {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}-{}", self.topic, self.partition)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Topics order, compare and hash-borrow as the strings they hold, whether or not they
        /// share an allocation: a run's output lists partitions in map order.
        #[test]
        fn topics_order_as_their_names(a in "[_a-c]{0,4}", b in "[_a-c]{0,4}") {
            let (x, y) = (Topic::new(&a), Topic::new(&b));
            prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            prop_assert_eq!(x == y, a == b);
            // A name made elsewhere holds its own allocation, and compares by content.
            let (own_x, own_y) = (Topic(Arc::from(a.as_str())), Topic(Arc::from(b.as_str())));
            prop_assert_eq!(own_x.cmp(&y), a.cmp(&b));
            prop_assert_eq!(x.cmp(&own_y), a.cmp(&b));
            prop_assert_eq!(own_x == y, a == b);
        }
    }
}
