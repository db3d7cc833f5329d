"""Training callbacks: code that runs between the boosting rounds of a fit, with XGBoost's
protocol (``xgboost.callback``).

A callback is passed to an estimator as ``callbacks=[...]``. The estimator's training loop
calls, in list order:

- ``before_training(model)`` once, before the first round;
- ``before_iteration(model, epoch, evals_log)`` before each round;
- ``after_iteration(model, epoch, evals_log)`` after each round, once its metrics are in
  ``evals_log``;
- ``after_training(model)`` once, after the last round, when the fitted model is in place.

``model`` is the estimator being fitted. While it trains, ``model.n_iterations_`` is the number
of rounds done so far and ``model.evals_result_`` is ``evals_log`` itself: a dict from dataset
name (``"validation_0"``, ``"validation_1"``, ... in ``eval_set`` order) to metric name to the
list of values, one per round. Training stops after the current round when any
``before_iteration`` or ``after_iteration`` returns ``True``; every callback is still called for
that round. What ``before_training`` and ``after_training`` return is ignored: they change the
estimator in place.

Every round's tree growth runs in Rust with the GIL released; callbacks run in the Python loop
between rounds. The estimator keeps ``callbacks`` as given and deep-copies the list at each
fit, so a fitted estimator shares no state with the objects passed in, or with other fits.
"""

from __future__ import annotations

import copy
import inspect
import math
import numbers
import sys
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

__all__ = [
    "EarlyStopping",
    "EvaluationMonitor",
    "LearningRateScheduler",
    "ProgressBar",
    "TrainingCallback",
]

EvalsLog = dict[str, dict[str, list[float]]]

_HOOKS = ("before_training", "after_training", "before_iteration", "after_iteration")


# The metrics where a larger value is better; the others are losses and error rates.
def _is_maximized(metric: str) -> bool:
    """Whether larger values of ``metric`` are better: AUC and the ranking metrics
    (``ndcg``, ``map``, ``pre``, truncated or not), as XGBoost decides."""
    base = metric.split("@", 1)[0].rstrip("-")
    return base in ("auc", "aucpr", "ndcg", "map", "pre")


class TrainingCallback:
    """Base class of training callbacks: every hook does nothing.

    Subclasses override the hooks they need. ``epoch`` counts rounds from 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood import GBTRegressor
    >>> from sapwood.callback import TrainingCallback
    >>> class StopAt(TrainingCallback):
    ...     def __init__(self, last):
    ...         self.last = last
    ...     def after_iteration(self, model, epoch, evals_log):
    ...         return epoch == self.last
    >>> X = np.arange(40, dtype=float).reshape(20, 2)
    >>> model = GBTRegressor(callbacks=[StopAt(4)]).fit(X, X[:, 0])
    >>> model.n_iterations_
    5
    """

    def before_training(self, model: Any) -> Any:
        """Run once before the first round."""
        return model

    def after_training(self, model: Any) -> Any:
        """Run once after the last round; the fitted model is in place."""
        return model

    def before_iteration(self, model: Any, epoch: int, evals_log: EvalsLog) -> bool:
        """Run before round ``epoch``; ``True`` stops training before it."""
        return False

    def after_iteration(self, model: Any, epoch: int, evals_log: EvalsLog) -> bool:
        """Run after round ``epoch``; ``True`` stops training after it."""
        return False


class EarlyStopping(TrainingCallback):
    """Stop when a metric on an evaluation set has not improved for ``rounds`` rounds.

    The estimator's ``best_iteration_`` and ``best_score_`` follow the best round, as with
    ``early_stopping_rounds`` (which is this callback with its defaults), and predictions use
    rounds up to the best one.

    Parameters
    ----------
    rounds : int
        Rounds without improvement after which training stops (at least 1).
    metric_name : str, optional
        The metric that decides; by default the last one of ``eval_metric``.
    data_name : str, optional
        The evaluation set that decides (``"validation_0"``, ...); by default the last one.
    maximize : bool, optional
        Whether larger is better; by default inferred from the metric (``auc`` is maximised,
        losses and error rates are minimised).
    save_best : bool, default=False
        Keep only the rounds up to the best one in the fitted model (``n_iterations_`` becomes
        ``best_iteration_ + 1``); by default the later rounds stay in the model and
        ``iteration_range=(0, 0)`` can still predict with them.
    min_delta : float, default=0
        Smallest change that counts as an improvement.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood import GBTRegressor
    >>> from sapwood.callback import EarlyStopping
    >>> rng = np.random.default_rng(0)
    >>> X = rng.normal(size=(200, 3))
    >>> y = X[:, 0] + rng.normal(size=200)
    >>> stop = EarlyStopping(3, save_best=True)
    >>> model = GBTRegressor(n_estimators=500, callbacks=[stop])
    >>> model = model.fit(X[:150], y[:150], eval_set=[(X[150:], y[150:])])
    >>> model.n_iterations_ == model.best_iteration_ + 1
    True
    """

    def __init__(
        self,
        rounds: int,
        *,
        metric_name: str | None = None,
        data_name: str | None = None,
        maximize: bool | None = None,
        save_best: bool = False,
        min_delta: float = 0.0,
    ) -> None:
        if not _is_int(rounds) or rounds < 1:
            raise ValueError(f"EarlyStopping: rounds must be an int >= 1, got {rounds!r}")
        for name, value in (("metric_name", metric_name), ("data_name", data_name)):
            if value is not None and not isinstance(value, str):
                raise TypeError(
                    f"EarlyStopping: {name} must be a str or None, got {type(value).__name__}"
                )
        if maximize is not None and not isinstance(maximize, bool):
            raise TypeError(
                f"EarlyStopping: maximize must be a bool or None, got {type(maximize).__name__}"
            )
        if not _is_real(min_delta) or not 0 <= min_delta < math.inf:
            raise ValueError(
                f"EarlyStopping: min_delta must be a finite number >= 0, got {min_delta!r}"
            )
        self.rounds = int(rounds)
        self.metric_name = metric_name
        self.data_name = data_name
        self.maximize = maximize
        self.save_best = bool(save_best)
        self.min_delta = float(min_delta)
        self._reset()

    def __repr__(self) -> str:
        return _repr(
            self,
            rounds=self.rounds,
            metric_name=self.metric_name,
            data_name=self.data_name,
            maximize=self.maximize,
            save_best=self.save_best,
            min_delta=self.min_delta,
        )

    def _reset(self) -> None:
        self._best_score: float | None = None
        self._best_iteration: int | None = None
        self._stale = 0

    def before_training(self, model: Any) -> Any:
        self._reset()
        log = getattr(model, "evals_result_", None)
        if isinstance(log, Mapping) and not log:
            raise ValueError("EarlyStopping needs at least one dataset in eval_set")
        return model

    def _watched(self, evals_log: EvalsLog) -> tuple[str, str]:
        if not evals_log:
            raise ValueError("EarlyStopping needs at least one dataset in eval_set")
        data = self.data_name if self.data_name is not None else list(evals_log)[-1]
        if data not in evals_log:
            raise ValueError(
                f"EarlyStopping: no evaluation set named {data!r}; the evaluation log has "
                f"{', '.join(map(repr, evals_log))}"
            )
        metrics = evals_log[data]
        metric = self.metric_name if self.metric_name is not None else list(metrics)[-1]
        if metric not in metrics:
            raise ValueError(
                f"EarlyStopping: no metric named {metric!r} on {data!r}; it has "
                f"{', '.join(map(repr, metrics))}"
            )
        return data, metric

    def _improves(self, score: float, maximize: bool) -> bool:
        if self._best_score is None:
            return True
        if maximize:
            return score - self.min_delta > self._best_score
        return self._best_score - self.min_delta > score

    def after_iteration(self, model: Any, epoch: int, evals_log: EvalsLog) -> bool:
        data, metric = self._watched(evals_log)
        score = float(evals_log[data][metric][-1])
        maximize = _is_maximized(metric) if self.maximize is None else self.maximize
        if self._improves(score, maximize):
            self._best_score, self._best_iteration, self._stale = score, epoch, 0
            model.best_iteration_ = epoch
            model.best_score_ = score
        else:
            self._stale += 1
        return self._stale >= self.rounds

    def after_training(self, model: Any) -> Any:
        if self.save_best and self._best_iteration is not None:
            model._keep_rounds(self._best_iteration + 1)
        return model


class EvaluationMonitor(TrainingCallback):
    """Print the evaluation log every ``period`` rounds, as XGBoost does.

    Each line reads ``[epoch]\\tvalidation_0-rmse:0.12345\\t...``, one entry per evaluation set
    and metric. The last round is printed at the end of training even when ``period`` skipped
    it. ``fit(..., verbose=n)`` adds ``EvaluationMonitor(period=n)``.

    Parameters
    ----------
    rank : int, default=0
        Kept for XGBoost's signature: a fit here is one process, of rank 0, so another rank
        prints nothing.
    period : int, default=1
        Rounds between printed lines.
    show_stdv : bool, default=False
        Print ``value+std`` for entries logged as ``(value, std)`` pairs.
    logger : callable, optional
        Called with each line (without a newline); by default ``print``.
    """

    def __init__(
        self,
        rank: int = 0,
        period: int = 1,
        show_stdv: bool = False,
        logger: Callable[[str], None] | None = None,
    ) -> None:
        if not _is_int(period) or period < 1:
            raise ValueError(f"EvaluationMonitor: period must be an int >= 1, got {period!r}")
        if logger is not None and not callable(logger):
            raise TypeError(
                f"EvaluationMonitor: logger must be callable, got {type(logger).__name__}"
            )
        self.rank = rank
        self.period = int(period)
        self.show_stdv = show_stdv
        self.logger = logger
        self._pending: str | None = None

    def __repr__(self) -> str:
        return _repr(
            self, rank=self.rank, period=self.period, show_stdv=self.show_stdv, logger=self.logger
        )

    def _emit(self, line: str) -> None:
        if self.logger is None:
            print(line, flush=True)
        else:
            self.logger(line)

    def _format(self, value: Any) -> str:
        if isinstance(value, tuple):
            mean, std = value
            return f"{mean:.5f}+{std:.5f}" if self.show_stdv else f"{mean:.5f}"
        return f"{value:.5f}"

    def before_training(self, model: Any) -> Any:
        self._pending = None
        return model

    def after_iteration(self, model: Any, epoch: int, evals_log: EvalsLog) -> bool:
        if not evals_log or self.rank != 0:
            return False
        line = f"[{epoch}]" + "".join(
            f"\t{data}-{metric}:{self._format(values[-1])}"
            for data, metrics in evals_log.items()
            for metric, values in metrics.items()
        )
        if epoch % self.period == 0:
            self._emit(line)
            self._pending = None
        else:
            self._pending = line
        return False

    def after_training(self, model: Any) -> Any:
        if self._pending is not None:
            self._emit(self._pending)
            self._pending = None
        return model


class LearningRateScheduler(TrainingCallback):
    """Change the learning rate between rounds.

    As in XGBoost, the rate chosen after round ``epoch`` applies to the rounds that follow it:
    round 0 uses the estimator's ``learning_rate``, round ``i + 1`` uses
    ``learning_rates(i)`` (or ``learning_rates[i]``). Trees already grown keep their rate.

    Parameters
    ----------
    learning_rates : callable or sequence of float
        ``epoch -> rate``, or one rate per round (at least ``n_estimators`` of them; the
        last is never used). Each rate must be finite and above 0.

    Examples
    --------
    >>> import numpy as np
    >>> from sapwood import GBTRegressor
    >>> from sapwood.callback import LearningRateScheduler
    >>> X = np.random.default_rng(0).normal(size=(100, 3))
    >>> decay = LearningRateScheduler(lambda epoch: 0.3 * 0.9**epoch)
    >>> model = GBTRegressor(n_estimators=20, callbacks=[decay]).fit(X, X[:, 0])
    """

    def __init__(self, learning_rates: Callable[[int], float] | Sequence[float]) -> None:
        if not callable(learning_rates) and not isinstance(learning_rates, Sequence):
            raise TypeError(
                "LearningRateScheduler: learning_rates must be a callable epoch -> rate or a "
                f"sequence of rates, got {type(learning_rates).__name__}"
            )
        self.learning_rates = learning_rates

    def __repr__(self) -> str:
        return _repr(self, learning_rates=self.learning_rates)

    def _rate(self, epoch: int) -> float:
        rates = self.learning_rates
        if callable(rates):
            rate = rates(epoch)
        else:
            if epoch >= len(rates):
                raise ValueError(
                    f"LearningRateScheduler: {len(rates)} learning rates given, but round "
                    f"{epoch + 1} needs one (give one per round)"
                )
            rate = rates[epoch]
        if not _is_real(rate) or not math.isfinite(float(rate)) or float(rate) <= 0:
            raise ValueError(
                f"LearningRateScheduler: the learning rate after round {epoch} must be a "
                f"finite number > 0, got {rate!r}"
            )
        return float(rate)

    def after_iteration(self, model: Any, epoch: int, evals_log: EvalsLog) -> bool:
        setter = getattr(model, "_set_training_learning_rate", None)
        if setter is None:
            raise TypeError(
                "LearningRateScheduler works with sapwood's boosting estimators while they fit"
            )
        setter(self._rate(epoch))
        return False


class ProgressBar(TrainingCallback):
    """Show how far a fit has come: a ``tqdm`` bar when tqdm is installed (the ``progress``
    extra), plain lines on standard error otherwise.

    Parameters
    ----------
    desc : str, optional
        Label of the bar or lines; by default the estimator's class name.
    period : int, optional
        Rounds between plain lines (about ten lines per fit by default); tqdm decides its own
        refresh rate.
    use_tqdm : bool, optional
        ``None`` uses tqdm when it can be imported; ``False`` always prints plain lines;
        ``True`` needs tqdm (``ImportError`` at fit otherwise).
    """

    def __init__(
        self, desc: str | None = None, period: int | None = None, use_tqdm: bool | None = None
    ) -> None:
        if period is not None and (not _is_int(period) or period < 1):
            raise ValueError(f"ProgressBar: period must be None or an int >= 1, got {period!r}")
        self.desc = desc
        self.period = period
        self.use_tqdm = use_tqdm
        self._bar: Any = None
        self._total: int | None = None
        self._done = 0
        self._shown = 0
        self._start = 0.0

    def __repr__(self) -> str:
        return _repr(self, desc=self.desc, period=self.period, use_tqdm=self.use_tqdm)

    def _open_bar(self, label: str) -> Any:
        if self.use_tqdm is False:
            return None
        try:
            from tqdm.auto import tqdm
        except ImportError:
            if self.use_tqdm:
                raise ImportError("ProgressBar(use_tqdm=True) needs tqdm installed") from None
            return None
        return tqdm(total=self._total, desc=label, unit="round")

    def _label(self, model: Any) -> str:
        return self.desc if self.desc is not None else type(model).__name__

    def before_training(self, model: Any) -> Any:
        shape = getattr(model, "_forest_shape", None)
        self._total = shape()[0] if callable(shape) else None
        self._done = self._shown = 0
        self._start = time.perf_counter()
        self._bar = self._open_bar(self._label(model))
        return model

    def _line(self, model: Any) -> None:
        total = "?" if self._total is None else self._total
        elapsed = time.perf_counter() - self._start
        sys.stderr.write(f"{self._label(model)}: {self._done}/{total} rounds, {elapsed:.1f} s\n")
        sys.stderr.flush()
        self._shown = self._done

    def after_iteration(self, model: Any, epoch: int, evals_log: EvalsLog) -> bool:
        self._done = epoch + 1
        if self._bar is not None:
            self._bar.update(1)
            return False
        period = self.period or max(1, (self._total or 10) // 10)
        if self._done % period == 0:
            self._line(model)
        return False

    def after_training(self, model: Any) -> Any:
        if self._bar is not None:
            self._bar.close()
            # A bar holds a stream, which neither pickles nor copies.
            self._bar = None
        elif self._done != self._shown or self._done == 0:
            self._line(model)
        return model


def _is_int(value: Any) -> bool:
    return isinstance(value, numbers.Integral) and not isinstance(value, bool)


def _is_real(value: Any) -> bool:
    return isinstance(value, numbers.Real) and not isinstance(value, bool)


def _repr(obj: Any, **params: Any) -> str:
    # Only what differs from the defaults, as scikit-learn shows estimators (and so the
    # ``callbacks`` in an estimator's repr).
    defaults = {
        name: p.default
        for name, p in inspect.signature(type(obj).__init__).parameters.items()
        if p.default is not inspect.Parameter.empty
    }
    shown = ", ".join(
        f"{k}={v!r}" for k, v in params.items() if k not in defaults or defaults[k] != v
    )
    return f"{type(obj).__name__}({shown})"


def _check_callbacks(value: Any) -> list[Any]:
    """The ``callbacks`` parameter as a list, each entry checked to have every hook."""
    if value is None:
        return []
    if isinstance(value, (str, bytes, Mapping)) or not isinstance(value, Sequence):
        what = "a TrainingCallback" if _missing_hooks(value) == [] else type(value).__name__
        raise TypeError(
            f"callbacks must be a list of training callbacks or None, got {what}"
            + ("; wrap it in a list" if what == "a TrainingCallback" else "")
        )
    for i, callback in enumerate(value):
        missing = _missing_hooks(callback)
        if missing:
            raise TypeError(
                f"callbacks[{i}] ({type(callback).__name__}) is not a training callback: it "
                f"has no {', '.join(missing)} method (subclass "
                "sapwood.callback.TrainingCallback)"
            )
    return list(value)


def _missing_hooks(obj: Any) -> list[str]:
    return [hook for hook in _HOOKS if not callable(getattr(obj, hook, None))]


def _fit_copies(callbacks: Sequence[Any]) -> list[Any]:
    """Deep copies of the checked callbacks for one fit, each object once: the estimator's
    parameter stays as given, and no state is shared between fits or with the caller."""
    unique: list[Any] = []
    for callback in callbacks:
        if not any(callback is seen for seen in unique):
            unique.append(callback)
    try:
        return copy.deepcopy(unique)
    except Exception as exc:
        raise TypeError(
            f"callbacks must be deep-copyable, so that each fit starts from them as given: {exc}"
        ) from exc
