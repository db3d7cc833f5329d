"""The installed package carries the CUDA sources it was built from."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from sapwood import _native
from sapwood.gpu import _sources

REPO_CUDA = Path(__file__).resolve().parent.parent / "cuda"


def test_extension_embeds_every_kernel_file():
    embedded = _native.cuda_sources()
    assert list(embedded) == list(_sources.KERNEL_FILES)
    for name in _sources.PROGRAM_FILES:
        assert "__global__" in embedded[name]
        assert '#include "common.cuh"' in embedded[name]


def test_runtime_reads_the_embedded_sources(monkeypatch):
    monkeypatch.delenv("SAPWOOD_CUDA_DIR", raising=False)
    _sources.raw_sources.cache_clear()
    try:
        assert _sources.raw_sources() == _native.cuda_sources()
    finally:
        _sources.raw_sources.cache_clear()


@pytest.mark.skipif(not REPO_CUDA.is_dir(), reason="runs from a source checkout only")
def test_embedded_sources_match_the_source_tree():
    """A stale build (cuda/ edited, extension not rebuilt) fails here."""
    embedded = _native.cuda_sources()
    for name in _sources.KERNEL_FILES:
        assert embedded[name] == (REPO_CUDA / name).read_text(encoding="utf-8"), name
    assert sorted(p.name for p in REPO_CUDA.iterdir()) == sorted(_sources.KERNEL_FILES)


def test_source_override_directory(monkeypatch, tmp_path):
    for name, text in _native.cuda_sources().items():
        (tmp_path / name).write_text(text.replace("namespace sapwood", "namespace sapwood "))
    monkeypatch.setenv("SAPWOOD_CUDA_DIR", os.fspath(tmp_path))
    _sources.raw_sources.cache_clear()
    _sources.program_source.cache_clear()
    try:
        assert "namespace sapwood " in _sources.program_source("softmax.cu")
    finally:
        _sources.raw_sources.cache_clear()
        _sources.program_source.cache_clear()
