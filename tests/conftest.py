"""pytest options shared by the suite."""

from __future__ import annotations

import pytest


def pytest_addoption(parser):
    parser.addoption(
        "--run-slow", action="store_true", default=False, help="also run tests marked slow"
    )


def pytest_collection_modifyitems(config, items):
    if config.getoption("--run-slow"):
        return
    skip = pytest.mark.skip(reason="slow: run with --run-slow (make test-slow)")
    for item in items:
        if "slow" in item.keywords:
            item.add_marker(skip)


# Optional peers are asked for by the tests that compare against them, so a missing peer skips
# only those tests and everything else in the file still runs.
@pytest.fixture(scope="session")
def xgb():
    """The xgboost module (the test is skipped where it is not installed)."""
    return pytest.importorskip("xgboost")


@pytest.fixture(scope="session")
def boruta():
    """BorutaPy's ``boruta`` module (the test is skipped where it is not installed)."""
    return pytest.importorskip("boruta")


@pytest.fixture(scope="session")
def dask_client():
    """A client of a two-worker ``LocalCluster`` (processes, one thread each), shared by the
    Dask tests; skipped where ``distributed`` is not installed."""
    distributed = pytest.importorskip("distributed")
    cluster = distributed.LocalCluster(
        n_workers=2,
        threads_per_worker=1,
        processes=True,
        dashboard_address=":0",
    )
    client = distributed.Client(cluster)
    try:
        yield client
    finally:
        client.close()
        cluster.close()
