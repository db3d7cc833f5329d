"""Compile the kernels with NVRTC, without CuPy and without a GPU.

The runtime path compiles through CuPy, which needs a device. This module drives NVRTC directly
(``cuda.bindings.nvrtc``, installed with the ``nvrtc`` extra together with the NVRTC library and
the CUDA headers) so that every kernel instantiation can be compiled, and its register use and
spills read from the assembler's report, on a machine with no GPU.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field

from sapwood.gpu._sources import program_source

#: Options shared with the runtime path (CuPy adds the CUDA include directory and the arch).
BASE_OPTIONS = ("--std=c++17",)


@dataclass(frozen=True)
class KernelResources:
    """What the assembler reported for one kernel."""

    registers: int
    spill_stores: int
    spill_loads: int
    stack_frame: int


@dataclass
class CompileResult:
    """The outcome of compiling one program for one architecture."""

    arch: str
    cubin: bytes
    log: str
    #: name expression -> lowered (mangled) name
    lowered: dict[str, str] = field(default_factory=dict)
    #: name expression -> resources from the assembler log
    resources: dict[str, KernelResources] = field(default_factory=dict)


class NvrtcError(RuntimeError):
    """NVRTC rejected a program; the message carries the compiler log."""


def _nvrtc():
    try:
        from cuda.bindings import nvrtc
    except ImportError as exc:  # pragma: no cover - exercised only without the extra
        raise ImportError(
            "compiling without CuPy needs the 'nvrtc' extra: pip install 'sapwood[nvrtc]'"
        ) from exc
    return nvrtc


def _check(result, what: str) -> None:
    nvrtc = _nvrtc()
    if result != nvrtc.nvrtcResult.NVRTC_SUCCESS:
        _, msg = nvrtc.nvrtcGetErrorString(result)
        raise NvrtcError(f"{what} failed: {msg.decode() if isinstance(msg, bytes) else msg}")


def version() -> tuple[int, int]:
    """NVRTC's (major, minor) version."""
    err, major, minor = _nvrtc().nvrtcVersion()
    _check(err, "nvrtcVersion")
    return int(major), int(minor)


def cuda_include_dir() -> str:
    """The CUDA runtime header directory (``cuda_fp16.h`` and friends), as CuPy finds it."""
    from cuda import pathfinder

    found = pathfinder.find_nvidia_header_directory("cudart")
    if not found:
        raise FileNotFoundError("no CUDA runtime headers found (install the 'nvrtc' extra)")
    return str(found)


_FUNCTION = re.compile(r"Function properties for (\S+)")
_FRAME = re.compile(r"(\d+) bytes stack frame, (\d+) bytes spill stores, (\d+) bytes spill loads")
_COMPILING = re.compile(r"Compiling entry function '(\S+)'")
_USED = re.compile(r"Used (\d+) registers")


def parse_ptxas_log(log: str) -> dict[str, KernelResources]:
    """Read registers and spills per mangled kernel name from ``ptxas -v`` output."""
    frames: dict[str, tuple[int, int, int]] = {}
    regs: dict[str, int] = {}
    current_props: str | None = None
    current_entry: str | None = None
    for line in log.splitlines():
        if m := _FUNCTION.search(line):
            current_props = m.group(1)
        elif (m := _FRAME.search(line)) and current_props is not None:
            frames[current_props] = (int(m.group(1)), int(m.group(2)), int(m.group(3)))
            current_props = None
        if m := _COMPILING.search(line):
            current_entry = m.group(1)
        elif (m := _USED.search(line)) and current_entry is not None:
            regs[current_entry] = int(m.group(1))
            current_entry = None
    out = {}
    for name, count in regs.items():
        frame, stores, loads = frames.get(name, (0, 0, 0))
        out[name] = KernelResources(count, stores, loads, frame)
    return out


def compile_program(
    file: str,
    name_expressions: Sequence[str],
    arch: str = "sm_90",
    options: Sequence[str] = (),
) -> CompileResult:
    """Compile one kernel file for ``arch`` (``"sm_90"``, ``"sm_80"``...) to a cubin.

    Parameters
    ----------
    file : str
        ``"softmax.cu"``, ``"norm.cu"`` or ``"gemv.cu"``.
    name_expressions : sequence of str
        The template instantiations to emit, e.g. ``"softmax_warp<float, 4, 8, 32>"``.
    arch : str
        A real architecture; the assembler runs, so registers and spills are reported.
    options : sequence of str
        Extra NVRTC options.

    Returns
    -------
    CompileResult
    """
    nvrtc = _nvrtc()
    source = program_source(file).encode()
    err, prog = nvrtc.nvrtcCreateProgram(source, file.encode(), 0, [], [])
    _check(err, "nvrtcCreateProgram")
    try:
        for expr in name_expressions:
            (err,) = nvrtc.nvrtcAddNameExpression(prog, expr.encode())
            _check(err, f"nvrtcAddNameExpression({expr})")
        opts = [
            *BASE_OPTIONS,
            f"--gpu-architecture={arch}",
            f"--include-path={cuda_include_dir()}",
            "--ptxas-options=--verbose",
            *options,
        ]
        (err,) = nvrtc.nvrtcCompileProgram(prog, len(opts), [o.encode() for o in opts])
        _, size = nvrtc.nvrtcGetProgramLogSize(prog)
        buf = b" " * size
        nvrtc.nvrtcGetProgramLog(prog, buf)
        log = buf.rstrip(b"\x00 ").decode(errors="replace")
        if err != nvrtc.nvrtcResult.NVRTC_SUCCESS:
            raise NvrtcError(f"compiling {file} for {arch} failed:\n{log}")
        err, size = nvrtc.nvrtcGetCUBINSize(prog)
        _check(err, "nvrtcGetCUBINSize")
        cubin = b" " * size
        (err,) = nvrtc.nvrtcGetCUBIN(prog, cubin)
        _check(err, "nvrtcGetCUBIN")
        lowered = {}
        for expr in name_expressions:
            err, name = nvrtc.nvrtcGetLoweredName(prog, expr.encode())
            _check(err, f"nvrtcGetLoweredName({expr})")
            lowered[expr] = name.decode() if isinstance(name, bytes) else str(name)
    finally:
        nvrtc.nvrtcDestroyProgram(prog)
    by_mangled = parse_ptxas_log(log)
    resources = {expr: by_mangled[m] for expr, m in lowered.items() if m in by_mangled}
    return CompileResult(arch, cubin, log, lowered, resources)
