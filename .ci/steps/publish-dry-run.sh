#!/usr/bin/env bash
# Crates ready for crates.io: every published crate packages and builds from its packaged files
# alone (cargo verifies each in target/package), in dependency order, without uploading.
set -euo pipefail
cd "$(dirname "$0")/../.."
# cargo extracts each packaged crate of a multi-crate dry run into
# ~/.cargo/registry/src/-HASH/ (HASH from the path of target/package/tmp-registry) and reuses an
# extraction it finds there: a second run from the same checkout path would verify a later crate
# against an earlier run's files of ours. Only our own crates' extractions are removed.
rm -rf "${CARGO_HOME:-$HOME/.cargo}"/registry/src/-*/heldqr-*
cargo publish --dry-run --workspace --locked
