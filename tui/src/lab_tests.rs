//! The lab's behaviour on real runs of the bundled first scenario: every view's screen, scrubbing,
//! forking, injecting, prompts, presenter mode, and replaying a recording.

use std::sync::OnceLock;

use sim::live::{Control, ForkPoint, Frame, LiveSession};
use sim::scenario::{Condition, Fault, Narration, Scenario, Span, Target, Timed};
use sim::trace::TraceBody;

use crate::app::{App, Effect, Input, Source, Tab};
use crate::tests_support::{buffer, screen};
use crate::{FIRST_SCENARIO, FIRST_SCENARIO_NAME};

fn first() -> Scenario {
    sim::scenario::parse_str(FIRST_SCENARIO, FIRST_SCENARIO_NAME).unwrap()
}

/// The frames of the first 12 seconds of the bundled scenario, computed once.
fn frames() -> &'static [Frame] {
    static FRAMES: OnceLock<Vec<Frame>> = OnceLock::new();
    FRAMES.get_or_init(|| {
        let scenario = first();
        let seed = scenario.seed;
        sim::live::run_frames(scenario, seed, 12_000)
    })
}

/// A live app that has followed the bundled scenario for 12 seconds, playing.
fn live_app() -> App {
    let scenario = first();
    let seed = scenario.seed;
    let mut app = App::live(scenario, seed);
    for frame in frames() {
        app.apply_frame(frame.clone());
    }
    app
}

/// Presses keys in order and returns every effect.
fn press(app: &mut App, keys: &[Input]) -> Vec<Effect> {
    keys.iter().flat_map(|key| app.update(*key)).collect()
}

/// Moves the cursor back to `time_ms` with `,` presses.
fn scrub_to(app: &mut App, time_ms: u64) {
    app.update(Input::Space);
    while app.time_ms() > time_ms {
        app.update(Input::Char(','));
    }
    assert_eq!(app.time_ms(), time_ms);
}

#[test]
fn every_view_at_eight_seconds() {
    let mut app = live_app();
    scrub_to(&mut app, 8_000);
    for (index, tab) in Tab::ALL.iter().enumerate() {
        app.update(Input::Char(char::from(b'1' + index as u8)));
        assert_eq!(app.tab, *tab);
        insta::assert_snapshot!(format!("view_{}_{}", index + 1, tab.title().to_lowercase()), screen(&app, 120, 40));
    }
}

#[test]
fn log_view_lists_batches_on_b() {
    let mut app = live_app();
    scrub_to(&mut app, 8_000);
    press(&mut app, &[Input::Char('3'), Input::Char('j'), Input::Char('b')]);
    let text = screen(&app, 120, 40);
    assert!(text.contains("Log of orders-1"), "{text}");
    assert!(text.contains("PRODUCER-ID") && text.contains("BASE-SEQUENCE"), "{text}");
    insta::assert_snapshot!("view_3_log_batches", text);
}

#[test]
fn help_overlay_lists_every_key() {
    let mut app = live_app();
    app.update(Input::Char('?'));
    let text = screen(&app, 120, 40);
    for (key, action) in crate::screens::HELP_KEYS {
        assert!(text.contains(key) && text.contains(action), "help lacks {key}: {action}\n{text}");
    }
    insta::assert_snapshot!("help_overlay", text);
    // Any key closes it.
    app.update(Input::Char('x'));
    assert!(!app.show_help);
}

#[test]
fn eighty_by_twenty_four_works_and_smaller_gets_a_message() {
    let mut app = live_app();
    scrub_to(&mut app, 8_000);
    insta::assert_snapshot!("overview_80x24", screen(&app, 80, 24));
    let small = screen(&app, 79, 20);
    assert!(small.contains("at least 80x24") && small.contains("79x20"), "{small}");
}

#[test]
fn no_color_draws_no_colour() {
    let mut app = live_app();
    app.set_colour(false);
    for tab in 1..=8u8 {
        app.update(Input::Char(char::from(b'0' + tab)));
        let drawn = buffer(&app, 120, 40);
        let coloured = drawn
            .content()
            .iter()
            .filter(|c| c.fg != ratatui::style::Color::Reset || c.bg != ratatui::style::Color::Reset);
        assert_eq!(coloured.count(), 0, "tab {tab} has coloured cells");
    }
    // With colours on, the same screens do use colour (so the check above can fail).
    app.set_colour(true);
    let drawn = buffer(&app, 120, 40);
    assert!(drawn.content().iter().any(|c| c.fg != ratatui::style::Color::Reset));
}

#[test]
fn scrubbing_moves_through_keyframes_and_stepping_at_the_head_steps_the_simulation() {
    let mut app = live_app();
    assert!(app.at_head() && app.follow);
    assert_eq!(app.time_ms(), 12_000);
    press(&mut app, &[Input::Space, Input::Left, Input::Char('h'), Input::Char(',')]);
    assert_eq!(app.time_ms(), 11_700);
    assert!(!app.follow && !app.simulation_should_play());
    press(&mut app, &[Input::Right, Input::Char('l')]);
    assert_eq!(app.time_ms(), 11_900);
    assert!(press(&mut app, &[Input::Char('.')]).is_empty());
    assert!(app.at_head());
    assert_eq!(press(&mut app, &[Input::Char('.')]), vec![Effect::Control(Control::Step)]);
    // The feed shows only what happened up to the moment on screen.
    scrub_to(&mut app, 1_000);
    assert!(app.records_now().iter().all(|r| r.time_ms() <= 1_000));
    assert!(app.records_now().len() < app.history().records.len());
}

#[test]
fn marks_jump_to_the_keyframe_that_shows_them() {
    let mut app = live_app();
    scrub_to(&mut app, 0);
    let shown = app.keyframe().unwrap().records;
    app.update(Input::Char('>'));
    // The first mark not yet on screen at time 0.
    let seq = app.history().markers.iter().filter_map(|m| m.seq).find(|seq| *seq >= shown).unwrap();
    let keyframe = app.keyframe().unwrap();
    assert!(keyframe.records > seq, "the mark's record is on screen");
    let index = app.cursor;
    assert!(index == 0 || app.history().keyframes[index - 1].records <= seq, "and not one keyframe earlier");
    // Another mark later, then back: `<` returns to the first mark's keyframe.
    app.update(Input::Char('>'));
    let second = app.cursor;
    assert!(second > index, "the next mark is later");
    app.update(Input::Char('<'));
    assert!(app.cursor < second);
}

#[test]
fn playing_through_the_history_catches_up_and_follows_again() {
    let mut app = live_app();
    scrub_to(&mut app, 10_000);
    app.update(Input::Space);
    assert!(app.playing && !app.follow);
    app.tick(1_000.0);
    assert_eq!(app.time_ms(), 11_000);
    app.tick(5_000.0);
    assert!(app.at_head() && app.follow && app.simulation_should_play());
}

#[test]
fn acting_in_the_past_forks_the_run_there() {
    let mut app = live_app();
    scrub_to(&mut app, 3_000);
    let records_then = app.keyframe().unwrap().records;
    // Select broker 1 (the first node) and crash it.
    let effects = press(&mut app, &[Input::Char('1'), Input::Down, Input::Up, Input::Char('x')]);
    let [Effect::Fork { scenario, seed, at, playing: false }] = effects.as_slice() else {
        panic!("expected one fork, got {effects:?}");
    };
    assert_eq!(*at, ForkPoint { time_ms: 3_000, records: records_then });
    // The keyframe at 3 s holds that boundary's work, so the crash applies one quantum later.
    assert!(scenario.faults.contains(&Timed::At(Span(3_010), Fault::Crash(Target::Node(1)))));
    // The future is gone, and the lab follows the new run from here.
    assert_eq!(app.history().keyframes.last().unwrap().time_ms, 3_000);
    assert_eq!(app.history().records.len() as u64, records_then);
    assert!(app.follow && app.source == Source::Live);

    // The forked run re-executes the same prefix (the session asserts it) and applies the
    // crash at 3 s.
    let session = LiveSession::fork((**scenario).clone(), *seed, false, *at);
    for _ in 0..3 {
        session.control(Control::Step);
    }
    let mut frames = Vec::new();
    while frames.len() < 3 {
        frames.push(session.next_frame(std::time::Duration::from_secs(30)).expect("a frame"));
    }
    assert_eq!(frames[0].records.first().unwrap().seq, records_then);
    for frame in frames {
        app.apply_frame(frame);
    }
    let crash = app.history().records[records_then as usize..]
        .iter()
        .find(|r| matches!(&r.body, TraceBody::Fault(f) if f.contains("crash")))
        .expect("the crash is in the new future");
    assert_eq!(crash.time_ms(), 3_010);
    assert_eq!(app.time_ms(), 3_300);
}

#[test]
fn a_fault_injected_live_replays_exactly_from_the_saved_scenario() {
    let scenario = first();
    let seed = scenario.seed;
    let mut app = App::live(scenario.clone(), seed);
    app.update(Input::Space);
    let session = LiveSession::start(scenario, seed, false);
    let next = || session.next_frame(std::time::Duration::from_secs(30)).expect("a frame");
    app.apply_frame(next());
    for _ in 0..25 {
        session.control(Control::Step);
        app.apply_frame(next());
    }
    assert_eq!(app.time_ms(), 2_500);
    // Crash broker 2 now, at the live edge: the fault goes to the running world.
    let effects = press(&mut app, &[Input::Down, Input::Down, Input::Char('x')]);
    assert_eq!(effects, vec![Effect::Control(Control::Inject(Fault::Crash(Target::Node(2))))]);
    session.control(Control::Inject(Fault::Crash(Target::Node(2))));
    for _ in 0..30 {
        session.control(Control::Step);
        app.apply_frame(next());
    }
    assert_eq!(app.session_faults, vec![Timed::At(Span(2_510), Fault::Crash(Target::Node(2)))]);
    // `w` saves a scenario that replays the session record for record.
    let effects = app.update(Input::Char('w'));
    let [Effect::SaveScenario { text }] = effects.as_slice() else { panic!("{effects:?}") };
    let saved = sim::scenario::parse_str(text, "saved.ron").unwrap();
    let replayed = sim::live::run_frames(saved, seed, 5_500);
    let replayed: Vec<_> = replayed.into_iter().flat_map(|f| f.records).collect();
    assert_eq!(replayed.len(), app.history().records.len());
    assert!(replayed == app.history().records, "the saved scenario replays the session");
}

/// The bundled scenario with chapters and prompts instead of its narration.
fn lesson() -> Scenario {
    let mut scenario = first();
    scenario.narration = vec![
        Narration::Chapter(Span(1_000), "One: the cluster starts".into()),
        Narration::Wait(Span(3_000), "Look at the ISR.".into()),
        Narration::Chapter(Span(5_000), "Two: the group".into()),
        Narration::WaitOn(
            Condition::Acked { client: "checkout".into(), at_least: 300 },
            "Three hundred records are acknowledged.".into(),
        ),
    ];
    scenario
}

#[test]
fn a_prompt_stops_the_lab_until_space() {
    let scenario = lesson();
    let seed = scenario.seed;
    let mut app = App::live(scenario.clone(), seed);
    for frame in sim::live::run_frames(scenario, seed, 10_000) {
        app.apply_frame(frame);
    }
    // The run went on to 10 s, but the lab stopped on the prompt at 3 s.
    assert!(app.waiting.is_some());
    assert_eq!(app.time_ms(), 3_000);
    assert!(!app.simulation_should_play());
    let text = screen(&app, 120, 40);
    assert!(text.contains("Look at the ISR.") && text.contains("press space to continue"), "{text}");
    assert!(text.contains("WAITING") && text.contains("One: the cluster starts"), "{text}");
    // Space continues; playback runs through the history to the condition's prompt.
    app.update(Input::Space);
    assert!(app.waiting.is_none() && app.playing);
    app.tick(100_000.0);
    let prompts: Vec<String> =
        app.history().records.iter().filter(|r| matches!(r.body, TraceBody::Prompt(_))).map(|r| r.describe()).collect();
    let waiting = app
        .waiting
        .unwrap_or_else(|| panic!("the WaitOn prompt stops it; prompts {prompts:?}, time {}", app.time_ms()));
    let record = &app.history().records[waiting as usize];
    assert!(matches!(&record.body, TraceBody::Prompt(t) if t.starts_with("Three hundred")));
    app.update(Input::Space);
    app.tick(100_000.0);
    assert!(app.at_head() && app.follow);
}

#[test]
fn presenter_mode_stops_at_chapters_and_goes_back() {
    let scenario = lesson();
    let seed = scenario.seed;
    let mut app = App::replay(scenario.clone(), {
        let mut app = App::live(scenario.clone(), seed);
        for frame in sim::live::run_frames(scenario, seed, 12_000) {
            app.apply_frame(frame);
        }
        app.history().clone()
    });
    app.set_presenter(true);
    app.update(Input::PageDown);
    app.tick(100_000.0);
    assert_eq!(app.time_ms(), 1_000, "stopped at chapter one");
    app.update(Input::PageDown);
    app.tick(100_000.0);
    assert_eq!(app.time_ms(), 3_000, "stopped at the prompt");
    app.update(Input::PageDown);
    app.tick(100_000.0);
    assert_eq!(app.time_ms(), 5_000, "stopped at chapter two");
    app.update(Input::PageUp);
    assert_eq!(app.time_ms(), 1_000, "back to chapter one");
    insta::assert_snapshot!("presenter_chapter_one", screen(&app, 100, 30));
}

#[test]
fn faults_that_make_no_sense_are_refused_in_words() {
    let mut app = live_app();
    // Broker 1 is up: restarting it makes no sense.
    let effects = press(&mut app, &[Input::Char('1'), Input::Down, Input::Up, Input::Char('r')]);
    assert!(effects.is_empty());
    assert!(app.message.as_deref().unwrap().contains("is running"), "{:?}", app.message);
    // A split with every node on one side neither.
    let count = app.nodes().len();
    for _ in 0..count {
        press(&mut app, &[Input::Char('m'), Input::Down]);
    }
    assert!(press(&mut app, &[Input::Char('n')]).is_empty());
    assert!(app.message.as_deref().unwrap().contains("both sides"));
}

#[test]
fn a_replayed_recording_renders_the_same_screens_as_the_live_run() {
    let dir = std::env::temp_dir().join(format!("kafkalab-replay-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("first.klrec");
    let _ = std::fs::remove_file(&path);
    let mut live = live_app();
    live.history().write(&path).unwrap();
    // Never overwritten.
    assert!(matches!(live.history().write(&path), Err(sim::record::RecordingError::Exists { .. })));
    let history = sim::record::read(&path).unwrap();
    assert_eq!(&history, live.history());
    let mut replay = App::replay(first(), history);
    live.update(Input::Space);
    for moment in [11_500u64, 8_000, 3_000, 200, 9_900] {
        for app in [&mut live, &mut replay] {
            while app.time_ms() > moment {
                app.update(Input::Left);
            }
            while app.time_ms() < moment {
                app.update(Input::Right);
            }
        }
        for tab in 1..=8u8 {
            let key = Input::Char(char::from(b'0' + tab));
            live.update(key);
            replay.update(key);
            let (a, b) = (screen(&live, 120, 40), screen(&replay, 120, 40));
            // The status lines differ in the source word only.
            let strip = |s: &str| s.lines().skip(1).collect::<Vec<_>>().join("\n");
            assert_eq!(strip(&a), strip(&b), "tab {tab} at {moment} ms");
        }
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[test]
fn run_record_writes_the_live_runs_keyframes_and_verify_finds_divergence() {
    let dir = std::env::temp_dir().join(format!("kafkalab-record-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("first.klrec");
    let _ = std::fs::remove_file(&path);
    let scenario = first();
    let seed = scenario.seed;
    let report = sim::record::record_run(scenario, FIRST_SCENARIO, seed, &path).unwrap();
    let history = sim::record::read(&path).unwrap();
    assert_eq!(history.header.scenario_text, FIRST_SCENARIO);
    assert_eq!(history.outcome.as_ref().unwrap().digest, report.digest);
    assert_eq!(history.keyframes.len(), 301, "time 0, every 100 ms, and the end at 30 s");
    let live: Vec<_> = frames().iter().map(|f| f.keyframe.clone()).collect();
    assert!(history.keyframes[..live.len()] == live[..], "the recording holds exactly the live run's keyframes");
    let verdict = sim::record::verify(&path).unwrap();
    assert!(matches!(verdict, sim::record::Verification::Same { .. }), "{}", verdict.render());

    // A tampered recording diverges at the tampered record.
    let mut tampered = history.clone();
    tampered.records[40].node = "broker 9".into();
    let bad = dir.join("tampered.klrec");
    let _ = std::fs::remove_file(&bad);
    tampered.write(&bad).unwrap();
    match sim::record::verify(&bad).unwrap() {
        sim::record::Verification::Differs { seq, .. } => assert_eq!(seq, 40),
        same => panic!("{}", same.render()),
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

/// `kafkalab bench --only seek` measures seeking in a recording: here on a short one, for its
/// shape only (speed is never asserted in tests): every view at every chosen moment, the worst
/// named by view and time.
#[test]
fn the_seek_benchmark_times_every_view_at_spread_moments() {
    let dir = std::env::temp_dir().join(format!("kafkalab-seek-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join("first.klrec");
    let _ = std::fs::remove_file(&path);
    live_app().history().write(&path).unwrap();
    let speed = crate::bench::measure_seeks(&path, 5).unwrap();
    std::fs::remove_dir_all(&dir).unwrap();
    assert_eq!(speed.seeks, 8 * 5);
    assert_eq!(speed.worst_by_view.len(), 8);
    assert!(speed.median_ms <= speed.p90_ms && speed.p90_ms <= speed.worst_ms);
    let worst_view = speed.worst_by_view.iter().find(|(view, _)| *view == speed.worst_view).unwrap();
    assert_eq!(worst_view.1, speed.worst_ms);
    assert!(speed.keyframes > 100 && speed.records > 1000, "{speed:?}");
    assert!(speed.recording_ms >= 10_000, "{speed:?}");
}
