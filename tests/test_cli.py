"""The ``sapwood`` command line: ``info`` and ``demo``, as a console script and as ``-m``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import sapwood
from sapwood.cli import main


def test_info_lists_versions_threads_and_gpu(capsys):
    assert main(["info"]) == 0
    out = capsys.readouterr().out
    for key in ("sapwood", "python", "numpy", "rustc", "cores", "cpu_features", "cupy"):
        assert key in out
    assert sapwood.__version__ in out


def test_info_json_is_machine_readable(capsys):
    assert main(["info", "--json"]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["sapwood"] == sapwood.__version__
    assert info["threads_default"] == info["cores"]
    assert info["gpu_devices"] >= 0


def test_demo_runs_every_section(capsys):
    assert main(["demo"]) == 0
    out = capsys.readouterr().out
    assert f"sapwood {sapwood.__version__} demo" in out
    from sapwood._demo import SECTIONS

    for section in SECTIONS:
        assert f"== {section.title} ==" in out


def test_demo_rejects_unknown_section(capsys):
    assert main(["demo", "no-such-section"]) == 2
    assert "unknown demo section" in capsys.readouterr().out


def test_version_flag(capsys):
    with pytest.raises(SystemExit) as exit_info:
        main(["--version"])
    assert exit_info.value.code == 0
    assert sapwood.__version__ in capsys.readouterr().out


def test_python_dash_m_runs_info():
    result = subprocess.run(
        [sys.executable, "-m", "sapwood", "info"], capture_output=True, text=True, check=True
    )
    assert sapwood.__version__ in result.stdout


def test_console_script_runs_info():
    script = Path(sys.executable).with_name("sapwood")
    assert script.exists(), f"console script missing beside {sys.executable}"
    result = subprocess.run([str(script), "info"], capture_output=True, text=True, check=True)
    assert "rustc" in result.stdout
