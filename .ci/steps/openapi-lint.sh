#!/usr/bin/env bash
# Lints the contract (mock-server/openapi.yaml) with two strict tools: redocly (npm
# @redocly/cli, recommended-strict, config mock-server/redocly.yaml plus the reasoned ignore list
# mock-server/.redocly.lint-ignore.yaml) and spectral (npm @stoplight/spectral-cli, spectral:oas,
# config mock-server/.spectral.yaml). Zero errors and zero warnings required.
#
# Both are installed at pinned versions under ${HELDQR_CI_CACHE:-~/.cache/heldqr-ci}/npm-tools,
# outside the checkout, so a CI re-run on the same machine reuses them (only the npm registry is
# contacted; install scripts are not run). Telemetry and update checks are off: nothing leaves
# the machine while linting.
set -euo pipefail
cd "$(dirname "$0")/../.."

REDOCLY_VERSION="2.77.0"
SPECTRAL_VERSION="6.16.3"
TOOLS="${HELDQR_CI_CACHE:-$HOME/.cache/heldqr-ci}/npm-tools"
STAMP="$TOOLS/.installed-$REDOCLY_VERSION-$SPECTRAL_VERSION"

if [ ! -e "$STAMP" ]; then
  echo "installing @redocly/cli $REDOCLY_VERSION and @stoplight/spectral-cli $SPECTRAL_VERSION into $TOOLS"
  mkdir -p "$TOOLS"
  npm install --prefix "$TOOLS" --no-audit --no-fund --ignore-scripts --loglevel=error \
    "@redocly/cli@$REDOCLY_VERSION" "@stoplight/spectral-cli@$SPECTRAL_VERSION"
  touch "$STAMP"
fi

export REDOCLY_TELEMETRY=off REDOCLY_SUPPRESS_UPDATE_NOTICE=true SCARF_ANALYTICS=false DO_NOT_TRACK=1

echo "== redocly lint (recommended-strict)"
out="$("$TOOLS/node_modules/.bin/redocly" lint mock-server/openapi.yaml \
  --config mock-server/redocly.yaml --format stylish 2>&1)" || { echo "$out"; exit 1; }
echo "$out" | grep -v '[║╔╚]' | sed '/^[[:space:]]*$/d'
if echo "$out" | grep -q ' warning '; then
  echo "redocly reported warnings" >&2
  exit 1
fi

echo "== spectral lint (spectral:oas)"
"$TOOLS/node_modules/.bin/spectral" lint mock-server/openapi.yaml \
  --ruleset mock-server/.spectral.yaml --fail-severity warn
