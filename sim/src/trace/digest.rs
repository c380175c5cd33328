//! The trace's running SHA-256, computed on a helper thread.
//!
//! A busy run writes hundreds of megabytes of JSON lines (heavy.ron about 500 MB), and hashing
//! them was about 6% of the simulation thread's time. The lines are gathered into pieces of
//! [`PIECE_BYTES`] and hashed, in order, on a thread of their own, which the simulation never
//! waits for except when it asks for the digest. The digest is the same, byte for byte, as
//! hashing each line where it is written: SHA-256 depends only on the bytes and their order,
//! not on how they are split.

use sha2::{Digest, Sha256};
use std::sync::mpsc::{sync_channel, Receiver, SyncSender};
use std::thread::JoinHandle;

/// The bytes gathered before they go to the hashing thread: large enough that a run sends a
/// piece about ten thousand times, small enough that the pieces in flight stay under half a
/// megabyte (heavy.ron's memory target leaves little room).
const PIECE_BYTES: usize = 64 * 1024;

/// Pieces that may wait for the hashing thread before the simulation waits for it in turn.
const PIECES_IN_FLIGHT: usize = 4;

/// Work for the hashing thread.
enum Job {
    /// Hash these bytes next, then hand the emptied buffer back for reuse.
    Bytes(Vec<u8>),
    /// Answer with the digest of everything so far followed by these bytes, without keeping
    /// them: [`Digester::finish`] on a shared reference.
    Finish(Vec<u8>, SyncSender<[u8; 32]>),
}

/// The hashing thread of a digester made with one, and the channels to it.
#[derive(Debug)]
struct Worker {
    jobs: SyncSender<Job>,
    /// Emptied buffers coming back.
    spare: Receiver<Vec<u8>>,
    thread: Option<JoinHandle<()>>,
}

impl Worker {
    /// Starts the thread, or says it could not be started.
    fn start() -> Option<Worker> {
        let (jobs, job_rx) = sync_channel::<Job>(PIECES_IN_FLIGHT);
        let (spare_tx, spare) = sync_channel::<Vec<u8>>(PIECES_IN_FLIGHT + 1);
        let thread = std::thread::Builder::new()
            .name("kafkalab-digest".into())
            .spawn(move || {
                let mut hasher = Sha256::new();
                for job in job_rx {
                    match job {
                        Job::Bytes(mut piece) => {
                            hasher.update(&piece);
                            piece.clear();
                            // The simulation may have gone; a lost buffer is only a lost reuse.
                            let _ = spare_tx.try_send(piece);
                        }
                        Job::Finish(tail, reply) => {
                            let mut done = hasher.clone();
                            done.update(&tail);
                            let _ = reply.send(done.finalize().into());
                        }
                    }
                }
            })
            .ok()?;
        Some(Worker { jobs, spare, thread: Some(thread) })
    }

    fn send(&self, job: Job) {
        // The thread only stops when `jobs` is dropped, or by panicking, which the join in
        // `Drop` reports.
        if self.jobs.send(job).is_err() {
            panic!("the trace's hashing thread stopped early");
        }
    }
}

impl Drop for Worker {
    fn drop(&mut self) {
        // Closing the channel ends the thread's loop.
        let (closed, _) = sync_channel(0);
        drop(std::mem::replace(&mut self.jobs, closed));
        if let Some(thread) = self.thread.take() {
            if thread.join().is_err() && !std::thread::panicking() {
                panic!("the trace's hashing thread panicked");
            }
        }
    }
}

/// The SHA-256 of all bytes written to it, hashed a piece at a time, on a helper thread when it
/// was made with one ([`Digester::with_thread`]) and inline otherwise. It cannot be cloned: its
/// state may live on the thread.
#[derive(Debug, Default)]
pub(super) struct Digester {
    /// Bytes written and not yet hashed or sent to the thread.
    pending: Vec<u8>,
    /// The state of the hashing done here, without a thread.
    inline: Sha256,
    worker: Option<Worker>,
}

impl Digester {
    /// A digester that hashes on a thread of its own. madsim refuses to start a system thread
    /// inside a simulation (its `pthread_attr_init` fails there), so this is called outside
    /// the runtime's `block_on`, where the world is built; where the thread cannot start, or
    /// [`crate::set_helper_threads`] forbids it, the digester hashes inline.
    pub(super) fn with_thread() -> Digester {
        let worker = if crate::helper_threads_allowed() { Worker::start() } else { None };
        Digester { worker, ..Digester::default() }
    }

    /// Where the bytes of a record's line go; [`Digester::wrote`] must follow.
    pub(super) fn buffer(&mut self) -> &mut Vec<u8> {
        &mut self.pending
    }

    /// The bytes just written to [`Digester::buffer`] are complete: a full piece goes to the
    /// hashing thread, or is hashed here when there is none.
    pub(super) fn wrote(&mut self) {
        if self.pending.len() < PIECE_BYTES {
            return;
        }
        let Some(worker) = &self.worker else {
            self.inline.update(&self.pending);
            self.pending.clear();
            return;
        };
        let next = worker.spare.try_recv().unwrap_or_else(|_| Vec::with_capacity(PIECE_BYTES + 4096));
        let piece = std::mem::replace(&mut self.pending, next);
        worker.send(Job::Bytes(piece));
    }

    /// The SHA-256 of every byte written so far. With a thread, waits for it to hash what it
    /// was sent.
    pub(super) fn finish(&self) -> [u8; 32] {
        match &self.worker {
            None => {
                let mut done = self.inline.clone();
                done.update(&self.pending);
                done.finalize().into()
            }
            Some(worker) => {
                let (reply, answer) = sync_channel(1);
                worker.send(Job::Finish(self.pending.clone(), reply));
                answer.recv().expect("the trace's hashing thread answers")
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The digest is SHA-256 of the bytes in order, however they were split into lines and
    /// pieces, before the thread starts, across several pieces, and when asked mid-stream.
    #[test]
    fn digest_is_sha256_of_everything_written() {
        for threaded in [false, true] {
            check_digester(if threaded { Digester::with_thread() } else { Digester::default() });
        }
    }

    fn check_digester(mut digester: Digester) {
        let mut all = Vec::new();
        assert_eq!(digester.finish(), <[u8; 32]>::from(Sha256::digest(b"")));
        let mut state = 7u32;
        for line in 0..12_000u32 {
            // Lines of 1 to 400 bytes, so that pieces end in the middle of none in particular.
            state = state.wrapping_mul(1_103_515_245).wrapping_add(12_345);
            let len = 1 + (state >> 16) as usize % 400;
            let bytes: Vec<u8> = (0..len).map(|i| (line as usize + i) as u8).collect();
            digester.buffer().extend_from_slice(&bytes);
            digester.wrote();
            all.extend_from_slice(&bytes);
            if line % 3_001 == 0 {
                assert_eq!(digester.finish(), <[u8; 32]>::from(Sha256::digest(&all)), "after line {line}");
            }
        }
        assert!(all.len() > 4 * PIECE_BYTES, "the test crosses several pieces ({} bytes)", all.len());
        assert_eq!(digester.finish(), <[u8; 32]>::from(Sha256::digest(&all)));
    }
}
