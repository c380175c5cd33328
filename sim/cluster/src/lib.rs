//! The system under test: a Kafka-like cluster as pure, sans-IO state machines.
//!
//! Everything that would run on a real broker, controller or client lives here: the partition
//! log, replication with ISR and high watermark, the controller's elections, the group
//! coordinator, and the producer and consumer clients. Nothing here touches a clock, a socket,
//! a thread or global randomness: every input carries `now`, every output is an
//! [`node::Effect`] the host executes, and randomness comes from a seeded per-node PRNG. That
//! is what lets the `sim` crate run it deterministically, and what lets unit tests drive it
//! with exact inputs.

#![warn(missing_docs)]

pub mod assignor;
pub mod broker;
pub mod chunked;
pub mod combined;
pub mod config;
pub mod consumer;
pub mod controller;
pub mod era;
pub mod error;
pub mod event;
pub mod fetch_session;
pub mod group;
pub mod ids;
pub mod key;
pub mod log;
pub mod metadata;
pub mod node;
pub mod partition;
pub mod partitioner;
pub mod producer;
pub mod protocol;
pub mod raft;
pub mod record;
pub mod shared_bytes;
pub mod time;

/// The record header carrying a send's unique id (`producer#sequence`) when the record's value
/// does not already say it (a scripted send's value, a tombstone), read by the history oracle
/// through [`record::Record::send_id`].
pub const ID_HEADER: &str = "kafkalab.id";

/// A send's unique id (`web-1-42` for a rate-driven send, `web-1#42` for a scripted one) as the
/// clients and their events hold it: the text itself, kept inline when it is at most 24 bytes
/// (the simulator's ids are) and on the heap only when longer. It prints, compares and
/// serialises as the text.
///
/// Why not a shared `Arc<str>`: a producer's and a consumer's events carry the id of every
/// record, and the trace's clerk thread drops those events. A counted copy of each id was an
/// allocation made on the simulation's thread and freed on the other core, with the count's
/// cache line passed between the two at every copy (issue 10). An inline id is copied as 24
/// bytes and costs nothing to drop.
pub type SendId = compact_str::CompactString;
