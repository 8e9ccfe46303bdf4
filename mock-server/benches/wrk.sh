#!/usr/bin/env bash
# Speed as users run it: the release heldqr-mock binary in its default configuration (request
# log on, journal on) against a bare axum route serving the same JSON (examples/bare_axum.rs),
# loaded by wrk (an external HTTP load generator) in the same run, alternating, medians.
# Prints req/s and p99 of each run, the medians and the ratios. Asserts nothing.
#
#   mock-server/benches/wrk.sh
#
# Knobs: ROUNDS (default 5 per side), SECS (seconds per run, default 5), THREADS (wrk, 2),
# CONNECTIONS (32), MOCK_BIN / BARE_BIN (use these binaries instead of building them),
# MOCK_ARGS (extra flags for heldqr-mock, e.g. --quiet), LOG (where the mock's stderr goes,
# default a file under the run's temporary directory).
#
# The one flag beside the defaults is --rate-limit 4294967295/1s, so the limiter runs on every
# request but never answers 429 (wrk would otherwise measure 429s after 600 requests).
set -euo pipefail

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
TOKEN=hkr_bench_token_0001

here=$(cd "$(dirname "$0")/../.." && pwd)
if ! command -v wrk >/dev/null; then
    echo "wrk not found: installing Debian's package" >&2
    apt-get -o DPkg::Lock::Timeout=120 install -y wrk >/dev/null
fi
target=${CARGO_TARGET_DIR:-$here/target}
if [[ -z "${MOCK_BIN:-}" || -z "${BARE_BIN:-}" ]]; then
    (cd "$here" && cargo build --release -q -p heldqr-mock --bin heldqr-mock --example bare_axum)
fi
MOCK_BIN=${MOCK_BIN:-$target/release/heldqr-mock}
BARE_BIN=${BARE_BIN:-$target/release/examples/bare_axum}

tmp=$(mktemp -d)
pids=()
cleanup() {
    for p in "${pids[@]}"; do kill "$p" 2>/dev/null || true; done
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
LOG=${LOG:-$tmp/mock.log}

# Waits for the "listening on http://..." line in file $1 and prints the URL.
url_in() {
    for _ in $(seq 1 400); do
        if url=$(grep -o 'listening on http://[0-9.:]*' "$1" 2>/dev/null | head -1); then
            echo "${url#listening on }"
            return
        fi
        sleep 0.05
    done
    echo "server did not start (see $1)" >&2
    exit 1
}

# shellcheck disable=SC2086
"$MOCK_BIN" --listen 127.0.0.1:0 --token "$TOKEN=pro" --rate-limit 4294967295/1s ${MOCK_ARGS:-} \
    >"$tmp/mock.out" 2>"$LOG" &
pids+=($!)
mock=$(url_in "$tmp/mock.out")
curl -fsS -o "$tmp/code.json" -X POST "$mock/api/v1/codes" -H "Authorization: Bearer $TOKEN" \
    -H 'Content-Type: application/json' \
    -d '{"target_url": "https://example.com/menu", "label": "Restaurant menu", "shortcode": "menu-v3"}'
"$BARE_BIN" "$tmp/code.json" >"$tmp/bare.out" &
pids+=($!)
bare=$(url_in "$tmp/bare.out")
path=/api/v1/codes/menu-v3
cmp -s <(curl -fsS "$bare$path") <(curl -fsS -H "Authorization: Bearer $TOKEN" "$mock$path") ||
    { echo "the two servers do not serve the same JSON" >&2; exit 1; }

# One wrk run; prints "REQ_PER_S P99_MS".
run() {
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECS}s" --latency \
        -H "Authorization: Bearer $TOKEN" "$1$path" |
        awk '
            /Requests\/sec:/ { rps = $2 }
            /^ +99%/ {
                v = $2; unit = v; sub(/^[0-9.]+/, "", unit); n = v + 0
                if (unit == "us") n /= 1000; else if (unit == "s") n *= 1000; else if (unit == "m") n *= 60000
                p99 = n
            }
            /Non-2xx/ { bad = $NF }
            END { if (bad) { print "non-2xx answers: " bad > "/dev/stderr"; exit 1 } printf "%.0f %.3f\n", rps, p99 }'
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "wrk -t$THREADS -c$CONNECTIONS -d${SECS}s, GET $path, $ROUNDS alternating rounds"
echo "heldqr-mock: $MOCK_BIN ${MOCK_ARGS:-} (stderr to $LOG)"
run "$bare" >/dev/null # warm-up, both sides
run "$mock" >/dev/null
: >"$tmp/bare.txt"
: >"$tmp/mock.txt"
for i in $(seq 1 "$ROUNDS"); do
    if ((i % 2)); then order="bare mock"; else order="mock bare"; fi
    for side in $order; do
        if [[ $side == bare ]]; then r=$(run "$bare"); else r=$(run "$mock"); fi
        echo "$r" >>"$tmp/$side.txt"
        printf 'round %d %-4s %8s req/s  p99 %7s ms\n' "$i" "$side" ${r}
    done
done
b_rps=$(cut -d' ' -f1 "$tmp/bare.txt" | median)
m_rps=$(cut -d' ' -f1 "$tmp/mock.txt" | median)
b_p99=$(cut -d' ' -f2 "$tmp/bare.txt" | median)
m_p99=$(cut -d' ' -f2 "$tmp/mock.txt" | median)
printf 'median bare axum    %8.0f req/s  p99 %7.3f ms\n' "$b_rps" "$b_p99"
printf 'median heldqr-mock  %8.0f req/s  p99 %7.3f ms\n' "$m_rps" "$m_p99"
awk -v m="$m_rps" -v b="$b_rps" -v mp="$m_p99" -v bp="$b_p99" 'BEGIN {
    printf "ratio req/s mock/bare %.2f (target >= 0.85)   p99 mock/bare %.2f (target <= 2)\n", m / b, mp / bp }'
echo "log lines written: $(wc -l <"$LOG")"
