#!/usr/bin/env bash
# Checks that keep README.md true, each timed: its TypeScript snippets compile under strict,
# docs/openapi.json is what the routes generate, docs/http-reference.html and the Redoc bundle
# beside it are what `pnpm docs:http` writes, every
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
timed "openapi document" pnpm -s run openapi --check
timed "http reference" node scripts/http-reference.mjs --check

publish_dry_run() {
  for directory in packages/core packages/storage-adapters packages/express packages/cli packages/console internal/dev-idp; do
    local entry=index
    [ "$directory" = packages/cli ] && entry=cli
    # --ignore-scripts: CI has just built; a real publish rebuilds through prepublishOnly.
    if ! output=$(cd "$directory" && pnpm publish --dry-run --no-git-checks --ignore-scripts 2>&1); then
      echo "$output" >&2
      echo "pnpm publish --dry-run failed in $directory" >&2
      return 1
    fi
    local assets=()
    # The console serves its stylesheet and script from the package itself.
    [ "$directory" = packages/console ] && assets=(assets/console.css assets/console.js)
    for required in README.md LICENSE CHANGELOG.md "dist/$entry.js" "dist/$entry.d.ts" "${assets[@]}"; do
      if ! grep -q " $required\$" <<<"$output"; then
        echo "pnpm publish --dry-run: $directory would publish without $required" >&2
        return 1
      fi
    done
  done
}
timed "publish dry-run (6 packages)" publish_dry_run
timed "install as a user" node scripts/install-as-user.mjs
