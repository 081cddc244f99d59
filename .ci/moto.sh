#!/usr/bin/env bash
# Installs the pinned moto, on which the repository's local AWS emulator (scripts/emulator) is built, into
# $REPO/.venv. Idempotent: re-running only checks the pinned version is present. scripts/emulator runs this
# itself on every start; the tests, `make demo` and `make bench` all use scripts/emulator (or $MOTO_SERVER).
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
echo "moto $MOTO_VERSION ready for scripts/emulator ($VENV)"
