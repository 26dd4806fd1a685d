"""Start-up time of the `phonehome` command: wall time of a few commands that do little, and what they import.

Each command runs --runs times as a fresh process (`python -m toolkit ...`, what the `phonehome` console script
runs) with this interpreter, from a temporary folder, with PYTHONPATH set to this checkout. The minimum is the
figure to compare with the goals (the machine's load only adds to it); the median is printed beside it. Then
`python -X importtime` of each command prints its slowest imports (cumulative microseconds).

Goals on a 2-core machine: `--help` and `--version` <= 0.3 s, `doctor` <= 1 s (it imports androguard on purpose,
to check that it works). For scale, the bare interpreter start (`python -c pass`, with this machine's site
packages) is measured too.

    python bench/startup.py [--runs 7] [--top 8]
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]  # --root measures another checkout (e.g. an older commit)
COMMANDS: dict[str, list[str]] = {
    "python -c pass": ["-c", "pass"],
    "phonehome --version": ["-m", "toolkit", "--version"],
    "phonehome --help": ["-m", "toolkit", "--help"],
    "phonehome apk scan --help": ["-m", "toolkit", "apk", "scan", "--help"],
    "phonehome doctor": ["-m", "toolkit", "doctor"],
}
GOALS = {"phonehome --version": 0.3, "phonehome --help": 0.3, "phonehome apk scan --help": 0.3, "phonehome doctor": 1.0}


_root = ROOT


def _env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = str(_root)
    env.pop("PYTHONPROFILEIMPORTTIME", None)
    return env


def wall_times(args: list[str], runs: int, cwd: str) -> list[float]:
    times = []
    for _ in range(runs):
        started = time.perf_counter()
        subprocess.run([sys.executable, *args], cwd=cwd, env=_env(), stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL, check=False)
        times.append(time.perf_counter() - started)
    return times


def slowest_imports(args: list[str], top: int, cwd: str) -> list[tuple[int, str]]:
    """(cumulative µs, module) of the `top` slowest top-level imports of one run."""
    done = subprocess.run([sys.executable, "-X", "importtime", *args], cwd=cwd, env=_env(), capture_output=True,
                          text=True, check=False)
    rows = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "|" not in line:
            continue
        _, cumulative, raw = line.split(":", 1)[1].split("|")
        depth = (len(raw) - len(raw.lstrip()) - 1) // 2
        if cumulative.strip().isdigit() and depth <= 1:  # what the command imports and what those import directly
            rows.append((int(cumulative), "  " * depth + raw.strip()))
    return sorted(rows, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--top", type=int, default=8)
    parser.add_argument("--root", type=Path, default=ROOT, help="checkout to measure (default: this one)")
    args = parser.parse_args()
    global _root
    _root = args.root.resolve()
    print(f"{_root}: python {sys.version.split()[0]} at {sys.executable}; load average {os.getloadavg()[0]:.2f}")
    with tempfile.TemporaryDirectory() as cwd:
        print(f"{'command':30} {'min s':>7} {'median s':>9} {'goal s':>7}")
        for label, command in COMMANDS.items():
            times = wall_times(command, args.runs, cwd)
            goal = GOALS.get(label)
            verdict = "" if goal is None else ("ok" if min(times) <= goal else "OVER")
            print(f"{label:30} {min(times):7.3f} {statistics.median(times):9.3f} {goal or '':>7} {verdict}")
        for label, command in COMMANDS.items():
            if command[0] == "-c":
                continue
            print(f"\n-X importtime {label}: slowest imports (cumulative ms)")
            for micros, name in slowest_imports(command, args.top, cwd):
                print(f"  {micros / 1000:8.1f}  {name}")


if __name__ == "__main__":
    main()
