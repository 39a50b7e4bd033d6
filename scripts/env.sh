# Sourced by every script: where builds go, and what the wasm builder needs to find the workspace.
# The target dir lives outside the checkout so developer builds and CI share one cache.
VERITY_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
export VERITY_ROOT
export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/verity/target}"
export WASM_BUILD_WORKSPACE_HINT="$VERITY_ROOT"
# libtorch for the worker (tch): the one PyTorch 2.11.0 brings (scripts/setup.sh installs it).
export LIBTORCH_USE_PYTORCH=1
export CARGO_TERM_COLOR="${CARGO_TERM_COLOR:-never}"
# Clippy runs inside every build of the workspace's own crates, warnings denied: clippy-driver
# is the workspace wrapper (dependencies still go to rustc) and CLIPPY_ARGS carries its flags the
# way `cargo clippy` passes them. A separate `cargo clippy` would check all ~2,600 dependencies
# once more (check artifacts are not build artifacts): minutes of every cold test command. Every
# script sets the same two variables, so all of them share one set of artifacts.
# VERITY_CLIPPY=0 builds without the lints (the workspace's crates are then rebuilt).
if [ "${VERITY_CLIPPY:-1}" = 1 ]; then
	export RUSTC_WORKSPACE_WRAPPER=clippy-driver
	export CLIPPY_ARGS="-D__CLIPPY_HACKERY__warnings__CLIPPY_HACKERY__"
fi
VERITY_NODE="$CARGO_TARGET_DIR/debug/verity-node"
export VERITY_NODE
VERITY_WORKER="$CARGO_TARGET_DIR/debug/verity-worker"
export VERITY_WORKER

# Each line carries the wall-clock time, so a CI log shows how long every step took.
log() { printf '\033[1m[verity %s]\033[0m %s\n' "$(date +%T)" "$*" >&2; }

# rpc PORT METHOD [PARAMS_JSON]: one JSON-RPC call over HTTP to 127.0.0.1:PORT; prints the result
# as JSON, fails if the node does not answer.
rpc() {
	python3 - "$1" "$2" "${3:-[]}" <<'PY'
import json, sys, urllib.request
port, method, params = sys.argv[1], sys.argv[2], json.loads(sys.argv[3])
req = urllib.request.Request("http://127.0.0.1:%s" % port, headers={"Content-Type": "application/json"},
    data=json.dumps({"jsonrpc": "2.0", "id": 1, "method": method, "params": params}).encode())
print(json.dumps(json.loads(urllib.request.urlopen(req, timeout=5).read())["result"]))
PY
}

# block_number: reads a header (JSON) on stdin, prints its block number.
block_number() { python3 -c 'import json,sys; print(int(json.load(sys.stdin)["number"], 16))'; }

# free_port: a TCP port free on loopback right now.
free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
# stop_pid PID [SECONDS]: SIGINT, then SIGKILL if it has not exited within SECONDS (default 30), so a
# daemon that misses or ignores the signal cannot hang a script's clean-up (and CI with it).
stop_pid() {
	local pid="$1" secs="${2:-30}"
	kill -INT "$pid" 2>/dev/null || return 0
	for _ in $(seq 1 $((secs * 10))); do
		kill -0 "$pid" 2>/dev/null || break
		sleep 0.1
	done
	if kill -0 "$pid" 2>/dev/null; then
		log "pid $pid did not stop on SIGINT within ${secs}s: SIGKILL"
		kill -KILL "$pid" 2>/dev/null || true
	fi
	wait "$pid" 2>/dev/null || true
}

# Runs the benchmark `tests/e2e/$1` (with the rest as its arguments) with the binaries built and
# the example kernels exported to a temporary directory (removed on exit).
e2e_bench() {
	local script="$1"
	shift
	[ -x "$VERITY_NODE" ] && [ -x "$VERITY_WORKER" ] || "$VERITY_ROOT/scripts/build.sh"
	local kernels
	kernels="$(mktemp -d -t verity-bench-kernels.XXXXXX)"
	# shellcheck disable=SC2064 # the directory is known now
	trap "rm -rf '$kernels'" EXIT
	python3 "$VERITY_ROOT/scripts/kernels.py" "$kernels" >/dev/null
	(cd "$VERITY_ROOT/tests/e2e" && VERITY_KERNELS="$kernels" node "$script" "$@")
}

# npm_install DIR: installs DIR's npm packages as its package-lock.json pins them, again whenever
# the lock file changed since the last install (a stamp in node_modules records it).
npm_install() {
	local dir="$1" sum
	sum="$(sha256sum "$dir/package-lock.json" | cut -d' ' -f1)"
	if [ "$(cat "$dir/node_modules/.verity-lock" 2>/dev/null)" != "$sum" ]; then
		log "installing npm packages for ${dir#"$VERITY_ROOT"/}"
		(cd "$dir" && npm ci --no-audit --no-fund --loglevel=error)
		echo "$sum" >"$dir/node_modules/.verity-lock"
	fi
}

# dashboard_build: the dashboard's bundle in dashboard/dist (its npm packages installed first).
dashboard_build() {
	npm_install "$VERITY_ROOT/dashboard"
	(cd "$VERITY_ROOT/dashboard" && node build.mjs)
}
