#!/usr/bin/env bash
# Start or stop the local AWS emulator (scripts/emulator: moto with AWS-like ECS, a stand-in for AWS) in the
# background, for the demo.
#   scripts/moto.sh start DIR   -> starts it on 127.0.0.1 and a free port; writes DIR/moto.url, DIR/moto.pid
#   scripts/moto.sh stop DIR
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cmd=${1:?start|stop}; dir=${2:?state dir}
mkdir -p "$dir"
case "$cmd" in
start)
  bash "$root/.ci/moto.sh" >/dev/null
  port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
  "${MOTO_SERVER:-$root/scripts/emulator}" -H 127.0.0.1 -p "$port" >"$dir/moto.log" 2>&1 &
  echo $! >"$dir/moto.pid"
  for _ in $(seq 1 100); do
    if python3 -c "import urllib.request; urllib.request.urlopen('http://127.0.0.1:$port/moto-api/', timeout=1)" 2>/dev/null; then
      echo "http://127.0.0.1:$port" >"$dir/moto.url"; exit 0
    fi
    sleep 0.1
  done
  echo "the emulator did not start; see $dir/moto.log" >&2; exit 1 ;;
stop)
  [ -f "$dir/moto.pid" ] && kill "$(cat "$dir/moto.pid")" 2>/dev/null || true
  rm -f "$dir/moto.pid" ;;
esac
