"""Modules split by concept keep their public paths, and each estimator declares every
parameter once.

The pickles below were written before ``KDTree`` moved to ``sapwood.kdtree`` and the boosting
base and model-file code left ``sapwood.boost`` (they name ``sapwood.neighbors.KDTree``,
``sapwood.neighbors.KNeighborsRegressor`` and ``sapwood.boost.GBTRegressor``); they must keep
loading, and what is pickled now must name the same paths.
"""

from __future__ import annotations

import base64
import pickle

import numpy as np
import pytest

import sapwood
from sapwood import boost, kdtree, neighbors, selection

_OLD_KDTREE = (
    "gASVDwEAAAAAAACMEXNhcHdvb2QubmVpZ2hib3JzlIwGS0RUcmVllJOUKYGUfZQojAd2ZXJzaW9ulEsBjARkYXRh"
    "lIwWbnVtcHkuX2NvcmUubXVsdGlhcnJheZSMDF9yZWNvbnN0cnVjdJSTlIwFbnVtcHmUjAduZGFycmF5lJOUSwCF"
    "lEMBYpSHlFKUKEsBSwNLAoaUaAqMBWR0eXBllJOUjAJmOJSJiIeUUpQoSwOMATyUTk5OSv////9K/////0sAdJRi"
    "iUMwAAAAAAAAAAAAAAAAAAAAAAAAAAAAAPA/AAAAAAAAAAAAAAAAAAAAAAAAAAAAAABAlHSUYowHYm94c2l6ZZRO"
    "jAZwYXJhbXOUSwKIiIeUdWIu"
)

_OLD_KNN = (
    "gASVQwIAAAAAAACMEXNhcHdvb2QubmVpZ2hib3JzlIwTS05laWdoYm9yc1JlZ3Jlc3NvcpSTlCmBlH2UKIwLbl9u"
    "ZWlnaGJvcnOUSwGMB3dlaWdodHOUjAd1bmlmb3JtlIwJYWxnb3JpdGhtlIwEYXV0b5SMCWxlYWZfc2l6ZZRLHowB"
    "cJRLAowGbWV0cmljlIwJbWlua293c2tplIwNbWV0cmljX3BhcmFtc5ROjAZuX2pvYnOUTowObl9mZWF0dXJlc19p"
    "bl+USwGMAl9wlEdAAAAAAAAAAIwFX3RyZWWUaACMBktEVHJlZZSTlCmBlH2UKIwHdmVyc2lvbpRLAYwEZGF0YZSM"
    "Fm51bXB5Ll9jb3JlLm11bHRpYXJyYXmUjAxfcmVjb25zdHJ1Y3SUk5SMBW51bXB5lIwHbmRhcnJheZSTlEsAhZRD"
    "AWKUh5RSlChLAUsCSwGGlGgcjAVkdHlwZZSTlIwCZjiUiYiHlFKUKEsDjAE8lE5OTkr/////Sv////9LAHSUYolD"
    "EAAAAAAAAAAAAAAAAAAA8D+UdJRijAdib3hzaXpllE6MBnBhcmFtc5RLHoiJh5R1YowGX2ZpdF9YlGgijA5uX3Nh"
    "bXBsZXNfZml0X5RLAowRZWZmZWN0aXZlX21ldHJpY1+UjAlldWNsaWRlYW6UjBhlZmZlY3RpdmVfbWV0cmljX3Bh"
    "cmFtc1+UfZSMAl95lGgbaB5LAIWUaCCHlFKUKEsBSwKFlGgoiUMQAAAAAAAACEAAAAAAAAAQQJR0lGJ1Yi4="
)

_OLD_GBT = (
    "gASVkgQAAAAAAACMDXNhcHdvb2QuYm9vc3SUjAxHQlRSZWdyZXNzb3KUk5QpgZR9lCiMDG5fZXN0aW1hdG9yc5RL"
    "AYwNbGVhcm5pbmdfcmF0ZZRHP9MzMzMzMzOMCW1heF9kZXB0aJRLAYwQbWluX2NoaWxkX3dlaWdodJRHP/AAAAAA"
    "AACMBWdhbW1hlEcAAAAAAAAAAIwKcmVnX2xhbWJkYZRHP/AAAAAAAACMCXJlZ19hbHBoYZRHAAAAAAAAAACMDm1h"
    "eF9kZWx0YV9zdGVwlEcAAAAAAAAAAIwJc3Vic2FtcGxllEc/8AAAAAAAAIwQY29sc2FtcGxlX2J5dHJlZZRHP/AA"
    "AAAAAACMEWNvbHNhbXBsZV9ieWxldmVslEc/8AAAAAAAAIwQY29sc2FtcGxlX2J5bm9kZZRHP/AAAAAAAACMEHNj"
    "YWxlX3Bvc193ZWlnaHSURz/wAAAAAAAAjApiYXNlX3Njb3JllE6MC3RyZWVfbWV0aG9klIwFZXhhY3SUjAdtYXhf"
    "YmlulE0AAYwLZ3Jvd19wb2xpY3mUjAlkZXB0aHdpc2WUjAptYXhfbGVhdmVzlEsAjBFudW1fcGFyYWxsZWxfdHJl"
    "ZZRLAYwHbWlzc2luZ5RHf/gAAAAAAACMCW9iamVjdGl2ZZROjAtldmFsX21ldHJpY5ROjBVlYXJseV9zdG9wcGlu"
    "Z19yb3VuZHOUTowPaW1wb3J0YW5jZV90eXBllIwEZ2FpbpSMBm5fam9ic5ROjAxyYW5kb21fc3RhdGWUTowObl9m"
    "ZWF0dXJlc19pbl+USwGMC2Jlc3Rfc2NvcmVflEd/+AAAAAAAAIwPYmVzdF9pdGVyYXRpb25flEsAjA1ldmFsc19y"
    "ZXN1bHRflH2UjAtfbW9kZWxfanNvbpRY6QEAAHsiZm9ybWF0Ijoic2Fwd29vZC1ib29zdCIsInZlcnNpb24iOjEs"
    "Im9iamVjdGl2ZSI6InJlZzpzcXVhcmVkZXJyb3IiLCJudW1fY2xhc3MiOjAsIm51bV9mZWF0dXJlIjoxLCJiYXNl"
    "X3Njb3JlIjpbMC41XSwidHJlZXMiOlt7ImxlZnQiOlsxLC0xLC0xXSwicmlnaHQiOlsyLC0xLC0xXSwicGFyZW50"
    "IjpbLTEsMCwwXSwic3BsaXRfaW5kZXgiOlswLDAsMF0sInNwbGl0X2NvbmQiOlsxLjUsLTAuMTAwMDAwMDEsMC4x"
    "MDAwMDAwMV0sImRlZmF1bHRfbGVmdCI6W3RydWUsZmFsc2UsZmFsc2VdLCJiYXNlX3dlaWdodCI6Wy0wLjAsLTAu"
    "MzMzMzMzMzQsMC4zMzMzMzMzNF0sImxvc3NfY2hnIjpbMC42NjY2NjY3LDAuMCwwLjBdLCJzdW1faGVzcyI6WzQu"
    "MCwyLjAsMi4wXX1dLCJ0cmVlX2luZm8iOlswXSwibnVtX3BhcmFsbGVsX3RyZWUiOjEsIm9iamVjdGl2ZV9tYXhf"
    "ZGVsdGFfc3RlcCI6MC4wLCJzY2FsZV9wb3Nfd2VpZ2h0IjoxLjAsImF0dHJpYnV0ZXMiOnt9fZR1Yi4="
)


def _load(b64: str):
    return pickle.loads(base64.b64decode(b64))


def test_public_paths_are_unchanged():
    assert sapwood.KDTree is neighbors.KDTree is kdtree.KDTree
    assert sapwood.load_model is boost.load_model
    for name in ("GBTRegressor", "GBTClassifier", "RFRegressor", "RFClassifier"):
        cls = getattr(boost, name)
        assert getattr(sapwood, name) is cls
        assert cls.__module__ == "sapwood.boost"
    for cls in (neighbors.KDTree, neighbors.NearestNeighbors, neighbors.KNeighborsRegressor):
        assert cls.__module__ == "sapwood.neighbors"


def test_kdtree_pickled_before_the_split_loads():
    tree = _load(_OLD_KDTREE)
    assert isinstance(tree, sapwood.KDTree)
    dist, idx = tree.query([0.9, 0.1])
    assert idx == 1
    assert dist == pytest.approx(np.hypot(0.1, 0.1))
    assert b"sapwood.neighbors" in pickle.dumps(tree)
    assert b"sapwood.kdtree" not in pickle.dumps(tree)


def test_estimators_pickled_before_the_split_load():
    knn = _load(_OLD_KNN)
    assert isinstance(knn, sapwood.KNeighborsRegressor)
    np.testing.assert_array_equal(knn.predict([[0.2], [0.9]]), [3.0, 4.0])
    gbt = _load(_OLD_GBT)
    assert isinstance(gbt, sapwood.GBTRegressor)
    X = np.array([[0.0], [1.0], [2.0], [3.0]])
    np.testing.assert_allclose(gbt.predict(X), [0.4, 0.4, 0.6, 0.6], rtol=1e-6)


@pytest.mark.parametrize(
    "estimator",
    [
        boost.GBTRegressor(),
        boost.GBTClassifier(),
        boost.RFRegressor(),
        boost.RFClassifier(),
        neighbors.NearestNeighbors(),
        neighbors.KNeighborsClassifier(),
        neighbors.KNeighborsRegressor(),
        selection.BorutaSelector(),
    ],
    ids=lambda est: type(est).__name__,
)
def test_every_parameter_is_declared_once(estimator):
    # The table names exactly the constructor's parameters: a new parameter cannot go
    # unchecked by omission, and no entry outlives a removed one.
    assert set(type(estimator)._constraints) == set(estimator.get_params(deep=False))
