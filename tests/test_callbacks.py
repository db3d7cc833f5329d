"""Training callbacks (``sapwood.callback``): the hook protocol of XGBoost, stopping,
``EarlyStopping`` against ``early_stopping_rounds``, printing, progress, and callbacks as a
constructor parameter (checked, cloned, pickled)."""

from __future__ import annotations

import pickle
import sys
import threading
import types
from typing import ClassVar

import numpy as np
import pytest
from sklearn.base import clone

from sapwood import GBTClassifier, GBTRegressor, RFClassifier, load_model
from sapwood.callback import EarlyStopping, EvaluationMonitor, ProgressBar, TrainingCallback


def _data(n=300, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, 4))
    y = X[:, 0] + 0.5 * X[:, 1] ** 2 + rng.normal(scale=0.7, size=n)
    return X, y


def _split(n=300, seed=0):
    X, y = _data(n, seed)
    cut = 2 * n // 3
    return X[:cut], y[:cut], X[cut:], y[cut:]


class Recorder(TrainingCallback):
    """Records every hook call. Fits run on deep copies, so the record is kept on the class."""

    events: ClassVar[list[tuple]] = []

    def __init__(self, stop_before=None, stop_after=None):
        self.stop_before = stop_before
        self.stop_after = stop_after

    def before_training(self, model):
        self.events.append(("before_training", model.n_iterations_))
        return model

    def after_training(self, model):
        self.events.append(("after_training", model.n_iterations_))
        return model

    def before_iteration(self, model, epoch, evals_log):
        assert evals_log is model.evals_result_
        self.events.append(("before_iteration", epoch, model.n_iterations_))
        return epoch == self.stop_before

    def after_iteration(self, model, epoch, evals_log):
        assert evals_log is model.evals_result_
        rmse = evals_log["validation_0"]["rmse"] if evals_log else []
        self.events.append(("after_iteration", epoch, model.n_iterations_, len(rmse)))
        return epoch == self.stop_after


@pytest.fixture
def recorder():
    Recorder.events = []
    yield Recorder
    Recorder.events = []


def test_hooks_run_in_xgboost_order_and_see_the_estimator(recorder):
    X, y, Xv, yv = _split()
    est = GBTRegressor(n_estimators=3, callbacks=[recorder()])
    est.fit(X, y, eval_set=[(Xv, yv)])
    assert recorder.events == [
        ("before_training", 0),
        ("before_iteration", 0, 0),
        ("after_iteration", 0, 1, 1),
        ("before_iteration", 1, 1),
        ("after_iteration", 1, 2, 2),
        ("before_iteration", 2, 2),
        ("after_iteration", 2, 3, 3),
        ("after_training", 3),
    ]


def test_every_callback_sees_the_round_in_which_one_stops(recorder):
    X, y = _data()
    est = GBTRegressor(n_estimators=10, callbacks=[recorder(stop_after=4), recorder()])
    est.fit(X, y)
    after = [e for e in recorder.events if e[0] == "after_iteration"]
    assert [e[1] for e in after] == [0, 0, 1, 1, 2, 2, 3, 3, 4, 4]
    assert recorder.events[-2:] == [("after_training", 5), ("after_training", 5)]


@pytest.mark.parametrize("hook", ["after", "before"])
def test_returning_true_stops_training(recorder, hook):
    X, y = _data()
    stop = recorder(stop_after=6) if hook == "after" else recorder(stop_before=7)
    est = GBTRegressor(n_estimators=50, learning_rate=0.5, callbacks=[stop]).fit(X, y)
    assert est.n_iterations_ == 7
    assert est.best_iteration_ == 6
    plain = GBTRegressor(n_estimators=7, learning_rate=0.5).fit(X, y)
    np.testing.assert_array_equal(est.predict(X), plain.predict(X))
    if hook == "before":
        assert ("before_iteration", 7, 7) in recorder.events
        assert not any(e[0] == "after_iteration" and e[1] == 7 for e in recorder.events)


def test_stopping_before_the_first_round_leaves_the_intercept(recorder):
    X, y = _data()
    est = GBTRegressor(callbacks=[recorder(stop_before=0)]).fit(X, y)
    assert est.n_iterations_ == 0
    assert est.best_iteration_ == -1
    np.testing.assert_allclose(est.predict(X[:3]), est.predict(X[3:6]))


def test_early_stopping_callback_equals_early_stopping_rounds():
    X, y, Xv, yv = _split()
    kw = dict(n_estimators=300, learning_rate=0.8, tree_method="exact")
    fit = dict(eval_set=[(Xv, yv)])
    by_param = GBTRegressor(**kw, early_stopping_rounds=3).fit(X, y, **fit)
    by_callback = GBTRegressor(**kw, callbacks=[EarlyStopping(3)]).fit(X, y, **fit)
    assert by_param.n_iterations_ < 300
    assert by_callback.best_iteration_ == by_param.best_iteration_
    assert by_callback.best_score_ == by_param.best_score_
    assert by_callback.n_iterations_ == by_param.n_iterations_ == by_param.best_iteration_ + 4
    assert by_callback.evals_result_ == by_param.evals_result_
    assert by_callback._model.attributes == by_param._model.attributes
    np.testing.assert_array_equal(by_callback.predict(Xv), by_param.predict(Xv))


def _expected_stop(scores, rounds, maximize=False, min_delta=0.0):
    """(best iteration, rounds trained) of XGBoost's early-stopping rule over a full log."""
    best, best_it = None, None
    for it, s in enumerate(scores):
        better = (
            best is None
            or (maximize and s - min_delta > best)
            or (not maximize and best - min_delta > s)
        )
        if better:
            best, best_it = s, it
        elif it - best_it >= rounds:
            return best_it, it + 1
    return best_it, len(scores)


def test_maximize_is_inferred_from_the_metric():
    X, y, Xv, yv = _split(400, seed=4)
    kw = dict(n_estimators=60, learning_rate=0.5, eval_metric=["logloss", "auc"])
    full = GBTClassifier(**kw).fit(X, y > 0.5, eval_set=[(Xv, yv > 0.5)])
    auc = full.evals_result_["validation_0"]["auc"]
    for maximize in (None, True, False):
        est = GBTClassifier(**kw, callbacks=[EarlyStopping(4, maximize=maximize)])
        est.fit(X, y > 0.5, eval_set=[(Xv, yv > 0.5)])
        best, n = _expected_stop(auc, 4, maximize=maximize is not False)
        assert (est.best_iteration_, est.n_iterations_) == (best, n), maximize
        assert est.best_score_ == auc[best]
    # The default and maximize=True agree; minimising AUC stops at a different round.
    assert _expected_stop(auc, 4, maximize=True) != _expected_stop(auc, 4, maximize=False)


def test_min_delta_asks_for_a_larger_improvement():
    X, y, Xv, yv = _split()
    kw = dict(n_estimators=80, learning_rate=0.1)
    full = GBTRegressor(**kw).fit(X, y, eval_set=[(Xv, yv)])
    rmse = full.evals_result_["validation_0"]["rmse"]
    outcomes = set()
    for min_delta in (0.0, 0.005, 0.02, 10.0):
        est = GBTRegressor(**kw, callbacks=[EarlyStopping(3, min_delta=min_delta)])
        est.fit(X, y, eval_set=[(Xv, yv)])
        expected = _expected_stop(rmse, 3, min_delta=min_delta)
        assert (est.best_iteration_, est.n_iterations_) == expected, min_delta
        outcomes.add(expected)
    assert (0, 4) in outcomes
    assert len(outcomes) >= 3


def test_data_and_metric_names_choose_what_decides():
    X, y, Xv, yv = _split()
    kw = dict(n_estimators=60, learning_rate=0.6, eval_metric=["rmse", "mae"])
    evals = [(Xv, yv), (X[:100], y[:100])]
    full = GBTRegressor(**kw).fit(X, y, eval_set=evals)
    est = GBTRegressor(
        **kw, callbacks=[EarlyStopping(2, data_name="validation_0", metric_name="rmse")]
    ).fit(X, y, eval_set=evals)
    rmse = full.evals_result_["validation_0"]["rmse"]
    best, n = _expected_stop(rmse, 2)
    assert (est.best_iteration_, est.n_iterations_) == (best, n)
    assert est.best_score_ == rmse[best]
    with pytest.raises(ValueError, match="no evaluation set named 'validation_7'"):
        GBTRegressor(**kw, callbacks=[EarlyStopping(2, data_name="validation_7")]).fit(
            X, y, eval_set=evals
        )
    with pytest.raises(ValueError, match="no metric named 'auc'"):
        GBTRegressor(**kw, callbacks=[EarlyStopping(2, metric_name="auc")]).fit(
            X, y, eval_set=evals
        )
    with pytest.raises(ValueError, match="eval_set"):
        GBTRegressor(callbacks=[EarlyStopping(2)]).fit(X, y)


def test_save_best_keeps_only_the_rounds_up_to_the_best(tmp_path):
    X, y, Xv, yv = _split()
    kw = dict(n_estimators=300, learning_rate=0.8)
    kept = GBTRegressor(**kw, callbacks=[EarlyStopping(5)]).fit(X, y, eval_set=[(Xv, yv)])
    best = GBTRegressor(**kw, callbacks=[EarlyStopping(5, save_best=True)])
    best.fit(X, y, eval_set=[(Xv, yv)])
    assert best.best_iteration_ == kept.best_iteration_
    assert best.best_score_ == kept.best_score_
    assert kept.n_iterations_ == kept.best_iteration_ + 6
    assert best.n_iterations_ == best.best_iteration_ + 1
    np.testing.assert_array_equal(best.predict(Xv), kept.predict(Xv))
    np.testing.assert_array_equal(best.predict(Xv, iteration_range=(0, 0)), kept.predict(Xv))
    path = tmp_path / "best.json"
    best.save_model(path)
    again = load_model(path)
    assert again.n_iterations_ == best.n_iterations_
    assert again.best_iteration_ == best.best_iteration_
    np.testing.assert_array_equal(again.predict(Xv), best.predict(Xv))


@pytest.mark.parametrize(
    ("kwargs", "error", "match"),
    [
        ({"rounds": 0}, ValueError, "rounds must be an int >= 1"),
        ({"rounds": 2.5}, ValueError, "rounds must be an int >= 1"),
        ({"rounds": 2, "min_delta": -1.0}, ValueError, "min_delta"),
        ({"rounds": 2, "maximize": "yes"}, TypeError, "maximize must be a bool"),
        ({"rounds": 2, "data_name": 0}, TypeError, "data_name must be a str"),
    ],
)
def test_early_stopping_checks_its_arguments(kwargs, error, match):
    with pytest.raises(error, match=match):
        EarlyStopping(**kwargs)


def _lines(text):
    return [line for line in text.splitlines() if line]


def test_evaluation_monitor_prints_every_period_and_the_last_round(capsys):
    X, y, Xv, yv = _split()
    est = GBTRegressor(
        n_estimators=8, eval_metric=["rmse", "mae"], callbacks=[EvaluationMonitor(period=3)]
    ).fit(X, y, eval_set=[(Xv, yv), (X[:50], y[:50])])
    log = est.evals_result_
    expected = [
        f"[{i}]\tvalidation_0-rmse:{log['validation_0']['rmse'][i]:.5f}"
        f"\tvalidation_0-mae:{log['validation_0']['mae'][i]:.5f}"
        f"\tvalidation_1-rmse:{log['validation_1']['rmse'][i]:.5f}"
        f"\tvalidation_1-mae:{log['validation_1']['mae'][i]:.5f}"
        for i in (0, 3, 6, 7)
    ]
    assert _lines(capsys.readouterr().out) == expected


def test_evaluation_monitor_logger_rank_and_stdv(capsys):
    monitor = EvaluationMonitor(period=2, show_stdv=True, logger=lambda line: print("LOG", line))
    log = {"validation_0": {"rmse": [(0.5, 0.01)]}}
    monitor.before_training(None)
    assert monitor.after_iteration(None, 0, log) is False
    assert capsys.readouterr().out == "LOG [0]\tvalidation_0-rmse:0.50000+0.01000\n"
    EvaluationMonitor(rank=1).after_iteration(None, 0, {"validation_0": {"rmse": [0.5]}})
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="period must be an int >= 1"):
        EvaluationMonitor(period=0)


def test_verbose_prints_as_xgboost_does(capsys, xgb):
    X, y, Xv, yv = _split()
    evals = [(Xv, yv), (X[:50], y[:50])]
    kw = dict(n_estimators=11, tree_method="exact", eval_metric=["rmse", "mae"])
    xgb.XGBRegressor(**kw).fit(X, y, eval_set=evals, verbose=4)
    theirs = _lines(capsys.readouterr().out)
    GBTRegressor(**kw).fit(X, y, eval_set=evals, verbose=4)
    ours = _lines(capsys.readouterr().out)
    assert [line.split("\t")[0] for line in ours] == ["[0]", "[4]", "[8]", "[10]"]
    assert len(ours) == len(theirs)
    for mine, other in zip(ours, theirs, strict=True):
        a, b = mine.split("\t"), other.split("\t")
        assert [f.split(":")[0] for f in a] == [f.split(":")[0] for f in b]
        np.testing.assert_allclose(
            [float(f.split(":")[1]) for f in a[1:]],
            [float(f.split(":")[1]) for f in b[1:]],
            rtol=1e-4,
        )


def test_verbose_true_prints_every_round_and_checks_its_value(capsys):
    X, y, Xv, yv = _split()
    GBTRegressor(n_estimators=4).fit(X, y, eval_set=[(Xv, yv)], verbose=True)
    assert [line.split("\t")[0] for line in _lines(capsys.readouterr().out)] == [
        "[0]",
        "[1]",
        "[2]",
        "[3]",
    ]
    GBTRegressor(n_estimators=4).fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    GBTRegressor(n_estimators=4).fit(X, y, verbose=True)  # nothing to print without eval_set
    assert capsys.readouterr().out == ""
    with pytest.raises(ValueError, match="verbose must be a bool or an int >= 1"):
        GBTRegressor(n_estimators=4).fit(X, y, eval_set=[(Xv, yv)], verbose=-2)


def test_progress_bar_prints_plain_lines_without_tqdm(capsys):
    X, y = _data()
    GBTRegressor(n_estimators=20, callbacks=[ProgressBar(use_tqdm=False)]).fit(X, y)
    lines = _lines(capsys.readouterr().err)
    assert [line.split(",")[0] for line in lines] == [
        f"GBTRegressor: {i}/20 rounds" for i in range(2, 21, 2)
    ]
    stop = EarlyStopping(1)
    GBTRegressor(
        n_estimators=500,
        learning_rate=1.0,
        callbacks=[stop, ProgressBar(desc="fit", period=100, use_tqdm=False)],
    ).fit(X[:200], y[:200], eval_set=[(X[200:], y[200:])])
    lines = _lines(capsys.readouterr().err)
    assert len(lines) == 1
    assert lines[0].startswith("fit: ")
    assert lines[0].endswith(" s")
    assert "/500 rounds" in lines[0]


def test_progress_bar_uses_tqdm_when_installed(monkeypatch):
    bars = []

    class FakeBar:
        def __init__(self, total, desc, unit):
            self.total, self.desc, self.unit = total, desc, unit
            self.n, self.closed = 0, False
            bars.append(self)

        def update(self, k):
            self.n += k

        def close(self):
            self.closed = True

    fake = types.ModuleType("tqdm")
    fake_auto = types.ModuleType("tqdm.auto")
    fake_auto.tqdm = FakeBar
    fake.auto = fake_auto
    monkeypatch.setitem(sys.modules, "tqdm", fake)
    monkeypatch.setitem(sys.modules, "tqdm.auto", fake_auto)
    X, y = _data()
    est = GBTRegressor(n_estimators=7, callbacks=[ProgressBar()]).fit(X, y)
    assert [(b.total, b.desc, b.unit, b.n, b.closed) for b in bars] == [
        (7, "GBTRegressor", "round", 7, True)
    ]
    pickle.dumps(est)


def test_progress_bar_that_needs_tqdm_says_so(monkeypatch):
    monkeypatch.setitem(sys.modules, "tqdm.auto", None)
    X, y = _data(50)
    with pytest.raises(ImportError, match="needs tqdm"):
        GBTRegressor(n_estimators=2, callbacks=[ProgressBar(use_tqdm=True)]).fit(X, y)


def test_random_forests_run_callbacks_around_their_one_round(recorder):
    X, y = _data()
    RFClassifier(n_estimators=5, callbacks=[recorder()]).fit(X, y > 0)
    assert [e[0] for e in recorder.events] == [
        "before_training",
        "before_iteration",
        "after_iteration",
        "after_training",
    ]


class Counter(TrainingCallback):
    def __init__(self):
        self.rounds = 0
        self.lock = None

    def after_iteration(self, model, epoch, evals_log):
        self.rounds += 1
        return False


def test_callbacks_are_stored_as_given_and_copied_for_each_fit():
    X, y, Xv, yv = _split()
    counter, stop = Counter(), EarlyStopping(2)
    callbacks = [counter, stop, counter]
    est = GBTRegressor(n_estimators=30, learning_rate=0.9, callbacks=callbacks)
    assert est.get_params()["callbacks"] is callbacks
    est.fit(X, y, eval_set=[(Xv, yv)])
    first = (est.best_iteration_, est.n_iterations_)
    assert est.callbacks is callbacks
    assert counter.rounds == 0
    assert stop._best_score is None
    est.fit(X, y, eval_set=[(Xv, yv)])
    assert (est.best_iteration_, est.n_iterations_) == first
    cloned = clone(est)
    assert [type(c) for c in cloned.callbacks] == [Counter, EarlyStopping, Counter]
    assert cloned.callbacks[1] is not stop
    assert repr(cloned.callbacks[1]) == "EarlyStopping(rounds=2)"
    assert "callbacks=[" in repr(est)


def test_a_fitted_estimator_with_callbacks_pickles():
    X, y, Xv, yv = _split()
    est = GBTRegressor(
        n_estimators=40, learning_rate=0.9, callbacks=[EarlyStopping(2), EvaluationMonitor()]
    ).fit(X, y, eval_set=[(Xv, yv)], verbose=False)
    again = pickle.loads(pickle.dumps(est))
    assert [repr(c) for c in again.callbacks] == [repr(c) for c in est.callbacks]
    assert again.best_iteration_ == est.best_iteration_
    np.testing.assert_array_equal(again.predict(Xv), est.predict(Xv))


class NotACallback:
    def after_iteration(self, model, epoch, evals_log):
        return False


@pytest.mark.parametrize(
    ("callbacks", "match"),
    [
        (EarlyStopping(2), "got a TrainingCallback; wrap it in a list"),
        ("early", "got str"),
        ([NotACallback()], r"callbacks\[0\] \(NotACallback\) is not a training callback: it "),
        ([EarlyStopping(2), 3], r"callbacks\[1\] \(int\) .*before_training, after_training"),
    ],
)
def test_bad_callbacks_are_a_type_error(callbacks, match):
    X, y = _data(50)
    with pytest.raises(TypeError, match=match):
        GBTRegressor(n_estimators=2, callbacks=callbacks).fit(X, y)


def test_callbacks_that_cannot_be_copied_are_a_type_error():
    X, y = _data(50)
    counter = Counter()
    counter.lock = threading.Lock()
    with pytest.raises(TypeError, match="callbacks must be deep-copyable"):
        GBTRegressor(n_estimators=2, callbacks=[counter]).fit(X, y)


def test_duck_typed_callbacks_work(recorder):
    class Duck:
        def before_training(self, model):
            return model

        def after_training(self, model):
            return model

        def before_iteration(self, model, epoch, evals_log):
            return False

        def after_iteration(self, model, epoch, evals_log):
            return epoch == 2

    X, y = _data()
    assert GBTRegressor(callbacks=[Duck()]).fit(X, y).n_iterations_ == 3


# ------------------------------------------------------------------------- learning rates


def _lr_data():
    rng = np.random.default_rng(7)
    X = rng.normal(size=(300, 4)).astype(np.float32)
    y = (X[:, 0] - 0.5 * X[:, 1] + 0.1 * rng.normal(size=300)).astype(np.float32)
    return X, y


def test_constant_schedule_equals_the_plain_fit():
    from sapwood.callback import LearningRateScheduler

    X, y = _lr_data()
    plain = GBTRegressor(n_estimators=8, learning_rate=0.3).fit(X, y)
    scheduled = GBTRegressor(
        n_estimators=8, learning_rate=0.3, callbacks=[LearningRateScheduler([0.3] * 8)]
    ).fit(X, y)
    np.testing.assert_array_equal(scheduled.predict(X), plain.predict(X))


def test_schedule_applies_from_the_next_round_as_in_xgboost(xgb):
    from sapwood.callback import LearningRateScheduler

    X, y = _lr_data()

    def rates(epoch):
        return 0.5 * 0.7**epoch

    params = dict(n_estimators=6, max_depth=3, tree_method="exact", learning_rate=0.5)
    ours = GBTRegressor(**params, callbacks=[LearningRateScheduler(rates)]).fit(X, y)
    theirs = xgb.XGBRegressor(**params, callbacks=[xgb.callback.LearningRateScheduler(rates)]).fit(
        X, y
    )
    np.testing.assert_allclose(ours.predict(X), theirs.predict(X), rtol=1e-5, atol=1e-5)
    # A tiny rate after the first round leaves the first round's trees alone.
    tiny = GBTRegressor(**params, callbacks=[LearningRateScheduler(lambda e: 1e-9)]).fit(X, y)
    one = GBTRegressor(**dict(params, n_estimators=1)).fit(X, y)
    np.testing.assert_allclose(tiny.predict(X), one.predict(X), rtol=1e-6, atol=1e-6)


def test_bad_schedules_are_clear_errors():
    from sapwood.callback import LearningRateScheduler

    X, y = _lr_data()
    with pytest.raises(TypeError, match="learning_rates must be"):
        LearningRateScheduler(0.3)
    with pytest.raises(ValueError, match="2 learning rates given"):
        GBTRegressor(n_estimators=5, callbacks=[LearningRateScheduler([0.3, 0.2])]).fit(X, y)
    with pytest.raises(ValueError, match="finite number > 0"):
        GBTRegressor(n_estimators=3, callbacks=[LearningRateScheduler(lambda e: -1.0)]).fit(X, y)
    # Outside a fit the estimator refuses to change a rate.
    model = GBTRegressor(n_estimators=2).fit(X, y)
    with pytest.raises(RuntimeError, match="while the model fits"):
        model._set_training_learning_rate(0.1)
