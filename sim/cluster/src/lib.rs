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
