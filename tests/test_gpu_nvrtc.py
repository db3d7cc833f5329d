"""Every kernel instantiation the dispatcher can emit compiles with NVRTC, with no GPU.

NVRTC, the CUDA headers and the Python bindings come from pip wheels (the ``nvrtc`` extra). Each
kernel file is compiled for sm_90 (H100/H200) and sm_80 (A100) to a cubin, so the assembler runs
and reports registers and spills; no kernel may spill. The six compilations run in two worker
processes.
"""

from __future__ import annotations

import multiprocessing
from concurrent.futures import ProcessPoolExecutor

import pytest

pytest.importorskip("cuda.bindings.nvrtc", reason="needs the 'nvrtc' extra")

from sapwood.gpu import _dispatch, _nvrtc

ARCHS = ("sm_90", "sm_80")
FILES = ("softmax.cu", "norm.cu", "gemv.cu")


def _compile(job: tuple[str, str]) -> tuple[str, str, int, dict, dict]:
    file, arch = job
    names = _dispatch.all_instantiations()[file]
    result = _nvrtc.compile_program(file, names, arch)
    resources = {
        k: (v.registers, v.spill_stores, v.spill_loads) for k, v in result.resources.items()
    }
    return file, arch, len(result.cubin), result.lowered, resources


@pytest.fixture(scope="module")
def compiled() -> dict[tuple[str, str], tuple[int, dict, dict]]:
    jobs = [(f, a) for f in FILES for a in ARCHS]
    ctx = multiprocessing.get_context("spawn")
    with ProcessPoolExecutor(max_workers=2, mp_context=ctx) as pool:
        results = list(pool.map(_compile, jobs))
    return {(f, a): (size, lowered, res) for f, a, size, lowered, res in results}


def test_nvrtc_from_wheels_targets_hopper():
    major, _ = _nvrtc.version()
    assert major >= 12
    assert _nvrtc.cuda_include_dir().endswith("include")


@pytest.mark.parametrize("arch", ARCHS)
@pytest.mark.parametrize("file", FILES)
def test_every_instantiation_compiles_without_spills(compiled, file, arch):
    size, lowered, resources = compiled[(file, arch)]
    names = _dispatch.all_instantiations()[file]
    assert size > 0
    assert sorted(lowered) == names  # every name expression became a kernel
    assert set(resources) == set(names)  # and the assembler reported on each
    spilling = {n: r for n, r in resources.items() if r[1] or r[2]}
    assert not spilling, f"register spills for {arch}: {spilling}"
    assert all(0 < r[0] <= 255 for r in resources.values())


def test_main_strategies_are_all_covered():
    names = _dispatch.all_instantiations()
    for stem, file in [("softmax", "softmax.cu"), ("norm", "norm.cu")]:
        for strategy in ("warp", "smem", "online"):
            for ctype in ("float", "__half", "__nv_bfloat16"):
                assert any(n.startswith(f"{stem}_{strategy}<{ctype},") for n in names[file])
    assert any(n.startswith("gemv_quant<4, __half, 8>") for n in names["gemv.cu"])
    assert any(n.startswith("gemv_dense<__half, 8, 1>") for n in names["gemv.cu"])


def test_compile_errors_carry_the_log():
    with pytest.raises(_nvrtc.NvrtcError, match=r"no_such_kernel|identifier"):
        _nvrtc.compile_program("softmax.cu", ["no_such_kernel<float>"], "sm_90")


def test_ptxas_log_parser():
    log = (
        "ptxas info    : Compiling entry function '_Z1kv' for 'sm_90'\n"
        "ptxas info    : Function properties for _Z1kv\n"
        "ptxas         .     8 bytes stack frame, 4 bytes spill stores, 12 bytes spill loads\n"
        "ptxas info    : Used 40 registers, used 1 barriers\n"
    )
    res = _nvrtc.parse_ptxas_log(log)["_Z1kv"]
    assert (res.registers, res.spill_stores, res.spill_loads, res.stack_frame) == (40, 4, 12, 8)
