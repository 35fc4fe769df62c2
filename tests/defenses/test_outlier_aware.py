"""The outlier-aware defense on real models: each strategy changes training, and dropping each model's
outliers protects the population's outliers subgroup."""

import numpy as np
import pytest

SMALL = {"epochs": 10}


@pytest.fixture(scope="module")
def runs(run_defense, tmp_path_factory):
    """``runs(defense, params)``: a LiRA run (K = 4) in one shared cache, each setting run once."""
    root, done = tmp_path_factory.mktemp("outlier-aware"), {}

    def get(defense, params=None):
        key = (defense, tuple(sorted((params or {}).items())))
        if key not in done:
            done[key] = run_defense(defense, root, SMALL | (params or {}), attacks=("lira",))
        return done[key]

    return get


def outliers(record, metric="auc"):
    entry = record.metrics_by_subgroup["outliers"]
    return entry.auc.mean if metric == "auc" else entry.tpr_at_fpr["0.01"].mean


@pytest.mark.parametrize("strategy", ["drop", "down-weight", "noise"])
def test_each_strategy_changes_training(runs, strategy):
    plain, run = runs("none"), runs("outlier-aware", {"outlier-aware.strategy": strategy})
    record = run["lira"]
    assert record.timings.cache_hit is False  # a training-side defense trains its own models
    assert not np.allclose(run.signals.logits, plain.signals.logits, atol=1e-3)
    protected = np.array(record.defense.facts["protected"].per_model)
    share = protected / run.signals.members.sum(axis=1)
    assert np.all((share > 0.08) & (share < 0.12))  # about the default fraction (0.1) of each class, per model
    plain = plain["lira"]
    print(
        f"outlier-aware {strategy}: outliers LiRA AUC {outliers(plain):.3f} -> {outliers(record):.3f}, "
        f"TPR@1%FPR {outliers(plain, 'tpr'):.4f} -> {outliers(record, 'tpr'):.4f}; test accuracy "
        f"{plain.utility.test_accuracy.mean:.3f} -> {record.utility.test_accuracy.mean:.3f}"
    )


def test_drop_protects_the_outliers_subgroup(runs):
    plain, record = runs("none")["lira"], runs("outlier-aware", {"outlier-aware.strategy": "drop"})["lira"]
    # The defender's outliers (among each model's own members) are mostly the population's outliers:
    # trained without them, the models leak far less about that subgroup than about the rest.
    assert outliers(record) < outliers(plain) - 0.1
    assert outliers(record) - 0.5 < (record.metrics.auc.mean - 0.5) / 2
