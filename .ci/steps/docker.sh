#!/usr/bin/env bash
# The release artifacts, proven as a team with only Docker uses them: install Docker if absent
# (Debian's docker.io; a re-run on the same machine reuses it), start dockerd if none runs, build
# the static binaries, tarballs and image with mock-server/image/build.sh, run the image, wait for
# its own health check, create a code with curl, check that `docker stop` ends it with exit 0
# within 2 seconds, and run the static `heldqr --version` in an empty container.
#
# Containers use the host's network (dockerd runs without a bridge here) and the mock listens on
# 127.0.0.1 on a free port, so nothing is reachable from outside this machine.
set -euo pipefail
cd "$(dirname "$0")/../.."

TAG="heldqr-mock:ci"
NAME="heldqr-mock-ci-$$"
TARGET_DIR="${CARGO_TARGET_DIR:-target}"
DOCKERD_PID=""

cleanup() {
  docker rm -f "$NAME" >/dev/null 2>&1 || true
  if [ -n "$DOCKERD_PID" ]; then
    kill "$DOCKERD_PID" 2>/dev/null || true
    wait "$DOCKERD_PID" 2>/dev/null || true
  fi
}
trap cleanup EXIT

if ! command -v dockerd >/dev/null 2>&1; then
  echo "installing Debian's docker.io"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq docker.io >/dev/null
fi
if ! docker info >/dev/null 2>&1; then
  echo "starting dockerd (vfs storage, no iptables, no bridge)"
  dockerd --storage-driver=vfs --iptables=false --bridge=none \
    >"$TARGET_DIR/dockerd.log" 2>&1 &
  DOCKERD_PID=$!
  for _ in $(seq 1 120); do
    docker info >/dev/null 2>&1 && break
    kill -0 "$DOCKERD_PID" 2>/dev/null || { cat "$TARGET_DIR/dockerd.log" >&2; exit 1; }
    sleep 0.5
  done
  docker info >/dev/null
fi

bash mock-server/image/build.sh "$TAG"
echo "image size: $(docker image inspect -f '{{.Size}}' "$TAG") bytes"

PORT="$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])')"
BASE="http://127.0.0.1:$PORT"
docker run -d --name "$NAME" --network host \
  -e HELDQR_MOCK_LISTEN="127.0.0.1:$PORT" \
  --health-interval 1s --health-start-period 1s "$TAG" >/dev/null

echo "waiting for the image's health check"
status=""
for _ in $(seq 1 60); do
  status="$(docker inspect -f '{{.State.Health.Status}}' "$NAME")"
  [ "$status" = healthy ] && break
  [ "$(docker inspect -f '{{.State.Running}}' "$NAME")" = true ] || break
  sleep 0.5
done
if [ "$status" != healthy ]; then
  echo "the container never became healthy (status: $status)" >&2
  docker logs "$NAME" >&2 || true
  exit 1
fi

echo "creating a code with curl"
created="$(curl -fsS -X POST "$BASE/api/v1/codes" \
  -H 'Authorization: Bearer hkr_test_business' \
  -H 'Content-Type: application/json' \
  -H 'Idempotency-Key: ci-container-smoke' \
  -d '{"target_url":"https://example.com/menu","label":"container smoke"}')"
echo "$created"
echo "$created" | grep -q '"shortcode"'

echo "docker stop: exit 0 within 2 s"
start_ns="$(date +%s%N)"
docker stop -t 10 "$NAME" >/dev/null
elapsed_ms=$(( ($(date +%s%N) - start_ns) / 1000000 ))
exit_code="$(docker inspect -f '{{.State.ExitCode}}' "$NAME")"
echo "stopped in ${elapsed_ms} ms with exit code $exit_code"
[ "$exit_code" = 0 ]
[ "$elapsed_ms" -lt 2000 ]

echo "the static heldqr in an empty container"
tar -c --files-from /dev/null | docker import - heldqr-empty:ci >/dev/null
docker run --rm --network none \
  -v "$(pwd)/$TARGET_DIR/x86_64-unknown-linux-gnu/release/heldqr:/heldqr:ro" \
  heldqr-empty:ci /heldqr --version
