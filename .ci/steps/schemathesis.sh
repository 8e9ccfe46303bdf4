#!/usr/bin/env bash
# Holds heldqr-mock to its own document: schemathesis (PyPI, pinned) runs every check, its
# examples, coverage, fuzzing and stateful phases against a running heldqr-mock, loading the
# contract from the server's GET /reference. Zero failures required.
#
# Both generation modes run (--mode all): positive data (the server must accept what the
# document allows) and negative data (malformed bodies, wrong types, bad query parameters and
# headers: the server must refuse them with a documented 4xx in the envelope, never a 5xx).
# A second pass runs the mock-only routes (which reset state and move the clock, so they stay
# out of the first pass) in both modes, without the stateful phase.
#
# Everything stays on 127.0.0.1: the schema's `servers` are overridden with --url, redirects are
# never followed (--max-redirects 0; /r/{shortcode} redirects to arbitrary targets), and any
# request that would still leave goes to a dead proxy on 127.0.0.1:9. The /_mock/ routes are
# excluded (they reset state and move the clock).
set -euo pipefail
cd "$(dirname "$0")/../.."

SCHEMATHESIS_VERSION="4.32.5"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
# Installed once per machine, outside the checkout: CI clones afresh, and a re-run reuses it.
CACHE="${HELDQR_CI_CACHE:-$HOME/.cache/heldqr-ci}"
VENV="$CACHE/schemathesis-venv-$SCHEMATHESIS_VERSION"
MAX_EXAMPLES="${SCHEMATHESIS_MAX_EXAMPLES:-60}"

if ! "$VENV/bin/schemathesis" --version 2>/dev/null | grep -q "$SCHEMATHESIS_VERSION"; then
  echo "installing schemathesis $SCHEMATHESIS_VERSION into $VENV"
  python3 -m venv "$VENV"
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "schemathesis==$SCHEMATHESIS_VERSION"
fi

cargo build --quiet -p heldqr-mock --bin heldqr-mock
BIN="$TARGET_DIR/debug/heldqr-mock"

WORK="$(mktemp -d)"
SERVER_PID=""
cleanup() {
  if [ -n "$SERVER_PID" ] && kill -0 "$SERVER_PID" 2>/dev/null; then
    kill "$SERVER_PID" 2>/dev/null || true
    wait "$SERVER_PID" 2>/dev/null || true
  fi
  rm -rf "$WORK"
}
trap cleanup EXIT

# A rate limit far above what one run sends (the limiter still runs and sets its headers).
"$BIN" --listen 127.0.0.1:0 --rate-limit 1000000000/1s --seed 1 --quiet \
  >"$WORK/stdout" 2>"$WORK/stderr" &
SERVER_PID=$!

# The address line, then readiness (no fixed sleeps: poll, bounded).
"$VENV/bin/python" - "$WORK/stdout" "$SERVER_PID" >"$WORK/base" <<'PY'
import os, re, sys, time, urllib.request
path, pid = sys.argv[1], int(sys.argv[2])
deadline = time.monotonic() + 60
base = None
while time.monotonic() < deadline:
    try:
        os.kill(pid, 0)
    except OSError:
        sys.exit("heldqr-mock exited before printing its address")
    with open(path) as f:
        m = re.search(r"http://[0-9.]+:[0-9]+", f.read())
    if m:
        base = m.group(0)
        break
    time.sleep(0.05)
if base is None:
    sys.exit("heldqr-mock printed no address line")
opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
while time.monotonic() < deadline:
    try:
        with opener.open(base + "/healthz", timeout=2) as r:
            if r.status == 200:
                print(base)
                sys.exit(0)
    except OSError:
        pass
    time.sleep(0.05)
sys.exit("heldqr-mock never answered /healthz")
PY
BASE="$(cat "$WORK/base")"
echo "heldqr-mock at $BASE"

export HTTP_PROXY="http://127.0.0.1:9" HTTPS_PROXY="http://127.0.0.1:9" ALL_PROXY="http://127.0.0.1:9"
export http_proxy="$HTTP_PROXY" https_proxy="$HTTPS_PROXY" all_proxy="$ALL_PROXY"
export NO_PROXY="127.0.0.1" no_proxy="127.0.0.1"

run_schemathesis() {
  "$VENV/bin/schemathesis" --config-file mock-server/schemathesis.toml run "$BASE/reference" \
    --url "$BASE" \
    --header "Authorization: Bearer hkr_test_business" \
    --checks all \
    --mode all \
    --max-examples "$MAX_EXAMPLES" \
    --max-redirects 0 \
    --seed "${SCHEMATHESIS_SEED:-20260601}" \
    --request-timeout 10 \
    --report junit --report-dir "$TARGET_DIR/schemathesis-report" \
    --no-color "$@"
}

echo "== schemathesis: the API, positive and negative data, stateful"
run_schemathesis --phases examples,coverage,fuzzing,stateful --exclude-path-regex '^/_mock/' "$@"

echo "== schemathesis: the mock-only routes, positive and negative data"
run_schemathesis --phases examples,coverage,fuzzing --include-path-regex '^/_mock/' "$@"
