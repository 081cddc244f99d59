#!/usr/bin/env bash
# Read-only plan of one stack and workspace, in Markdown, for the pull-request plan (deploy.yml) and the
# drift check (drift.yml):
#
#   plan.sh STACK_DIR WORKSPACE MARKDOWN_OUT
#
# Runs `provisioner plan --lock=false --detailed-exitcode --format markdown` (a role that may only read the
# state takes no lock) and writes MARKDOWN_OUT: a heading, then the plan, or the error when it failed; the
# same is appended to the job summary ($GITHUB_STEP_SUMMARY) when there is one. Exits with the plan's code:
# 0 no changes, 2 changes, anything else an error.
#
# A stack with an `image_tag` variable (plans/hello) is planned with the tag its state deploys now, read
# with `output --raw image_tag`: images are pushed and deployed from main only, so a plan of a pull request
# or a drift check compares the infrastructure, not "latest" against the deployed commit. A stack with a
# `zone_name` variable (plans/shared) gets $ZONE_NAME when it is set, as the deploy applies it.
set -uo pipefail

dir=${1:?usage: plan.sh STACK_DIR WORKSPACE MARKDOWN_OUT}
ws=${2:?usage: plan.sh STACK_DIR WORKSPACE MARKDOWN_OUT}
out=${3:?usage: plan.sh STACK_DIR WORKSPACE MARKDOWN_OUT}
stack=(provisioner -C "$dir" -w "$ws")
vars=()

declares() { grep -qs "^\[variable\.$1\]" "$dir"/*.toml; }

if declares image_tag; then
  if tag=$("${stack[@]}" output --raw image_tag 2>/dev/null) && [ -n "$tag" ]; then
    echo "plan.sh: $dir ($ws) deploys image_tag $tag now: planning with it" >&2
    vars+=(--var "image_tag=$tag")
  else
    echo "::warning::$dir ($ws): no image_tag in the state (never applied?): planning with the stack's default"
  fi
fi
if declares zone_name && [ -n "${ZONE_NAME:-}" ]; then
  vars+=(--var "zone_name=$ZONE_NAME")
fi

md=$(mktemp)
err=$(mktemp)
trap 'rm -f "$md" "$err"' EXIT
"${stack[@]}" plan --lock=false --detailed-exitcode --format markdown "${vars[@]}" >"$md" 2>"$err"
rc=$?
cat "$err" >&2

case $rc in
  0) status="no changes" ;;
  2) status="changes" ;;
  *) status="**plan failed** (exit $rc)" ;;
esac
{
  echo "### \`$dir\` · \`$ws\`: $status"
  echo
  if [ "$rc" = 0 ] || [ "$rc" = 2 ]; then
    cat "$md"
  else
    echo '```text'
    tail -n 60 "$err"
    echo '```'
  fi
  echo
} >"$out"
if [ -n "${GITHUB_STEP_SUMMARY:-}" ]; then
  cat "$out" >>"$GITHUB_STEP_SUMMARY"
fi
exit "$rc"
