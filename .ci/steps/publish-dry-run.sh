#!/usr/bin/env bash
# Crates ready for crates.io: every published crate packages and builds from its packaged files
# alone (cargo verifies each in target/package), in dependency order, without uploading.
set -euo pipefail
cd "$(dirname "$0")/../.."
cargo publish --dry-run --workspace --locked
