#!/usr/bin/env bash
# Installs dependencies, then runs the quickstart: a local IdP, the exchange in Express, one real exchange.
set -euo pipefail
cd "$(dirname "$0")/.."
command -v pnpm >/dev/null 2>&1 || npm install --global pnpm@10 >/dev/null
pnpm install --frozen-lockfile --reporter=append-only >/dev/null
exec pnpm --silent quickstart
