"""matplotlib figures for sapwood models.

Three plots for the boosting and forest estimators (:class:`~sapwood.GBTRegressor`,
:class:`~sapwood.GBTClassifier`, :class:`~sapwood.RFRegressor`, :class:`~sapwood.RFClassifier`),
with the options XGBoost and LightGBM users know:

- :func:`plot_importance`: per-feature importance as sorted horizontal bars (``get_score``).
- :func:`plot_tree`: one tree as boxes and arrows, drawn with matplotlib alone (no graphviz).
- :func:`plot_metric`: the evaluation history of a fit with ``eval_set`` (``evals_result_``).
- :func:`plot_shap_summary` and :func:`plot_shap_dependence`: SHAP values
  (``predict_contributions``) as a beeswarm per feature and against one feature's values.

and two for :class:`~sapwood.BorutaSelector`: :func:`boruta_importance_plot` and
:func:`boruta_history_plot`.

Every function draws on ``ax`` when given, else on a new figure, and returns the Axes.
matplotlib is the ``plot`` extra (``pip install 'sapwood[plot]'``); it is imported when a
function is called, so importing this module never needs it.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from sapwood._model_json import tree_categories

__all__ = [
    "boruta_history_plot",
    "boruta_importance_plot",
    "plot_importance",
    "plot_metric",
    "plot_shap_dependence",
    "plot_shap_summary",
    "plot_tree",
]

_DECISION_COLOURS = {"confirmed": "#2ca02c", "tentative": "#e6b800", "rejected": "#d62728"}
_SHADOW_COLOUR = "#1f77b4"
_BAR_COLOUR = "#1f77b4"
_SPLIT_COLOUR = "#dbe9f6"
_LEAF_COLOUR = "#e5f5e0"
_BEST_COLOUR = "#7f7f7f"


def _pyplot() -> Any:
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            "sapwood.plotting needs matplotlib; install the plot extra: pip install 'sapwood[plot]'"
        ) from exc
    return plt


def _axes(ax: Any, figsize: tuple[float, float] = (10, 4.5)) -> Any:
    # Importing pyplot even when ax is given keeps the missing-matplotlib message in one place.
    plt = _pyplot()
    if ax is not None:
        return ax
    # Constrained layout keeps long tick labels and axis labels inside the figure.
    _, ax = plt.subplots(figsize=figsize, layout="constrained")
    return ax


def _fitted_model(est: Any, caller: str) -> None:
    """Raise TypeError unless ``est`` is a sapwood tree estimator, NotFittedError unless fitted."""
    from sklearn.utils.validation import check_is_fitted

    from sapwood._gbt_base import _GBTBase

    if not isinstance(est, _GBTBase):
        raise TypeError(
            f"{caller} needs a sapwood GBTRegressor, GBTClassifier, RFRegressor or RFClassifier, "
            f"got {type(est).__name__}"
        )
    check_is_fitted(est, "_model")


# ------------------------------------------------------------------------------- importance
def plot_importance(
    est: Any,
    importance_type: str = "weight",
    max_num_features: int | None = None,
    ax: Any = None,
    *,
    height: float = 0.6,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    title: str | None = "Feature importance",
    xlabel: str | None = None,
    ylabel: str | None = "Features",
    grid: bool = True,
    show_values: bool = True,
    values_format: str | None = None,
    **bar_kwargs: Any,
) -> Any:
    """Per-feature importance as horizontal bars, the most important on top.

    The scores are those of ``est.get_score(importance_type)``: only features used in at least
    one split appear, named as the model names them (``feature_names_in_`` when fitted on a
    DataFrame, else ``f0``, ``f1``, ...).

    Parameters
    ----------
    est : GBTRegressor, GBTClassifier, RFRegressor or RFClassifier
        A fitted estimator.
    importance_type : {"weight", "gain", "cover", "total_gain", "total_cover"}, default="weight"
        ``weight`` counts the splits on a feature; ``gain``/``cover`` average the loss
        reduction/hessian sum over those splits; the ``total_`` variants sum them.
        The default is XGBoost's; ``est.feature_importances_`` uses ``est.importance_type``.
    max_num_features : int, optional
        Show only this many features, the most important ones.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when ``None``.
    height : float, default=0.6
        Bar thickness, in units of the gap between bars.
    xlim, ylim : tuple of float, optional
        Axis limits; by default the x axis leaves room for the values.
    title, xlabel, ylabel : str, optional
        Labels; ``xlabel`` defaults to ``"importance (<importance_type>)"``. ``None`` for
        ``title`` or ``ylabel`` leaves them empty.
    grid : bool, default=True
        Draw grid lines.
    show_values : bool, default=True
        Write each score at the end of its bar.
    values_format : str, optional
        ``str.format`` pattern for the values, with the score as ``v``; by default whole
        numbers for ``weight`` (``"{v:.0f}"``) and four significant digits otherwise
        (``"{v:.4g}"``).
    **bar_kwargs
        Passed to ``Axes.barh`` (``color``, ``edgecolor``, ...).

    Returns
    -------
    ax : matplotlib Axes

    Raises
    ------
    TypeError
        If ``est`` is not a sapwood boosting or forest estimator.
    sklearn.exceptions.NotFittedError
        If ``est`` is not fitted.
    ValueError
        For an unknown ``importance_type``, a ``max_num_features`` below 1, or a model without
        any split.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sapwood import GBTRegressor
    >>> from sapwood.plotting import plot_importance
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> reg = GBTRegressor(n_estimators=5, max_depth=2).fit(X, 3 * X[:, 1] + X[:, 2])
    >>> ax = plot_importance(reg, importance_type="total_gain")
    >>> [t.get_text() for t in ax.get_yticklabels()][-1]
    'f1'
    """
    _fitted_model(est, "plot_importance")
    if max_num_features is not None and (
        isinstance(max_num_features, bool)
        or not isinstance(max_num_features, int | np.integer)
        or max_num_features < 1
    ):
        raise ValueError(f"max_num_features must be None or an int >= 1, got {max_num_features!r}")
    # get_score checks importance_type and names the accepted values.
    scores = est.get_score(importance_type=importance_type)
    if not scores:
        raise ValueError(
            "the model has no splits, so no feature has an importance (every tree is one leaf)"
        )
    # Ascending by score, ties in the model's feature order: barh draws the first bar at the
    # bottom, so the most important feature ends up on top.
    ranked = sorted(enumerate(scores.items()), key=lambda item: (item[1][1], -item[0]))
    if max_num_features is not None:
        ranked = ranked[-max_num_features:]
    names = [name for _, (name, _) in ranked]
    values = np.array([value for _, (_, value) in ranked], dtype=float)

    ax = _axes(ax, figsize=(8, max(3.0, 0.35 * len(names) + 1.2)))
    positions = np.arange(len(names))
    bar_kwargs.setdefault("color", _BAR_COLOUR)
    ax.barh(positions, values, height=height, align="center", **bar_kwargs)
    ax.set_yticks(positions, labels=names)

    if show_values:
        if values_format is None:
            values_format = "{v:.0f}" if importance_type == "weight" else "{v:.4g}"
        # A small gap after the bar end, in points, so it reads the same at any scale.
        for y, v in zip(positions, values, strict=True):
            ax.annotate(
                values_format.format(v=v),
                xy=(v, y),
                xytext=(3, 0),
                textcoords="offset points",
                va="center",
            )
    if xlim is None:
        # Room on the right for the value labels.
        xlim = (0.0, float(values.max()) * (1.15 if show_values else 1.05))
    ax.set_xlim(xlim)
    if ylim is None:
        ylim = (-1.0, float(len(names)))
    ax.set_ylim(ylim)
    ax.set_title(title or "")
    ax.set_xlabel(f"importance ({importance_type})" if xlabel is None else xlabel)
    ax.set_ylabel(ylabel or "")
    ax.grid(grid)
    ax.set_axisbelow(True)
    return ax


# ------------------------------------------------------------------------------- SHAP
def _shap_values(est: Any, X: Any, class_index: int | None, caller: str) -> tuple[Any, Any]:
    """(SHAP values without the bias, shape (n, n_features); the rows as floats)."""
    _fitted_model(est, caller)
    phi = np.asarray(est.predict_contributions(X), dtype=np.float64)
    if phi.ndim == 3:
        if class_index is None:
            raise ValueError(
                f"{caller}: the model has {phi.shape[1]} outputs; choose one with class_index="
            )
        if not 0 <= int(class_index) < phi.shape[1]:
            raise ValueError(
                f"{caller}: class_index must be in [0, {phi.shape[1]}), got {class_index!r}"
            )
        phi = phi[:, int(class_index)]
    elif class_index not in (None, 0):
        raise ValueError(f"{caller}: the model has one output; class_index must be None or 0")
    values = np.asarray(X.to_numpy() if hasattr(X, "to_numpy") else X, dtype=np.float64)
    return phi[:, :-1], values


def _scaled(v: Any) -> Any:
    """Values scaled to [0, 1] between their 5th and 95th percentiles (NaN stays NaN)."""
    finite = v[np.isfinite(v)]
    if finite.size == 0:
        return np.full_like(v, np.nan)
    lo, hi = np.percentile(finite, [5, 95])
    if hi <= lo:
        lo, hi = finite.min(), finite.max()
    if hi <= lo:
        return np.where(np.isfinite(v), 0.5, np.nan)
    return np.clip((v - lo) / (hi - lo), 0.0, 1.0)


def plot_shap_summary(
    est: Any,
    X: Any,
    max_display: int = 20,
    ax: Any = None,
    *,
    class_index: int | None = None,
    cmap: str = "coolwarm",
    title: str | None = "SHAP values",
    seed: int = 0,
) -> Any:
    """A beeswarm of SHAP values: one row per feature (the largest mean absolute value on
    top), one dot per sample at its SHAP value, coloured by the feature's value.

    Parameters
    ----------
    est : GBTRegressor, GBTClassifier, RFRegressor or RFClassifier
        A fitted estimator.
    X : array-like of shape (n_samples, n_features)
        The rows to explain (:meth:`~sapwood.GBTRegressor.predict_contributions`).
    max_display : int, default=20
        The number of features shown.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when ``None``.
    class_index : int, optional
        The class whose values are shown, for multi-class models.
    cmap : str, default="coolwarm"
        Colour map of the feature values (low to high, between their 5th and 95th
        percentiles; missing values grey).
    title : str, optional
        The title.
    seed : int, default=0
        Seed of the vertical jitter that spreads the dots of a row.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sapwood import GBTRegressor
    >>> from sapwood.plotting import plot_shap_summary
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> reg = GBTRegressor(n_estimators=10, max_depth=2).fit(X, 3 * X[:, 1] + X[:, 2])
    >>> ax = plot_shap_summary(reg, X)
    >>> [t.get_text() for t in ax.get_yticklabels()][-1]
    'f1'
    """
    if isinstance(max_display, bool) or not isinstance(max_display, int) or max_display < 1:
        raise ValueError(f"max_display must be an int >= 1, got {max_display!r}")
    phi, values = _shap_values(est, X, class_index, "plot_shap_summary")
    names = est._feature_names(range(phi.shape[1]))
    order = np.argsort(np.abs(phi).mean(axis=0), kind="stable")[-max_display:]
    plt = _pyplot()
    ax = _axes(ax, figsize=(8, max(3.0, 0.4 * len(order) + 1.2)))
    rng = np.random.default_rng(seed)
    colours = plt.get_cmap(cmap)
    for row, f in enumerate(order):
        shade = _scaled(values[:, f])
        present = np.isfinite(shade)
        jitter = rng.uniform(-0.3, 0.3, size=phi.shape[0])
        ax.scatter(phi[~present, f], row + jitter[~present], s=8, color="#9a9a9a", linewidths=0)
        ax.scatter(
            phi[present, f],
            row + jitter[present],
            s=8,
            c=shade[present],
            cmap=colours,
            vmin=0.0,
            vmax=1.0,
            linewidths=0,
        )
    ax.axvline(0.0, color="#7f7f7f", linewidth=0.8)
    ax.set_yticks(np.arange(len(order)), labels=[names[f] for f in order])
    ax.set_ylim(-0.7, len(order) - 0.3)
    ax.set_xlabel("SHAP value (impact on the raw margin)")
    ax.set_title(title or "")
    mappable = plt.cm.ScalarMappable(cmap=colours)
    mappable.set_array([0.0, 1.0])
    bar = ax.figure.colorbar(mappable, ax=ax, ticks=[0, 1], aspect=40)
    bar.ax.set_yticklabels(["low", "high"])
    bar.set_label("feature value")
    return ax


def plot_shap_dependence(
    est: Any,
    X: Any,
    feature: int | str,
    ax: Any = None,
    *,
    color_by: int | str | None = None,
    class_index: int | None = None,
    cmap: str = "coolwarm",
    title: str | None = None,
) -> Any:
    """One feature's SHAP value against its value, one dot per sample, optionally coloured by
    another feature's value.

    Parameters
    ----------
    est : GBTRegressor, GBTClassifier, RFRegressor or RFClassifier
        A fitted estimator.
    X : array-like of shape (n_samples, n_features)
        The rows to explain.
    feature : int or str
        The feature, by index or by name (``feature_names_in_``, or ``f0``, ``f1``, ...).
    ax : matplotlib Axes, optional
        Where to draw; a new figure when ``None``.
    color_by : int or str, optional
        A feature whose values colour the dots.
    class_index : int, optional
        The class whose values are shown, for multi-class models.
    cmap : str, default="coolwarm"
        Colour map of ``color_by``'s values.
    title : str, optional
        The title; by default the feature's name.

    Returns
    -------
    ax : matplotlib Axes

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sapwood import GBTRegressor
    >>> from sapwood.plotting import plot_shap_dependence
    >>> X = np.random.default_rng(0).normal(size=(200, 3))
    >>> reg = GBTRegressor(n_estimators=10, max_depth=2).fit(X, 3 * X[:, 1] + X[:, 2])
    >>> ax = plot_shap_dependence(reg, X, "f1")
    >>> ax.get_xlabel()
    'f1'
    """
    phi, values = _shap_values(est, X, class_index, "plot_shap_dependence")
    names = est._feature_names(range(phi.shape[1]))

    def index_of(f: int | str, what: str) -> int:
        if isinstance(f, str):
            if f not in names:
                raise ValueError(f"{what} {f!r} is not a feature of the model")
            return names.index(f)
        if isinstance(f, bool) or not isinstance(f, int | np.integer):
            raise TypeError(f"{what} must be a feature index or name, got {f!r}")
        if not 0 <= int(f) < len(names):
            raise ValueError(f"{what} {f!r} is out of range for {len(names)} features")
        return int(f)

    f = index_of(feature, "feature")
    plt = _pyplot()
    ax = _axes(ax, figsize=(7, 4.5))
    if color_by is None:
        ax.scatter(values[:, f], phi[:, f], s=10, color=_BAR_COLOUR, linewidths=0)
    else:
        g = index_of(color_by, "color_by")
        points = ax.scatter(
            values[:, f], phi[:, f], s=10, c=values[:, g], cmap=plt.get_cmap(cmap), linewidths=0
        )
        ax.figure.colorbar(points, ax=ax, label=names[g])
    ax.axhline(0.0, color="#7f7f7f", linewidth=0.8)
    ax.set_xlabel(names[f])
    ax.set_ylabel(f"SHAP value of {names[f]}")
    ax.set_title(names[f] if title is None else title)
    return ax


# ------------------------------------------------------------------------------- one tree
def _tree_document(est: Any) -> dict[str, Any]:
    # The model's own dump in XGBoost's node layout (flat arrays, node 0 the root, a leaf has
    # left == -1 and its value in split_cond): no pandas needed, unlike trees_to_dataframe.
    return json.loads(est._model.to_json())


def _layout(left: Sequence[int], right: Sequence[int]) -> tuple[dict[int, float], dict[int, int]]:
    """x and depth of every node reachable from the root: leaves one unit apart, left to right
    in the order the tree reads, each parent centred over its two children."""
    x: dict[int, float] = {}
    depth: dict[int, int] = {0: 0}
    next_leaf = 0.0
    # Post-order without recursion, so a deep lossguide tree cannot hit the recursion limit.
    stack: list[tuple[int, bool]] = [(0, False)]
    while stack:
        node, children_done = stack.pop()
        if left[node] < 0:
            x[node] = next_leaf
            next_leaf += 1.0
        elif children_done:
            x[node] = (x[left[node]] + x[right[node]]) / 2.0
        else:
            stack.append((node, True))
            for child in (right[node], left[node]):  # left popped first: drawn on the left
                depth[child] = depth[node] + 1
                stack.append((child, False))
    return x, depth


def _trees_per_iteration(doc: dict[str, Any], n_iterations: int) -> int:
    return max(1, len(doc["trees"]) // max(1, n_iterations))


def plot_tree(
    est: Any,
    tree_index: int = 0,
    ax: Any = None,
    *,
    precision: int = 4,
    fontsize: float | None = None,
    show_info: bool = False,
) -> Any:
    """Draw one tree as boxes and arrows, with matplotlib alone.

    Split nodes read ``feature < threshold``; the edge to the left child is labelled ``yes``
    (the condition holds), the right one ``no``, and the edge missing values follow adds
    ``missing``, as XGBoost's ``to_graphviz`` does. Leaves show their value (a margin
    contribution, before the link function). Nodes sit on rows by depth, leaves spread evenly,
    each parent centred over its children; trees up to depth 6 stay readable on the figure
    this function sizes (pass a larger ``ax``, or a smaller ``fontsize``, for deeper ones).

    Parameters
    ----------
    est : GBTRegressor, GBTClassifier, RFRegressor or RFClassifier
        A fitted estimator.
    tree_index : int, default=0
        Which tree, in XGBoost's numbering: the trees of one boosting round are consecutive,
        one per class (and per parallel tree) in a multi-class model, so tree ``i`` of a
        ``k``-class model with one tree per class belongs to round ``i // k`` and class
        ``i % k``. Negative values count from the end. The same numbering as ``Tree`` in
        ``est.trees_to_dataframe()`` and as the columns of ``est.apply(X)``.
    ax : matplotlib Axes, optional
        Where to draw; a new figure sized to the tree when ``None``.
    precision : int, default=4
        Significant digits of thresholds and leaf values.
    fontsize : float, optional
        Text size in points; by default smaller as the tree gets wider.
    show_info : bool, default=False
        Add each split's gain and each node's cover (hessian sum) to its box.

    Returns
    -------
    ax : matplotlib Axes
        Each node is a text with a box, its gid ``"split-<tree>-<node>"`` or
        ``"leaf-<tree>-<node>"`` (``<tree>-<node>`` as the ``ID`` column of
        ``trees_to_dataframe``); each edge label's gid is ``"edge-<tree>-<parent>-<child>"``.

    Raises
    ------
    TypeError
        If ``est`` is not a sapwood boosting or forest estimator.
    sklearn.exceptions.NotFittedError
        If ``est`` is not fitted.
    ValueError
        If ``tree_index`` is out of range (the message names the range).

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sapwood import GBTRegressor
    >>> from sapwood.plotting import plot_tree
    >>> X = np.arange(20, dtype=float).reshape(10, 2)
    >>> reg = GBTRegressor(n_estimators=2, max_depth=1, tree_method="exact").fit(X, X[:, 0] > 9)
    >>> ax = plot_tree(reg, tree_index=0)
    >>> ax.get_title()
    'tree 0 (round 0)'
    >>> [t.get_text() for t in ax.texts if t.get_gid().startswith("split")]
    ['f0 < 9']
    """
    _fitted_model(est, "plot_tree")
    doc = _tree_document(est)
    n_trees = len(doc["trees"])
    if isinstance(tree_index, bool) or not isinstance(tree_index, int | np.integer):
        raise TypeError(f"tree_index must be an int, got {type(tree_index).__name__}")
    if not -n_trees <= tree_index < n_trees:
        raise ValueError(
            f"tree_index {tree_index} is out of range: the model has {n_trees} trees, "
            f"so tree_index must be in [0, {n_trees - 1}] (or [-{n_trees}, -1] from the end)"
        )
    index = int(tree_index) % n_trees
    tree = doc["trees"][index]
    left, right = tree["left"], tree["right"]
    x, depth = _layout(left, right)
    n_leaves = sum(1 for node in x if left[node] < 0)
    max_depth = max(depth[node] for node in x)

    if fontsize is None:
        # About 9 points for a few leaves down to 6 for the 64 of a depth-6 tree.
        fontsize = float(np.clip(11.0 - 1.2 * np.log2(max(n_leaves, 1)), 6.0, 9.0))
    ax = _axes(ax, figsize=(min(max(6.0, 1.1 * n_leaves), 40.0), max(3.0, 1.2 * (max_depth + 1))))

    names = est._feature_names(range(int(doc["num_feature"])))

    right_cats = tree_categories(tree)
    known = est.__dict__.get("_categories") or {}

    def category_set(node: int) -> str:
        # Categorical splits read "feature not in {...}": yes (left) for the other categories.
        f = tree["split_index"][node]
        codes = right_cats[node]
        shown = [
            str(known[f][c]) if f in known and c < len(known[f]) else str(c) for c in codes[:6]
        ]
        more = ", ..." if len(codes) > 6 else ""
        return f"{names[f]} not in {{{', '.join(shown)}{more}}}"

    def label(node: int) -> tuple[str, str]:
        value = tree["split_cond"][node]
        if left[node] < 0:
            text = f"leaf\n{value:.{precision}g}"
            kind = "leaf"
        elif node in right_cats:
            text = category_set(node)
            kind = "split"
            if show_info:
                text += f"\ngain {tree['loss_chg'][node]:.{precision}g}"
        else:
            text = f"{names[tree['split_index'][node]]} < {value:.{precision}g}"
            kind = "split"
            if show_info:
                text += f"\ngain {tree['loss_chg'][node]:.{precision}g}"
        if show_info:
            text += f"\ncover {tree['sum_hess'][node]:.{precision}g}"
        return text, kind

    box = {"boxstyle": "round,pad=0.3", "linewidth": 0.8, "edgecolor": "#444444"}
    # Children are drawn before their parent, so a parent's opaque box covers where the arrow
    # from it starts and each arrow ends exactly at its child's box.
    order = sorted(x, key=lambda node: (-depth[node], x[node]))
    parent = {child: node for node in x if left[node] >= 0 for child in (left[node], right[node])}
    for node in order:
        text, kind = label(node)
        style = dict(box, facecolor=_LEAF_COLOUR if kind == "leaf" else _SPLIT_COLOUR)
        y = -float(depth[node])
        if node in parent:
            up = parent[node]
            artist = ax.annotate(
                text,
                xy=(x[up], -float(depth[up])),
                xytext=(x[node], y),
                ha="center",
                va="center",
                fontsize=fontsize,
                bbox=style,
                arrowprops={"arrowstyle": "<|-", "color": "#444444", "linewidth": 0.8},
                zorder=3,
            )
        else:
            artist = ax.text(
                x[node], y, text, ha="center", va="center", fontsize=fontsize, bbox=style, zorder=3
            )
        # Ids as in trees_to_dataframe's ID column; they become element ids in SVG output.
        artist.set_gid(f"{kind}-{index}-{node}")

    for node in x:
        if left[node] < 0:
            continue
        missing_goes_left = bool(tree["default_left"][node])
        for child, answer in ((left[node], "yes"), (right[node], "no")):
            goes_missing = missing_goes_left == (child == left[node])
            text = f"{answer}, missing" if goes_missing else answer
            # A little below the middle of the edge: the parent's box covers its top part.
            t = 0.55
            ax.text(
                (1 - t) * x[node] + t * x[child],
                -float(depth[node]) - t,
                text,
                ha="center",
                va="center",
                fontsize=fontsize * 0.85,
                color="#333333",
                bbox={"boxstyle": "square,pad=0.1", "facecolor": "white", "linewidth": 0},
                # Above the arrow it labels; the boxes never reach the middle of an edge.
                zorder=4,
                gid=f"edge-{index}-{node}-{child}",
            )

    ax.set_xlim(-0.7, max(n_leaves - 1, 0) + 0.7)
    ax.set_ylim(-float(max_depth) - 0.6, 0.6)
    ax.set_axis_off()
    per_round = _trees_per_iteration(doc, int(est.n_iterations_))
    title = f"tree {index} (round {index // per_round}"
    if int(doc.get("num_class", 0)) > 1:
        title += f", class {doc['tree_info'][index]}"
    ax.set_title(title + ")")
    return ax


# ------------------------------------------------------------------------------- metric history
def plot_metric(
    est: Any,
    metric: str | None = None,
    dataset_names: Sequence[str] | None = None,
    ax: Any = None,
    *,
    xlim: tuple[float, float] | None = None,
    ylim: tuple[float, float] | None = None,
    title: str | None = "Metric during training",
    xlabel: str | None = "Iterations",
    ylabel: str | None = None,
    grid: bool = True,
    mark_best: bool = True,
) -> Any:
    """The evaluation history of a fit: one line per evaluation dataset, for one metric.

    Parameters
    ----------
    est : GBTRegressor, GBTClassifier, RFRegressor, RFClassifier or dict
        An estimator fitted with ``eval_set``, or a history in the same form as its
        ``evals_result_``: ``{dataset name: {metric name: [value per round]}}``.
    metric : str, optional
        Which metric; by default the last one recorded, the one early stopping watches.
    dataset_names : sequence of str, optional
        Which datasets to draw (``"validation_0"``, ...); by default all of them.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when ``None``.
    xlim, ylim : tuple of float, optional
        Axis limits.
    title, xlabel : str, optional
        Labels; ``None`` leaves them empty.
    ylabel : str, optional
        By default the metric's name.
    grid : bool, default=True
        Draw grid lines.
    mark_best : bool, default=True
        Draw a dashed vertical line at ``best_iteration_`` when the fit used early stopping
        (or when the best round is not the last one recorded).

    Returns
    -------
    ax : matplotlib Axes

    Raises
    ------
    TypeError
        If ``est`` is neither a sapwood boosting or forest estimator nor a dict.
    sklearn.exceptions.NotFittedError
        If ``est`` is not fitted.
    ValueError
        If there is no evaluation history (fitted without ``eval_set``), or ``metric`` or a
        dataset name is not in it.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> import numpy as np
    >>> from sapwood import GBTRegressor
    >>> from sapwood.plotting import plot_metric
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X[:, 0] + 0.1 * rng.normal(size=200)
    >>> reg = GBTRegressor(n_estimators=8).fit(X[:150], y[:150], eval_set=[(X[150:], y[150:])])
    >>> ax = plot_metric(reg)
    >>> [(line.get_label(), len(line.get_xdata())) for line in ax.get_lines()]
    [('validation_0', 8)]
    """
    if isinstance(est, Mapping):
        history: Mapping[str, Mapping[str, Sequence[float]]] = est
        best = None
    else:
        _fitted_model(est, "plot_metric")
        history = getattr(est, "evals_result_", None) or {}
        best = getattr(est, "best_iteration_", None)
    if not history:
        raise ValueError(
            "there is no evaluation history to plot: fit the estimator with eval_set=[(X, y)]"
        )
    available = list(history)
    if dataset_names is None:
        datasets = available
    else:
        datasets = [dataset_names] if isinstance(dataset_names, str) else list(dataset_names)
        unknown = [name for name in datasets if name not in history]
        if unknown or not datasets:
            raise ValueError(
                f"unknown dataset name(s) {unknown}; the history holds {', '.join(available)}"
            )
    metrics = list(history[datasets[0]])
    if not metrics:
        raise ValueError(f"dataset {datasets[0]!r} records no metric")
    if metric is None:
        metric = metrics[-1]
    for name in datasets:
        if metric not in history[name]:
            raise ValueError(
                f"unknown metric {metric!r} for dataset {name!r}; "
                f"recorded: {', '.join(history[name])}"
            )

    ax = _axes(ax, figsize=(8, 4.5))
    n_rounds = 0
    for name in datasets:
        values = np.asarray(history[name][metric], dtype=float)
        n_rounds = max(n_rounds, values.size)
        # Rounds are numbered from 0, as best_iteration_ and iteration_range count them.
        ax.plot(np.arange(values.size), values, label=name)

    stopped_early = getattr(est, "early_stopping_rounds", None) is not None
    if mark_best and best is not None and (stopped_early or int(best) < n_rounds - 1):
        ax.axvline(
            int(best),
            color=_BEST_COLOUR,
            linestyle="--",
            linewidth=1.0,
            label=f"best iteration ({int(best)})",
        )
    if xlim is not None:
        ax.set_xlim(xlim)
    if ylim is not None:
        ax.set_ylim(ylim)
    ax.set_title(title or "")
    ax.set_xlabel(xlabel or "")
    ax.set_ylabel(metric if ylabel is None else ylabel)
    ax.grid(grid)
    ax.legend(loc="best")
    return ax


# ------------------------------------------------------------------------------- Boruta
def _names(selector: Any, feature_names: Any) -> list[str]:
    if feature_names is not None:
        return [str(n) for n in feature_names]
    if hasattr(selector, "feature_names_in_"):
        return [str(n) for n in selector.feature_names_in_]
    return [f"x{i}" for i in range(selector.n_features_in_)]


def boruta_importance_plot(selector: Any, ax: Any = None, feature_names: Any = None) -> Any:
    """R Boruta's picture: importance boxplots per feature, coloured by decision, beside boxes
    of the shadow minimum, mean and maximum; features ordered by median importance.

    Parameters
    ----------
    selector : BorutaSelector
        A fitted selector.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when ``None``.
    feature_names : sequence of str, optional
        Labels; by default ``feature_names_in_``, else ``x0``, ``x1``, ...

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    names = _names(selector, feature_names)
    history = selector.importance_history_
    columns = [history[:, j][~np.isnan(history[:, j])] for j in range(history.shape[1])]
    shadows = selector.shadow_history_
    boxes = [*columns, shadows[:, 0], shadows[:, 1], shadows[:, 2]]
    labels = [*names, "shadowMin", "shadowMean", "shadowMax"]
    colours = [_DECISION_COLOURS[d] for d in selector.decision_] + [_SHADOW_COLOUR] * 3
    medians = [np.median(b) if b.size else -np.inf for b in boxes]
    order = np.argsort(medians, kind="stable")
    parts = ax.boxplot(
        [boxes[i] for i in order],
        tick_labels=[labels[i] for i in order],
        patch_artist=True,
    )
    for patch, i in zip(parts["boxes"], order, strict=True):
        patch.set_facecolor(colours[i])
    ax.set_ylabel("importance")
    ax.set_title("Boruta feature importance")
    ax.tick_params(axis="x", labelrotation=90)
    return ax


def boruta_history_plot(selector: Any, ax: Any = None, feature_names: Any = None) -> Any:
    """Each feature's importance over the fits, coloured by its final decision, with the
    shadow minimum, mean and maximum as blue lines.

    Parameters
    ----------
    selector : BorutaSelector
        A fitted selector.
    ax : matplotlib Axes, optional
        Where to draw; a new figure when ``None``.
    feature_names : sequence of str, optional
        Legend labels of the confirmed features; by default ``feature_names_in_``, else
        ``x0``, ``x1``, ...

    Returns
    -------
    ax : matplotlib Axes
    """
    ax = _axes(ax)
    names = _names(selector, feature_names)
    fits = np.arange(1, selector.n_iter_ + 1)
    for j, decision in enumerate(selector.decision_):
        ax.plot(
            fits,
            selector.importance_history_[:, j],
            color=_DECISION_COLOURS[decision],
            linewidth=0.8,
            label=names[j] if decision == "confirmed" else None,
        )
    for k, style in enumerate((":", "--", "-")):
        ax.plot(
            fits,
            selector.shadow_history_[:, k],
            color=_SHADOW_COLOUR,
            linestyle=style,
            linewidth=1.5,
        )
    ax.set_xlabel("fit")
    ax.set_ylabel("importance")
    ax.set_title("Boruta importance history")
    return ax
