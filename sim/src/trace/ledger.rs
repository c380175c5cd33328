//! What the trace builds from its records, in trace order: the digest, the clients' history and
//! the records the end-of-run checks keep. And the clerk, a helper thread that builds them from
//! records the simulation has let go.
//!
//! In a busy run this work was about a fifth of the simulation thread's time (heavy.ron: the
//! JSON line and its hash about 9%, the history about 10%). None of it feeds back into the
//! run: the invariant checker reads the records themselves, and the digest, the history and
//! the kept records are read only when the run is reported. So a world that lets its records
//! go once they are read ([`super::Retention::Needed`]) hands them to the clerk instead of
//! dropping them, and the clerk builds the ledger on its own thread. Whoever asks for the
//! ledger waits for the clerk to finish and takes the ledger back ([`Clerk::finish`]). The
//! ledger depends only on the records and their order, never on which thread built it or how
//! the records were batched, so the digest and everything else are the same byte for byte.

use super::digest::Digester;
use super::TraceRecord;
use crate::check::RecordNeeds;
use crate::oracle::HistoryBuilder;
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// What the trace builds from every record, in trace order.
#[derive(Debug, Default)]
pub(super) struct Ledger {
    /// The running SHA-256 of the records' JSON lines.
    pub(super) digester: Digester,
    /// The clients' history.
    pub(super) history: HistoryBuilder,
    /// What the end-of-run checks read, when the trace does not hold every record
    /// ([`super::Retention::Needed`]); `None` when it does, and nothing is kept here.
    pub(super) needs: Option<RecordNeeds>,
    /// The records `needs` keeps, in trace order.
    pub(super) kept: Vec<TraceRecord>,
}

impl Ledger {
    /// Takes in the next record, which the trace still holds: it is copied into `kept` when
    /// the end-of-run checks read it.
    pub(super) fn add(&mut self, record: &TraceRecord) {
        self.enter(record);
        if self.needs.as_ref().is_some_and(|needs| needs.keeps(record)) {
            self.kept.push(record.clone());
        }
    }

    /// Takes in the next record, which the trace has let go: it is kept without a copy when the
    /// end-of-run checks read it, and dropped otherwise.
    fn add_owned(&mut self, record: TraceRecord) {
        self.enter(&record);
        if self.needs.as_ref().is_some_and(|needs| needs.keeps(&record)) {
            self.kept.push(record);
        }
    }

    /// The digest's line and the history's entry for `record`.
    fn enter(&mut self, record: &TraceRecord) {
        let line = self.digester.buffer();
        record.write_json(line);
        line.push(b'\n');
        self.digester.wrote();
        self.history.add(record);
    }
}

/// The fewest records the trace hands the clerk at once ([`super::Trace`] holds them until
/// then): handing over costs a wake-up of the clerk's thread, which in a light run (tutorial.ron
/// lets go of a few records at each quantum) cost more than the clerk saved.
pub(super) const BATCH_RECORDS: usize = 4096;

/// Batches of records that may wait for the clerk before the simulation waits for it in turn.
/// A batch is at least [`BATCH_RECORDS`], and rarely much more (heavy.ron's records are about
/// 150 bytes, so a batch is under a megabyte): the records in flight stay well inside
/// heavy.ron's memory target.
const BATCHES_IN_FLIGHT: usize = 4;

/// The clerk's thread, building a [`Ledger`] from the batches of records it is sent.
#[derive(Debug)]
pub(super) struct Clerk {
    batches: Option<SyncSender<Vec<TraceRecord>>>,
    /// Emptied batches coming back, for reuse as the trace's held records.
    spare: Receiver<Vec<TraceRecord>>,
    thread: Option<JoinHandle<Box<Ledger>>>,
}

impl Clerk {
    /// Starts a clerk on `ledger`, or gives the ledger back when no thread could be started.
    /// Call it outside the simulation's runtime: madsim refuses system threads inside it.
    pub(super) fn start(ledger: Box<Ledger>) -> Result<Clerk, Box<Ledger>> {
        let (handover, ledger_rx) = sync_channel::<Box<Ledger>>(1);
        let (batches, batch_rx) = sync_channel::<Vec<TraceRecord>>(BATCHES_IN_FLIGHT);
        let (spare_tx, spare) = sync_channel::<Vec<TraceRecord>>(2);
        // The ledger goes over only once the thread runs: a failed spawn drops its closure,
        // and the ledger with it.
        let spawned = std::thread::Builder::new().name("kafkalab-clerk".into()).spawn(move || {
            let mut ledger = ledger_rx.recv().expect("the trace hands its ledger to the clerk");
            for mut batch in batch_rx {
                for record in batch.drain(..) {
                    ledger.add_owned(record);
                }
                // The simulation may have gone, or have room enough; a lost buffer is only a
                // lost reuse.
                let _ = spare_tx.try_send(batch);
            }
            ledger
        });
        match spawned {
            Ok(thread) => {
                handover.send(ledger).expect("the clerk's thread waits for its ledger");
                Ok(Clerk { batches: Some(batches), spare, thread: Some(thread) })
            }
            Err(_) => Err(ledger),
        }
    }

    /// An empty vector for the trace to hold records in: one the clerk gave back, or else a new
    /// one with room for a batch and a quarter. A new vector grown from nothing copied its
    /// records thirteen times on the way to a batch, each time into a larger allocation.
    pub(super) fn spare(&self) -> Vec<TraceRecord> {
        self.spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(BATCH_RECORDS + BATCH_RECORDS / 4))
    }

    /// Hands the clerk the next records, in trace order. Waits when the clerk is
    /// [`BATCHES_IN_FLIGHT`] batches behind.
    ///
    /// # Panics
    /// With the clerk's own panic, when it panicked (an impossible history), so that the run
    /// stops loudly where it would have stopped without a clerk.
    pub(super) fn send(&mut self, batch: Vec<TraceRecord>) {
        let sender = self.batches.as_ref().expect("a working clerk has its channel");
        if sender.send(batch).is_err() {
            // The thread stopped, which it only does by panicking while the channel is open.
            self.join();
            unreachable!("the clerk's thread stopped without panicking");
        }
    }

    /// Waits for the clerk to take in every record it was sent, and takes the ledger back.
    ///
    /// # Panics
    /// As [`Clerk::send`].
    pub(super) fn finish(mut self) -> Box<Ledger> {
        self.join()
    }

    fn join(&mut self) -> Box<Ledger> {
        // Closing the channel ends the thread's loop once it has emptied it.
        self.batches = None;
        let thread = self.thread.take().expect("a clerk is joined once");
        match thread.join() {
            Ok(ledger) => ledger,
            Err(panic) => std::panic::resume_unwind(panic),
        }
    }
}

impl Drop for Clerk {
    fn drop(&mut self) {
        if self.thread.is_some() {
            // A trace dropped with its clerk at work: the ledger is not wanted, but a panic of
            // the clerk's must still surface, unless one is already unwinding.
            self.batches = None;
            let thread = self.thread.take().expect("checked above");
            if thread.join().is_err() && !std::thread::panicking() {
                panic!("the trace's clerk thread panicked");
            }
        }
    }
}
