# Sourced by wrk.sh and wrk-callgrind.sh: installs the Debian packages named in $NEEDS when
# missing, and sets MOCK_BIN and BARE_BIN (the release heldqr-mock and examples/bare_axum,
# built here unless both are given).
here=$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)
for tool in $NEEDS; do
    if ! command -v "$tool" >/dev/null; then
        echo "$tool not found: installing Debian's package" >&2
        apt-get -o DPkg::Lock::Timeout=120 install -y "$tool" >/dev/null
    fi
done
target=${CARGO_TARGET_DIR:-$here/target}
if [[ -z "${MOCK_BIN:-}" || -z "${BARE_BIN:-}" ]]; then
    (cd "$here" && cargo build --release -q -p heldqr-mock --bin heldqr-mock --example bare_axum)
fi
MOCK_BIN=${MOCK_BIN:-$target/release/heldqr-mock}
BARE_BIN=${BARE_BIN:-$target/release/examples/bare_axum}
