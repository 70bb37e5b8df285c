#!/usr/bin/env bash
# Installs dependencies, then runs the quickstart: a local IdP, the exchange in Express, one real exchange.
# PORT chooses the port (default 3000; 0 picks a free one).
set -euo pipefail
cd "$(dirname "$0")/.."
if ! command -v pnpm >/dev/null 2>&1; then
  echo "▸ Installing pnpm 10 with npm…"
  npm install --global pnpm@10 >/dev/null
fi
echo "▸ Installing dependencies with pnpm (about a minute on a cold machine, seconds after)…"
# append-only prints pnpm's progress as lines, readable in a terminal and in a log alike.
pnpm install --frozen-lockfile --reporter=append-only 2>&1 | sed -u -e '/^[[:space:]]*$/d' -e 's/^/  /'
echo "▸ Dependencies installed; starting the quickstart on port ${PORT:-3000}…"
exec pnpm --silent quickstart
