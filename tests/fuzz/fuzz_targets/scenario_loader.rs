//! Any bytes given to the scenario loader produce a scenario or an error, never a panic.
//! libFuzzer treats a panic as a crash and saves the input under `artifacts/`.

#![no_main]

use libfuzzer_sys::fuzz_target;

fuzz_target!(|data: &[u8]| {
    // The loader reads files as UTF-8 text; anything else is rejected before parsing.
    if let Ok(text) = std::str::from_utf8(data) {
        if let Err(e) = sim::scenario::parse_str(text, "fuzzed.ron") {
            // Rendering the error runs the code that points at lines and fields.
            let _ = e.to_string();
        }
    }
});
