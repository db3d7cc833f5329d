"""The sections of ``sapwood demo``: each capability shows itself on built-in or generated data.

A section is a name, a title and a function that prints its results. Nothing is downloaded.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from sapwood import _native


@dataclass(frozen=True)
class Section:
    name: str
    title: str
    run: Callable[[], None]


def _threads() -> None:
    """The thread policy every engine follows."""
    for n_jobs in (None, -1, 1, 2):
        print(f"  n_jobs={n_jobs!s:<5} -> {_native.effective_n_jobs(n_jobs)} thread(s)")
    print(f"  numpy {np.__version__}; GIL released during every long Rust call")


def _timed(label: str, fn: Callable[[], object]) -> object:
    start = time.perf_counter()
    out = fn()
    print(f"  {label:<40} {time.perf_counter() - start:8.3f} s")
    return out


SECTIONS: list[Section] = [
    Section("threads", "Thread policy", _threads),
]
