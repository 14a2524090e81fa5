"""Run one command and write its wall and CPU seconds, peak memory and exit code as JSON.

    python -m benchmarks.measured OUT.json COMMAND [ARG ...]

Why a process of its own: Linux keeps, in a process's peak resident memory
(``ru_maxrss``), the peak of the memory it ran in before ``exec``. A child that
``bench.py`` starts directly begins in (a copy of) the benchmark's own memory, so its
peak is never below the benchmark's: with the model and a 5,000-person map loaded, every
child read ~1.6 GiB whatever it used. Started from this small process, the command's
peak is its own (to within this interpreter's ~10 MiB).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time


def measure(command: list[str]) -> dict:
    """Wall and CPU seconds, peak MiB and exit code of ``command``, its output left as it is."""
    start = time.perf_counter()
    process = subprocess.Popen(command)
    _, status, usage = os.wait4(process.pid, 0)
    return {"wall": time.perf_counter() - start, "cpu": usage.ru_utime + usage.ru_stime,
            "peak_mib": usage.ru_maxrss / 1024,  # Linux reports KiB
            "exit": os.waitstatus_to_exitcode(status)}


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: python -m benchmarks.measured OUT.json COMMAND [ARG ...]", file=sys.stderr)
        return 2
    out, command = argv[0], argv[1:]
    with open(out, "w", encoding="utf-8") as handle:
        json.dump(measure(command), handle)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
