# Sourced by every script: where builds go, and what the wasm builder needs to find the workspace.
# The target dir lives outside the checkout so developer builds and CI share one cache.
VERITY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VERITY_ROOT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/verity/target}"
export WASM_BUILD_WORKSPACE_HINT="$VERITY_ROOT"
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
VERITY_NODE="$CARGO_TARGET_DIR/debug/verity-node"
export VERITY_NODE

log() { printf '\033[1m[verity]\033[0m %s\n' "$*" >&2; }
