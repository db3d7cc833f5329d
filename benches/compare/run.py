"""Run every side-by-side benchmark in this folder and print their tables.

Usage: ``python benches/compare/run.py [NAME ...]`` where NAME is a benchmark module in this
folder (``feature_selection``, ...); no NAME runs all of them. A module must not share its name
with a package it imports. Each module has a ``main`` that prints its own table with ratios
against the peers.
"""

from __future__ import annotations

import importlib
import inspect
import pkgutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
NOT_BENCHMARKS = {"harness", "run", "workloads"}  # workloads times sapwood alone


def available() -> list[str]:
    return sorted(m.name for m in pkgutil.iter_modules([str(HERE)]) if m.name not in NOT_BENCHMARKS)


def main(argv: list[str]) -> int:
    sys.path.insert(0, str(HERE))
    names = argv or available()
    unknown = set(names) - set(available())
    if unknown:
        print(f"unknown benchmark(s) {sorted(unknown)}; available: {available()}")
        return 2
    from harness import machine

    print(f"machine: {machine()}\n")
    for name in names:
        module = importlib.import_module(name)
        # Each benchmark parses its own command line: run it with its defaults.
        sys.argv = [str(HERE / f"{name}.py")]
        if inspect.signature(module.main).parameters:
            module.main([])
        else:
            module.main()
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
