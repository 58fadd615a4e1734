"""Benchmark of the command line's start: `python bench/startup.py` (one command; not part of the pytest run).

It times, each in a fresh process, `webleads --help`, `webleads site list --db F` and `webleads report
attribution --model last_touch --db F` on a small database made for the run (a site and a little demo
traffic), and a bare `python -c pass` as the floor. The runs go round-robin, so that the load of a shared
machine falls on every command alike. It prints the median wall time of each over --runs runs, its ratio
to the bare interpreter, and the time above it. With -X importtime (--importtime) it also prints the
slowest imports of each command, the place to look when one grows.

    python bench/startup.py [--runs 21] [--db FILE] [--importtime]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def webleads_command() -> list[str]:
    """The installed `webleads` script beside this interpreter, as a user runs it; else python -m webleads."""
    script = Path(sys.executable).with_name("webleads")
    return [str(script)] if script.exists() else [sys.executable, "-m", "webleads"]


def make_database(path: str) -> None:
    run = webleads_command()
    env = {**os.environ, "WEBLEADS_SYSTEM_CONFIG": os.devnull}
    subprocess.run([*run, "site", "add", "bench", "--origin", "https://bench.test", "--db", path], check=True,
                   capture_output=True, env=env)
    subprocess.run([*run, "demo", "--visitors", "200", "--db", path], check=True, capture_output=True, env=env)


def wall(argv: list[str], env: dict[str, str]) -> float:
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, env=env)
    elapsed = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed ({done.returncode}):\n{done.stderr.decode()}")
    return elapsed


def slowest_imports(argv: list[str], env: dict[str, str], top: int = 8) -> list[tuple[int, str]]:
    """(cumulative microseconds, module) of the slowest top-level imports, from -X importtime."""
    python = argv[:1] if argv[0] == sys.executable else [sys.executable]
    rest = argv[1:] if argv[0] == sys.executable else ["-m", "webleads", *argv[1:]]
    done = subprocess.run([*python, "-X", "importtime", *rest], capture_output=True, text=True, env=env)
    found = []
    for line in done.stderr.splitlines():
        if not line.startswith("import time:") or "cumulative" in line:
            continue
        _self, cumulative, name = line[len("import time:"):].split("|")
        if not name.startswith("  "):  # imported by the command itself, not by another module
            found.append((int(cumulative), name.strip()))
    return sorted(found, reverse=True)[:top]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=21, help="runs of each command (the median is printed)")
    parser.add_argument("--db", help="an existing database to list and report on [a small one made for the run]")
    parser.add_argument("--importtime", action="store_true", help="also print the slowest imports of each")
    args = parser.parse_args()
    folder = tempfile.mkdtemp(prefix="webleads-startup-")
    try:
        db = args.db or os.path.join(folder, "bench.duckdb")
        if not args.db:
            make_database(db)
        run = webleads_command()
        env = {**os.environ, "WEBLEADS_SYSTEM_CONFIG": os.devnull}
        commands = {
            "python -c pass": [sys.executable, "-c", "pass"],
            "webleads --help": [*run, "--help"],
            "webleads site list": [*run, "site", "list", "--db", db],
            "webleads report attribution": [*run, "report", "attribution", "--model", "last_touch", "--format",
                                            "csv", "--db", db],
        }
        times: dict[str, list[float]] = {name: [] for name in commands}
        for argv in commands.values():  # a first run of each warms the file cache, untimed
            wall(argv, env)
        for _ in range(args.runs):
            for name, argv in commands.items():
                times[name].append(wall(argv, env))
        base = statistics.median(times["python -c pass"])
        print(f"{args.runs} runs each, median wall time ({' '.join(run)}; {sys.version.split()[0]})")
        print(f"{'command':<30} {'median':>9} {'x python':>9} {'above':>9}")
        for name, values in times.items():
            median = statistics.median(values)
            print(f"{name:<30} {median * 1000:7.0f}ms {median / base:8.1f}x {(median - base) * 1000:7.0f}ms")
        if args.importtime:
            for name, argv in commands.items():
                if name.startswith("webleads"):
                    print(f"\nslowest imports of {name} (cumulative):")
                    for micros, module in slowest_imports(argv, env):
                        print(f"  {micros / 1000:7.1f}ms  {module}")
    finally:
        shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
