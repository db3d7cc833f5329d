"""sapwood on Dask: the boosting and k-NN estimators over Dask collections.

Needs the ``dask`` extra (``pip install sapwood[dask]``). Every step is an ordinary Dask task:
no sockets, ports or trackers of sapwood's own, so a lost worker is recomputed by Dask and a
fit never waits on a peer. Results do not depend on the number of workers or where tasks ran.

- :class:`DaskGBTRegressor`, :class:`DaskGBTClassifier`, :class:`DaskGBTRanker`: the same
  model as :class:`sapwood.GBTRegressor` / :class:`sapwood.GBTClassifier` /
  :class:`sapwood.GBTRanker` on the concatenated data.
- :class:`DaskNearestNeighbors`, :class:`DaskKNeighborsClassifier`,
  :class:`DaskKNeighborsRegressor`: one kd-tree per partition, answers equal to one tree's.
"""

from sapwood.dask._boost import DaskGBTClassifier, DaskGBTRanker, DaskGBTRegressor
from sapwood.dask._neighbors import (
    DaskKNeighborsClassifier,
    DaskKNeighborsRegressor,
    DaskNearestNeighbors,
)

__all__ = [
    "DaskGBTClassifier",
    "DaskGBTRanker",
    "DaskGBTRegressor",
    "DaskKNeighborsClassifier",
    "DaskKNeighborsRegressor",
    "DaskNearestNeighbors",
]
