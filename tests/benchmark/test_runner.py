"""Whole runs on real data: the record contract, cache hits, determinism, image views."""

import numpy as np

import miabench
from miabench import harness, runner
from miabench.atomic import sha256_file
from miabench.metrics import FPR_LEVELS
from miabench.registry import attacks


def test_record_carries_the_public_contract(location_run):
    record = location_run["lira"]
    assert record.schema_version == 2
    assert 0.5 < record.metrics.auc.mean <= 1
    for alpha in FPR_LEVELS:
        entry = record.metrics.tpr_at_fpr[f"{alpha:g}"]
        assert entry.realised_fpr <= alpha and entry.n_nonmembers > 0
        assert entry.ci95[0] <= entry.mean <= entry.ci95[1]
    assert record.task.name == "location" and record.task.version
    assert record.attack.params == {"online": True, "fixed_variance": False, "variant": "paper"}
    assert record.attack.threat_model.access == "scores"
    assert record.defense.name == "none"
    assert (record.models, record.views, record.classes) == (16, 1, 30)
    assert len(record.plan_hash) == len(record.config_hash) == 64
    assert len(record.per_target) == 16
    assert 0.3 < record.utility.test_accuracy.mean < 1
    assert set(record.utility.recall) == {f"class:{c}" for c in range(30)}
    assert 0 < record.utility.balanced_accuracy.mean < 1
    assert record.environment.device == "cpu"


def test_written_files_match_the_record(location_run):
    folder = location_run["root"] / "out" / "lira"
    (written,) = miabench.load(folder / "result.json")
    assert written.metrics.auc.mean == location_run["lira"].metrics.auc.mean
    assert written.scores_file.sha256 == sha256_file(folder / "scores.npz")
    with np.load(folder / "scores.npz") as scores:
        assert scores["scores"].shape == scores["members"].shape == (16, written.examples)


def test_rerun_trains_nothing_and_gives_the_same_numbers(location_run, data_dir, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("a cached configuration must not train")

    monkeypatch.setattr(harness, "train_group", no_training)
    root = location_run["root"]
    (again,) = miabench.evaluate(
        attacks=["lira"], models=16, data_dir=data_dir, out=root / "again", cache_dir=root / "cache", progress=False
    )
    assert again.timings.cache_hit is True
    assert again.metrics == location_run["lira"].metrics


def test_same_seed_gives_identical_metrics_from_scratch(data_dir, tmp_path):
    def fresh(name):
        return miabench.evaluate(
            attacks=["loss", "lira"],
            models=4,
            params={"epochs": "3"},
            data_dir=data_dir,
            out=tmp_path / name / "out",
            cache_dir=tmp_path / name / "cache",
            progress=False,
        )

    first, second = fresh("a"), fresh("b")
    assert [r.metrics for r in first] == [r.metrics for r in second]
    assert first[0].timings.cache_hit is second[0].timings.cache_hit is False


def test_mnist_runs_with_two_views(data_dir, tmp_path):
    (record,) = miabench.evaluate(
        task="mnist",
        attacks=["loss"],
        models=2,
        params={"epochs": "4", "population_size": "600", "test_size": "300"},
        data_dir=data_dir,
        out=tmp_path / "out",
        cache_dir=tmp_path / "cache",
        progress=False,
    )
    assert (record.models, record.examples, record.views, record.classes) == (2, 600, 2, 10)
    assert record.utility.test_accuracy.mean > 0.3  # well above chance (0.1) after 4 short epochs


def test_l2_defense_reduces_leakage_on_real_models(data_dir, tmp_path):
    def run(defense, params):
        (record,) = miabench.evaluate(
            attacks=["loss"],
            defense=defense,
            models=4,
            params={"epochs": "10", **params},
            data_dir=data_dir,
            out=tmp_path / defense,
            cache_dir=tmp_path / "cache",
            progress=False,
        )
        return record

    plain, defended = run("none", {}), run("l2", {"weight_decay": "0.01"})
    assert defended.recipe.weight_decay == 0.01 and plain.recipe.weight_decay == 0.0
    assert defended.config_hash != plain.config_hash
    assert defended.metrics.auc.mean < plain.metrics.auc.mean - 0.03


def test_supported_counts_the_references_given_and_needs_models_for_queries():
    lira, label_only, loss = (attacks.create(name) for name in ("lira", "label-only", "loss"))
    kept, skipped = runner.supported([lira, label_only, loss], 4, 0)  # a run: K - 2 references, models at hand
    assert kept == [lira, label_only, loss] and skipped == []
    kept, skipped = runner.supported([lira, label_only, loss], 3, 0, references=2, queries=False)  # a signals file
    assert kept == [lira, loss]
    (line,) = skipped
    assert line.startswith("attack 'label-only' queries the targets (a budget of 100000)") and "miabench run" in line
    assert runner.supported([lira], 3, 0)[1][0].startswith("attack 'lira' needs at least 2 reference model(s)")
