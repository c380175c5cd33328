//! A run driven live by a front end: the simulation runs on its own thread, takes [`Control`]s,
//! and publishes a [`Frame`] after every batch of quanta it advances.
//!
//! Pacing by the wall clock happens here, outside the simulated world: the world still
//! advances in fixed quanta, so a live run produces the same trace as a headless one.

use crate::scenario::Scenario;
use crate::trace::TraceRecord;
use crate::view::ClusterView;
use crate::world::{World, QUANTUM};
use std::sync::mpsc::{channel, Receiver, RecvTimeoutError, Sender};
use std::thread::JoinHandle;
use std::time::{Duration, Instant};

/// Simulated time one `Step` advances.
pub const STEP: Duration = Duration::from_millis(100);
/// How often frames are published while playing.
const FRAME_INTERVAL: Duration = Duration::from_millis(33);

/// What a front end asks of a live run.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Control {
    /// Stop advancing.
    Pause,
    /// Advance at the current speed.
    Resume,
    /// While paused, advance by [`STEP`] of simulated time.
    Step,
    /// Simulated seconds per wall second (1.0 is real time).
    SetSpeed(f64),
    /// End the run and its thread.
    Quit,
}

/// What a live run publishes.
#[derive(Clone, Debug)]
pub struct Frame {
    /// The cluster now.
    pub view: ClusterView,
    /// Trace records new since the previous frame.
    pub records: Vec<TraceRecord>,
    /// Whether the scenario's duration is reached.
    pub finished: bool,
}

/// A handle to a live run.
pub struct LiveSession {
    controls: Sender<Control>,
    frames: Receiver<Frame>,
    thread: Option<JoinHandle<()>>,
}

impl LiveSession {
    /// Starts `scenario` with `seed` on its own thread, playing at real time.
    pub fn start(scenario: Scenario, seed: u64) -> LiveSession {
        let (controls, control_rx) = channel();
        let (frame_tx, frames) = channel();
        let thread = std::thread::Builder::new()
            .name("kafkalab-sim".into())
            .spawn(move || drive(World::new(scenario, seed), control_rx, frame_tx))
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
}

impl Drop for LiveSession {
    fn drop(&mut self) {
        let _ = self.controls.send(Control::Quit);
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

fn drive(mut world: World, controls: Receiver<Control>, frames: Sender<Frame>) {
    let mut playing = true;
    let mut speed = 1.0f64;
    let mut published = 0usize;
    let mut owed = Duration::ZERO;
    let mut last = Instant::now();
    let publish = |world: &World, published: &mut usize| -> bool {
        let records = world.records_since(*published);
        *published += records.len();
        frames.send(Frame { view: world.view(), records, finished: world.finished() }).is_ok()
    };
    if !publish(&world, &mut published) {
        return;
    }
    loop {
        let wait = if playing && !world.finished() { FRAME_INTERVAL } else { Duration::from_millis(200) };
        let mut step_requested = false;
        match controls.recv_timeout(wait) {
            Ok(Control::Quit) | Err(RecvTimeoutError::Disconnected) => return,
            Ok(Control::Pause) => playing = false,
            Ok(Control::Resume) => {
                playing = true;
                last = Instant::now();
            }
            Ok(Control::Step) => {
                playing = false;
                step_requested = true;
            }
            Ok(Control::SetSpeed(s)) => speed = s.clamp(0.01, 1000.0),
            Err(RecvTimeoutError::Timeout) => {}
        }
        let before = world.elapsed();
        if step_requested {
            let target = world.elapsed() + STEP;
            while world.elapsed() < target && !world.finished() {
                world.step();
            }
        } else if playing && !world.finished() {
            let now = Instant::now();
            owed += (now - last).mul_f64(speed);
            last = now;
            while owed >= QUANTUM && !world.finished() {
                world.step();
                owed -= QUANTUM;
            }
        } else {
            last = Instant::now();
            owed = Duration::ZERO;
        }
        if (world.elapsed() != before || step_requested) && !publish(&world, &mut published) {
            return;
        }
    }
}
