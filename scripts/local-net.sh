#!/usr/bin/env bash
# A local 4-validator network (Alice, Bob, Charlie, Dave) on loopback, `--chain local`.
#   scripts/local-net.sh start   start the four validators in the background
#   scripts/local-net.sh status  best and finalised block of each
#   scripts/local-net.sh stop    stop them (data kept; `purge` removes it)
# Validator i listens on p2p port 30333+i and RPC port 9944+i. Data and logs: $VERITY_NET_DIR
# (default ~/.cache/verity/local-net).
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/env.sh"

NET_DIR="${VERITY_NET_DIR:-$HOME/.cache/verity/local-net}"
NAMES=(alice bob charlie dave)

start() {
	[ -x "$VERITY_NODE" ] || "$VERITY_ROOT/scripts/build.sh"
	mkdir -p "$NET_DIR"
	local bootnode=""
	for i in "${!NAMES[@]}"; do
		local name="${NAMES[$i]}" dir="$NET_DIR/${NAMES[$i]}"
		mkdir -p "$dir"
		if [ -f "$dir/pid" ] && kill -0 "$(cat "$dir/pid")" 2>/dev/null; then
			log "$name already running (pid $(cat "$dir/pid"))"
		else
			[ -f "$dir/node-key" ] || "$VERITY_NODE" key generate-node-key --file "$dir/node-key" 2>/dev/null
			local args=(--chain local --"$name" --validator --base-path "$dir" --node-key-file "$dir/node-key"
				--rpc-port $((9944 + i)) --prometheus-port $((9615 + i))
				--listen-addr "/ip4/127.0.0.1/tcp/$((30333 + i))" --no-telemetry --no-mdns)
			[ -n "$bootnode" ] && args+=(--bootnodes "$bootnode")
			"$VERITY_NODE" "${args[@]}" >"$dir/node.log" 2>&1 &
			echo $! >"$dir/pid"
			log "$name started: rpc ws://127.0.0.1:$((9944 + i)), log $dir/node.log"
		fi
		if [ -z "$bootnode" ]; then
			bootnode="/ip4/127.0.0.1/tcp/30333/p2p/$("$VERITY_NODE" key inspect-node-key --file "$dir/node-key")"
		fi
	done
}

status() {
	for i in "${!NAMES[@]}"; do
		local port=$((9944 + i)) best fin
		if best="$(rpc $port chain_getHeader 2>/dev/null)"; then
			best="$(block_number <<<"$best")"
			fin="$(rpc $port chain_getHeader "[$(rpc $port chain_getFinalizedHead)]" | block_number)"
			printf '%-8s best #%-6s finalised #%s\n' "${NAMES[$i]}" "$best" "$fin"
		else
			printf '%-8s down\n' "${NAMES[$i]}"
		fi
	done
}

stop() {
	for name in "${NAMES[@]}"; do
		local pidfile="$NET_DIR/$name/pid"
		if [ -f "$pidfile" ]; then
			kill -INT "$(cat "$pidfile")" 2>/dev/null || true
			rm -f "$pidfile"
		fi
	done
	log "stopped"
}

case "${1:-}" in
start) start ;;
status) status ;;
stop) stop ;;
purge) stop; rm -rf "$NET_DIR"; log "removed $NET_DIR" ;;
*) echo "usage: $0 start|status|stop|purge" >&2; exit 2 ;;
esac
