//! The trace: every observation of a run, stamped with simulated time, node and sequence
//! number, and a running digest over all of it.
//!
//! Same scenario + seed + build ⇒ byte-identical records and digest. The digest is SHA-256
//! over each record's canonical JSON line, so two runs can be compared by one string and a
//! divergence found by comparing records.

use cluster::event::Event;
use cluster::ids::Name;
use serde::{Deserialize, Serialize};

mod digest;
mod ledger;
mod line;

use ledger::{Clerk, Ledger};

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
    /// Who observed it: `broker 1`, `controller`, a client id, or `world`. Interned: a node's
    /// records all name it, and a busy run makes millions.
    pub node: Name,
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

    /// Appends the record's canonical JSON (compact, as `serde_json` writes it, without a
    /// newline) to `out`: the bytes the digest hashes and a recording stores. The records a
    /// busy run is made of are written without serde's generic machinery (`trace::line`).
    pub fn write_json(&self, out: &mut Vec<u8>) {
        line::write(self, out);
    }

    /// Whether this is routine traffic the event feed hides by default.
    pub fn is_routine(&self) -> bool {
        matches!(&self.body, TraceBody::Event(e) if e.is_routine())
    }
}

/// How much of the trace a run holds in memory.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub enum Retention {
    /// Every record (the lab, tests, `kafkalab run --events`, determinism checks).
    #[default]
    All,
    /// Only the records the end-of-run checks read ([`crate::check::RecordNeeds`]), plus the
    /// records the invariant checker and the outside reader, if any, have not read yet. The
    /// digest, the record count and the clients' history are kept as for [`Retention::All`].
    Needed {
        /// Whether something outside the world reads the records as they come (the recorder)
        /// and says how far it has read ([`Trace::reader_read`]); without one, records go as
        /// soon as the invariant checker has read them.
        reader: bool,
    },
}

/// Where the trace's [`Ledger`] is built.
#[derive(Debug)]
enum Home {
    /// Here, on the simulation's thread, as each record is pushed. Boxed: a ledger is a few
    /// hundred bytes, and goes to a clerk and back whole.
    Here(Box<Ledger>),
    /// By a clerk on a helper thread, from the records the trace lets go
    /// ([`Retention::Needed`] only: with [`Retention::All`] no record is ever let go).
    Clerk(Clerk),
}

impl Default for Home {
    fn default() -> Home {
        Home::Here(Box::default())
    }
}

/// Collects records in order and keeps the running digest, the clients' history and, as
/// [`Retention`] says, the records themselves.
#[derive(Debug, Default)]
pub struct Trace {
    /// The records held, from sequence number `first_held` on: all of them with
    /// [`Retention::All`], else those not read yet by every reader.
    held: Vec<TraceRecord>,
    /// The sequence number of `held[0]`.
    first_held: u64,
    /// Records pushed so far: the next record's sequence number.
    count: u64,
    retention: Retention,
    /// Up to which sequence number (exclusive) the invariant checker has read.
    checker_read: u64,
    /// Up to which sequence number (exclusive) the outside reader has read, when there is one.
    reader_read: Option<u64>,
    /// The simulated time of every record to the millisecond, as `(first sequence number, time
    /// in milliseconds)` for each run of records in the same millisecond: findings name the
    /// record that revealed them, and their time must be found after the record itself is gone.
    /// A run's worth is one entry per simulated millisecond at most.
    times_ms: Vec<(u64, u64)>,
    /// The digest, the clients' history and the kept records, built here or by a clerk.
    ledger: Home,
    /// While a clerk builds the ledger: records before this sequence number are in it (or on
    /// their way to the clerk), and those from it on are held and not yet. Built here, the
    /// ledger has every record.
    entered: u64,
    /// When each group last completed a rebalance, in milliseconds (`GroupRebalanced`): views
    /// are built every 100 ms in the lab, and finding this by reading the trace back would
    /// cost a long run's whole trace each time.
    last_rebalance_ms: std::collections::BTreeMap<String, u64>,
}

/// The room, in records, the held records keep once the readers have passed them: about what a
/// busy run appends between two reads.
const HELD_ROOM: usize = 4096;

impl Trace {
    /// An empty trace that hashes its records on a helper thread (see [`Trace::digest`]).
    /// Call it outside the simulation's runtime: madsim refuses system threads inside it, and
    /// the trace then hashes on the simulation's thread, as it does when
    /// [`crate::set_helper_threads`] forbids helper threads.
    pub fn with_digest_thread() -> Trace {
        let ledger = Ledger { digester: digest::Digester::with_thread(), ..Ledger::default() };
        Trace { ledger: Home::Here(Box::new(ledger)), ..Trace::default() }
    }

    /// Appends a record, assigning its sequence number.
    pub fn push(&mut self, time_ns: u64, node: Name, body: TraceBody) {
        if let TraceBody::Event(Event::GroupRebalanced { group, .. }) = &body {
            self.last_rebalance_ms.insert(group.to_string(), time_ns / 1_000_000);
        }
        // Made in its place among the held records, and read from there: a record is about
        // 150 bytes, and moving each of a busy run's millions into place was a visible cost.
        self.held.push(TraceRecord { seq: self.count, time_ns, node, body });
        let record = self.held.last().expect("just pushed");
        let time_ms = record.time_ms();
        if self.times_ms.last().is_none_or(|&(_, t)| t != time_ms) {
            self.times_ms.push((record.seq, time_ms));
        }
        if let Home::Here(ledger) = &mut self.ledger {
            ledger.add(record);
        }
        self.count += 1;
    }

    /// Brings the ledger home from its clerk, if it has one, and enters every record pushed so
    /// far: the ledger is then complete, and is built here from now on.
    fn ledger(&mut self) -> &mut Ledger {
        if let Home::Clerk(_) = &self.ledger {
            let Home::Clerk(clerk) = std::mem::take(&mut self.ledger) else { unreachable!("matched above") };
            let mut ledger = clerk.finish();
            let from = (self.entered - self.first_held) as usize;
            for record in &self.held[from..] {
                ledger.add(record);
            }
            self.ledger = Home::Here(ledger);
        }
        match &mut self.ledger {
            Home::Here(ledger) => ledger,
            Home::Clerk(_) => unreachable!("brought home above"),
        }
    }

    /// Switches to `retention`, with `needs` saying what the end-of-run checks read. Records
    /// pushed before stay held until they are read, and those `needs` keeps are kept.
    /// With [`Retention::Needed`], a clerk on a helper thread builds the digest, the history
    /// and the kept records from the records let go, unless [`crate::set_helper_threads`]
    /// forbids helper threads.
    pub fn set_retention(&mut self, retention: Retention, needs: crate::check::RecordNeeds) {
        self.set_retention_with(retention, needs, crate::helper_threads_allowed());
    }

    /// [`Trace::set_retention`], with or without a clerk.
    fn set_retention_with(&mut self, retention: Retention, needs: crate::check::RecordNeeds, clerk: bool) {
        let (needs, kept) = match retention {
            Retention::All => (None, Vec::new()),
            Retention::Needed { .. } => {
                let kept = self.held.iter().filter(|r| needs.keeps(r)).cloned().collect();
                (Some(needs), kept)
            }
        };
        let ledger = self.ledger();
        (ledger.needs, ledger.kept) = (needs, kept);
        self.retention = retention;
        self.reader_read = match retention {
            Retention::Needed { reader: true } => Some(self.first_held),
            _ => None,
        };
        if clerk && retention != Retention::All {
            // Records are let go from now on, so a clerk can take them over.
            let Home::Here(ledger) = std::mem::take(&mut self.ledger) else { unreachable!("brought home above") };
            self.ledger = match Clerk::start(ledger) {
                Ok(clerk) => {
                    self.entered = self.count;
                    Home::Clerk(clerk)
                }
                Err(ledger) => Home::Here(ledger),
            };
        }
        self.release();
    }

    /// The invariant checker has read every record before sequence number `upto`.
    pub fn checker_read(&mut self, upto: u64) {
        self.checker_read = self.checker_read.max(upto);
        self.release();
    }

    /// The outside reader ([`Retention::Needed`] with `reader`) has read every record before
    /// sequence number `upto`.
    pub fn reader_read(&mut self, upto: u64) {
        if let Some(read) = self.reader_read.as_mut() {
            *read = (*read).max(upto);
        }
        self.release();
    }

    /// Lets go of the records every reader has read, unless every record is held.
    fn release(&mut self) {
        if self.retention == Retention::All {
            return;
        }
        let upto = self.checker_read.min(self.reader_read.unwrap_or(u64::MAX)).min(self.count);
        if let Home::Clerk(_) = self.ledger {
            if upto.saturating_sub(self.first_held) < ledger::BATCH_RECORDS as u64 {
                // Waking the clerk costs more than a few records' worth of its work: a light run
                // lets go of a handful at each quantum, so they wait here for a full batch.
                return;
            }
        }
        if upto > self.first_held {
            let gone = (upto - self.first_held) as usize;
            match &mut self.ledger {
                Home::Here(_) => drop(self.held.drain(..gone)),
                Home::Clerk(clerk) => {
                    // Records pushed before the clerk started are in the ledger already.
                    let entered = ((self.entered - self.first_held) as usize).min(gone);
                    self.held.drain(..entered);
                    let batch = if gone == self.held.len() + entered {
                        // Every held record goes (the usual case): the vector goes whole.
                        std::mem::replace(&mut self.held, clerk.spare())
                    } else {
                        self.held.drain(..gone - entered).collect()
                    };
                    if !batch.is_empty() {
                        clerk.send(batch);
                    }
                    self.entered = self.entered.max(upto);
                }
            }
            self.first_held = upto;
            // A burst (every producer's catch-up sends at one instant) can hold tens of
            // thousands of records until the readers pass it; their room is given back once
            // they have.
            let keep = self.held.len().max(HELD_ROOM);
            if self.held.capacity() > 4 * keep {
                self.held.shrink_to(2 * keep);
            }
        }
    }

    /// When each consumer group last completed a rebalance, in milliseconds of simulated time.
    pub fn last_rebalance_ms(&self) -> &std::collections::BTreeMap<String, u64> {
        &self.last_rebalance_ms
    }

    /// The records the end-of-run checks read: every record so far with [`Retention::All`],
    /// else those the [`crate::check::RecordNeeds`] keep. Waits for the clerk, if any.
    pub fn records(&mut self) -> &[TraceRecord] {
        match self.retention {
            Retention::All => &self.held,
            Retention::Needed { .. } => &self.ledger().kept,
        }
    }

    /// The records from sequence number `from` on, for a reader that reads them as they come.
    ///
    /// # Panics
    /// When records before `from` were let go already: a reader must say how far it has read
    /// ([`Trace::reader_read`]) and ask only for records after that.
    pub fn records_since(&self, from: u64) -> &[TraceRecord] {
        assert!(
            from >= self.first_held,
            "trace records from {from} on were asked for, but those before {} are gone",
            self.first_held
        );
        &self.held[((from - self.first_held) as usize).min(self.held.len())..]
    }

    /// Every record pushed so far, giving up the trace.
    ///
    /// # Panics
    /// With a [`Retention`] other than [`Retention::All`].
    pub fn into_records(self) -> Vec<TraceRecord> {
        assert_eq!(self.retention, Retention::All, "only a trace that holds every record can give them all up");
        self.held
    }

    /// The number of records pushed so far.
    pub fn len(&self) -> u64 {
        self.count
    }

    /// Whether no record was pushed yet.
    pub fn is_empty(&self) -> bool {
        self.count == 0
    }

    /// The simulated time of the record with sequence number `seq`, in milliseconds (as
    /// [`TraceRecord::time_ms`]); `None` when there is no such record yet.
    pub fn time_ms_of(&self, seq: u64) -> Option<u64> {
        if seq >= self.count {
            return None;
        }
        let run = self.times_ms.partition_point(|&(first, _)| first <= seq);
        Some(self.times_ms[run - 1].1)
    }

    /// The clients' history of every record so far. Waits for the clerk, if any.
    pub fn history(&mut self) -> &crate::oracle::History {
        self.ledger().history.history()
    }

    /// The digest of every record so far, as 16 hex digits (the first 64 bits of SHA-256).
    /// Waits for the clerk, if any.
    pub fn digest(&mut self) -> String {
        let full = self.ledger().digester.finish();
        full.iter().take(8).map(|b| format!("{b:02x}")).collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::check::RecordNeeds;
    use cluster::ids::TopicPartition;

    fn acked(n: u64) -> TraceBody {
        TraceBody::Event(Event::SendAcked {
            producer: "p".into(),
            tp: TopicPartition::new("t", 0),
            offset: n as i64,
            value: format!("v{n}").into(),
        })
    }

    /// Pushes sends acknowledged at 1 ms apart and a fault, into a trace with `retention`.
    fn filled(retention: Retention) -> Trace {
        let mut trace = Trace::default();
        // No clerk: it would hold these few records until it has a batch's worth.
        trace.set_retention_with(retention, RecordNeeds::default(), false);
        for n in 0..4 {
            trace.push(n * 1_000_000, "p".into(), acked(n));
        }
        trace.push(3_500_000, "world".into(), TraceBody::Fault("crash broker 1".into()));
        trace
    }

    #[test]
    fn holding_only_needed_records_keeps_digest_count_history_and_times() {
        let mut all = filled(Retention::All);
        let mut needed = filled(Retention::Needed { reader: true });
        assert_eq!(needed.digest(), all.digest());
        assert_eq!(needed.len(), 5);
        assert_eq!(needed.history(), all.history());
        assert_eq!(needed.history().sends().count(), 4);
        // The end-of-run checks get the fault, not the sends the history already has.
        assert_eq!(needed.records().len(), 1);
        assert_eq!(needed.records()[0].seq, 4);
        assert_eq!(all.records().len(), 5);
        // Records stay until both the checker and the reader have read them.
        needed.checker_read(3);
        assert_eq!(needed.records_since(0).len(), 5);
        needed.reader_read(2);
        assert_eq!(needed.records_since(2).iter().map(|r| r.seq).collect::<Vec<_>>(), vec![2, 3, 4]);
        needed.reader_read(5);
        assert_eq!(needed.records_since(3).iter().map(|r| r.seq).collect::<Vec<_>>(), vec![3, 4]);
        // Times outlive the records.
        assert_eq!(needed.time_ms_of(1), Some(1));
        assert_eq!(needed.time_ms_of(4), Some(3));
        assert_eq!(needed.time_ms_of(5), None);
    }

    #[test]
    #[should_panic(expected = "are gone")]
    fn asking_for_records_let_go_panics() {
        let mut needed = filled(Retention::Needed { reader: false });
        needed.checker_read(5);
        needed.records_since(0);
    }

    #[test]
    #[should_panic(expected = "are gone")]
    fn asking_for_records_let_go_to_a_clerk_panics() {
        let mut needed = Trace::default();
        needed.set_retention_with(Retention::Needed { reader: false }, RecordNeeds::default(), true);
        for n in 0..ledger::BATCH_RECORDS as u64 {
            needed.push(n, "p".into(), acked(n));
        }
        needed.checker_read(ledger::BATCH_RECORDS as u64);
        needed.records_since(0);
    }

    /// What a test does to a trace next.
    #[derive(Clone, Debug)]
    enum Step {
        /// Pushes this many records: sends invoked and acknowledged (the history takes them
        /// in, the end-of-run checks do not keep them), and every seventh a fault (kept). The
        /// time moves on a millisecond every few records.
        Push(u16),
        /// The invariant checker reads every record pushed so far.
        CheckerReads,
        /// The outside reader reads this share (in percent) of the records it has not read.
        ReaderReads(u8),
        /// Someone asks for the digest, the history and the kept records mid-run (which brings
        /// a clerk's ledger home).
        Ask,
    }

    fn steps() -> impl proptest::strategy::Strategy<Value = Vec<Step>> {
        use proptest::prelude::*;
        let step = prop_oneof![
            4 => (1u16..3_000).prop_map(Step::Push),
            3 => Just(Step::CheckerReads),
            3 => (0u8..=100).prop_map(Step::ReaderReads),
            1 => Just(Step::Ask),
        ];
        proptest::collection::vec(step, 1..40)
    }

    /// The `n`th record's body.
    fn body(n: u64) -> TraceBody {
        match n % 7 {
            6 => TraceBody::Fault(format!("crash broker {}", n % 3 + 1)),
            k if k % 2 == 0 => TraceBody::Event(Event::SendInvoked {
                producer: "p".into(),
                tp: TopicPartition::new("t", (n % 3) as i32),
                key: Some(format!("k{}", n % 11).into()),
                value: format!("v{n}").into(),
                tombstone: false,
            }),
            _ => acked(n),
        }
    }

    /// Everything the trace builds from its records, as seen from outside.
    #[derive(PartialEq)]
    struct Built {
        digest: String,
        history: crate::oracle::History,
        records: Vec<TraceRecord>,
        len: u64,
    }

    impl Built {
        /// What a trace that holds only the records `needs` keeps would have built.
        fn filtered(self, needs: RecordNeeds) -> Built {
            Built { records: self.records.into_iter().filter(|r| needs.keeps(r)).collect(), ..self }
        }
    }

    fn built(trace: &mut Trace) -> Built {
        Built {
            digest: trace.digest(),
            history: trace.history().clone(),
            records: trace.records().to_vec(),
            len: trace.len(),
        }
    }

    /// Plays `steps` on a trace that holds every record and on one that holds only the needed
    /// ones, with or without a clerk and an outside reader: after every question, and at the
    /// end, both must have built the same digest, history and kept records, record times
    /// must agree, and the reader must still get every record it has not read.
    fn compare(steps: &[Step], clerk: bool, reader: bool) {
        let needs = RecordNeeds::default();
        let mut all = Trace::default();
        let mut needed = Trace::default();
        needed.set_retention_with(Retention::Needed { reader }, needs, clerk);
        if clerk {
            assert!(matches!(needed.ledger, Home::Clerk(_)), "a clerk starts outside a simulation");
        }
        let mut read = 0u64;
        let mut n = 0u64;
        for step in steps {
            match step {
                Step::Push(count) => {
                    for _ in 0..*count {
                        let time_ns = n / 5 * 1_000_000;
                        all.push(time_ns, "p".into(), body(n));
                        needed.push(time_ns, "p".into(), body(n));
                        n += 1;
                    }
                }
                Step::CheckerReads => needed.checker_read(needed.len()),
                Step::ReaderReads(percent) => {
                    let upto = read + (needed.len() - read) * u64::from(*percent) / 100;
                    if reader {
                        let unread: Vec<u64> = needed.records_since(read).iter().map(|r| r.seq).collect();
                        assert_eq!(unread, (read..needed.len()).collect::<Vec<_>>(), "the reader gets every record");
                    }
                    needed.reader_read(upto);
                    read = upto;
                }
                Step::Ask => {
                    assert!(built(&mut needed) == built(&mut all).filtered(needs), "asked after {n} records");
                }
            }
        }
        assert!(built(&mut needed) == built(&mut all).filtered(needs), "at the end, after {n} records");
        for seq in (0..n).step_by(97) {
            assert_eq!(needed.time_ms_of(seq), all.time_ms_of(seq));
        }
    }

    proptest::proptest! {
        #![proptest_config(proptest::prelude::ProptestConfig::with_cases(24))]

        /// A clerk builds what the trace would have built itself, whatever the batches and
        /// whenever the ledger is asked for.
        #[test]
        fn a_clerk_builds_the_same_ledger(steps in steps(), reader in proptest::prelude::any::<bool>()) {
            compare(&steps, true, reader);
        }
    }

    /// Without a clerk too; and with enough records that a clerk gets several batches, both
    /// whole held vectors and parts of one.
    #[test]
    fn ledger_is_the_same_with_and_without_a_clerk() {
        let steps = [
            Step::Push(5_000),
            Step::CheckerReads,
            Step::Push(3_000),
            Step::ReaderReads(50),
            Step::CheckerReads,
            Step::Push(6_000),
            Step::ReaderReads(100),
            Step::CheckerReads,
            Step::Push(100),
            Step::Ask,
            Step::Push(9_000),
            Step::CheckerReads,
            Step::ReaderReads(100),
        ];
        for (clerk, reader) in [(false, false), (false, true), (true, false), (true, true)] {
            compare(&steps, clerk, reader);
        }
    }
}
