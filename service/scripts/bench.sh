#!/usr/bin/env bash
# Benchmark of the api binary with wrk on loopback (64 connections, 30 s per
# endpoint) with production settings (JSON logs at info), on PostgreSQL.
# Usage: bench.sh <api binary>. Env: BENCH_DATABASE_URL, BENCH_PORT,
# BENCH_DURATION (30s), BENCH_CONNECTIONS (64), BENCH_THREADS (2).
set -euo pipefail
api=${1:?usage: bench.sh API_BINARY}
root=$(cd "$(dirname "$0")/../.." && pwd)
out=$root/service/target-test-output
mkdir -p "$out"
db_url=${BENCH_DATABASE_URL:-postgres://postgres@127.0.0.1:5432/service_bench}
port=${BENCH_PORT:-18380}
duration=${BENCH_DURATION:-30s}
conns=${BENCH_CONNECTIONS:-64}
threads=${BENCH_THREADS:-2}
base=http://127.0.0.1:$port

command -v wrk >/dev/null || { echo "wrk is missing (apt-get install -y wrk)" >&2; exit 1; }
if [ -z "${BENCH_DATABASE_URL:-}" ]; then
  psql -h 127.0.0.1 -U postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'service_bench'" | grep -q 1 \
    || psql -h 127.0.0.1 -U postgres -qc "CREATE DATABASE service_bench"
fi
if (exec 3<>/dev/tcp/127.0.0.1/"$port") 2>/dev/null; then echo "port $port is busy (set BENCH_PORT)" >&2; exit 1; fi

PORT=$port BIND_ADDR=127.0.0.1 DATABASE_URL=$db_url LOG_FORMAT=json LOG_LEVEL=info \
  "$api" > "$out/bench-api.log" 2>&1 &
pid=$!
trap 'kill -TERM $pid 2>/dev/null || true; wait $pid 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -fsS "$base/ready" >/dev/null 2>&1 && break
  sleep 0.1
done
curl -fsS "$base/ready" >/dev/null
curl -fsS -X PUT -H 'content-type: application/json' -d '{"dateOfBirth":"1990-04-01"}' "$base/hello/Benchuser"
curl -fsS "$base/hello/Benchuser"; echo

cpu_ticks() { awk '{print $14 + $15}' /proc/"$pid"/stat; }
run() { # name url
  echo "== $1: wrk -t$threads -c$conns -d$duration --latency $2"
  wrk -t"$threads" -c"$conns" -d5s "$2" >/dev/null  # warm-up
  local t0; t0=$(cpu_ticks)
  wrk -t"$threads" -c"$conns" -d"$duration" --latency "$2" | tee "$out/bench-$1.txt"
  echo "api CPU seconds: $(awk -v a="$t0" -v b="$(cpu_ticks)" -v hz="$(getconf CLK_TCK)" 'BEGIN { printf "%.1f", (b - a) / hz }')" \
    | tee -a "$out/bench-$1.txt"
}
to_ms() { # wrk latency like 1.23ms / 456.00us / 1.02s -> ms
  awk -v v="$1" 'BEGIN { n = v + 0; if (v ~ /us$/) n /= 1000; else if (v ~ /ms$/) n = n; else if (v ~ /s$/) n *= 1000; printf "%.2f", n }'
}
run time "$base/api/time"
run hello "$base/hello/Benchuser"

time_rps=$(awk '/^Requests\/sec/ {print $2}' "$out/bench-time.txt")
hello_rps=$(awk '/^Requests\/sec/ {print $2}' "$out/bench-hello.txt")
hello_p99=$(to_ms "$(awk '$1 == "99%" {print $2}' "$out/bench-hello.txt")")
errors=$(cat "$out"/bench-time.txt "$out"/bench-hello.txt | awk '/Non-2xx|Socket errors/' || true)
per_cpu() { # requests per api CPU-second for a run
  awk '/^Requests\/sec/ {r = $2} /^api CPU seconds/ {c = $4} END { if (c > 0) printf "%d", r * '"${duration%s}"' / c; else print "n/a" }' "$out/bench-$1.txt"
}
rss_kb=$(awk '/^VmRSS/ {print $2}' /proc/$pid/status)
rss_mb=$(awk -v k="$rss_kb" 'BEGIN { printf "%.1f", k / 1024 }')

verdict() { if awk -v a="$1" -v b="$3" "BEGIN { exit !(a $2 b) }"; then echo PASS; else echo FAIL; fi; }
{
  echo "GET /api/time             $time_rps rps (target >= 60000): $(verdict "$time_rps" '>=' 60000)"
  echo "GET /hello/<user> (pg)    $hello_rps rps (target >= 8000): $(verdict "$hello_rps" '>=' 8000)"
  echo "GET /hello/<user> p99     $hello_p99 ms (target <= 20): $(verdict "$hello_p99" '<=' 20)"
  echo "api efficiency            $(per_cpu time) /api/time and $(per_cpu hello) /hello requests per api CPU-second"
  echo "machine load (1/5/15 min) $(cut -d' ' -f1-3 /proc/loadavg) on $(nproc) CPUs (wrk shares them)"
  echo "api VmRSS after the run   $rss_mb MB (target <= 32): $(verdict "$rss_mb" '<=' 32)"
  [ -z "$errors" ] || echo "wrk reported: $errors"
} | tee "$out/bench-summary.txt"
! grep -q FAIL "$out/bench-summary.txt"
