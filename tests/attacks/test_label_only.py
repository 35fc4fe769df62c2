"""Label-only: counted queries of noisy inputs, within the budget, on top of the cube's views."""

import numpy as np

import miabench
from miabench import scoring
from miabench.registry import attacks


def test_label_only_stops_at_its_query_budget(location_run, data_dir, tmp_path):
    root = location_run["root"]

    def run(budget):
        (record,) = miabench.evaluate(
            attacks=["label-only"], params={"budget": str(budget)}, models=16, data_dir=data_dir,
            out=tmp_path / str(budget), cache_dir=root / "cache", progress=False,
        )  # fmt: skip
        return record

    small, none = run(1000), run(0)
    assert small.attack.queries == 16 * 1000  # every target's budget spent, not one query more
    assert small.attack.threat_model.queries == 1000
    assert none.attack.queries == 0
    assert small.metrics.auc.mean != none.metrics.auc.mean  # the queries were used
    assert small.metrics.auc.mean > 0.6


def test_label_only_without_models_uses_the_cube_views(synthetic_cube):
    logits, labels, plan = synthetic_cube(models=4, examples=40)
    scored = scoring.leave_one_out(attacks.create("label-only"), logits, labels, plan)
    assert scored.queries == 0
    assert set(np.unique(scored.scores)) <= {0.0, 1.0}
