"""matplotlib figures for sapwood models. Needs the ``plot`` extra (matplotlib)."""

from __future__ import annotations

from typing import Any

import numpy as np

_DECISION_COLOURS = {"confirmed": "#2ca02c", "tentative": "#e6b800", "rejected": "#d62728"}
_SHADOW_COLOUR = "#1f77b4"


def _axes(ax: Any) -> Any:
    if ax is not None:
        return ax
    import matplotlib.pyplot as plt

    _, ax = plt.subplots(figsize=(10, 4.5))
    return ax


def _names(selector: Any, feature_names: Any) -> list[str]:
    if feature_names is not None:
        return [str(n) for n in feature_names]
    if hasattr(selector, "feature_names_in_"):
        return [str(n) for n in selector.feature_names_in_]
    return [f"x{i}" for i in range(selector.n_features_in_)]


def boruta_importance_plot(selector: Any, ax: Any = None, feature_names: Any = None) -> Any:
    """R Boruta's picture: importance boxplots per feature, coloured by decision, beside boxes
    of the shadow minimum, mean and maximum; features ordered by median importance."""
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
    shadow minimum, mean and maximum as blue lines."""
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
