#!/usr/bin/env bash
# Instructions per request of the real server binaries under wrk: each side runs under
# callgrind (valgrind) while wrk sends authenticated `GET /api/v1/codes/menu-v3` for a short and
# a long run; per request = (instructions of the long run - the short run) / (requests of the
# long run - the short run), so start-up and shutdown cancel out. The count covers everything
# the server process does in user space (hyper, tokio, the request path, the log writer
# thread), and unlike a time it does not move with whatever else runs on the machine.
# Prints the figures; asserts nothing.
#
#   mock-server/benches/wrk-callgrind.sh
#
# Knobs: SHORT and LONG (seconds of wrk, default 5 and 15), MOCK_BIN / BARE_BIN (as in wrk.sh),
# BEFORE_BIN (space-separated LABEL=PATH of earlier heldqr-mock binaries, each a side), MOCK_ARGS.
# The mock runs with `--rate-limit 4294967295/1s` (counted, never 429), as in wrk.sh.
set -euo pipefail

SHORT=${SHORT:-5}
LONG=${LONG:-15}
TOKEN=hkr_bench_token_0001
NEEDS="wrk valgrind"
# shellcheck source=binaries.sh
source "$(dirname "$0")/binaries.sh"

tmp=$(mktemp -d)
server=""
cleanup() {
    [[ -n $server ]] && kill "$server" 2>/dev/null || true
    wait 2>/dev/null || true
    rm -rf "$tmp"
}
trap cleanup EXIT
path=/api/v1/codes/menu-v3
printf '{"data":{"shortcode":"menu-v3","target_url":"https://example.com/menu","label":"Restaurant menu","status":"active","scan_url":"http://127.0.0.1:1/r/menu-v3","created_at":"2026-01-01T00:00:00Z","updated_at":"2026-01-01T00:00:00Z"}}' >"$tmp/code.json"

# Runs side $1 (binary $2, bare when $1 is "bare") under callgrind with wrk for $3 seconds;
# prints "REQUESTS INSTRUCTIONS".
measure() {
    local out="$tmp/$1.$3" url
    if [[ $1 == bare ]]; then
        valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$2" "$tmp/code.json" >"$out.stdout" 2>"$out.err" &
    else
        # shellcheck disable=SC2086
        valgrind --tool=callgrind --callgrind-out-file="$out.cg" "$2" --listen 127.0.0.1:0 \
            --token "$TOKEN=pro" --rate-limit 4294967295/1s ${MOCK_ARGS:-} >"$out.stdout" 2>"$out.err" &
    fi
    server=$!
    url=""
    for _ in $(seq 1 600); do
        url=$(grep -o 'listening on http://[0-9.:]*' "$out.stdout" 2>/dev/null | head -1 || true)
        [[ -n $url ]] && break
        sleep 0.1
    done
    [[ -n $url ]] || { echo "$1 did not start (see $out.err)" >&2; exit 1; }
    url=${url#listening on }
    if [[ $1 != bare ]]; then
        curl -fsS -o /dev/null -X POST "$url/api/v1/codes" -H "Authorization: Bearer $TOKEN" \
            -H 'Content-Type: application/json' \
            -d '{"target_url": "https://example.com/menu", "label": "Restaurant menu", "shortcode": "menu-v3"}'
    fi
    wrk -t1 -c4 -d"$3s" -H "Authorization: Bearer $TOKEN" "$url$path" >"$out.wrk"
    kill -TERM "$server"
    wait "$server" 2>/dev/null || true
    server=""
    echo "$(awk '/requests in/ { print $1 }' "$out.wrk") $(callgrind_annotate "$out.cg" 2>/dev/null | awk '/PROGRAM TOTALS/ { gsub(",", "", $1); print $1 }')"
}

sides=("bare=$BARE_BIN")
read -r -a befores <<<"${BEFORE_BIN:-}"
for b in "${befores[@]}"; do
    [[ $b == *=* ]] || b="before=$b"
    sides+=("$b")
done
sides+=("mock=$MOCK_BIN")
echo "callgrind, wrk -t1 -c4 for ${SHORT}s and ${LONG}s, GET $path"
for side in "${sides[@]}"; do
    label=${side%%=*}
    read -r r1 i1 <<<"$(measure "$label" "${side#*=}" "$SHORT")"
    read -r r2 i2 <<<"$(measure "$label" "${side#*=}" "$LONG")"
    awk -v s="$label" -v r1="$r1" -v r2="$r2" -v i1="$i1" -v i2="$i2" 'BEGIN {
        printf "%-8s %8.0f instructions per request (%d and %d requests)\n", s, (i2 - i1) / (r2 - r1), r1, r2 }'
done
