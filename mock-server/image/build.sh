#!/usr/bin/env bash
# Release artifacts for Linux x86_64, the same here, in .ci/run and in the release workflow:
#
#   mock-server/image/build.sh [TAG]     (TAG defaults to heldqr-mock:dev)
#
# 1. `heldqr-mock` and `heldqr`, statically linked: the x86_64-unknown-linux-gnu target with
#    `+crt-static` (the musl target cannot be installed here). They need no libc at run time and
#    resolve no names through it (`--listen localhost:8080` is understood without a resolver).
# 2. target/dist/<name>-<version>-x86_64-unknown-linux-gnu.tar.gz for each, and SHA256SUMS:
#    what `cargo binstall` fetches (see [package.metadata.binstall] in each crate).
# 3. The image TAG, FROM scratch around the static heldqr-mock (mock-server/image/Dockerfile);
#    skipped with NO_IMAGE=1 (binaries and tarballs only).
set -euo pipefail
cd "$(dirname "$0")/../.."

TAG="${1:-heldqr-mock:dev}"
TARGET=x86_64-unknown-linux-gnu
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
OUT="$TARGET_DIR/$TARGET/release"
DIST="$TARGET_DIR/dist"

version_of() {
  cargo metadata --format-version 1 --no-deps \
    | python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"]==sys.argv[1]))' "$1"
}

# --target keeps RUSTFLAGS off build scripts and proc macros (which must stay dynamic).
echo "== static release build ($TARGET, +crt-static)"
RUSTFLAGS="${RUSTFLAGS:-} -C target-feature=+crt-static" \
  cargo build --release --locked --target "$TARGET" -p heldqr-mock -p heldqr-cli --bins

for bin in heldqr-mock heldqr; do
  if readelf -d "$OUT/$bin" | grep -q NEEDED || readelf -l "$OUT/$bin" | grep -q 'program interpreter'; then
    echo "$bin is not statically linked:" >&2
    readelf -d "$OUT/$bin" | grep NEEDED >&2 || true
    exit 1
  fi
done
echo "static: $OUT/heldqr-mock $OUT/heldqr"

echo "== tarballs in $DIST"
rm -rf "$DIST"
mkdir -p "$DIST"
for pair in heldqr-mock:heldqr-mock heldqr-cli:heldqr; do
  crate="${pair%%:*}" bin="${pair##*:}"
  version="$(version_of "$crate")"
  name="$crate-$version-$TARGET"
  mkdir -p "$DIST/$name"
  cp "$OUT/$bin" "$DIST/$name/"
  cp README.md "$DIST/$name/"
  # Reproducible archive: sorted names, fixed owner and time.
  tar --sort=name --owner=0 --group=0 --numeric-owner --mtime='2026-01-01 00:00Z' \
    -C "$DIST" -czf "$DIST/$name.tar.gz" "$name"
  rm -rf "${DIST:?}/$name"
done
(cd "$DIST" && sha256sum ./*.tar.gz | sed 's| \./| |' > SHA256SUMS && cat SHA256SUMS)

if [ "${NO_IMAGE:-}" = 1 ]; then
  echo "NO_IMAGE=1: image not built"
  exit 0
fi
echo "== image $TAG"
CONTEXT="$(mktemp -d)"
trap 'rm -rf "$CONTEXT"' EXIT
cp mock-server/image/Dockerfile "$OUT/heldqr-mock" "$CONTEXT/"
docker build --quiet --build-arg VERSION="$(version_of heldqr-mock)" -t "$TAG" "$CONTEXT"
docker image ls "$TAG"
