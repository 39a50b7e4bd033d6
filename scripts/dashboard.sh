#!/usr/bin/env bash
# Serves the web dashboard (dashboard/): builds its bundle (installing its npm packages when they
# are missing) and serves it over HTTP until Ctrl-C. Open the printed address; `?rpc=` picks the
# node (default ws://127.0.0.1:9944), e.g. http://127.0.0.1:8090/?rpc=ws://10.0.0.5:9944#/market.
# Usage: scripts/dashboard.sh [PORT] [HOST]   (default 8090 on 127.0.0.1; HOST 0.0.0.0 for others)
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"
command -v node >/dev/null || { log "the dashboard needs Node.js 20 (node) on the PATH"; exit 1; }
dashboard_build
exec node "$VERITY_ROOT/dashboard/serve.mjs" "${1:-8090}" "${2:-127.0.0.1}"
