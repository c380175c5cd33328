//! A run driven live by a front end: the simulation runs on its own thread, takes [`Control`]s,
//! and publishes a [`Frame`] at every keyframe boundary ([`KEYFRAME_INTERVAL_MS`] of simulated
//! time) it crosses.
//!
//! Pacing by the wall clock happens here, outside the simulated world: the world still
//! advances in fixed quanta, so a live run produces the same trace as a headless one. Because
//! every frame is a keyframe, the lab can keep them all and scrub back to any of them, and a
//! recording of the session shows exactly the screens the live run showed.

use crate::check;
use crate::record::{CheckedFinding, Keyframe, Outcome, KEYFRAME_INTERVAL_MS};
use crate::scenario::{Fault, Scenario, Timed};
use crate::trace::TraceRecord;
use crate::world::{World, QUANTUM};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Simulated time one `Step` advances: one keyframe interval.
pub const STEP: Duration = Duration::from_millis(KEYFRAME_INTERVAL_MS);

/// What a front end asks of a live run.
#[derive(Clone, Debug, PartialEq)]
pub enum Control {
    /// Stop advancing.
    Pause,
    /// Advance at the current speed.
    Resume,
    /// While paused, advance by [`STEP`] of simulated time.
    Step,
    /// Simulated seconds per wall second (1.0 is real time).
    SetSpeed(f64),
    /// Apply this fault now (see [`World::inject`]); the frame that follows lists it.
    Inject(Fault),
    /// End the run and its thread.
    Quit,
}

/// What a live run publishes at each keyframe boundary.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The cluster at the boundary, and the trace's length then.
    pub keyframe: Keyframe,
    /// Trace records new since the previous frame.
    pub records: Vec<TraceRecord>,
    /// Faults injected since the previous frame, with the times they were applied at.
    pub injected: Vec<Timed<Fault>>,
    /// Whether the scenario's duration is reached.
    pub finished: bool,
    /// With the last frame: the digest, the checker's findings and the expectations.
    pub outcome: Option<Outcome>,
}

/// A handle to a live run.
pub struct LiveSession {
    controls: Sender<Control>,
    frames: Receiver<Frame>,
    thread: Option<JoinHandle<()>>,
}

/// Where a live run starts publishing, for a run forked from an earlier one.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct ForkPoint {
    /// Simulated time to run to silently, in milliseconds (a keyframe boundary).
    pub time_ms: u64,
    /// The trace length the earlier run had at that moment; the re-executed prefix must end
    /// at the same length, or determinism is broken and the run stops loudly.
    pub records: u64,
}

impl LiveSession {
    /// Starts `scenario` with `seed` on its own thread, playing at real time (or paused).
    pub fn start(scenario: Scenario, seed: u64, playing: bool) -> LiveSession {
        LiveSession::spawn(scenario, seed, playing, None)
    }

    /// Starts `scenario` with `seed`, runs it silently to `fork.time_ms` (checking that the
    /// trace then has `fork.records` records), and publishes frames from there on. Used when
    /// the learner acts in the past: the scenario carries the new fault at that moment.
    pub fn fork(scenario: Scenario, seed: u64, playing: bool, fork: ForkPoint) -> LiveSession {
        LiveSession::spawn(scenario, seed, playing, Some(fork))
    }

    fn spawn(scenario: Scenario, seed: u64, playing: bool, fork: Option<ForkPoint>) -> LiveSession {
        let (controls, control_rx) = channel();
        let (frame_tx, frames) = channel();
        let thread = std::thread::Builder::new()
            .name("kafkalab-sim".into())
            .spawn(move || drive(World::new(scenario, seed), playing, fork, control_rx, frame_tx))
            .expect("spawning the simulation thread");
        LiveSession { controls, frames, thread: Some(thread) }
    }

    /// Sends a control; ignored once the run has ended.
    pub fn control(&self, control: Control) {
        let _ = self.controls.send(control);
    }

    /// Every frame published since the last call, without waiting.
    pub fn try_frames(&self) -> Vec<Frame> {
        self.frames.try_iter().collect()
    }

    /// Waits up to `timeout` for the next frame.
    pub fn next_frame(&self, timeout: Duration) -> Option<Frame> {
        self.frames.recv_timeout(timeout).ok()
    }
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        let _ = self.controls.send(Control::Quit);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Whether the world stands on a keyframe boundary (or at its end).
pub fn on_boundary(world: &World) -> bool {
    world.finished() || crate::record::is_keyframe_time(world.elapsed().as_millis() as u64)
}

/// The outcome of a finished run: digest, located findings and expectations.
pub fn outcome_of(world: &World) -> Outcome {
    outcome_and_report(world, 0).0
}

/// The outcome of a finished run ([`outcome_of`]) and its report ([`check::report`], with
/// `wall_time_ms`), from one run of the oracle.
pub fn outcome_and_report(world: &World, wall_time_ms: u64) -> (Outcome, crate::report::RunReport) {
    let (report, located) = check::report_located(world, wall_time_ms);
    let end_ms = world.elapsed().as_millis() as u64;
    let findings = located
        .into_iter()
        .map(|(seq, text)| CheckedFinding {
            seq,
            time_ms: seq.and_then(|s| world.record_time_ms(s)).unwrap_or(end_ms),
            text,
        })
        .collect();
    let outcome = Outcome {
        digest: report.digest.clone(),
        records: world.record_count() as u64,
        findings,
        expectations: report.expectations.clone(),
    };
    (outcome, report)
}

/// Builds the frame for the world's present moment, with the records since `published`. The
/// boundary's work is done first ([`World::settle`]), so the keyframe shows what happens now.
fn frame_now(world: &mut World, published: &mut usize, injected: &mut usize) -> Frame {
    world.settle();
    let world: &World = world;
    let records = world.records_since(*published);
    *published += records.len();
    let all = world.injected();
    let new_faults = all[*injected..].to_vec();
    *injected = all.len();
    Frame {
        keyframe: Keyframe {
            time_ms: world.elapsed().as_millis() as u64,
            records: *published as u64,
            view: world.view(),
        },
        records,
        injected: new_faults,
        finished: world.finished(),
        outcome: world.finished().then(|| outcome_of(world)),
    }
}

fn drive(
    mut world: World,
    mut playing: bool,
    fork: Option<ForkPoint>,
    controls: Receiver<Control>,
    frames: Sender<Frame>,
) {
    let mut speed = 1.0f64;
    let mut published = 0usize;
    let mut injected = 0usize;
    let mut owed = Duration::ZERO;
    let mut last = Instant::now();
    match fork {
        Some(fork) => {
            while (world.elapsed().as_millis() as u64) < fork.time_ms && !world.finished() {
                world.step();
            }
            world.settle();
            published = world.record_count();
            assert_eq!(
                published as u64,
                fork.records,
                "re-executing seed {} to {} ms gave {published} trace records where the first run had {}: \
                 the run is not deterministic",
                world.seed(),
                fork.time_ms,
                fork.records
            );
            if world.finished() && frames.send(frame_now(&mut world, &mut published, &mut injected)).is_err() {
                return;
            }
        }
        None => {
            if frames.send(frame_now(&mut world, &mut published, &mut injected)).is_err() {
                return;
            }
        }
    }
    loop {
        let wait = if playing && !world.finished() { Duration::from_millis(15) } else { Duration::from_millis(200) };
        let mut step_requested = false;
        match controls.recv_timeout(wait) {
            Ok(Control::Quit) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Control::Pause) => {
                playing = false;
                // Stop on a keyframe boundary, so the moment the lab shows is the moment the
                // world is at, and a fault injected now applies exactly there.
                while !on_boundary(&world) {
                    world.step();
                    if on_boundary(&world) && frames.send(frame_now(&mut world, &mut published, &mut injected)).is_err()
                    {
                        return;
                    }
                }
            }
            Ok(Control::Resume) => {
                playing = true;
                last = Instant::now();
                owed = Duration::ZERO;
            }
            Ok(Control::Step) => {
                playing = false;
                step_requested = true;
            }
            Ok(Control::SetSpeed(s)) => speed = s.clamp(0.01, 1000.0),
            Ok(Control::Inject(fault)) => {
                world.inject(fault);
            }
            Err(RecvTimeoutError::Timeout) => {}
        }
        // Advance quantum by quantum, publishing a frame at every keyframe boundary crossed.
        let mut advance = |world: &mut World| -> bool {
            world.step();
            !on_boundary(world) || frames.send(frame_now(world, &mut published, &mut injected)).is_ok()
        };
        if step_requested {
            if !world.finished() {
                if !advance(&mut world) {
                    return;
                }
                while !on_boundary(&world) {
                    if !advance(&mut world) {
                        return;
                    }
                }
            }
        } else if playing && !world.finished() {
            let now = Instant::now();
            owed += (now - last).mul_f64(speed);
            last = now;
            while owed >= QUANTUM && !world.finished() {
                if !advance(&mut world) {
                    return;
                }
                owed -= QUANTUM;
            }
        } else {
            last = Instant::now();
            owed = Duration::ZERO;
        }
    }
}

/// Runs `scenario` with `seed` headless on a fresh thread up to `until_ms` (at most its end)
/// and returns the frames a live session would have published: one per keyframe boundary, the
/// last with the outcome when the run reached its end. Tests use it to build a lab's history
/// without a terminal.
///
/// # Panics
/// When the simulation crashes.
pub fn run_frames(scenario: Scenario, seed: u64, until_ms: u64) -> Vec<Frame> {
    std::thread::Builder::new()
        .name(format!("kafkalab-seed-{seed}"))
        .spawn(move || {
            let mut world = World::new(scenario, seed);
            let (mut published, mut injected) = (0usize, 0usize);
            let mut frames = vec![frame_now(&mut world, &mut published, &mut injected)];
            while (world.elapsed().as_millis() as u64) < until_ms && !world.finished() {
                world.step();
                if on_boundary(&world) {
                    frames.push(frame_now(&mut world, &mut published, &mut injected));
                }
            }
            frames
        })
        .expect("spawning the simulation thread")
        .join()
        .expect("the simulation ran")
}
