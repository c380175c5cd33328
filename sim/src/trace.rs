//! The trace: every observation of a run, stamped with simulated time, node and sequence
//! number, and a running digest over all of it.
//!
//! Same scenario + seed + build ⇒ byte-identical records and digest. The digest is SHA-256
//! over each record's canonical JSON line, so two runs can be compared by one string and a
//! divergence found by comparing records.

use cluster::event::Event;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};

/// What a record says.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub enum TraceBody {
    /// A node's observation.
    Event(Event),
    /// The supervisor applied a fault (`crash broker 2`, `partition [1] | [2, 3]`, ...).
    Fault(String),
    /// A narration line from the scenario.
    Narration(String),
    /// A chapter of the scenario's narration starts, with this title (`Chapter`).
    Chapter(String),
    /// A narration line the terminal lab pauses on until the learner continues (`Wait`,
    /// `WaitOn`).
    Prompt(String),
    /// An invariant broke in a run whose scenario expects it (`Happens(Violation(..))`); a
    /// violation nobody expects stops the run instead.
    Violation {
        /// The invariant.
        invariant: crate::finding::Invariant,
        /// What broke, in plain words with the values involved.
        detail: String,
    },
}

/// One record of the trace.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TraceRecord {
    /// Position in the trace, from 0.
    pub seq: u64,
    /// Simulated time, in nanoseconds since the run started.
    pub time_ns: u64,
    /// Who observed it: `broker 1`, `controller`, a client id, or `world`.
    pub node: String,
    /// What happened.
    pub body: TraceBody,
}

impl TraceRecord {
    /// Simulated time in milliseconds.
    pub fn time_ms(&self) -> u64 {
        self.time_ns / 1_000_000
    }

    /// One line of plain words: `  12.345s  broker 2   orders-0: isr shrunk ...`.
    pub fn describe(&self) -> String {
        let text = match &self.body {
            TraceBody::Event(e) => e.describe(),
            TraceBody::Fault(f) => format!("FAULT: {f}"),
            TraceBody::Narration(n) | TraceBody::Prompt(n) => n.clone(),
            TraceBody::Chapter(title) => format!("CHAPTER: {title}"),
            TraceBody::Violation { invariant, detail } => format!("INVARIANT VIOLATED ({invariant}): {detail}"),
        };
        let ms = self.time_ms();
        format!("{:>4}.{:03}s  {:<12} {}", ms / 1000, ms % 1000, self.node, text)
    }

    /// Whether this is routine traffic the event feed hides by default.
    pub fn is_routine(&self) -> bool {
        matches!(&self.body, TraceBody::Event(e) if e.is_routine())
    }
}

/// Collects records in order and keeps the running digest.
#[derive(Clone, Debug, Default)]
pub struct Trace {
    records: Vec<TraceRecord>,
    hasher: Sha256,
    /// When each group last completed a rebalance, in milliseconds (`GroupRebalanced`): views
    /// are built every 100 ms in the lab, and finding this by reading the trace back would
    /// cost a long run's whole trace each time.
    last_rebalance_ms: std::collections::BTreeMap<String, u64>,
    /// The JSON line of the record being pushed, kept to reuse its allocation.
    line: Vec<u8>,
}

impl Trace {
    /// Appends a record, assigning its sequence number.
    pub fn push(&mut self, time_ns: u64, node: String, body: TraceBody) {
        if let TraceBody::Event(Event::GroupRebalanced { group, .. }) = &body {
            self.last_rebalance_ms.insert(group.clone(), time_ns / 1_000_000);
        }
        let record = TraceRecord { seq: self.records.len() as u64, time_ns, node, body };
        self.line.clear();
        serde_json::to_writer(&mut self.line, &record).expect("trace records serialise");
        self.line.push(b'\n');
        self.hasher.update(&self.line);
        self.records.push(record);
    }

    /// When each consumer group last completed a rebalance, in milliseconds of simulated time.
    pub fn last_rebalance_ms(&self) -> &std::collections::BTreeMap<String, u64> {
        &self.last_rebalance_ms
    }

    /// All records so far.
    pub fn records(&self) -> &[TraceRecord] {
        &self.records
    }

    /// The digest of every record so far, as 16 hex digits (the first 64 bits of SHA-256).
    pub fn digest(&self) -> String {
        let full = self.hasher.clone().finalize();
        full.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}
