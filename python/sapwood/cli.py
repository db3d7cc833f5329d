"""The ``sapwood`` command line: ``sapwood info`` and ``sapwood demo``."""

from __future__ import annotations

import argparse
import importlib
import json
import platform
import sys
from collections.abc import Sequence

from sapwood import __version__, _native
from sapwood._demo import SECTIONS


def _module_version(name: str) -> str | None:
    try:
        module = importlib.import_module(name)
    except Exception:
        return None
    return str(getattr(module, "__version__", "unknown"))


def _gpu_status() -> dict[str, object]:
    """Whether CuPy is importable and how many CUDA devices it sees (never raises)."""
    status: dict[str, object] = {"cupy": _module_version("cupy"), "gpu_devices": 0, "gpu": None}
    if status["cupy"] is None:
        return status
    try:
        import cupy

        count = int(cupy.cuda.runtime.getDeviceCount())
        status["gpu_devices"] = count
        if count:
            props = cupy.cuda.runtime.getDeviceProperties(0)
            name = props["name"]
            status["gpu"] = name.decode() if isinstance(name, bytes) else str(name)
    except Exception as exc:  # no driver, no device: report, never fail
        status["gpu_error"] = f"{type(exc).__name__}: {exc}"
    return status


def collect_info() -> dict[str, object]:
    """Everything ``sapwood info`` reports, as a dictionary."""
    build = _native.build_info()
    info: dict[str, object] = {
        "sapwood": __version__,
        "python": platform.python_version(),
        "platform": platform.platform(),
        "numpy": _module_version("numpy"),
        "scikit-learn": _module_version("sklearn"),
        "scipy": _module_version("scipy"),
        "rustc": build["rustc"],
        "target": build["target"],
        "build_profile": build["profile"],
        # What the build assumes every machine has, what this processor has, and the vector
        # path each engine takes here: the engines choose from the run-time features.
        "cpu_features_compiled": build["cpu_features_compiled"],
        "cpu_features_runtime": build["cpu_features_runtime"],
        "simd_paths": build["simd_paths"],
        "cores": build["cores"],
        "threads_default": _native.effective_n_jobs(None),
    }
    info.update(_gpu_status())
    return info


def _print_info(as_json: bool) -> int:
    info = collect_info()
    if as_json:
        print(json.dumps(info, indent=2))
        return 0
    width = max(len(k) for k in info)
    for key, value in info.items():
        if isinstance(value, list):
            value = " ".join(map(str, value)) or "(baseline only)"
        elif isinstance(value, dict):
            value = ", ".join(f"{k}: {v}" for k, v in value.items())
        elif value is None:
            value = "not installed" if key in ("cupy", "scikit-learn", "scipy") else "none"
        print(f"{key:<{width}}  {value}")
    return 0


def _run_demo(names: Sequence[str] | None) -> int:
    chosen = [s for s in SECTIONS if not names or s.name in names]
    unknown = sorted(set(names or ()) - {s.name for s in SECTIONS})
    if unknown:
        known = ", ".join(s.name for s in SECTIONS)
        print(f"unknown demo section(s): {', '.join(unknown)}; choose from: {known}")
        return 2
    print(f"sapwood {__version__} demo ({_native.effective_n_jobs(None)} threads)\n")
    for section in chosen:
        print(f"== {section.title} ==")
        section.run()
        print()
    return 0


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="sapwood",
        description="sapwood: boosted trees, kd-tree neighbours, Boruta and GPU kernels.",
    )
    parser.add_argument("--version", action="version", version=f"sapwood {__version__}")
    sub = parser.add_subparsers(dest="command", required=True)
    info = sub.add_parser("info", help="versions, threads, CPU features and GPU availability")
    info.add_argument("--json", action="store_true", help="print the report as JSON")
    demo = sub.add_parser("demo", help="run every capability on built-in or generated data")
    demo.add_argument(
        "sections",
        nargs="*",
        metavar="SECTION",
        help=f"run only these sections ({', '.join(s.name for s in SECTIONS)})",
    )
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    """Entry point of the ``sapwood`` console script."""
    args = build_parser().parse_args(argv)
    if args.command == "info":
        return _print_info(args.json)
    return _run_demo(args.sections)


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
