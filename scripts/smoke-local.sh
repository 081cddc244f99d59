#!/usr/bin/env bash
# Tests scripts/smoke.sh (the deploy's smoke test) against the service built here (`make smoke-local`, part
# of `make test`): starts the api on SQLite in a temporary directory and the frontend in front of it, each
# on a free port of 127.0.0.1, runs smoke.sh against the api and against the frontend (which forwards the
# api's paths, as the load balancer does), checks that it fails against a port where nothing answers, and
# stops both.
#
#   scripts/smoke-local.sh BIN_DIR      (the directory with the api and frontend binaries)
set -euo pipefail

bin_dir=${1:?usage: smoke-local.sh BIN_DIR}
root=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
work=$(mktemp -d)
pids=()
stop() {
  for pid in "${pids[@]}"; do kill -TERM "$pid" 2>/dev/null || true; done
  for pid in "${pids[@]}"; do wait "$pid" 2>/dev/null || true; done
  rm -rf "$work"
}
trap stop EXIT

# start NAME ENV...: starts the binary NAME on a free port (PORT=0) and sets $addr to the address it logged.
# (Not in a command substitution: the process must be this shell's child, for `stop` to end it.)
start() {
  local name=$1 log=$work/$1.log
  shift
  addr=""
  env "$@" PORT=0 BIND_ADDR=127.0.0.1 LOG_FORMAT=json LOG_LEVEL=info "$bin_dir/$name" >"$log" 2>&1 &
  pids+=($!)
  for _ in $(seq 1 100); do
    addr=$(grep -o '"addr":"127\.0\.0\.1:[0-9]*"' "$log" | head -n 1 | cut -d'"' -f4) || true
    [ -n "$addr" ] && break
    sleep 0.1
  done
  if [ -z "$addr" ]; then
    echo "smoke-local: $name did not log its address; its log:" >&2
    cat "$log" >&2
    exit 1
  fi
}

mkdir -p "$work/data"
start api DATA_DIR="$work/data"
api=$addr
echo "smoke-local: api on $api (SQLite in $work/data)"
start frontend API_URL="http://$api"
frontend=$addr
echo "smoke-local: frontend on $frontend"

SMOKE_TIMEOUT=30 SMOKE_INTERVAL=1 bash "$root/scripts/smoke.sh" "http://$api"
SMOKE_TIMEOUT=30 SMOKE_INTERVAL=1 bash "$root/scripts/smoke.sh" "http://$frontend"

# A free port where nothing listens: smoke.sh must fail there (after its retries), not pass.
closed=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
if SMOKE_TIMEOUT=2 SMOKE_INTERVAL=1 bash "$root/scripts/smoke.sh" "http://127.0.0.1:$closed" 2>"$work/fail.log"; then
  echo "smoke-local: smoke.sh passed against a closed port" >&2
  exit 1
fi
grep -q 'FAIL GET /health: status 000' "$work/fail.log" || { cat "$work/fail.log" >&2; exit 1; }
echo "smoke-local: smoke.sh fails against a closed port, as it should"
echo "smoke-local: 3 passed, 0 failed"
