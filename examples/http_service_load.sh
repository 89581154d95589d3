#!/usr/bin/env bash
# Loads examples/http_service.rs from a second process on loopback with
# wrk, once per cache mode, and prints requests/s and p50/p99 latency.
#
#   examples/http_service_load.sh [duration, default 10s] [modes, default "strcache none moka"]
#
# Installs Debian's wrk if it is missing. Requests spread uniformly over
# 500 ids (a Lua script picks each one), which all fit the cache.
set -euo pipefail

duration=${1:-10s}
modes=${2:-strcache none moka}
cd "$(dirname "$0")/.."

if ! command -v wrk >/dev/null; then
    if [ "$(id -u)" -eq 0 ]; then
        apt-get install -y wrk >/dev/null || { apt-get update >/dev/null && apt-get install -y wrk >/dev/null; }
    else
        sudo apt-get install -y wrk >/dev/null || { sudo apt-get update >/dev/null && sudo apt-get install -y wrk >/dev/null; }
    fi
fi

cargo build --release --all-features --example http_service
target_dir=$(cargo metadata --format-version 1 --no-deps | sed -n 's/.*"target_directory":"\([^"]*\)".*/\1/p')
server="$target_dir/release/examples/http_service"

work=$(mktemp -d)
server_pid=
cleanup() {
    if [ -n "$server_pid" ]; then kill "$server_pid" 2>/dev/null || true; fi
    rm -rf "$work"
}
trap cleanup EXIT

cat >"$work/ids.lua" <<'EOF'
math.randomseed(os.time())
request = function()
    return wrk.format("GET", "/users/" .. math.random(0, 499))
end
EOF

printf '%-9s %12s %10s %10s\n' cache 'requests/s' p50 p99
for mode in $modes; do
    "$server" --cache "$mode" --addr 127.0.0.1:0 >"$work/server.out" 2>&1 &
    server_pid=$!
    # The server prints its address once it listens.
    for _ in $(seq 100); do
        grep -q '^listening on' "$work/server.out" && break
        sleep 0.1
    done
    url=$(sed -n 's/^listening on \(http:[^ ]*\).*/\1/p' "$work/server.out")
    [ -n "$url" ] || { cat "$work/server.out" >&2; exit 1; }
    wrk -t2 -c64 -d"$duration" --latency -s "$work/ids.lua" "$url" >"$work/wrk.out"
    kill "$server_pid"
    wait "$server_pid" 2>/dev/null || true
    server_pid=
    rps=$(awk '/^Requests\/sec:/ { print $2 }' "$work/wrk.out")
    p50=$(awk '$1 == "50%" { print $2 }' "$work/wrk.out")
    p99=$(awk '$1 == "99%" { print $2 }' "$work/wrk.out")
    if grep -q 'Non-2xx' "$work/wrk.out"; then
        cat "$work/wrk.out" >&2
        exit 1
    fi
    printf '%-9s %12s %10s %10s\n' "$mode" "$rps" "$p50" "$p99"
done
