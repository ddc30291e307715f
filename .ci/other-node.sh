#!/usr/bin/env bash
# The unit tests on another Node.js major (22, 24): Node from the registry's `node` package
# into a folder of its own, the repository copied beside it, npm ci there (better-sqlite3
# built against that Node's headers), then the unit project. Nothing of the main tree changes.
set -euo pipefail
major="$1"
repo="$(cd "$(dirname "$0")/.." && pwd)"
work="${TMPDIR:-/tmp}/dane-smtp-node$major"
rm -rf "$work" && mkdir -p "$work/node" "$work/repo"
# shared/ (peers' test vectors) is read from beside the repository, as in CI.
[ -d "$repo/../shared" ] && ln -s "$(cd "$repo/../shared" && pwd)" "$work/shared"
npm install --prefix "$work/node" "node@$major" --no-audit --no-fund --loglevel=error >/dev/null
bin="$work/node/node_modules/node/bin"
headers="$(dirname "$(find "$work/node/node_modules" -maxdepth 4 -type d -name include -path '*node-linux-*' | head -n 1)")"
# The tracked files as they are (and the untracked ones a run needs), without node_modules or dist.
(cd "$repo" && git ls-files -z --cached --others --exclude-standard | tar --null -T - -cf -) | tar -C "$work/repo" -xf -
cd "$work/repo"
export PATH="$bin:$PATH"
echo "[node $major] $(node --version): npm ci (better-sqlite3 against $headers)"
npm_config_nodedir="$headers" npm ci --no-audit --no-fund --loglevel=error >/dev/null
npx tsc -p tsconfig.json
echo "[node $major] unit tests"
npx vitest run --project unit
