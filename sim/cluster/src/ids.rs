//! Identifiers shared by every node: node ids and topic-partitions.

use serde::{Deserialize, Serialize};
use std::borrow::Borrow;
use std::cell::RefCell;
use std::collections::BTreeSet;
use std::fmt;
use std::hash::{Hash, Hasher};
use std::ops::Deref;
use std::sync::{Mutex, PoisonError};

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

/// Interns `name` for the life of the process and gives the one copy of that text: two calls
/// with equal text give the same pointer, on any thread.
///
/// Why: the names a run repeats in every message, event and trace record were shared
/// `Arc<str>`s, and each copy and drop of one is an atomic read-modify-write of its reference
/// count. A simulation makes millions of those; natively, the instructions that followed an
/// atomic took about a quarter of heavy.ron's simulation time (book: performance), though
/// callgrind counts each as one instruction. An interned name is copied as a plain pointer.
///
/// The cost: an interned name is never freed. Names come from scenarios and recordings, a
/// handful each, so a process keeps kilobytes, not a run's worth of data. Unbounded texts, such
/// as record values and send ids, must not be interned.
pub fn intern(name: &str) -> &'static str {
    /// Every name interned by any thread.
    static INTERNED: Mutex<BTreeSet<&'static str>> = Mutex::new(BTreeSet::new());
    thread_local! {
        /// The names this thread has interned or looked up: a lookup here takes no lock.
        static SEEN: RefCell<BTreeSet<&'static str>> = const { RefCell::new(BTreeSet::new()) };
    }
    SEEN.with(|seen| {
        if let Some(&interned) = seen.borrow().get(name) {
            return interned;
        }
        let interned = {
            let mut all = INTERNED.lock().unwrap_or_else(PoisonError::into_inner);
            match all.get(name) {
                Some(&interned) => interned,
                None => {
                    let leaked: &'static str = Box::leak(Box::from(name));
                    all.insert(leaked);
                    leaked
                }
            }
        };
        seen.borrow_mut().insert(interned);
        interned
    })
}

/// Defines `$t`, an interned text ([`intern`]) that is copied as a pointer and compares,
/// orders, hashes, prints and serialises exactly as the string it stands for, so that traces
/// and digests are the same as with a `String`.
macro_rules! interned_text {
    ($(#[$meta:meta])* $t:ident) => {
        $(#[$meta])*
        #[derive(Clone)]
        pub struct $t(&'static str);

        impl Serialize for $t {
            fn serialize<S: serde::Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
                serializer.serialize_str(self.0)
            }
        }

        impl<'de> Deserialize<'de> for $t {
            fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<$t, D::Error> {
                // Read as an owned string and interned: the name outlives the input it came from.
                String::deserialize(deserializer).map($t::from)
            }
        }

        impl $t {
            /// The interned text `name`.
            pub fn new(name: &str) -> $t {
                $t(intern(name))
            }

            /// The text.
            pub fn as_str(&self) -> &'static str {
                self.0
            }
        }

        impl Deref for $t {
            type Target = str;

            fn deref(&self) -> &str {
                self.0
            }
        }

        impl AsRef<str> for $t {
            fn as_ref(&self) -> &str {
                self.0
            }
        }

        impl Borrow<str> for $t {
            fn borrow(&self) -> &str {
                self.0
            }
        }

        impl PartialEq for $t {
            fn eq(&self, other: &$t) -> bool {
                std::ptr::eq(self.0, other.0) || self.0 == other.0
            }
        }

        impl Eq for $t {}

        impl PartialOrd for $t {
            fn partial_cmp(&self, other: &$t) -> Option<std::cmp::Ordering> {
                Some(self.cmp(other))
            }
        }

        impl Ord for $t {
            fn cmp(&self, other: &$t) -> std::cmp::Ordering {
                if std::ptr::eq(self.0, other.0) {
                    return std::cmp::Ordering::Equal;
                }
                // Names mostly differ in their first byte (for topics, `__consumer_offsets` and a
                // user's topic), which settles the order without a call to `memcmp`: a broker's
                // partition map compares topics at every lookup.
                let (a, b) = (self.0.as_bytes(), other.0.as_bytes());
                match (a.first(), b.first()) {
                    (Some(x), Some(y)) if x != y => x.cmp(y),
                    _ => a.cmp(b),
                }
            }
        }

        impl Hash for $t {
            fn hash<H: Hasher>(&self, state: &mut H) {
                // As `str` hashes, so that `Borrow<str>` lookups in hashed maps agree.
                self.0.hash(state);
            }
        }

        impl fmt::Debug for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                fmt::Debug::fmt(self.0, f)
            }
        }

        impl fmt::Display for $t {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                // As `str` prints, padding and all: the event feed lines names up in columns.
                fmt::Display::fmt(self.0, f)
            }
        }

        impl From<&str> for $t {
            fn from(name: &str) -> $t {
                $t::new(name)
            }
        }

        impl From<&String> for $t {
            fn from(name: &String) -> $t {
                $t::new(name)
            }
        }

        impl From<String> for $t {
            fn from(name: String) -> $t {
                $t::new(&name)
            }
        }

        impl From<&$t> for $t {
            fn from(name: &$t) -> $t {
                name.clone()
            }
        }

        impl From<$t> for String {
            fn from(name: $t) -> String {
                name.0.to_string()
            }
        }

        impl PartialEq<str> for $t {
            fn eq(&self, other: &str) -> bool {
                *self.0 == *other
            }
        }

        impl PartialEq<&str> for $t {
            fn eq(&self, other: &&str) -> bool {
                *self.0 == **other
            }
        }

        impl PartialEq<String> for $t {
            fn eq(&self, other: &String) -> bool {
                *self.0 == **other
            }
        }

        impl PartialEq<$t> for str {
            fn eq(&self, other: &$t) -> bool {
                *self == *other.0
            }
        }

        impl PartialEq<$t> for &str {
            fn eq(&self, other: &$t) -> bool {
                **self == *other.0
            }
        }

        impl PartialEq<$t> for String {
            fn eq(&self, other: &$t) -> bool {
                **self == *other.0
            }
        }
    };
}

interned_text! {
    /// A topic name, interned ([`intern`]) rather than copied or counted.
    ///
    /// Every partition, message, fetch and trace record names its topic, and a broker looks its
    /// partitions up by [`TopicPartition`] after every input. With a `String` each of those copies
    /// allocated and each lookup compared the names byte by byte; with a shared `Arc<str>` each copy
    /// and drop was an atomic reference count. A `Topic` is a pointer to the interned text: a copy
    /// is a pointer copy, and two topics of the same name are the same pointer, so comparing them
    /// is a pointer comparison. It orders, compares, hashes, prints and serialises exactly as the
    /// `String` it stands for (a JSON string), so traces and digests do not change.
    Topic
}

interned_text! {
    /// A name a run repeats in its trace records and events: a node's trace name (`broker 1`),
    /// a client id, a group id. Interned ([`intern`]) for the reasons [`Topic`] is: a copy is a
    /// pointer copy, where a shared `Arc<str>` was an atomic reference count and a `String` an
    /// allocation.
    Name
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
        /// Topics order, compare and hash-borrow as the strings they hold: a run's output lists
        /// partitions in map order.
        #[test]
        fn topics_order_as_their_names(a in "[_a-c]{0,4}", b in "[_a-c]{0,4}") {
            let (x, y) = (Topic::new(&a), Topic::new(&b));
            prop_assert_eq!(x.cmp(&y), a.cmp(&b));
            prop_assert_eq!(x == y, a == b);
            prop_assert_eq!(x.as_str(), a.as_str());
            let mut set = BTreeSet::new();
            set.insert(x.clone());
            prop_assert!(set.contains(b.as_str()) == (a == b));
        }
    }

    /// An interned name prints as its text does, padding included: the event feed lines node
    /// names up in a column with `{:<12}`.
    #[test]
    fn names_print_and_pad_as_their_text() {
        assert_eq!(format!("[{:<8}]", Name::new("broker 1")), "[broker 1]");
        assert_eq!(format!("[{:<10}]", Name::new("web-1")), "[web-1     ]");
        assert_eq!(format!("[{:>7}]", Topic::new("orders")), "[ orders]");
        assert_eq!(format!("{:?}", Name::new("a\"b")), "\"a\\\"b\"");
        assert_eq!(ron::to_string(&Name::new("web-1")).expect("serialises"), "\"web-1\"");
        let back: Name = ron::from_str("\"web-1\"").expect("deserialises");
        assert!(std::ptr::eq(back.as_str(), Name::new("web-1").as_str()));
    }

    /// Equal names are one copy, whichever thread interned them first, and different names are
    /// not: a topic made on a swarm worker compares with the scenario's by pointer.
    #[test]
    fn equal_names_are_interned_once_across_threads() {
        let here = intern("ids-test-topic");
        let there = std::thread::spawn(|| intern(&String::from("ids-test-topic"))).join().expect("thread ran");
        assert!(std::ptr::eq(here, there));
        assert!(std::ptr::eq(Topic::new("ids-test-topic").as_str(), here));
        let other = intern("ids-test-topic-2");
        assert!(!std::ptr::eq(here, other));
        assert_eq!(other, "ids-test-topic-2");
    }
}
