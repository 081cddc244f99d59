#!/usr/bin/env python3
"""Time a command as a whole process: timeit.py [--runs R] [--warmup W] -- CMD ARGS...

Prints one JSON object: {"runs": R, "min_ms": .., "median_ms": .., "mean_ms": .., "max_ms": ..}.
Exits non-zero (showing the command's output) if any run fails. Standard library only;
used by run.sh when hyperfine is not installed, and to summarise hyperfine's JSON
(`timeit.py --hyperfine-json FILE`).
"""

import json
import statistics
import subprocess
import sys
import time


def summary(times_s):
    ms = [t * 1000.0 for t in times_s]
    return {
        "runs": len(ms),
        "min_ms": round(min(ms), 2),
        "median_ms": round(statistics.median(ms), 2),
        "mean_ms": round(statistics.fmean(ms), 2),
        "max_ms": round(max(ms), 2),
    }


def main(argv):
    runs, warmup = 10, 1
    if argv[:1] == ["--hyperfine-json"]:
        with open(argv[1]) as f:
            print(json.dumps(summary(json.load(f)["results"][0]["times"])))
        return 0
    while argv and argv[0] != "--":
        flag, value = argv[0], int(argv[1])
        if flag == "--runs":
            runs = value
        elif flag == "--warmup":
            warmup = value
        else:
            sys.exit("timeit.py: unknown flag %s" % flag)
        argv = argv[2:]
    cmd = argv[1:]
    if not cmd:
        sys.exit(__doc__)
    times = []
    for i in range(warmup + runs):
        t0 = time.perf_counter()
        p = subprocess.run(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        dt = time.perf_counter() - t0
        if p.returncode != 0:
            sys.stderr.write(p.stdout.decode(errors="replace"))
            sys.exit("timeit.py: %s exited with %d" % (" ".join(cmd), p.returncode))
        if i >= warmup:
            times.append(dt)
    print(json.dumps(summary(times)))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
