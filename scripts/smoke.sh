#!/usr/bin/env bash
# Smoke test of a deployed application (or of a local api / frontend): the checks deploy.yml runs against
# the `url` output of plans/hello after each apply, and `make smoke` against the api built here.
#
#   scripts/smoke.sh URL        e.g. https://staging.example.com, http://127.0.0.1:8080
#
# Checks, each retried while a new deployment settles (SMOKE_TIMEOUT seconds in all, default 300; every
# SMOKE_INTERVAL seconds, default 5):
#   GET /health                  200, body OK
#   GET /api/time                200, JSON with a numeric `time` (close to this machine's clock) and `iso`
#   PUT /hello/<name>            204, body {"dateOfBirth": "YYYY-MM-DD"}  (a name unique to this run)
#   GET /hello/<name>            200, {"message": "Hello, <name>! Your birthday is in N day(s)"}, N as computed here
# Needs bash, curl and python3 (for the JSON and the dates). Exits 0 when every check passed, else 1.
set -euo pipefail

url=${1:?usage: smoke.sh URL}
url=${url%/}
timeout=${SMOKE_TIMEOUT:-300}
interval=${SMOKE_INTERVAL:-5}
deadline=$((SECONDS + timeout))
body=$(mktemp)
trap 'rm -f "$body"' EXIT

# request METHOD PATH [JSON BODY]: sets $status and writes the response body to $body (status 000 when the
# connection failed).
request() {
  local args=(--silent --show-error --max-time 10 --output "$body" --write-out '%{http_code}' -X "$1")
  : >"$body"
  if [ $# -ge 3 ]; then args+=(-H 'Content-Type: application/json' --data "$3"); fi
  status=$(curl "${args[@]}" "$url$2" 2>/dev/null) || status=${status:-000}
}

# check NAME METHOD PATH JSON EXPECTED_STATUS VALIDATOR: retries until the status is the expected one and
# the validator (a function of the body file) succeeds, or the deadline passes.
check() {
  local label=$1 method=$2 path=$3 data=$4 want=$5 validate=$6 why
  while :; do
    if [ -n "$data" ]; then request "$method" "$path" "$data"; else request "$method" "$path"; fi
    if [ "$status" = "$want" ] && why=$("$validate" 2>&1); then
      echo "ok   $label"
      return 0
    fi
    if [ "$status" = "$want" ]; then why=${why##*$'\n'}; else why="status $status, expected $want"; fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "FAIL $label: $why" >&2
      echo "     body: $(head -c 500 "$body")" >&2
      exit 1
    fi
    echo "...  $label: $why; retrying in ${interval}s" >&2
    sleep "$interval"
  done
}

body_is_ok() { [ "$(cat "$body")" = "OK" ] || { echo "body is not OK"; return 1; }; }

time_is_now() {
  python3 - "$body" <<'PY'
import json, sys, time
b = json.load(open(sys.argv[1]))
t = b.get("time")
assert isinstance(t, (int, float)) and not isinstance(t, bool), f"no numeric time in {b}"
assert abs(t - time.time()) < 300, f"time {t} is more than 5 minutes off this machine's clock"
assert isinstance(b.get("iso"), str) and b["iso"].endswith("Z"), f"no iso in {b}"
PY
}

empty() { [ ! -s "$body" ] || { echo "body not empty: $(head -c 200 "$body")"; return 1; }; }

# A name unique to this run ([A-Za-z]{1,64}): "smoke" and letters from the time and pid.
name="smoke$(printf '%s%s' "$(date -u +%s%N)" "$$" | tr '0-9' 'a-j')"
name=${name:0:64}
# Born 30 years ago plus 10 days (UTC): the next birthday is computed below, like the api does.
read -r dob expect_days < <(python3 - <<'PY'
import datetime
today = datetime.datetime.now(datetime.timezone.utc).date()
def birthday(d, year):
    try:
        return d.replace(year=year)
    except ValueError:  # 29 February in a non-leap year
        return datetime.date(year, 2, 28)
dob = birthday(today + datetime.timedelta(days=10), today.year - 30)
nxt = birthday(dob, today.year)
if nxt < today:
    nxt = birthday(dob, today.year + 1)
print(dob.isoformat(), (nxt - today).days)
PY
)

greeting_is_right() {
  NAME="$name" DAYS="$expect_days" python3 - "$body" <<'PY'
import json, os, sys
b = json.load(open(sys.argv[1]))
name, days = os.environ["NAME"], int(os.environ["DAYS"])
# Around midnight UTC the api's day and ours can differ by one.
ok = {f"Hello, {name}! Your birthday is in {n} day(s)" for n in (days - 1, days, days + 1)}
assert b.get("message") in ok, f"message {b.get('message')!r}, expected {sorted(ok)}"
PY
}

echo "smoke test of $url (user $name, born $dob)"
check "GET /health" GET /health "" 200 body_is_ok
check "GET /api/time" GET /api/time "" 200 time_is_now
check "PUT /hello/$name" PUT "/hello/$name" "{\"dateOfBirth\": \"$dob\"}" 204 empty
check "GET /hello/$name" GET "/hello/$name" "" 200 greeting_is_right
echo "smoke test passed: $url"
