#!/usr/bin/env bash
# `make demo`: the tool's main job against the local AWS emulator (scripts/emulator), no AWS account needed.
# Deploys the application of plans/ to the `dev` environment and then deploys a new image tag:
#   1. apply plans/shared (the image repositories and a DNS zone, `demo.example`, made up: it exists only in
#      the emulator) and plans/hello -w dev with `-var domain=dev.demo.example` (network, dual-stack load
#      balancer with HTTPS, the certificate validated through Route 53, A/AAAA records, ECS cluster, the api
#      and frontend Fargate services), watching the services' first deployment; a second plan shows no
#      changes; the outputs: the URL (https://dev.demo.example) and the load balancer's own DNS name;
#   2. a new `image_tag`: the plan is exactly two new task-definition revisions and two service updates;
#   3. apply it, with the deploy's progress lines; the old revisions are deregistered once the new ones run;
#   4. destroy both stacks.
# The stacks are copied to target/demo, so the repository's plans/ get no state files.
set -euo pipefail
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
bin=${PROVISIONER_BIN:-$root/target/debug/provisioner}
work=$root/target/demo
rm -rf "$work/plans"
mkdir -p "$work"
cp -r plans "$work/plans"
rm -rf "$work"/plans/*/.provisioner
shared=$work/plans/shared
hello=$work/plans/hello

# The emulator's deployments take a few polls to complete, as on AWS (where it takes minutes), so the
# watch and its progress lines show.
export EMULATOR_ECS_POLLS=${EMULATOR_ECS_POLLS:-6}
trap 'bash scripts/moto.sh stop "$work"' EXIT
bash scripts/moto.sh start "$work"
export AWS_ENDPOINT_URL=$(cat "$work/moto.url")
export AWS_ACCESS_KEY_ID=demo AWS_SECRET_ACCESS_KEY=demo AWS_REGION=us-east-1 AWS_EC2_METADATA_DISABLED=true
export PROVISIONER_POLL_INTERVAL_MS=${PROVISIONER_POLL_INTERVAL_MS:-500} PROVISIONER_PROGRESS_SECS=${PROVISIONER_PROGRESS_SECS:-1}
# Bold headings on a terminal only (and never with NO_COLOR), like the CLI itself.
if [ -t 1 ] && [ -z "${NO_COLOR:-}" ]; then b=$'\033[1m' n=$'\033[0m'; else b='' n=''; fi
step() { printf '\n%s==> %s%s\n' "$b" "$*" "$n"; }

zone=demo.example
domain=(-var "domain=dev.$zone")
step "provisioner -C plans/shared apply -auto-approve -var zone_name=$zone   (emulator at $AWS_ENDPOINT_URL)"
"$bin" -C "$shared" apply -auto-approve -var "zone_name=$zone"
step "provisioner -C plans/hello workspace list"
"$bin" -C "$hello" workspace list
step "provisioner -C plans/hello -w dev plan -var domain=dev.$zone -out plan.json"
"$bin" -C "$hello" -w dev plan "${domain[@]}" -out "$work/plan.json"
step "provisioner -C plans/hello -w dev apply plan.json   (watches the services' first deployment)"
"$bin" -C "$hello" -w dev apply "$work/plan.json"
step "provisioner -C plans/hello -w dev plan -var domain=dev.$zone -detailed-exitcode   (expect: no changes, exit 0)"
"$bin" -C "$hello" -w dev plan "${domain[@]}" -detailed-exitcode
step "provisioner -C plans/hello -w dev output"
"$bin" -C "$hello" -w dev output
url=$("$bin" -C "$hello" -w dev output -raw url)
lb=$("$bin" -C "$hello" -w dev output -raw load_balancer_dns_name)
printf '\nThe application: %s   (its load balancer: %s)\n' "$url" "$lb"

step "provisioner -C plans/hello -w dev plan -var domain=dev.$zone -var image_tag=v2 -out deploy.json   (a new image: 2 revisions, 2 service updates)"
"$bin" -C "$hello" -w dev plan "${domain[@]}" -var image_tag=v2 -out "$work/deploy.json"
# The plan must be exactly that: nothing else in the environment moves when only the image changes.
python3 -c '
import json, sys
plan = json.load(open(sys.argv[1]))
changes = sorted((c["action"], c["address"]) for c in plan["changes"] if c["action"] not in ("no_op", "read"))
want = [("replace", "ecs_task_definition.service[\"api\"]"), ("replace", "ecs_task_definition.service[\"frontend\"]"),
        ("update", "ecs_service.app[\"api\"]"), ("update", "ecs_service.app[\"frontend\"]")]
if changes != sorted(want):
    sys.exit("demo: the image change plans %r, expected %r" % (changes, sorted(want)))
print("The plan is exactly the two new task-definition revisions and the two service updates.")' "$work/deploy.json"
step "provisioner -C plans/hello -w dev apply deploy.json   (the deploy, watched until the new revision runs)"
"$bin" -C "$hello" -w dev apply "$work/deploy.json"

step "provisioner -C plans/hello -w dev destroy -var domain=dev.$zone -auto-approve"
"$bin" -C "$hello" -w dev destroy "${domain[@]}" -auto-approve
step "provisioner -C plans/shared destroy -var zone_name=$zone -auto-approve"
"$bin" -C "$shared" destroy -var "zone_name=$zone" -auto-approve
printf '\n%sDemo complete.%s\n' "$b" "$n"
