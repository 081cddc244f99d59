#!/usr/bin/env bash
# `make demo`: the whole life of a stack against the local AWS emulator (scripts/emulator, a stand-in for
# AWS built on moto), no AWS account needed:
# validate, plan, apply, a second plan that shows no changes, outputs, destroy — in the stack's `dev`
# workspace (environment): its own state, and env/dev.toml as its variables.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${PROVISIONER_BIN:-$root/target/debug/provisioner}
work=$root/target/demo
stack=examples/network
export PROVISIONER_WORKSPACE=dev
trap 'bash scripts/moto.sh stop "$work"' EXIT
bash scripts/moto.sh start "$work"
export AWS_ENDPOINT_URL=$(cat "$work/moto.url")
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export PROVISIONER_POLL_INTERVAL_MS=200
rm -rf "$stack/.provisioner"
# Bold headings on a terminal only (and never with NO_COLOR), like the CLI itself.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then b=$'\033[1m' n=$'\033[0m'; else b='' n=''; fi
step() { printf '\n%s==> %s%s\n' "$b" "$*" "$n"; }
step "provisioner -C $stack validate"
"$bin" -C "$stack" validate
step "provisioner -C $stack workspace list"
"$bin" -C "$stack" workspace list
step "provisioner -C $stack -w dev plan -out plan.json   (emulator at $AWS_ENDPOINT_URL)"
"$bin" -C "$stack" plan -out "$work/plan.json"
step "provisioner -C $stack -w dev apply plan.json"
"$bin" -C "$stack" apply "$work/plan.json"
step "provisioner -C $stack -w dev plan -detailed-exitcode   (expect: no changes, exit 0)"
"$bin" -C "$stack" plan -detailed-exitcode -v
step "provisioner -C $stack -w dev output"
"$bin" -C "$stack" output
step "provisioner -C $stack -w dev destroy -auto-approve"
"$bin" -C "$stack" destroy -auto-approve
printf '\n%sDemo complete.%s\n' "$b" "$n"
