"""The dispatch table: which kernel instantiation runs a call, and with what launch shape.

Everything here is pure Python on integers, so it is tested without a GPU, and
:func:`all_instantiations` lists every name expression :func:`plan_rows` and the GEMV planners can
emit (the CI compiles each of them with NVRTC).

Row-wise ops (softmax, log_softmax, rms_norm, layer_norm) pick one of three strategies:

=====================  ==================================================================
row length             strategy
=====================  ==================================================================
``cols <= 1024``       ``*_warp``: a warp (or a group of 1-16 lanes when ``cols <= 16``)
                       per row, the row in registers
fits shared memory     ``*_smem``: a 256-thread block per row, the row cached as fp32 in
                       dynamic shared memory (at most half an SM's shared memory, so two
                       rows are in flight per SM)
longer                 ``*_online``: a 1024-thread block per row streaming the row twice,
                       with no more rows in flight than half the L2 cache holds (at
                       least one per SM), so that the second read comes from L2
=====================  ==================================================================

The pack (elements per vector load, up to 16 bytes) is the largest that divides the row length
and the row stride and matches the alignment of every pointer involved.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

#: C++ element type of each supported NumPy/CuPy dtype name.
CTYPES = {"float32": "float", "float16": "__half", "bfloat16": "__nv_bfloat16"}
#: Bytes per element of each supported dtype.
ITEMSIZE = {"float32": 4, "float16": 2, "bfloat16": 2}

WARP_MAX_COLS = 1024
SUBWARP_MAX_COLS = 16
#: Packs per lane the warp strategy is instantiated for (padding wastes registers, not traffic).
PACKS_PER_LANE = (1, 2, 4, 8, 16, 32)
#: Most fp32 values a lane holds in the warp strategy.
WARP_MAX_COLS_PER_LANE = 32
SMEM_BLOCK = 256
ONLINE_BLOCK = 1024
WARP_BLOCK_THREADS = 128
#: Blocks resident per SM that the grid size aims for before grid-striding (as OneFlow does).
WAVES = 32

GEMV_ROWS_PER_WARP = 2
GEMV_BLOCK = 128
GEMV_MAX_BATCH = 8


@dataclass(frozen=True)
class DeviceLimits:
    """The device facts the planner needs (defaults: an H100, sm_90)."""

    sm_count: int = 132
    max_threads_per_sm: int = 2048
    smem_per_block_optin: int = 232448
    smem_per_sm: int = 233472
    l2_bytes: int = 50 * 1024 * 1024


@dataclass(frozen=True)
class Launch:
    """One kernel launch: the source file, the name expression and the launch shape."""

    file: str
    name: str
    grid: tuple[int, int, int]
    block: tuple[int, int, int]
    shared_mem: int = 0

    @property
    def strategy(self) -> str:
        return self.name.split("<", 1)[0]


def packs_for(dtype: str) -> tuple[int, ...]:
    """Pack sizes (elements per vector load) available for a dtype, largest first."""
    widest = 16 // ITEMSIZE[dtype]
    return tuple(p for p in (8, 4, 2, 1) if p <= widest)


def choose_pack(dtype: str, cols: int, strides: tuple[int, ...], addresses: tuple[int, ...]) -> int:
    """The widest pack that divides ``cols`` and every stride and aligns every address."""
    size = ITEMSIZE[dtype]
    for pack in packs_for(dtype):
        if cols % pack or any(s % pack for s in strides):
            continue
        if any(a % (pack * size) for a in addresses):
            continue
        return pack
    return 1


def _grid(units: int, units_per_block: int, threads: int, limits: DeviceLimits) -> int:
    blocks = math.ceil(units / units_per_block)
    cap = limits.sm_count * max(1, limits.max_threads_per_sm // threads) * WAVES
    return max(1, min(blocks, cap))


def warp_shape(cols: int, pack: int) -> tuple[int, int, int]:
    """(pack, packs per lane, group width) of the warp strategy for a row length."""
    if cols <= SUBWARP_MAX_COLS:
        group = 1
        while group < cols:
            group *= 2
        return 1, 1, group
    need = math.ceil(cols / (32 * pack))
    packs = next(p for p in PACKS_PER_LANE if p >= need)
    if packs * pack > WARP_MAX_COLS_PER_LANE:  # pragma: no cover - excluded by WARP_MAX_COLS
        raise AssertionError(f"no warp shape for {cols} columns with pack {pack}")
    return pack, packs, 32


#: Shared memory a block may use without opting in, static and dynamic together.
DEFAULT_SMEM_PER_BLOCK = 48 * 1024
#: Static shared memory of each kernel family, in bytes: the ``scratch`` arrays of the block
#: reductions (the emulated tests check these against the kernels).
STATIC_SMEM = {
    "softmax_warp": 0,
    "softmax_smem": 32 * 4,
    "softmax_online": 64 * 4,
    "norm_warp": 0,
    "norm_smem": 32 * 4,
    "norm_online": 96 * 4,
    "gemv_dense": 0,
    "gemv_quant": 0,
}
#: Shared memory the driver reserves for each resident block (compute capability 8.0 and later).
RESERVED_SMEM_PER_BLOCK = 1024


def smem_fits(cols: int, limits: DeviceLimits) -> bool:
    """Whether a cached fp32 row fits, leaving room for two blocks per SM.

    A block's shared memory is the cached row, the kernels' static scratch and the driver's
    per-block reserve.
    """
    per_block = cols * 4 + max(STATIC_SMEM["softmax_smem"], STATIC_SMEM["norm_smem"])
    two = 2 * (per_block + RESERVED_SMEM_PER_BLOCK)
    return per_block <= limits.smem_per_block_optin and two <= limits.smem_per_sm


def smem_optin(plan: Launch, static_bytes: int | None = None) -> int:
    """The dynamic shared memory ``plan`` must opt in to before it launches, or 0.

    Without an opt-in a block gets 48 KiB of shared memory for its static and dynamic shared
    memory together, so a dynamic size under 48 KiB can still need one. ``static_bytes`` is the
    compiled kernel's static shared memory; :data:`STATIC_SMEM` when omitted.
    """
    static = STATIC_SMEM[plan.strategy] if static_bytes is None else static_bytes
    if plan.shared_mem and plan.shared_mem + static > DEFAULT_SMEM_PER_BLOCK:
        return plan.shared_mem
    return 0


def plan_rows(
    kind: str,
    dtype: str,
    rows: int,
    cols: int,
    pack: int,
    limits: DeviceLimits | None = None,
) -> Launch:
    """Plan a row-wise op.

    Parameters
    ----------
    kind : {"softmax", "rms_norm", "layer_norm"}
        The op (log_softmax uses the softmax kernels with a run-time flag).
    dtype : str
        ``"float32"``, ``"float16"`` or ``"bfloat16"``.
    rows, cols : int
        The matrix shape; both positive.
    pack : int
        From :func:`choose_pack`.
    limits : DeviceLimits, optional
        The device; an H100 when omitted.
    """
    limits = limits or DeviceLimits()
    if kind not in ("softmax", "rms_norm", "layer_norm"):
        raise ValueError(f"unknown row op {kind!r}")
    file, stem = ("softmax.cu", "softmax") if kind == "softmax" else ("norm.cu", "norm")
    ctype = CTYPES[dtype]
    if cols <= WARP_MAX_COLS:
        pack, packs, group = warp_shape(cols, pack)
        rows_per_block = WARP_BLOCK_THREADS // group
        grid = _grid(rows, rows_per_block, WARP_BLOCK_THREADS, limits)
        name = f"{stem}_warp<{ctype}, {pack}, {packs}, {group}>"
        return Launch(file, name, (grid, 1, 1), (group, rows_per_block, 1))
    if smem_fits(cols, limits):
        grid = _grid(rows, 1, SMEM_BLOCK, limits)
        name = f"{stem}_smem<{ctype}, {pack}, {SMEM_BLOCK}>"
        return Launch(file, name, (grid, 1, 1), (SMEM_BLOCK, 1, 1), cols * 4)
    # The streaming kernels read each row twice; keep the rows in flight within half the L2
    # cache (but at least one per SM) so that the second read hits L2.
    row_bytes = cols * ITEMSIZE[dtype]
    in_flight = (limits.l2_bytes // 2) // row_bytes
    resident = max(limits.sm_count, min(2 * limits.sm_count, in_flight))
    grid = max(1, min(rows, resident))
    name = f"{stem}_online<{ctype}, {pack}, {ONLINE_BLOCK}>"
    return Launch(file, name, (grid, 1, 1), (ONLINE_BLOCK, 1, 1))


def gemv_vecs(dtype: str) -> tuple[int, int]:
    """Vector widths of the dense GEMV: 16 bytes when everything is aligned, else scalar."""
    return 16 // ITEMSIZE[dtype], 1


def choose_gemv_vec(dtype: str, in_features: int, ldw: int, addresses: tuple[int, ...]) -> int:
    """16-byte loads when ``in_features``, the row stride and every address allow, else 1."""
    vec = gemv_vecs(dtype)[0]
    if in_features % vec or ldw % vec or any(a % 16 for a in addresses):
        return 1
    return vec


def plan_gemv(
    dtype: str, out: int, batch: int, vec: int, limits: DeviceLimits | None = None
) -> Launch:
    """Plan a dense GEMV of ``batch`` vectors (1..8) with ``vec`` elements per load."""
    limits = limits or DeviceLimits()
    if vec not in gemv_vecs(dtype):
        raise ValueError(f"no gemv_dense instantiation with {vec} elements per load")
    warps = math.ceil(out / GEMV_ROWS_PER_WARP)
    grid = _grid(warps, GEMV_BLOCK // 32, GEMV_BLOCK, limits)
    name = f"gemv_dense<{CTYPES[dtype]}, {vec}, {batch}>"
    return Launch("gemv.cu", name, (grid, 1, 1), (GEMV_BLOCK, 1, 1))


def plan_gemv_quantized(
    bits: int, x_dtype: str, out: int, batch: int, limits: DeviceLimits | None = None
) -> Launch:
    """Plan a quantised GEMV (``bits`` 8 or 4) of ``batch`` vectors of dtype ``x_dtype``."""
    limits = limits or DeviceLimits()
    warps = math.ceil(out / GEMV_ROWS_PER_WARP)
    grid = _grid(warps, GEMV_BLOCK // 32, GEMV_BLOCK, limits)
    name = f"gemv_quant<{bits}, {CTYPES[x_dtype]}, {batch}>"
    return Launch("gemv.cu", name, (grid, 1, 1), (GEMV_BLOCK, 1, 1))


ROW_DTYPES = ("float32", "float16", "bfloat16")
GEMV_DTYPES = ("float32", "float16")


def all_instantiations() -> dict[str, list[str]]:
    """Every name expression the planners can emit, grouped by source file."""
    names: dict[str, set[str]] = {"softmax.cu": set(), "norm.cu": set(), "gemv.cu": set()}
    no_smem = DeviceLimits(smem_per_block_optin=0, smem_per_sm=0)
    for kind in ("softmax", "rms_norm", "layer_norm"):
        for dtype in ROW_DTYPES:
            for pack in packs_for(dtype):
                launches = [plan_rows(kind, dtype, 1, c, pack) for c in range(pack, 1025, pack)]
                launches.append(plan_rows(kind, dtype, 1, 2048, pack))  # shared memory
                launches.append(plan_rows(kind, dtype, 1, 2048, pack, no_smem))  # streaming
                for launch in launches:
                    names[launch.file].add(launch.name)
    for dtype in GEMV_DTYPES:
        for vec in gemv_vecs(dtype):
            for batch in range(1, GEMV_MAX_BATCH + 1):
                names["gemv.cu"].add(plan_gemv(dtype, 1, batch, vec).name)
    for bits in (8, 4):
        for x_dtype in GEMV_DTYPES:
            for batch in range(1, GEMV_MAX_BATCH + 1):
                names["gemv.cu"].add(plan_gemv_quantized(bits, x_dtype, 1, batch).name)
    return {file: sorted(v) for file, v in names.items()}
