#!/usr/bin/env bash
# Starts the api (SQLite in service/data) and the frontend locally; Ctrl-C stops both.
# Usage: run-local.sh <directory with the api and frontend binaries>
set -euo pipefail
bin_dir=${1:?usage: run-local.sh BIN_DIR}
root=$(cd "$(dirname "$0")/../.." && pwd)
api_port=${API_PORT:-8080}
fe_port=${FRONTEND_PORT:-3000}
export LOG_FORMAT=${LOG_FORMAT:-text}

PORT=$api_port DATA_DIR=${DATA_DIR:-$root/service/data} "$bin_dir/api" &
api_pid=$!
PORT=$fe_port API_URL=http://127.0.0.1:$api_port "$bin_dir/frontend" &
fe_pid=$!
stop() {
  trap - INT TERM EXIT
  kill -TERM "$api_pid" "$fe_pid" 2>/dev/null || true
  wait "$api_pid" "$fe_pid" 2>/dev/null || true
}
trap stop INT TERM EXIT
echo
echo "  dashboard: http://127.0.0.1:$fe_port/"
echo "  api:       http://127.0.0.1:$api_port/api/time"
echo "  Ctrl-C stops both."
echo
wait -n "$api_pid" "$fe_pid" || true
