#!/usr/bin/env bash
# Installs the AWS emulator (moto server) used by the provisioner's integration tests into $REPO/.venv.
# Idempotent: re-running only checks the pinned version is present. Tests find the server at
# $MOTO_SERVER or $REPO/.venv/bin/moto_server.
set -euo pipefail

MOTO_VERSION="5.2.5"
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"

if [ ! -x "$VENV/bin/python" ]; then
    python3 -m venv "$VENV"
fi

installed="$("$VENV/bin/python" -c 'import importlib.metadata as m; print(m.version("moto"))' 2>/dev/null || true)"
if [ "$installed" != "$MOTO_VERSION" ] || [ ! -x "$VENV/bin/moto_server" ]; then
    "$VENV/bin/pip" install --quiet --disable-pip-version-check "moto[server]==$MOTO_VERSION"
fi

"$VENV/bin/moto_server" --help >/dev/null
echo "moto $MOTO_VERSION ready: $VENV/bin/moto_server"
