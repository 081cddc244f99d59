#!/usr/bin/env bash
# Tests plan.sh, sticky-comment.sh and require-s3-state.sh with a fake `provisioner` and a fake `gh` on PATH (run by
# .ci/workflow-lint.sh, so by `make test`). Needs jq (the fake gh applies the real script's jq filter).
set -uo pipefail   # no -e: each test is a command whose status `check` reads

here=$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)
root=$(cd "$here/../.." && pwd)
fake=$(mktemp -d)
trap 'rm -rf "$fake"' EXIT
export FAKE="$fake" PATH="$fake/bin:$PATH"
mkdir -p "$fake/bin"
passed=0 failed=0
ok() { echo "ok   $1"; passed=$((passed + 1)); }
fail() { echo "FAIL $1" >&2; failed=$((failed + 1)); }
# check NAME: counts the exit status of the command just before as the result of the test NAME.
check() { if [ "$?" = 0 ]; then ok "$1"; else fail "$1"; fi; }

# provisioner: logs its arguments; `output --raw image_tag` prints $FAKE_TAG (fails when empty); `plan`
# prints a Markdown plan, some progress on stderr, and exits $FAKE_RC.
cat >"$fake/bin/provisioner" <<'EOF'
#!/usr/bin/env bash
echo "$*" >>"$FAKE/provisioner.log"
case " $* " in
  *" output --raw image_tag "*) [ -n "${FAKE_TAG:-}" ] || { echo "no output image_tag" >&2; exit 1; }; echo "$FAKE_TAG" ;;
  *" plan "*) echo "Plan: 1 to change"; echo "refreshing…" >&2; exit "${FAKE_RC:-0}" ;;
  *) exit 1 ;;
esac
EOF
# gh: `api --paginate URL --jq FILTER` applies FILTER to $FAKE/comments.json; `api --method M URL -F
# body=@FILE` keeps the body in $FAKE/M.body and logs the call.
cat >"$fake/bin/gh" <<'EOF'
#!/usr/bin/env bash
echo "$*" >>"$FAKE/gh.log"
args=("$@")
for i in "${!args[@]}"; do
  case ${args[$i]} in
    --jq) filter=${args[$((i + 1))]} ;;
    --method) method=${args[$((i + 1))]} ;;
    body=@*) body=${args[$i]#body=@} ;;
  esac
done
if [ "${args[1]}" = --paginate ]; then jq -r "$filter" "$FAKE/comments.json"; exit; fi
cp "$body" "$FAKE/$method.body"
echo "https://github.invalid/comment"
EOF
chmod +x "$fake/bin/provisioner" "$fake/bin/gh"
cd "$root" || exit 1

# -- plan.sh -----------------------------------------------------------------------------------------
for rc in 0 2 1; do
  : >"$fake/provisioner.log"
  got=0
  FAKE_TAG=abc123 FAKE_RC=$rc GITHUB_STEP_SUMMARY="$fake/summary.md" \
    bash "$here/plan.sh" plans/hello staging "$fake/plan.md" 2>/dev/null || got=$?
  [ "$got" = "$rc" ]
  check "plan.sh exits with the plan's code $rc"
done
grep -qx -- "-C plans/hello -w staging plan --lock=false --detailed-exitcode --format markdown --var image_tag=abc123" "$fake/provisioner.log"
check "plan.sh plans without the lock, with --detailed-exitcode, in Markdown, with the deployed image_tag"
grep -q "plan failed\*\* (exit 1)" "$fake/plan.md" && grep -q "refreshing" "$fake/plan.md" && ! grep -q "Plan: 1" "$fake/plan.md"
check "plan.sh shows the error, not a plan, when the plan failed"
[ "$(grep -c "^### " "$fake/summary.md")" = 3 ]
check "plan.sh appends each plan to the job summary"
: >"$fake/provisioner.log"
FAKE_TAG="" bash "$here/plan.sh" plans/hello prod "$fake/plan.md" >/dev/null 2>&1 || true
grep -q " plan " "$fake/provisioner.log" && ! grep -q "image_tag=" "$fake/provisioner.log"
check "plan.sh plans with the stack's default image_tag when the state has none"
: >"$fake/provisioner.log"
ZONE_NAME=example.com bash "$here/plan.sh" plans/shared default "$fake/plan.md" >/dev/null 2>&1
grep -q -- "--var zone_name=example.com" "$fake/provisioner.log" && ! grep -q image_tag "$fake/provisioner.log"
check "plan.sh passes ZONE_NAME to plans/shared, and asks it no image_tag"

# -- sticky-comment.sh -------------------------------------------------------------------------------
marker='<!-- provisioner-plan -->'
printf 'the plans\n' >"$fake/body.md"
comment() { GITHUB_REPOSITORY=o/r PR_NUMBER=7 bash "$here/sticky-comment.sh" "$marker" "$1" >/dev/null; }

# Someone else's comment carries the marker too: it must not be the one updated.
jq -n --arg m "$marker" '[{id: 1, user: {login: "mallory"}, body: ($m + "\nfake")}]' >"$fake/comments.json"
: >"$fake/gh.log"
comment "$fake/body.md"
grep -q "^api --method POST repos/o/r/issues/7/comments " "$fake/gh.log" && ! grep -q PATCH "$fake/gh.log"
check "sticky-comment.sh creates the comment when the bot has none (another user's marker ignored)"
[ "$(head -n 1 "$fake/POST.body")" = "$marker" ] && grep -qx "the plans" "$fake/POST.body"
check "sticky-comment.sh starts the body with the marker"

jq -n --arg m "$marker" '[{id: 1, user: {login: "mallory"}, body: ($m + "\nfake")},
  {id: 2, user: {login: "github-actions[bot]"}, body: "an unrelated comment"},
  {id: 3, user: {login: "github-actions[bot]"}, body: ($m + "\nold plans")}]' >"$fake/comments.json"
: >"$fake/gh.log"
comment "$fake/body.md"
grep -q "^api --method PATCH repos/o/r/issues/comments/3 " "$fake/gh.log" && ! grep -q POST "$fake/gh.log"
check "sticky-comment.sh updates the bot's marked comment in place"

python3 -c 'print("é" * 40000)' >"$fake/big.md"
comment "$fake/big.md"
[ "$(wc -c <"$fake/PATCH.body")" -le 65536 ] && grep -q "cut here" "$fake/PATCH.body" && iconv -f UTF-8 -t UTF-8 "$fake/PATCH.body" >/dev/null
check "sticky-comment.sh cuts a body over the limit, on a character boundary"

# require-s3-state.sh, in a copy of the repository's layout: the committed (local) backends are refused,
# naming the file; S3 backends pass.
repo=$fake/repo
mkdir -p "$repo/plans/shared" "$repo/plans/hello"
cp "$root"/plans/shared/backend.toml "$repo/plans/shared/"
cp "$root"/plans/hello/backend.toml "$repo/plans/hello/"
(cd "$repo" && ! bash "$here/require-s3-state.sh" >"$fake/s3.out" 2>&1) && grep -q "file=plans/hello/backend.toml::" "$fake/s3.out" && grep -q "file=plans/shared/backend.toml::" "$fake/s3.out"
check "require-s3-state.sh refuses a state on the runner, naming each stack"
for s in shared hello; do printf '[backend]\ntype = "s3"\nbucket = "b"\nkey = "%s/state.json"\n' "$s" >"$repo/plans/$s/backend.toml"; done
(cd "$repo" && bash "$here/require-s3-state.sh")
check "require-s3-state.sh lets S3 states through"

echo "workflow-scripts: $passed passed, $failed failed"
[ "$failed" = 0 ]
