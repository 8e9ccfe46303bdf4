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
# BEFORE_BIN (an earlier heldqr-mock, e.g. built at an older commit: measured as a third side in
# the same rounds, so a change is compared before/after beside the same baseline; several, as
# space-separated LABEL=PATH, are each a side of their own), MOCK_ARGS
# (extra flags for every heldqr-mock, e.g. --quiet), LOG (where the mock's stderr goes, default
# a file under the run's temporary directory).
#
# Beside req/s and p99, each side's server CPU time per request (user + system, from
# /proc/PID/stat) is printed: wrk shares the 2 cores, so req/s moves with whatever else runs,
# while CPU per request is the steadier figure of what the server itself costs.
#
# The one flag beside the defaults is --rate-limit 4294967295/1s, so the limiter runs on every
# request but never answers 429 (wrk would otherwise measure 429s after 600 requests).
set -euo pipefail

ROUNDS=${ROUNDS:-5}
SECS=${SECS:-5}
THREADS=${THREADS:-2}
CONNECTIONS=${CONNECTIONS:-32}
TOKEN=hkr_bench_token_0001

NEEDS=wrk
# shellcheck source=binaries.sh
source "$(dirname "$0")/binaries.sh"

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

declare -A url pid
# Starts heldqr-mock binary $2 as side $1, with one code to read.
start_mock() {
    # shellcheck disable=SC2086
    "$2" --listen 127.0.0.1:0 --token "$TOKEN=pro" --rate-limit 4294967295/1s ${MOCK_ARGS:-} \
        >"$tmp/$1.out" 2>"$3" &
    pids+=($!)
    pid[$1]=$!
    url[$1]=$(url_in "$tmp/$1.out")
    curl -fsS -o "$tmp/$1.json" -X POST "${url[$1]}/api/v1/codes" \
        -H "Authorization: Bearer $TOKEN" -H 'Content-Type: application/json' \
        -d '{"target_url": "https://example.com/menu", "label": "Restaurant menu", "shortcode": "menu-v3"}'
}
sides="bare mock"
start_mock mock "$MOCK_BIN" "$LOG"
read -r -a befores <<<"${BEFORE_BIN:-}"
earlier=""
for b in "${befores[@]}"; do
    label=before
    [[ $b == *=* ]] && label=${b%%=*} && b=${b#*=}
    start_mock "$label" "$b" "$tmp/$label.log"
    earlier+=" $label"
done
sides="bare$earlier mock"
"$BARE_BIN" "$tmp/mock.json" >"$tmp/bare.out" &
pids+=($!)
pid[bare]=$!
url[bare]=$(url_in "$tmp/bare.out")
path=/api/v1/codes/menu-v3
for side in $sides; do
    [[ $side == bare ]] && continue
    # The same JSON but for the port in the scan URL and the timestamps (each side made its code
    # at its own second; the lengths are the same).
    cmp -s <(curl -fsS "${url[bare]}$path" | sed -e 's/127.0.0.1:[0-9]*/HOST/' -e 's/[0-9-]*T[0-9:]*Z/TIME/g') \
        <(curl -fsS -H "Authorization: Bearer $TOKEN" "${url[$side]}$path" | sed -e 's/127.0.0.1:[0-9]*/HOST/' -e 's/[0-9-]*T[0-9:]*Z/TIME/g') ||
        { echo "bare axum and $side do not serve the same JSON" >&2; exit 1; }
done

# CPU ticks (user + system) of process $1 so far.
ticks() { awk '{ print $14 + $15 }' "/proc/$1/stat"; }

# One wrk run against side $1; prints "REQ_PER_S P99_MS CPU_US_PER_REQUEST".
run() {
    local before after
    before=$(ticks "${pid[$1]}")
    wrk -t"$THREADS" -c"$CONNECTIONS" -d"${SECS}s" --latency \
        -H "Authorization: Bearer $TOKEN" "${url[$1]}$path" >"$tmp/wrk.txt"
    after=$(ticks "${pid[$1]}")
    awk -v ticks=$((after - before)) -v hz="$(getconf CLK_TCK)" '
            /requests in/ { n = $1 }
            /Requests\/sec:/ { rps = $2 }
            /^ +99%/ {
                v = $2; unit = v; sub(/^[0-9.]+/, "", unit); n = v + 0
                if (unit == "us") n /= 1000; else if (unit == "s") n *= 1000; else if (unit == "m") n *= 60000
                p99 = n
            }
            /Non-2xx/ { bad = $NF }
            END {
                if (bad) { print "non-2xx answers: " bad > "/dev/stderr"; exit 1 }
                printf "%.0f %.3f %.2f\n", rps, p99, ticks / hz * 1e6 / n
            }' "$tmp/wrk.txt"
}

median() { sort -g | awk '{ a[NR] = $1 } END { print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2 }'; }

echo "wrk -t$THREADS -c$CONNECTIONS -d${SECS}s, GET $path, $ROUNDS rounds, the order rotating"
echo "heldqr-mock: $MOCK_BIN ${MOCK_ARGS:-} (stderr to $LOG)"
[[ -n "${BEFORE_BIN:-}" ]] && echo "earlier:     $BEFORE_BIN"
read -r -a order <<<"$sides"
for side in "${order[@]}"; do
    run "$side" >/dev/null # warm-up
    : >"$tmp/$side.txt"
done
for i in $(seq 1 "$ROUNDS"); do
    for side in "${order[@]}"; do
        r=$(run "$side")
        echo "$r" >>"$tmp/$side.txt"
        # shellcheck disable=SC2086
        printf 'round %d %-8s %8s req/s  p99 %7s ms  server CPU %6s us/request\n' "$i" "$side" ${r}
    done
    order=("${order[@]:1}" "${order[0]}")
done
declare -A rps p99 cpu
for side in $sides; do
    rps[$side]=$(cut -d' ' -f1 "$tmp/$side.txt" | median)
    p99[$side]=$(cut -d' ' -f2 "$tmp/$side.txt" | median)
    cpu[$side]=$(cut -d' ' -f3 "$tmp/$side.txt" | median)
    printf 'median %-8s %8.0f req/s  p99 %7.3f ms  server CPU %6.2f us/request\n' \
        "$side" "${rps[$side]}" "${p99[$side]}" "${cpu[$side]}"
done
for side in $sides; do
    [[ $side == bare ]] && continue
    awk -v s="$side" -v m="${rps[$side]}" -v b="${rps[bare]}" -v mp="${p99[$side]}" -v bp="${p99[bare]}" \
        -v mc="${cpu[$side]}" -v bc="${cpu[bare]}" 'BEGIN {
        printf "%-8s / bare: req/s %.2f (target >= 0.85)  p99 %.2f (target <= 2)  server CPU %.2f\n",
            s, m / b, mp / bp, mc / bc }'
done
echo "log lines written: $(wc -l <"$LOG")"
