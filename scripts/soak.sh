#!/usr/bin/env bash
# Randomised crash-safety soak (make soak): apply plans/hello (prod), SIGKILL it at a random moment,
# unlock, apply again, then check nothing is untracked or duplicated, the re-plan is empty and destroy
# works. Runs against moto behind faultproxy (50 ms injected on every request) on loopback only.
#
# Each trial works on its own copy of plans/hello with a unique [stack] name, so trials never see each
# other's objects:
#   1. apply --auto-approve, SIGKILL after a random 0.3-5 s (counted "mid-apply" if it was still running);
#   2. force-unlock the stale lock (id from the `.lock` file next to the state file), if there is one;
#   3. apply --auto-approve again: must exit 0;
#   4. scripts/soak_check.py: every stack-tagged EC2 object is in the state, no address has two objects
#      (load balancer, IAM and log objects are checked at every boundary by the deterministic crash test,
#      provisioner/tests/cli_leftovers.rs);
#   5. plan --detailed-exitcode: must exit 0 (nothing left to do);
#   6. destroy --auto-approve: must exit 0, and leave no stack-tagged object behind.
#
# Knobs:
#   SOAK_TRIALS=20         trials                      SOAK_SEED=N      seed of the kill delays (printed)
#   SOAK_LATENCY_MS=50     delay on every request      SOAK_KEEP=1      keep every trial's dir (failed ones are always kept)
#   SOAK_STEP_TIMEOUT=300  seconds one command may take before it counts as hung
#   SOAK_KILL_MIN_MS=300 / SOAK_KILL_MAX_MS=1500   window of the kill, from the start of the first apply
#                                                  (an apply of plans/hello prod, load balancer layer included,
#                                                  takes ~1.7 s at 50 ms per call: a later kill lands after
#                                                  it and tests nothing)
#   PROVISIONER_WAIT_TIMEOUT_SECS=30               the tool's bound on waits/retries (its default is 600)
#   SOAK_SKIP_BUILD=1      use existing binaries (PROVISIONER_BIN / FAULTPROXY_BIN, else $CARGO_TARGET_DIR/release)
#   MOTO_SERVER=path       emulator to use, a moto_server drop-in (default scripts/emulator)
#   SOAK_STACK=dir         stack to copy (default plans/hello; e.g. an older revision's copy for an older binary)
# The environment is selected with `-w prod` when the binary has --workspace, else `--var-file env/prod.toml`.
set -euo pipefail

REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
TRIALS="${SOAK_TRIALS:-20}"
SEED="${SOAK_SEED:-$(( $(date +%s) % 100000 ))}"
LATENCY_MS="${SOAK_LATENCY_MS:-50}"
STEP_TIMEOUT="${SOAK_STEP_TIMEOUT:-300}"
KILL_MIN_MS="${SOAK_KILL_MIN_MS:-300}" KILL_MAX_MS="${SOAK_KILL_MAX_MS:-1500}"
ENV_NAME=prod
[ "$KILL_MIN_MS" -ge 0 ] && [ "$KILL_MAX_MS" -ge "$KILL_MIN_MS" ] || { echo "soak: bad kill window $KILL_MIN_MS-$KILL_MAX_MS ms" >&2; exit 2; }
TARGET_DIR="${CARGO_TARGET_DIR:-$REPO/target}"
case "$TARGET_DIR" in /*) ;; *) TARGET_DIR="$REPO/$TARGET_DIR" ;; esac
PROVISIONER="${PROVISIONER_BIN:-$TARGET_DIR/release/provisioner}"
FAULTPROXY="${FAULTPROXY_BIN:-$TARGET_DIR/release/faultproxy}"
PYTHON="$REPO/.venv/bin/python"
STACK_SRC="${SOAK_STACK:-$REPO/plans/hello}"
WORK="$(mktemp -d "${TMPDIR:-/tmp}/provisioner-soak.XXXXXX")"

log() { printf '%s\n' "$*" >&2; }
die() { log "soak: ERROR: $*"; log "soak: logs are in $WORK (kept)"; KEEP_WORK=1; exit 2; }

KEEP_WORK=0
PIDS=()     # moto, faultproxy
APPLY_PID=  # the apply being killed, while it runs
cleanup() {
    local pid
    if [ -n "$APPLY_PID" ]; then kill -KILL "$APPLY_PID" 2>/dev/null || true; wait "$APPLY_PID" 2>/dev/null || true; fi
    for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && { kill "$pid" 2>/dev/null || true; }; done
    for pid in "${PIDS[@]:-}"; do [ -n "$pid" ] && { wait "$pid" 2>/dev/null || true; }; done
    if [ "$KEEP_WORK" = 1 ] || [ "${SOAK_KEEP:-0}" = 1 ]; then log "soak: work dir kept: $WORK"; else rm -rf "$WORK"; fi
}
trap cleanup EXIT
trap 'exit 130' INT TERM

# Loopback only: never let the SDK, boto3 or curl wander off through a proxy.
unset HTTP_PROXY HTTPS_PROXY ALL_PROXY http_proxy https_proxy all_proxy AWS_PROFILE AWS_SESSION_TOKEN
export NO_PROXY="127.0.0.1,localhost" no_proxy="127.0.0.1,localhost"

free_port() { python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1",0)); print(s.getsockname()[1])'; }
wait_http() { # url seconds
    local i
    for ((i = 0; i < $2 * 10; i++)); do
        curl -s -o /dev/null --max-time 1 "$1" && return 0
        sleep 0.1
    done
    return 1
}

# ---------------------------------------------------------------- binaries, emulator, proxy
if [ "${SOAK_SKIP_BUILD:-0}" != 1 ]; then
    log "== cargo build --release -p provisioner -p faultproxy"
    (cd "$REPO" && cargo build --release -p provisioner -p faultproxy) || die "release build failed"
fi
[ -x "$PROVISIONER" ] || die "provisioner binary not found at $PROVISIONER"
[ -x "$FAULTPROXY" ] || die "faultproxy binary not found at $FAULTPROXY"
# The repository's local AWS emulator (scripts/emulator: moto with AWS-like ECS; a stand-in for AWS).
if [ -z "${MOTO_SERVER:-}" ]; then
    bash "$REPO/.ci/moto.sh" >&2 || die ".ci/moto.sh failed"
    MOTO_SERVER="$REPO/scripts/emulator"
fi
[ -x "$MOTO_SERVER" ] || die "emulator not found at $MOTO_SERVER (unset MOTO_SERVER to use scripts/emulator)"
"$PYTHON" -c 'import boto3' 2>/dev/null || die "$PYTHON has no boto3 (run .ci/moto.sh)"

MOTO_URL="http://127.0.0.1:$(free_port)"
"$MOTO_SERVER" -H 127.0.0.1 -p "${MOTO_URL##*:}" >"$WORK/moto.log" 2>&1 &
PIDS+=($!)
wait_http "$MOTO_URL/moto-api/" 30 || { tail -n 20 "$WORK/moto.log" >&2; die "moto did not come up on $MOTO_URL"; }

printf '[{"action": "*", "fault": {"delay_ms": %d}}]\n' "$LATENCY_MS" >"$WORK/rules.json"
"$FAULTPROXY" --upstream "$MOTO_URL" --port-file "$WORK/proxy.port" --rules "$WORK/rules.json" >"$WORK/proxy.log" 2>&1 &
PIDS+=($!)
for ((i = 0; i < 100; i++)); do [ -s "$WORK/proxy.port" ] && break; sleep 0.05; done
[ -s "$WORK/proxy.port" ] || { cat "$WORK/proxy.log" >&2; die "faultproxy did not start"; }
PROXY_URL="http://127.0.0.1:$(tr -d '[:space:]' <"$WORK/proxy.port")"
curl -sS --fail --max-time 10 "$PROXY_URL/__faultproxy/rules" >/dev/null || die "faultproxy admin API not answering at $PROXY_URL"

export AWS_ENDPOINT_URL="$PROXY_URL"
export AWS_ACCESS_KEY_ID=testing AWS_SECRET_ACCESS_KEY=testing
export AWS_REGION=us-east-1 AWS_DEFAULT_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export PROVISIONER_POLL_INTERVAL_MS=50 NO_COLOR=1
# Bound the tool's own waits and retries (e.g. DependencyViolation on a VPC an orphan keeps busy): an
# emulator answers at once, and a failing trial should fail in seconds, not after the 10-minute default.
export PROVISIONER_WAIT_TIMEOUT_SECS="${PROVISIONER_WAIT_TIMEOUT_SECS:-30}"
# Warm moto's EC2 backend up (lazy, ~2 s on the first call) so the first trial's kill window is fair.
"$PYTHON" -c 'import boto3,sys; boto3.client("ec2", endpoint_url=sys.argv[1], region_name="us-east-1").describe_regions()' \
    "$MOTO_URL" || die "moto EC2 warm-up call failed"

# ---------------------------------------------------------------- how this binary selects the environment
if "$PROVISIONER" --help 2>&1 | grep -q -- '--workspace'; then
    WORKSPACE=1 ENV_DESC="-w $ENV_NAME" STATE_REL=".provisioner/$ENV_NAME/state.json"
else
    WORKSPACE=0 ENV_DESC="--var-file env/$ENV_NAME.toml" STATE_REL=".provisioner/state.json"
fi
# prod's database is protected (deletion_protection and prevent_destroy, one variable): the soak is about
# crashes, so it applies and destroys it unprotected, as the documented destroy path does.
PROTECT_ARGS=()
if grep -q '^\[variable.protect\]' "$STACK_SRC"/*.toml; then PROTECT_ARGS=(--var protect=false); fi
# cli_args DIR SUBCOMMAND ARGS...: sets ARGV to the CLI arguments for stack DIR in the prod environment.
cli_args() {
    local dir="$1" sub="$2"; shift 2
    case "$sub" in apply|plan|destroy) set -- "${PROTECT_ARGS[@]}" "$@" ;; esac
    if [ "$WORKSPACE" = 1 ]; then
        ARGV=(-C "$dir" -w "$ENV_NAME" "$sub" "$@")
    elif [ "$sub" = force-unlock ]; then
        ARGV=(-C "$dir" "$sub" "$@")
    else
        ARGV=(-C "$dir" "$sub" --var-file "env/$ENV_NAME.toml" "$@")
    fi
}
# step LOG DIR SUBCOMMAND ARGS...: runs the CLI into LOG and returns its exit code. A command still
# running after SOAK_STEP_TIMEOUT gets SIGTERM (SIGKILL 10 s later) and returns 124.
step() {
    local out="$1"; shift
    cli_args "$@"
    timeout -k 10 "$STEP_TIMEOUT" "$PROVISIONER" "${ARGV[@]}" </dev/null >"$out" 2>&1
}
# why RC LOG: "exited RC (see LOG)", or "timed out" for 124.
why() { if [ "$1" = 124 ]; then echo "timed out after ${STEP_TIMEOUT} s (see $2)"; else echo "exited $1 (see $2)"; fi; }

log "soak: $TRIALS trials, seed $SEED, ${LATENCY_MS} ms per request, kill after ${KILL_MIN_MS}-${KILL_MAX_MS} ms"
log "soak: environment selected with '$ENV_DESC', state in <stack>/$STATE_REL; work dir $WORK"
log "soak: moto $MOTO_URL, faultproxy $PROXY_URL"

# ---------------------------------------------------------------- the shared stack, once
# plans/hello reads the ECR repositories' outputs of plans/shared (`data.stack.shared`): apply a copy of it
# first, once for all trials, and point every trial at it. Each trial gets its own `project`, since load
# balancer, role and log group names are account-wide.
HAS_SHARED=0
if grep -q 'shared_stack_dir' "$STACK_SRC"/*.toml 2>/dev/null; then
    HAS_SHARED=1
    cp -R "$REPO/plans/shared" "$WORK/shared"
    rm -rf "$WORK/shared/.provisioner"
    timeout -k 10 "$STEP_TIMEOUT" "$PROVISIONER" -C "$WORK/shared" apply --auto-approve </dev/null >"$WORK/shared.log" 2>&1 \
        || die "applying plans/shared failed (see $WORK/shared.log)"
    export PROVISIONER_VAR_shared_stack_dir="$WORK/shared"
fi

# ---------------------------------------------------------------- trials
RANDOM="$SEED"  # seeds bash's generator: the same seed gives the same kill delays
FAILED=0 KILLED=0
FAILURES=()
for ((t = 1; t <= TRIALS; t++)); do
    name="soak-$SEED-$t"
    tdir="$WORK/trial$t"
    sdir="$tdir/stack"
    mkdir -p "$tdir"
    cp -R "$STACK_SRC" "$sdir"
    rm -rf "$sdir/.provisioner"
    sed -i "/^\[stack\]/,/^\[/ s/^name *=.*/name = \"$name\"/" "$sdir/stack.toml"
    grep -q "^name = \"$name\"" "$sdir/stack.toml" || die "could not rename the stack in $sdir/stack.toml"
    [ "$HAS_SHARED" = 1 ] && export PROVISIONER_VAR_project="s$SEED-$t"
    state="$sdir/$STATE_REL"
    delay_ms=$(( KILL_MIN_MS + (RANDOM * 32768 + RANDOM) % (KILL_MAX_MS - KILL_MIN_MS + 1) ))
    reasons=()

    # 1. apply, killed with SIGKILL after delay_ms (the process itself, not a wrapper).
    cli_args "$sdir" apply --auto-approve
    "$PROVISIONER" "${ARGV[@]}" </dev/null >"$tdir/apply1.log" 2>&1 &
    APPLY_PID=$!
    sleep "$(printf '%d.%03d' $((delay_ms / 1000)) $((delay_ms % 1000)))"
    kill -KILL "$APPLY_PID" 2>/dev/null || true
    rc=0; wait "$APPLY_PID" 2>/dev/null || rc=$?   # (2>/dev/null: no "Killed" job notice)
    APPLY_PID=
    if [ "$rc" = 137 ]; then
        KILLED=$((KILLED + 1))
        at="killed mid-apply"
    else
        at="apply had finished (exit $rc)"
        [ "$rc" = 0 ] || reasons+=("first apply exited $rc before the kill (see apply1.log)")
    fi
    in_state_at_kill="$(python3 -c 'import json,sys
try: print(len(json.load(open(sys.argv[1]))["resources"]))
except FileNotFoundError: print(0)' "$state" 2>/dev/null || echo '?')"

    # 2. stale lock.
    if [ -f "$state.lock" ]; then
        lock_id="$(python3 -c 'import json,sys; print(json.load(open(sys.argv[1]))["id"])' "$state.lock" 2>/dev/null || true)"
        if [ -z "$lock_id" ]; then
            reasons+=("unreadable lock file $state.lock")
        elif ! step "$tdir/unlock.log" "$sdir" force-unlock "$lock_id"; then
            reasons+=("force-unlock $lock_id failed (see unlock.log)")
        fi
    fi

    # 3.-6.
    rc=0; step "$tdir/apply2.log" "$sdir" apply --auto-approve || rc=$?
    [ "$rc" = 0 ] || reasons+=("second apply $(why "$rc" apply2.log)")
    [ -f "$state" ] || reasons+=("no state file at $state (has the state location changed?)")
    # The check reads moto directly (not through the proxy's injected latency).
    rc=0; "$PYTHON" "$REPO/scripts/soak_check.py" --state "$state" --stack "$name" --endpoint "$MOTO_URL" >"$tdir/check.log" 2>&1 || rc=$?
    [ "$rc" = 0 ] || reasons+=("check after re-apply failed: $(grep -c '^(' "$tdir/check.log" || true) problem(s) (see check.log)")
    rc=0; step "$tdir/plan.log" "$sdir" plan --detailed-exitcode || rc=$?
    [ "$rc" = 0 ] || reasons+=("plan --detailed-exitcode $(why "$rc" plan.log)")
    rc=0; step "$tdir/destroy.log" "$sdir" destroy --auto-approve || rc=$?
    [ "$rc" = 0 ] || reasons+=("destroy $(why "$rc" destroy.log)")
    # After destroy the state is empty: any stack-tagged object still there is left behind. Only asked
    # when the check above passed, so one orphan is not reported twice.
    if [ "$rc" = 0 ] && [ "${#reasons[@]}" = 0 ]; then
        "$PYTHON" "$REPO/scripts/soak_check.py" --state "$state" --stack "$name" --endpoint "$MOTO_URL" >"$tdir/check_destroyed.log" 2>&1 \
            || reasons+=("destroy left objects behind (see check_destroyed.log)")
    fi

    if [ "${#reasons[@]}" = 0 ]; then
        log "trial $t/$TRIALS ok: kill at ${delay_ms} ms, $at, $in_state_at_kill state records then"
        [ "${SOAK_KEEP:-0}" = 1 ] || rm -rf "$tdir"
    else
        FAILED=$((FAILED + 1))
        KEEP_WORK=1
        log "trial $t/$TRIALS FAILED: kill at ${delay_ms} ms, $at, $in_state_at_kill state records then; logs in $tdir"
        for r in "${reasons[@]}"; do log "    - $r"; done
        sed 's/^/      /' "$tdir/check.log" | grep -v '^ *soak_check:' >&2 || true
        FAILURES+=("trial $t (kill at ${delay_ms} ms, $at): $(IFS=';'; echo "${reasons[*]}" | sed 's/;/; /g')")
    fi
done

echo "soak: seed $SEED (SOAK_SEED=$SEED reproduces the kill delays)"
echo "soak: $TRIALS trials, $FAILED failed, $KILLED killed mid-apply"
if [ "$FAILED" != 0 ]; then
    printf '  %s\n' "${FAILURES[@]}"
    echo "soak: logs of failed trials are in $WORK"
    exit 1
fi
