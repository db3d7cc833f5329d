"""Turn the side-by-side benchmarks' output into the documentation's benchmark page.

The benchmarks in ``benches/compare/`` print Markdown tables (``harness.table``) and a few
plain lines. This script runs them, records their output with the machine and the versions
they ran with, and writes ``docs/benchmarks.md`` from that record, so that every number on the
page comes with where it was measured.

Usage::

    python docs/bench_report.py run [--quick] [NAME ...]    # measure, save a record, write the page
    python docs/bench_report.py render RECORD               # the page from a saved record
    python docs/bench_report.py render --empty              # the page with no measurements yet

``run`` saves its record as JSON under ``benches/compare/results/`` (not committed) and writes
the page; NAME is a benchmark in ``benches/compare/`` (default: every comparison with peers).
``--quick`` runs each on a small case, to check the pipeline in a minute or two; its numbers
say little. ``render`` also reads the saved standard output of ``benches/compare/run.py``
(a ``.txt`` or ``.md`` file); the page then states the versions installed when it was
rendered, since that output does not record them.
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import platform
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
BENCHES = ROOT / "benches" / "compare"
PAGE = ROOT / "docs" / "benchmarks.md"
RESULTS = BENCHES / "results"

# The comparisons with peers, in the page's order. workloads.py times sapwood alone (to
# compare two builds of it), so it has no place on a page about the peers.
BENCHMARKS = [
    "boost_exact",
    "boost_hist",
    "boost_cases",
    "categorical",
    "ranking",
    "explain",
    "neighbors",
    "feature_selection",
]

# Small cases for --quick: each still goes through every peer and every table.
QUICK_ARGS = {
    "boost_exact": ["--rows", "5000", "--trees", "10", "--repeat", "1"],
    "boost_hist": ["--rows", "5000", "--repeat", "1"],
    "boost_cases": ["--quick", "--repeat", "1"],
    "categorical": ["--rows", "20000", "--trees", "10"],
    "ranking": ["--queries", "1000", "--trees", "10"],
    "explain": ["--rows", "500", "--inter-rows", "20", "--trees", "10", "--repeat", "1"],
    "neighbors": ["--scale", "0.005", "--repeat", "1"],
    "feature_selection": ["--quick", "--seeds", "1", "--repeat", "1"],
}

# Whose versions the page states: sapwood, what it is built on, and every peer.
PACKAGES = [
    "sapwood",
    "numpy",
    "scipy",
    "scikit-learn",
    "xgboost-cpu",
    "xgboost",
    "lightgbm",
    "pykdtree",
    "Boruta",
]

NOTE = """\
Every number on this page comes from one run of the side-by-side benchmarks in
`benches/compare/`, on the machine and with the versions stated below; timings from another
machine, another load or other versions differ. To measure on your own machine and replace
this page, install the peers and run, from the repository root:

```bash
pip install '.[bench]' && python docs/bench_report.py run
```

The full run takes a long time (the boosting cases fit 1,000,000 rows). Each benchmark's
docstring in `benches/compare/` says what it measures; ratios below 1 mean sapwood is faster
or smaller.
"""


def versions() -> dict[str, str]:
    """Installed versions of sapwood, its dependencies and the peers."""
    found = {}
    for name in PACKAGES:
        try:
            found[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return found


def git_commit() -> str | None:
    try:
        out = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        )
    except (OSError, subprocess.CalledProcessError):
        return None
    dirty = subprocess.run(["git", "diff", "--quiet", "HEAD"], cwd=ROOT, check=False)
    return out.stdout.strip() + (" with uncommitted changes" if dirty.returncode else "")


def machine() -> str:
    sys.path.insert(0, str(BENCHES))
    try:
        from harness import machine as harness_machine
    finally:
        sys.path.remove(str(BENCHES))
    return f"{harness_machine()}; {platform.platform()}"


def measure(names: list[str], quick: bool) -> dict[str, Any]:
    """Run each benchmark in its own interpreter and record its output."""
    runs = []
    for name in names:
        args = QUICK_ARGS.get(name, []) if quick else []
        command = [sys.executable, str(BENCHES / f"{name}.py"), *args]
        print(f"running {name} {' '.join(args)}", file=sys.stderr, flush=True)
        # The benchmark's stderr (warnings, progress) goes to the terminal as it comes.
        done = subprocess.run(command, cwd=ROOT, stdout=subprocess.PIPE, text=True, check=False)
        if done.returncode:
            raise SystemExit(f"{name} failed with exit code {done.returncode}; no page written")
        runs.append({"name": name, "args": args, "output": done.stdout})
    return {
        "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "machine": machine(),
        "versions": versions(),
        "commit": git_commit(),
        "quick": quick,
        "versions_measured": True,
        "runs": runs,
    }


def record_from_text(path: Path) -> dict[str, Any]:
    """A record from the saved standard output of ``benches/compare/run.py``."""
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    machine_line = next((ln for ln in lines if ln.startswith("machine:")), None)
    modified = dt.datetime.fromtimestamp(path.stat().st_mtime, dt.timezone.utc)
    return {
        "date": modified.strftime("%Y-%m-%d %H:%M UTC") + " (when the output was saved)",
        "machine": machine_line.split(":", 1)[1].strip() if machine_line else "not recorded",
        "versions": versions(),
        "commit": None,
        "quick": False,
        "versions_measured": False,
        "runs": [{"name": path.name, "args": [], "output": text}],
    }


def markdown_from_output(output: str) -> str:
    """Markdown for one benchmark's output: its tables stay tables, its headings headings,
    and every other line is shown as printed (some benchmarks align columns with spaces)."""
    blocks: list[str] = []
    kind: str | None = None
    current: list[str] = []

    def flush() -> None:
        if not current:
            return
        if kind == "text":
            blocks.append("```text\n" + "\n".join(current) + "\n```")
        else:
            blocks.append("\n".join(current))
        current.clear()

    for line in output.splitlines():
        stripped = line.strip()
        if not stripped:
            flush()
            kind = None
            continue
        if stripped.startswith("#"):
            flush()
            # The benchmark's own heading sits under the page's heading for that benchmark.
            blocks.append("### " + stripped.lstrip("#").strip())
            kind = None
            continue
        this = "table" if stripped.startswith("|") else "text"
        if this != kind:
            flush()
            kind = this
        current.append(stripped if this == "table" else line.rstrip())
    flush()
    return "\n\n".join(blocks)


def render(record: dict[str, Any] | None) -> str:
    """The benchmark page for ``record``, or the page that says no run is recorded yet."""
    parts = ["# Benchmarks against the peers", "", NOTE]
    if record is None:
        parts += [
            "## Measurements",
            "",
            "No run is recorded here yet: the project has not published a full run with its "
            "machine and versions. Run the command above to make this page from your own "
            "measurements.",
            "",
        ]
        return "\n".join(parts)
    parts += ["## Where these numbers come from", ""]
    if record["quick"]:
        parts += [
            "```{warning}",
            "These numbers come from a `--quick` run: small cases that check that every "
            "benchmark runs, too small to compare speed.",
            "```",
            "",
        ]
    versions_note = (
        "versions the benchmarks ran with"
        if record.get("versions_measured", True)
        else "versions installed when this page was made (the saved output does not record "
        "those it ran with)"
    )
    rows = [
        ("measured", record["date"]),
        ("machine", record["machine"]),
        ("sapwood commit", record.get("commit") or "not recorded"),
    ]
    parts += ["| | |", "|---|---|", *(f"| {k} | {v} |" for k, v in rows), ""]
    parts += [
        f"Package {versions_note}:",
        "",
        "| package | version |",
        "|---|---|",
        *(f"| {k} | {v} |" for k, v in record["versions"].items()),
        "",
    ]
    for run in record["runs"]:
        parts += [f"## {run['name']}", ""]
        if run["name"] in BENCHMARKS:
            command = " ".join(["python", f"benches/compare/{run['name']}.py", *run["args"]])
            parts += [f"`{command}`", ""]
        parts += [markdown_from_output(run["output"]), ""]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = parser.add_subparsers(dest="command", required=True)
    run = sub.add_parser("run", help="run the benchmarks, save a record, write the page")
    run.add_argument("names", nargs="*", help=f"benchmarks to run (default: {BENCHMARKS})")
    run.add_argument("--quick", action="store_true", help="small cases, to check the pipeline")
    run.add_argument("--out", type=Path, default=PAGE)
    ren = sub.add_parser("render", help="write the page from a saved record or output")
    ren.add_argument("record", type=Path, nargs="?", help="a .json record or saved run.py output")
    ren.add_argument("--empty", action="store_true", help="the page with no measurements")
    ren.add_argument("--out", type=Path, default=PAGE)
    args = parser.parse_args(argv)

    if args.command == "run":
        unknown = sorted(set(args.names) - set(BENCHMARKS))
        if unknown:
            parser.error(f"unknown benchmark(s) {unknown}; available: {BENCHMARKS}")
        record = measure(args.names or BENCHMARKS, args.quick)
        RESULTS.mkdir(parents=True, exist_ok=True)
        stamp = dt.datetime.now(dt.timezone.utc).strftime("%Y%m%d-%H%M%S")
        saved = RESULTS / f"{stamp}{'-quick' if args.quick else ''}.json"
        saved.write_text(json.dumps(record, indent=1) + "\n", encoding="utf-8")
        print(f"record saved to {saved}", file=sys.stderr)
    elif args.empty:
        record = None
    elif args.record is None:
        parser.error("render needs a RECORD or --empty")
    elif args.record.suffix == ".json":
        record = json.loads(args.record.read_text(encoding="utf-8"))
    else:
        record = record_from_text(args.record)
    args.out.write_text(render(record), encoding="utf-8")
    print(f"wrote {args.out}", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
