#!/usr/bin/env bash
# Checks that keep README.md true, each timed: its TypeScript snippets compile under strict, every
# package passes `pnpm publish --dry-run`, and the packed packages install and run like a user's.
# Needs `pnpm build` first (the snippets are checked against the published types).
set -euo pipefail
cd "$(dirname "$0")/.."

timed() { # label, command...
  local label=$1 start=$SECONDS
  shift
  "$@"
  echo "$label: $((SECONDS - start)) s"
}

timed "doc snippets" node scripts/check-doc-snippets.mjs
