"""Shared measuring tools for the side-by-side benchmarks in ``benches/compare``.

Each measurement runs in a fresh child process, so that peak resident memory (``ru_maxrss``
of the child) belongs to that one library and that one job, and no library's thread pools or
caches leak into another's timings.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import resource
import statistics
import time
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Result:
    """One library's numbers for one case."""

    library: str
    seconds: dict[str, float] = field(default_factory=dict)
    metrics: dict[str, float] = field(default_factory=dict)
    peak_rss_mb: float = float("nan")


def _child(job: Callable[[], dict[str, Any]], queue: Any) -> None:
    # scikit-learn warns once per tree when a forest runs inside a spawned process; the
    # message says nothing about the measurement.
    warnings.filterwarnings("ignore", message=".*sklearn.utils.parallel.delayed.*")
    try:
        out = job()
        out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0
        queue.put(("ok", out))
    except BaseException as exc:  # report the failure instead of hanging the parent
        queue.put(("error", f"{type(exc).__name__}: {exc}"))


def run_isolated(job: Callable[[], dict[str, Any]], timeout: float = 3600.0) -> dict[str, Any]:
    """Run ``job`` (a picklable, module-level function returning a dict) in a new process.

    The dict may hold timings (``"fit_s"``, ...) and metrics; ``peak_rss_mb`` is added.
    """
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    proc = ctx.Process(target=_child, args=(job, queue))
    proc.start()
    status, payload = queue.get(timeout=timeout)
    proc.join()
    if status != "ok":
        raise RuntimeError(payload)
    return payload


def timed(fn: Callable[[], Any], repeat: int = 1) -> tuple[float, Any]:
    """Median wall time of ``repeat`` calls of ``fn`` and the last result."""
    times, out = [], None
    for _ in range(repeat):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
    return statistics.median(times), out


def _status_mb(key: str) -> float:
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(key + ":"):
                return int(line.split()[1]) / 1024.0
    return float("nan")


def peak_during(fn: Callable[[], Any]) -> tuple[float, Any]:
    """Peak resident memory that ``fn`` adds (MB above the resident set before the call) and
    its result.

    Where the kernel lets a process reset its high-water mark (Linux ``clear_refs``), this
    leaves out what the process held before, such as the generated data; elsewhere it is NaN.
    """
    try:
        with open("/proc/self/clear_refs", "w") as fh:
            fh.write("5")
        before = _status_mb("VmRSS")
    except OSError:
        return float("nan"), fn()
    out = fn()
    return _status_mb("VmHWM") - before, out


def machine() -> str:
    """A one-line description of the machine the numbers come from."""
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    cpu = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass
    return f"{cpu}; {os.cpu_count()} logical cores; Python {platform.python_version()}"


def table(title: str, rows: Sequence[Sequence[Any]], header: Sequence[str]) -> str:
    """A plain-text table a person can read (and paste into Markdown)."""

    def fmt(v: Any) -> str:
        if isinstance(v, float):
            return f"{v:.4g}"
        return str(v)

    cells = [[fmt(v) for v in row] for row in rows]
    widths = [max(len(h), *(len(r[i]) for r in cells)) for i, h in enumerate(header)]
    line = "| " + " | ".join(h.ljust(w) for h, w in zip(header, widths, strict=True)) + " |"
    rule = "|" + "|".join("-" * (w + 2) for w in widths) + "|"
    body = [
        "| " + " | ".join(c.ljust(w) for c, w in zip(r, widths, strict=True)) + " |" for r in cells
    ]
    return "\n".join([f"### {title}", "", line, rule, *body, ""])


def ratio(ours: float, theirs: float) -> float:
    """ours / theirs (below 1 means sapwood is faster or smaller)."""
    return ours / theirs if theirs else float("nan")
