//! Bad input never crashes the scenario loader: whatever bytes a user hands it, it answers with
//! a scenario or an error that names the file, never with a panic.
//!
//! This is the stable-Rust part of the loader's fuzzing, run in CI: proptest mutates the bundled
//! scenarios (deleting, duplicating and replacing spans, splicing two files, flipping bytes) and
//! also feeds short arbitrary texts built from RON's own tokens, which reach deeper into the
//! loader than random bytes do. The coverage-guided part is `tests/fuzz` (cargo fuzz, nightly),
//! run by `tests/fuzz/run.sh`.

use proptest::prelude::*;
use proptest::test_runner::{RngAlgorithm, RngSeed};
use std::panic::{catch_unwind, AssertUnwindSafe};

/// Every bundled scenario's text, by file name.
fn bundled() -> Vec<(String, String)> {
    let dir = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut out = Vec::new();
    for entry in std::fs::read_dir(&dir).expect("scenarios/ exists") {
        let path = entry.expect("readable entry").path();
        if path.extension().is_some_and(|e| e == "ron") {
            let text = std::fs::read_to_string(&path).expect("readable scenario");
            out.push((path.file_name().unwrap().to_string_lossy().into_owned(), text));
        }
    }
    out.sort();
    assert!(out.len() >= 30, "expected the bundled scenarios, found {}", out.len());
    out
}

/// Loads `text`; fails the property if the loader panics, and checks that an error names the
/// file it was given.
fn loads_or_explains(text: &str) -> Result<(), TestCaseError> {
    let outcome = catch_unwind(AssertUnwindSafe(|| sim::scenario::parse_str(text, "fuzzed.ron")));
    match outcome {
        Err(panic) => {
            let message = panic
                .downcast_ref::<String>()
                .cloned()
                .or_else(|| panic.downcast_ref::<&str>().map(|s| s.to_string()))
                .unwrap_or_default();
            Err(TestCaseError::fail(format!("the loader panicked: {message}\ninput:\n{text}")))
        }
        Ok(Ok(_)) => Ok(()),
        Ok(Err(e)) => {
            let shown = e.to_string();
            prop_assert!(shown.contains("fuzzed.ron"), "the error does not name the file: {shown}");
            Ok(())
        }
    }
}

/// One edit of a text: byte offsets are taken modulo its length and moved to char boundaries.
#[derive(Clone, Debug)]
enum Edit {
    Delete(usize, usize),
    Duplicate(usize, usize),
    Insert(usize, String),
    FlipByte(usize, u8),
    /// Replace the text from this offset on with the other scenario's text from its offset on.
    Splice(usize, usize),
}

fn boundary(text: &str, at: usize) -> usize {
    if text.is_empty() {
        return 0;
    }
    let mut at = at % (text.len() + 1);
    while !text.is_char_boundary(at) {
        at -= 1;
    }
    at
}

fn apply(text: &str, other: &str, edit: &Edit) -> String {
    let cut = |a: usize, len: usize| {
        let start = boundary(text, a);
        let end = boundary(text, start + len % 64).max(start);
        (start, end)
    };
    match edit {
        Edit::Delete(a, len) => {
            let (s, e) = cut(*a, *len);
            format!("{}{}", &text[..s], &text[e..])
        }
        Edit::Duplicate(a, len) => {
            let (s, e) = cut(*a, *len);
            format!("{}{}{}", &text[..e], &text[s..e], &text[e..])
        }
        Edit::Insert(a, token) => {
            let s = boundary(text, *a);
            format!("{}{token}{}", &text[..s], &text[s..])
        }
        Edit::FlipByte(a, byte) => {
            let mut bytes = text.as_bytes().to_vec();
            if !bytes.is_empty() {
                let i = a % bytes.len();
                bytes[i] ^= byte | 1;
            }
            String::from_utf8_lossy(&bytes).into_owned()
        }
        Edit::Splice(a, b) => {
            let s = boundary(text, *a);
            let t = boundary(other, *b);
            format!("{}{}", &text[..s], &other[t..])
        }
    }
}

/// Tokens of the scenario language, so inserted text looks like what users type by mistake.
const TOKENS: &[&str] = &[
    "(",
    ")",
    "[",
    "]",
    "{",
    "}",
    ",",
    ":",
    "\"",
    "-1",
    "0",
    "1e99",
    "18446744073709551616",
    "\"0s\"",
    "\"-5s\"",
    "\"99999999999999h\"",
    "\"1.5ms\"",
    "Some(",
    "None",
    "At(",
    "On(",
    "Broker(",
    "Leader(",
    "Crash(",
    "Heal",
    "Partition(",
    "acks",
    "\"all\"",
    "\"min.insync.replicas\"",
    "partitions: ",
    "replication_factor: ",
    "brokers: ",
    "duration: ",
    "seed: ",
    "rate_per_sec: ",
    "NaN",
    "inf",
    "//",
    "/*",
    "\u{0}",
    "é",
    "true",
];

fn edit(n_scenarios: usize) -> impl Strategy<Value = (usize, usize, Vec<Edit>)> {
    let one = prop_oneof![
        (any::<usize>(), any::<usize>()).prop_map(|(a, l)| Edit::Delete(a, l)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, l)| Edit::Duplicate(a, l)),
        (any::<usize>(), prop::sample::select(TOKENS)).prop_map(|(a, t)| Edit::Insert(a, t.to_string())),
        (any::<usize>(), any::<u8>()).prop_map(|(a, b)| Edit::FlipByte(a, b)),
        (any::<usize>(), any::<usize>()).prop_map(|(a, b)| Edit::Splice(a, b)),
    ];
    (0..n_scenarios, 0..n_scenarios, prop::collection::vec(one, 1..=4))
}

fn config(cases: u32, seed: u64) -> ProptestConfig {
    ProptestConfig {
        cases,
        rng_algorithm: RngAlgorithm::ChaCha,
        rng_seed: RngSeed::Fixed(seed),
        failure_persistence: None,
        ..ProptestConfig::default()
    }
}

#[test]
fn mutated_scenarios_load_or_explain() {
    let scenarios = bundled();
    let mut runner = proptest::test_runner::TestRunner::new(config(3000, 0x6675_7a7a));
    runner
        .run(&edit(scenarios.len()), |(i, j, edits)| {
            let mut text = scenarios[i].1.clone();
            for e in &edits {
                text = apply(&text, &scenarios[j].1, e);
            }
            loads_or_explains(&text)
        })
        .unwrap_or_else(|e| panic!("{e}"));
}

proptest! {
    #![proptest_config(config(2000, 0x746f_6b65_6e73))]

    #[test]
    fn token_soup_loads_or_explains(tokens in prop::collection::vec(prop::sample::select(TOKENS), 0..40)) {
        let text = format!("Scenario({})", tokens.concat());
        loads_or_explains(&text)?;
    }

    #[test]
    fn arbitrary_text_loads_or_explains(text in ".{0,200}") {
        loads_or_explains(&text)?;
    }
}

#[test]
fn the_bundled_scenarios_themselves_load() {
    for (name, text) in bundled() {
        sim::scenario::parse_str(&text, &name).unwrap_or_else(|e| panic!("{e}"));
    }
}
