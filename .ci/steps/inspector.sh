#!/usr/bin/env bash
# The request inspector in a real browser: Debian's chromium, driven by playwright-core, checks
# what a newcomer sees at the mock's base URL (mock-server/inspector/test/inspector.test.js):
# retried creates grouped by key, a replay, a 422, the masked token, reset, axe-core with no
# serious or critical violation, no console error, with and without an admin token. It saves a
# screenshot under the target dir.
#
# chromium is installed with apt only when /usr/bin/chromium is missing; playwright-core and
# axe-core (pinned in mock-server/inspector/test/package.json) go under
# ${HELDQR_CI_CACHE:-~/.cache/heldqr-ci}, outside the checkout, so a re-run reuses them (no
# install scripts run; no browser is downloaded). The mock listens on 127.0.0.1 only.
set -euo pipefail
cd "$(dirname "$0")/../.."

TARGET_DIR="${CARGO_TARGET_DIR:-target}"
CACHE="${HELDQR_CI_CACHE:-$HOME/.cache/heldqr-ci}"
TEST_DIR=mock-server/inspector/test
PINS="$(sha256sum "$TEST_DIR/package.json" | cut -c1-16)"
NODE_DIR="$CACHE/inspector-node-$PINS"

if [ ! -x /usr/bin/chromium ]; then
  echo "installing chromium (apt)"
  apt-get update -qq
  DEBIAN_FRONTEND=noninteractive apt-get install -y -qq chromium >/dev/null
fi

if [ ! -e "$NODE_DIR/.installed" ]; then
  echo "installing playwright-core and axe-core into $NODE_DIR"
  mkdir -p "$NODE_DIR"
  cp "$TEST_DIR/package.json" "$NODE_DIR/package.json"
  npm install --prefix "$NODE_DIR" --no-audit --no-fund --ignore-scripts --loglevel=error
  touch "$NODE_DIR/.installed"
fi

cargo build --quiet -p heldqr-mock --bin heldqr-mock

export HELDQR_MOCK_BIN="$TARGET_DIR/debug/heldqr-mock"
export INSPECTOR_OUT="$TARGET_DIR/inspector"
export NODE_PATH="$NODE_DIR/node_modules"
# playwright-core never downloads a browser here; nothing leaves the machine.
export PLAYWRIGHT_SKIP_BROWSER_DOWNLOAD=1 DO_NOT_TRACK=1
node "$TEST_DIR/inspector.test.js"
