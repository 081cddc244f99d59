"""Critical path of an apply: the longest chain of dependent operations, weighted by how long each took.

Usage: critical_path.py STATE_JSON APPLY_LOG
Reads each resource's duration from the apply log ("ADDRESS: Creation complete after 1.2s") and its
dependencies from the state; prints "<critical path ms> <resources on it> <chain>". The wall time of the
apply can be no shorter than this path: their ratio says how much of the apply is waiting on the graph
rather than on the tool.
"""
import json
import re
import sys

state = json.load(open(sys.argv[1]))
durations = {}
for line in open(sys.argv[2], encoding="utf-8", errors="replace"):
    m = re.search(r"^(\S.*?): Creation complete after ([0-9.]+)s", line.strip())
    if m:
        durations[m.group(1)] = float(m.group(2)) * 1000
deps = {
    r["address"]: [d for d in r.get("dependencies", []) if d in durations]
    for r in state["resources"]
    if r.get("mode", "managed") == "managed" and r["address"] in durations
}
memo = {}


def longest(addr, seen=()):
    if addr in memo:
        return memo[addr]
    if addr in seen:  # never happens in a DAG; guard anyway
        return (0.0, [])
    best = (0.0, [])
    for d in deps.get(addr, []):
        cand = longest(d, seen + (addr,))
        if cand[0] > best[0]:
            best = cand
    memo[addr] = (best[0] + durations.get(addr, 0.0), best[1] + [addr])
    return memo[addr]


total, chain = max((longest(a) for a in deps), default=(0.0, []))
print(f"{round(total)} {len(chain)} {' -> '.join(chain)}")
