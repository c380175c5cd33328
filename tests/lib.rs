//! Cross-crate integration tests live in `tests/tests/`; this library holds what several of
//! them share.

use std::path::{Path, PathBuf};

/// The bundled scenarios: every `.ron` file directly in `scenarios/` (not its subdirectories of
/// answers, benchmarks, swarm and teeth scenarios), sorted by name.
pub fn bundled_scenarios() -> Vec<PathBuf> {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios");
    let mut files: Vec<PathBuf> = std::fs::read_dir(&dir)
        .expect("scenarios/ exists")
        .map(|e| e.expect("readable entry").path())
        .filter(|p| p.extension().is_some_and(|e| e == "ron"))
        .collect();
    files.sort();
    files
}

/// Runs a bundled scenario (a file name in `scenarios/`) with `edits` applied to its text, each
/// `(from, to)` replacing every occurrence of `from`, and returns the report. Panics when an
/// edit matches nothing, so a test cannot silently run the unedited scenario.
pub fn run_edited(file: &str, edits: &[(&str, &str)]) -> sim::report::RunReport {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../scenarios").join(file);
    let mut source = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    for (from, to) in edits {
        assert!(source.contains(from), "{file} has no {from:?}");
        source = source.replace(from, to);
    }
    let scenario = sim::scenario::parse_str(&source, file).unwrap_or_else(|e| panic!("{e}"));
    let seed = scenario.seed;
    sim::run(scenario, seed).unwrap_or_else(|e| panic!("{e}"))
}
