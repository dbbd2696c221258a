#!/usr/bin/env python
"""Time cascadio.step_to_glb called directly, without the plugin around it.

Prints one JSON object: for each STEP sample, the median wall time in ms over
N runs (and min/max), so the Go side can measure what the plugin adds
(process, gRPC, stats) on the same files. Run it with the plugin's venv:

    plugins/cascadio/.venv/bin/python plugins/cascadio/bench_direct.py -n 10

Files cascadio rejects are timed too (their failure is usually quick) and
marked "ok": false.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

DEFAULT_DIR = Path(__file__).resolve().parents[2].parent / "shared" / "testdata" / "cad"


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-n", "--repeat", type=int, default=5, help="runs per file (default 5)")
    parser.add_argument("--dir", type=Path, default=DEFAULT_DIR, help=f"folder of STEP files (default {DEFAULT_DIR})")
    parser.add_argument("files", nargs="*", type=Path, help="STEP files (default: every .step/.stp in --dir)")
    args = parser.parse_args()
    if args.repeat < 1:
        parser.error("--repeat must be at least 1")

    files = args.files or sorted(p for p in args.dir.iterdir() if p.suffix.lower() in (".step", ".stp"))
    if not files:
        parser.error(f"no STEP files in {args.dir}")

    # OCCT prints to fd 1; keep stdout for the JSON result only.
    sys.stdout.flush()
    result_fd = os.dup(1)
    os.dup2(2, 1)

    import cascadio

    report: dict = {"cascadio": cascadio.__version__, "repeat": args.repeat, "files": {}}
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "out.glb")
        for path in files:
            times = []
            ok = True
            for _ in range(args.repeat):
                start = time.perf_counter()
                rc = cascadio.step_to_glb(str(path.resolve()), out)
                times.append((time.perf_counter() - start) * 1000.0)
                ok = ok and rc == 0
            report["files"][path.name] = {
                "ok": ok,
                "median_ms": round(statistics.median(times), 3),
                "min_ms": round(min(times), 3),
                "max_ms": round(max(times), 3),
            }
    os.write(result_fd, (json.dumps(report, indent=2) + "\n").encode())
    return 0


if __name__ == "__main__":
    sys.exit(main())
