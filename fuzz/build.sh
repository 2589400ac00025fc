#!/usr/bin/env bash
# Builds every fuzz target on the stable toolchain, the way `cargo fuzz build -s none` would:
# libFuzzer's coverage instrumentation and `--cfg fuzzing` through stable -C flags, so CI needs
# neither nightly nor cargo-fuzz. Running the targets is `cargo fuzz run TARGET` (see docs/fuzzing.md).
set -euo pipefail
cd "$(dirname "$0")"
export RUSTFLAGS="-Cpasses=sancov-module \
  -Cllvm-args=-sanitizer-coverage-level=4 \
  -Cllvm-args=-sanitizer-coverage-inline-8bit-counters \
  -Cllvm-args=-sanitizer-coverage-pc-table \
  -Cllvm-args=-sanitizer-coverage-trace-compares \
  --cfg fuzzing -Cdebug-assertions -Coverflow-checks"
# An explicit --target keeps these flags off build scripts and proc macros (they would not link).
host=$(rustc -vV | sed -n 's/^host: //p')
# Release by default (for fuzzing); CI passes `--profile fuzz-ci` to only prove they build.
profile=(--release)
[ $# -gt 0 ] && profile=()
cargo build --locked --bins --target "$host" "${profile[@]}" "$@"
