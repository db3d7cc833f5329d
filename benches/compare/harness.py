"""Shared measuring tools for the side-by-side benchmarks in ``benches/compare``.

Each measurement runs in a fresh child process, so that peak resident memory (``ru_maxrss``
of the child) belongs to that one library and that one job, and no library's thread pools or
caches leak into another's timings.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import platform
import queue as queue_module
import resource
import sys
import tempfile
import time
import traceback
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


def _child(job: Callable[[], dict[str, Any]], queue: Any, stderr_path: str) -> None:
    # The parent reads this file back when the child dies, so that a crash arrives with the
    # child's own last words rather than as a silent missing result.
    fd = os.open(stderr_path, os.O_WRONLY | os.O_APPEND)
    os.dup2(fd, 2)
    os.close(fd)
    # scikit-learn warns once per tree when a forest runs inside a spawned process; the
    # message says nothing about the measurement.
    warnings.filterwarnings("ignore", message=".*sklearn.utils.parallel.delayed.*")
    try:
        out = job()
        out.setdefault("peak_rss_mb", resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0)
        queue.put(("ok", out))
    except BaseException:  # report the failure instead of hanging the parent
        queue.put(("error", traceback.format_exc().rstrip()))


class ChildFailed(RuntimeError):
    """A measurement's child process raised, died or ran out of time."""


def _tail(path: str, lines: int = 20) -> str:
    try:
        with open(path, errors="replace") as fh:
            text = fh.read().rstrip()
    except OSError:
        return ""
    return "\n".join(text.splitlines()[-lines:])


def run_isolated(
    job: Callable[[], dict[str, Any]],
    timeout: float | None = None,
    poll: float = 0.2,
    daemon: bool = True,
) -> dict[str, Any]:
    """Run ``job`` (a picklable, module-level function returning a dict) in a new process.

    The dict may hold timings (``"fit_s"``, ...) and metrics; ``peak_rss_mb`` (the child's
    peak resident memory) is added unless the job reports its own.

    The parent watches the child while it waits: a child that dies without a result (a
    segfault, the out-of-memory killer, ``os._exit``) raises :class:`ChildFailed` at once with
    its exit code and the end of its standard error, and a child still running after
    ``timeout`` seconds (default: ``$SAPWOOD_BENCH_TIMEOUT`` or 3600) is killed and reported
    the same way. A job that starts processes of its own (a Dask ``LocalCluster``) needs
    ``daemon=False``: a daemonic process may not have children.
    """
    if timeout is None:
        timeout = float(os.environ.get("SAPWOOD_BENCH_TIMEOUT", "3600"))
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    with tempfile.NamedTemporaryFile("w", prefix="sapwood-bench-", suffix=".err") as err:
        proc = ctx.Process(target=_child, args=(job, queue, err.name), daemon=daemon)
        proc.start()
        deadline = time.monotonic() + timeout
        result = None
        try:
            while result is None:
                try:
                    result = queue.get(timeout=poll)
                except queue_module.Empty:
                    if not proc.is_alive():
                        # Its last put may still be in the pipe: one short look before
                        # calling it a crash.
                        try:
                            result = queue.get(timeout=1.0)
                        except queue_module.Empty:
                            raise ChildFailed(
                                f"{_name(job)}: child exited with code {proc.exitcode} "
                                f"and no result{_stderr_note(err.name)}"
                            ) from None
                    elif time.monotonic() > deadline:
                        proc.kill()
                        raise ChildFailed(
                            f"{_name(job)}: no result after {timeout:.0f} s, child killed"
                            f"{_stderr_note(err.name)}"
                        ) from None
        finally:
            if proc.is_alive():
                proc.join(timeout=5.0)
            if proc.is_alive():
                proc.kill()
                proc.join()
        status, payload = result
        if status != "ok":
            raise ChildFailed(f"{_name(job)} raised in the child:\n{payload}")
        # Whatever the child wrote to standard error (warnings, progress) still reaches the
        # person running the benchmark.
        leftover = _tail(err.name, lines=10_000)
        if leftover:
            sys.stderr.write(leftover + "\n")
    return payload


def _name(job: Callable[..., Any]) -> str:
    func = getattr(job, "func", job)
    args = getattr(job, "args", ())
    name = getattr(func, "__name__", repr(func))
    return f"{name}{args!r}" if args else name


def _stderr_note(path: str) -> str:
    tail = _tail(path)
    # A child that fails while it starts (before the job runs) writes to the parent's stderr.
    return f"; its stderr ends:\n{tail}" if tail else " (its stderr from the job is empty)"


def best_of(
    fn: Callable[[], Any],
    repeat: int = 3,
    warmup: Callable[[], Any] | None = None,
    enough_after: float = float("inf"),
) -> tuple[float, Any]:
    """Best wall time of ``repeat`` calls of ``fn``, after one untimed call of ``warmup``
    (``fn`` itself when None), and the last result.

    The warm-up pays for what only the first call pays (imports, thread pools starting, code
    and data paged in); the best of the timed calls is the least disturbed by the rest of the
    machine. A cheap warm-up (the same call on a slice of the data) serves where one more full
    call would cost too much. A call that takes longer than ``enough_after`` seconds ends the
    repeats: noise is small next to it.
    """
    (warmup or fn)()
    times, out = [], None
    for _ in range(max(1, repeat)):
        start = time.perf_counter()
        out = fn()
        times.append(time.perf_counter() - start)
        if times[-1] > enough_after:
            break
    return min(times), out


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


def profiling() -> bool:
    """Whether ``SAPWOOD_PROFILE`` asks for sapwood's per-phase timers."""
    return os.environ.get("SAPWOOD_PROFILE", "") not in ("", "0")


def profile_reset() -> None:
    """Start sapwood's per-phase timers from zero (after a warm-up, say)."""
    if profiling():
        from sapwood import _native

        _native.grow_profile(reset=True)


def profile_read(n_fits: int) -> dict[str, float] | None:
    """sapwood's per-phase seconds (summed over threads) per fit since the last reset, or
    None when not profiling."""
    if not profiling():
        return None
    from sapwood import _native

    report = _native.grow_profile(reset=True)
    return {k: float(v) / max(1, n_fits) for k, v in report.items() if k != "enabled"}


def profile_table(title: str, profile: dict[str, float] | None) -> str:
    """A table of one fit's phases, or an empty string when not profiling."""
    if not profile:
        return ""
    total = sum(profile.values()) or 1.0
    rows = [[phase, secs, f"{100 * secs / total:.0f}%"] for phase, secs in profile.items()]
    return table(
        f"{title}: sapwood's phases per fit (thread-seconds)", rows, ["phase", "s", "share"]
    )
