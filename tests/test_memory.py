"""Running out of memory is a MemoryError, never an abort.

Each case runs in a child process that lowers its own address-space limit
(``RLIMIT_AS``) to what it already uses plus a headroom, calls one entry point, and raises the
limit again; it goes through a range of headrooms, from too little for the call's large
buffers to enough for the whole call. At every step the call must either succeed or raise
``MemoryError``, and the interpreter must go on to the next step: a crash, an abort or any
other exception fails the test.
"""

from __future__ import annotations

import subprocess
import sys
import textwrap

import pytest

resource = pytest.importorskip("resource", reason="needs POSIX resource limits")

pytestmark = pytest.mark.skipif(
    not sys.platform.startswith("linux"), reason="RLIMIT_AS is enforced as documented on Linux"
)

CHILD = textwrap.dedent(
    """
    import resource, sys
    import numpy as np
    import sapwood

    def vm_bytes():
        with open("/proc/self/status") as f:
            for line in f:
                if line.startswith("VmSize"):
                    return int(line.split()[1]) * 1024
        raise RuntimeError("no VmSize")

    rng = np.random.default_rng(0)
    X = rng.random((120_000, 20), dtype=np.float32)
    X[::17, 3] = np.nan
    y = (np.nan_to_num(X[:, 0]) + X[:, 1] > 1.0).astype(np.float64)
    pts = np.ascontiguousarray(X[:, 4:7])
    small = sapwood.GBTClassifier(n_estimators=30, max_depth=6, n_jobs=1).fit(X[:3000], y[:3000])
    calls = {
        "hist": lambda: sapwood.GBTClassifier(n_estimators=3, n_jobs=1).fit(X, y),
        "approx": lambda: sapwood.GBTRegressor(
            n_estimators=2, tree_method="approx", n_jobs=1
        ).fit(X, y),
        "exact": lambda: sapwood.GBTClassifier(
            n_estimators=2, tree_method="exact", n_jobs=1
        ).fit(X, y),
        "forest": lambda: sapwood.RFClassifier(n_estimators=40, n_jobs=1).fit(X, y),
        "predict": lambda: (small.predict_proba(X), small.apply(X)),
        "kdtree": lambda: sapwood.KDTree(pts).query(pts, k=6, workers=1),
        "radius": lambda: sapwood.KDTree(pts).query_radius(pts, r=0.05),
        "boruta": lambda: sapwood.BorutaSelector(max_iter=4, n_jobs=1).fit(
            np.nan_to_num(X[:40_000]), y[:40_000]
        ),
    }
    call = calls[sys.argv[1]]
    _, hard = resource.getrlimit(resource.RLIMIT_AS)
    outcomes = []
    for headroom_mib in [int(v) for v in sys.argv[2].split(",")]:
        resource.setrlimit(resource.RLIMIT_AS, (vm_bytes() + headroom_mib * 2**20, hard))
        try:
            call()
            outcome = "ok"
        except MemoryError:
            outcome = "MemoryError"
        finally:
            resource.setrlimit(resource.RLIMIT_AS, (hard, hard))
        outcomes.append(outcome)
        print(headroom_mib, outcome, flush=True)
    # The process is whole after all of that: a last call without a limit succeeds.
    call()
    print("done", " ".join(outcomes), flush=True)
    """
)

HEADROOMS_MIB = [0, 4, 12, 20, 28, 40, 56, 72, 96, 128, 192, 320]


@pytest.mark.parametrize(
    "case", ["hist", "approx", "exact", "forest", "predict", "kdtree", "radius", "boruta"]
)
def test_allocation_failure_is_a_memory_error(case: str) -> None:
    headrooms = ",".join(str(h) for h in HEADROOMS_MIB)
    proc = subprocess.run(
        [sys.executable, "-c", CHILD, case, headrooms],
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    detail = f"exit code {proc.returncode}\nstdout:\n{proc.stdout}\nstderr:\n{proc.stderr[-3000:]}"
    assert proc.returncode == 0, detail
    last = proc.stdout.strip().splitlines()[-1]
    assert last.startswith("done"), detail
    outcomes = last.split()[1:]
    assert len(outcomes) == len(HEADROOMS_MIB), detail
    # The range is wide enough to see both ends: a MemoryError with little headroom, and
    # success once the headroom covers the call.
    assert outcomes[0] == "MemoryError", detail
    assert outcomes[-1] == "ok", detail


def test_memory_error_names_the_buffer() -> None:
    """The message says what could not be allocated and how large it was."""
    code = textwrap.dedent(
        """
        import resource
        import numpy as np
        import sapwood

        X = np.random.default_rng(0).random((300_000, 60), dtype=np.float32)
        y = X[:, 0] > 0.5
        # Start the thread pool first, so that the limit below meets the fit's buffers.
        sapwood.GBTClassifier(n_estimators=1, tree_method="exact", n_jobs=1).fit(X[:50], y[:50])
        with open("/proc/self/status") as f:
            vm = next(int(l.split()[1]) * 1024 for l in f if l.startswith("VmSize"))
        _, hard = resource.getrlimit(resource.RLIMIT_AS)
        resource.setrlimit(resource.RLIMIT_AS, (vm + 16 * 2**20, hard))
        try:
            sapwood.GBTClassifier(n_estimators=2, tree_method="exact", n_jobs=1).fit(X, y)
        except MemoryError as exc:
            print("MemoryError:", exc)
        """
    )
    proc = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=600, check=False
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert "MemoryError: cannot allocate the presorted columns (" in proc.stdout, proc.stdout
    assert "MiB)" in proc.stdout
