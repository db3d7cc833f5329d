"""The CUDA sources of the kernels, as shipped inside the extension module.

``cuda/*.cu`` in the source tree is the single source of truth; the build embeds those files in
``sapwood._native`` (``cuda_sources()``), so an installed wheel always carries the exact sources
it was built from. Setting ``SAPWOOD_CUDA_DIR`` to a directory reads the files from there instead
(for working on the kernels without rebuilding the extension).
"""

from __future__ import annotations

import functools
import os
import re
from pathlib import Path

#: The kernel files, in the order they are listed; ``common.cuh`` is included by the others.
KERNEL_FILES = ("common.cuh", "softmax.cu", "norm.cu", "gemv.cu")
#: The files that hold ``__global__`` kernels (one CuPy ``RawModule`` source each).
PROGRAM_FILES = ("softmax.cu", "norm.cu", "gemv.cu")

_INCLUDE = re.compile(r'^\s*#\s*include\s+"([^"]+)"\s*$', re.MULTILINE)


@functools.cache
def raw_sources() -> dict[str, str]:
    """Map each kernel file name to its text.

    Returns
    -------
    dict of str to str
        ``{"softmax.cu": "...", ...}`` for every name in :data:`KERNEL_FILES`.
    """
    override = os.environ.get("SAPWOOD_CUDA_DIR")
    if override:
        root = Path(override)
        return {name: (root / name).read_text(encoding="utf-8") for name in KERNEL_FILES}
    from sapwood import _native

    embedded = dict(_native.cuda_sources())
    missing = [name for name in KERNEL_FILES if name not in embedded]
    if missing:  # pragma: no cover - a broken build
        raise RuntimeError(f"the extension module lacks the CUDA sources {missing}")
    return embedded


@functools.cache
def program_source(file: str) -> str:
    """The self-contained source of one kernel file, with its local includes inlined.

    ``#line`` directives keep compiler messages pointing at the original file and line.
    """
    sources = raw_sources()
    if file not in PROGRAM_FILES:
        raise ValueError(f"unknown kernel file {file!r}; expected one of {PROGRAM_FILES}")
    seen: set[str] = set()

    def expand(name: str) -> str:
        out: list[str] = [f'#line 1 "{name}"']
        for lineno, line in enumerate(sources[name].splitlines(), start=1):
            match = _INCLUDE.match(line)
            if match and match.group(1) in sources:
                included = match.group(1)
                if included not in seen:
                    seen.add(included)
                    out.append(expand(included))
                out.append(f'#line {lineno + 1} "{name}"')
            else:
                out.append(line)
        return "\n".join(out)

    return expand(file) + "\n"
