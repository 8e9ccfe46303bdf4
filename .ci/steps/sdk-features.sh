#!/usr/bin/env bash
# heldqr-sdk's documented Cargo feature combinations (see the crate docs' "Cargo features"):
# each one type-checks (`cargo check`, no codegen), the native-tls build pulls in no aws-lc,
# and a build without the `tracing` feature has no dependency on tracing of its own (reqwest's
# hyper-util still uses it internally: its `client` feature enables it unconditionally, so the
# check is that hyper-util is the only crate that brings it). The docs also build with every
# feature on, as docs.rs builds them.
#
# native-tls links the platform's OpenSSL: its headers come from libssl-dev (pkg-config finds
# them); the step installs them with apt-get when they are missing and it can.
set -euo pipefail
cd "$(dirname "$0")/../.."

if ! pkg-config --exists openssl 2>/dev/null; then
  if command -v apt-get >/dev/null && [ "$(id -u)" = 0 ]; then
    echo "installing libssl-dev and pkg-config for the native-tls check"
    apt-get update -qq && apt-get install -y -qq libssl-dev pkg-config >/dev/null
  else
    echo "error: the native-tls check needs OpenSSL headers (libssl-dev) and pkg-config" >&2
    exit 1
  fi
fi

combos=(
  "--no-default-features"                                   # leanest: http:// only
  "--no-default-features --features rustls"
  "--no-default-features --features native-tls"
  "--no-default-features --features native-tls,http2,tracing" # the defaults with native TLS
  "--no-default-features --features http2,tracing"
)
for combo in "${combos[@]}"; do
  echo "== cargo check -p heldqr-sdk $combo"
  # shellcheck disable=SC2086 # the combo is a list of arguments
  cargo check -q -p heldqr-sdk --lib $combo
done

echo "== the native-tls tree has no aws-lc"
tree="$(cargo tree -p heldqr-sdk -e normal --no-default-features --features native-tls,http2,tracing)"
if grep -q "aws-lc" <<<"$tree"; then
  echo "error: aws-lc is in the native-tls tree:" >&2
  grep "aws-lc" <<<"$tree" >&2
  exit 1
fi

echo "== without the tracing feature only hyper-util brings tracing"
dependents="$(cargo tree -p heldqr-sdk -e normal --no-default-features --features rustls \
  -i tracing --prefix depth --depth 1 | awk '$0 ~ /^1/ { sub(/^1/, ""); print $1 }' | sort -u)"
if [ "$dependents" != "hyper-util" ]; then
  echo "error: tracing is brought in by: ${dependents:-nothing?}" >&2
  exit 1
fi
direct="$(cargo tree -p heldqr-sdk -e normal --no-default-features --features rustls,http2 \
  --prefix depth --depth 1 | awk '$0 ~ /^1/ { sub(/^1/, ""); print $1 }')"
if grep -qx "tracing" <<<"$direct"; then
  echo "error: heldqr-sdk depends on tracing without the tracing feature" >&2
  exit 1
fi

echo "== cargo doc -p heldqr-sdk --all-features (as docs.rs builds it)"
RUSTDOCFLAGS="-D warnings" cargo doc -q -p heldqr-sdk --no-deps --all-features

echo "sdk features: ok"
