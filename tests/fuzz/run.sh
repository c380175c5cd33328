#!/usr/bin/env bash
# Fuzzes the scenario loader with cargo-fuzz for a while (default 60 s): every input must load
# or give an error, never panic. Seeds the corpus with the bundled scenarios.
#
#   tests/fuzz/run.sh            # 60 seconds
#   tests/fuzz/run.sh 600        # ten minutes
#
# Needs nightly Rust (installed here if missing) and cargo-fuzz. A crash leaves its input in
# tests/fuzz/artifacts/scenario_loader/; replay it with
#   cargo +nightly fuzz run --fuzz-dir tests/fuzz scenario_loader <file>
set -euo pipefail
seconds="${1:-60}"
root="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$root"
rustup toolchain list | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
cargo +nightly fuzz --version >/dev/null 2>&1 || cargo +nightly install cargo-fuzz --locked
corpus="tests/fuzz/corpus/scenario_loader"
mkdir -p "$corpus"
cp scenarios/*.ron "$corpus"/
# The simulator crates need `--cfg madsim`, which the workspace's .cargo/config.toml sets for
# ordinary builds; cargo-fuzz builds with its own RUSTFLAGS, so it is passed here too.
RUSTFLAGS="--cfg madsim" cargo +nightly fuzz run --fuzz-dir tests/fuzz scenario_loader "$corpus" \
    -- -max_total_time="$seconds" -max_len=8192
