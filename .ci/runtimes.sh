#!/usr/bin/env bash
# Runs the portable scenario suite (runtimes/scenarios.ts) on Bun, Cloudflare Workers (workerd
# via miniflare), Node and headless Chromium, each against a fresh embedded server. Prints one
# `<runtime>: N passed, M failed, K skipped` line per runtime and exits non-zero on any failure.
#
#   bash .ci/runtimes.sh [bun] [node] [workers] [chromium]
#
# Needs Deno 2 and Node >= 20 on PATH; installs the rest: the npm tooling pinned in
# runtimes/package-lock.json, and Debian's chromium package when no Chromium is found.
set -euo pipefail
cd "$(dirname "$0")/.."

node -e 'if (+process.versions.node.split(".")[0] < 20) { console.error("Node >= 20 needed, found " + process.version); process.exit(1) }'
command -v deno >/dev/null || { echo "deno is not on PATH" >&2; exit 1; }

if [ -z "${CHROMIUM_PATH:-}" ] && [ ! -x /usr/bin/chromium ]; then
  echo "installing Debian's chromium package"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq chromium >/dev/null
fi

(cd runtimes && npm ci --no-audit --no-fund --loglevel=error)

node runtimes/run.mjs "$@"
