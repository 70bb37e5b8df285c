#!/usr/bin/env bash
# Installs what the tests need, then runs every test once and prints one summary line.
set -euo pipefail
cd "$(dirname "$0")/.."

command -v pnpm >/dev/null 2>&1 || npm install --global pnpm@10 >/dev/null
pnpm install --frozen-lockfile --reporter=append-only >/dev/null

results=$(mktemp -t rialto-vitest-XXXXXX.json)
trap 'rm -f "$results"' EXIT
status=0
# A run of the whole suite also checks that every answer docs/openapi.json names was produced.
if [ "$#" -eq 0 ]; then export OPENAPI_COVERAGE=check; fi
pnpm exec vitest run --reporter=default --reporter=json --outputFile.json="$results" "$@" || status=$?
node scripts/print-test-summary.mjs "$results"
exit "$status"
