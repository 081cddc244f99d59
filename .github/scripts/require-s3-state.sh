#!/usr/bin/env bash
# Refuses to go on while a stack's state would live on the runner: a runner's disk is gone when the job ends,
# and a state with it (the next run would plan to create everything again). Each stack's backend.toml must
# say `type = "s3"` — the bootstrap (README.md, "Running it from GitHub Actions") makes the bucket and
# gives the tables.
set -euo pipefail
bad=0
for f in plans/*/backend.toml; do
  if ! grep -Eq '^[[:space:]]*type[[:space:]]*=[[:space:]]*"s3"' "$f"; then
    echo "::error file=$f::$f keeps the state on the runner, where it is lost when the job ends: run the bootstrap (README.md, \"Running it from GitHub Actions\") and commit its [backend] type = \"s3\" table here"
    bad=1
  fi
done
exit "$bad"
