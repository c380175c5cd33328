//! The real binary in a real terminal: tmux runs `kafkalab tui`, the test types keys as a learner
//! would (pause, step, crash a broker, quit) and reads the screen back.
//!
//! tmux must be installed (`.ci/run` installs it). Without it the test fails under CI and is
//! skipped with a message elsewhere.

use std::path::PathBuf;
use std::process::Command;
use std::time::{Duration, Instant};

/// A tmux server of our own (its own socket), killed when dropped.
struct Tmux {
    socket: String,
}

impl Tmux {
    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux").arg("-L").arg(&self.socket).args(args).output().expect("tmux runs");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn screen(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", "lab"])
    }

    fn keys(&self, keys: &[&str]) {
        for key in keys {
            self.run(&["send-keys", "-t", "lab", key]);
        }
    }

    /// Waits until the screen satisfies `ready`, or fails with the last screen.
    fn wait_for(&self, what: &str, ready: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(60);
        loop {
            let screen = self.screen();
            if ready(&screen) {
                return screen;
            }
            assert!(Instant::now() < deadline, "timed out waiting for {what}; the screen:\n{screen}");
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux").arg("-L").arg(&self.socket).arg("kill-server").output();
    }
}

/// The simulated time the status line shows, in tenths of a second (`12.3s / 30.0s`).
fn shown_time(screen: &str) -> u64 {
    let status = screen.lines().next().unwrap_or_default();
    let before = status.split(" / ").next().unwrap_or_default();
    let time = before.rsplit(' ').next().unwrap_or_default().trim_end_matches('s');
    let (seconds, tenths) = time.split_once('.').unwrap_or((time, "0"));
    seconds.parse::<u64>().unwrap_or(0) * 10 + tenths.parse::<u64>().unwrap_or(0)
}

#[test]
fn open_pause_step_crash_a_broker_and_quit() {
    if Command::new("tmux").arg("-V").output().is_err() {
        assert!(std::env::var_os("CI").is_none(), "tmux is missing in CI; .ci/run should install it");
        eprintln!("skipped: tmux is not installed");
        return;
    }
    let dir = std::env::temp_dir().join(format!("kafkalab-e2e-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let status_file = dir.join("exit-status");
    let scenario = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("../scenarios/01-first-cluster.ron");
    let command = format!(
        "cd '{}' && '{}' tui '{}'; echo $? > '{}'",
        dir.display(),
        env!("CARGO_BIN_EXE_kafkalab"),
        scenario.display(),
        status_file.display()
    );
    let tmux = Tmux { socket: format!("kafkalab-e2e-{}", std::process::id()) };
    tmux.run(&["new-session", "-d", "-s", "lab", "-x", "120", "-y", "40", &command]);

    // It opens playing, on the overview; wait until the topic exists (2 s).
    tmux.wait_for("the lab to play", |s| s.contains("PLAYING") && s.contains("[1 Overview]") && shown_time(s) >= 30);

    // Space pauses; the clock stops (after the frames already on their way, and the world's
    // run to the next 100 ms boundary, have arrived).
    tmux.keys(&["Space"]);
    let mut paused = tmux.wait_for("the pause", |s| s.contains("PAUSED"));
    let mut still = String::new();
    for _ in 0..20 {
        std::thread::sleep(Duration::from_millis(300));
        still = tmux.screen();
        if shown_time(&still) == shown_time(&paused) {
            break;
        }
        paused = still.clone();
    }
    assert_eq!(shown_time(&still), shown_time(&paused), "paused time keeps moving:\n{still}");

    // `.` steps 100 ms.
    let before = shown_time(&still);
    tmux.keys(&["."]);
    tmux.wait_for("one step", |s| shown_time(s) == before + 1);

    // Select broker 2 (the second node) and crash it; the next step applies it.
    tmux.keys(&["j", "j", "x"]);
    tmux.wait_for("the crash to be queued", |s| s.contains("pending: crash node 2"));
    tmux.keys(&["."]);
    let crashed = tmux.wait_for("broker 2 down", |s| {
        s.lines().any(|l| l.contains("broker 2") && l.contains("DOWN")) && s.contains("FAULT: crash")
    });
    assert!(crashed.contains('F'), "the timeline marks the fault:\n{crashed}");

    // Views switch with number keys.
    tmux.keys(&["2"]);
    tmux.wait_for("the partitions view", |s| s.contains("[2 Partitions]") && s.contains("Replicas of orders-0"));

    // `q` quits with status 0 and gives the terminal back.
    tmux.keys(&["q"]);
    let deadline = Instant::now() + Duration::from_secs(30);
    while !status_file.exists() {
        assert!(Instant::now() < deadline, "the lab did not quit; the screen:\n{}", tmux.screen());
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(100));
    assert_eq!(std::fs::read_to_string(&status_file).unwrap().trim(), "0");
    let _ = std::fs::remove_dir_all(&dir);
}
