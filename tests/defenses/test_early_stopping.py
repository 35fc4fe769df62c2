"""Early stopping: each model stops at patience and keeps its best epoch, in any grouping; on real models
it reports each model's best epoch and lowers LiRA's AUC."""

import numpy as np
import torch

from miabench import engine, harness
from miabench.defenses import early_stopping as early_stopping_module
from miabench.registry import defenses

EPOCHS = 12  # the regularizers group's recipe


def test_early_stopping_stops_at_patience_and_restores_each_best_epoch(monkeypatch, toy_setup):
    epochs, patience = 40, 2
    defense = defenses.create("early-stopping", {"patience": str(patience), "validation": "0.2"})
    setup = toy_setup(defense=defense, epochs=epochs)
    seen = []
    measure = early_stopping_module.validation_loss

    def spy(*args, **kwargs):
        seen.append(measure(*args, **kwargs))
        return seen[-1]

    monkeypatch.setattr(early_stopping_module, "validation_loss", spy)
    logits, _, facts, _ = harness.train_group(setup, [0, 1, 2, 3], None, False)
    best = facts["stopped_epoch"].astype(int)
    losses = torch.stack(seen).numpy()  # [epochs trained, G]
    assert len(losses) < epochs  # stopped early
    assert len(losses) == best.max() + patience  # when the last model ran out of patience
    for g in range(4):
        own = losses[: best[g] + patience, g]  # what model g saw before it was done
        assert own.argmin() + 1 == best[g]

    # The served models hold their best epoch's weights: their validation loss is the best one seen.
    _, validation = early_stopping_module.split(setup.plan.members, defense.validation, setup.seed)
    logp = torch.from_numpy(logits[:, :, 0]).log_softmax(-1).numpy()
    ce = -np.take_along_axis(logp, setup.population.y.numpy()[None, :, None], -1)[..., 0]
    final = [ce[g, validation[g]].mean() for g in range(4)]
    np.testing.assert_allclose(final, losses[best - 1, np.arange(4)], rtol=1e-4)
    assert not np.allclose(final, losses[-1])  # and not the last epoch's


def test_early_stopping_trains_the_same_models_in_any_grouping(toy_setup):
    defense = defenses.create("early-stopping", {"patience": "2", "validation": "0.2"})
    setup = toy_setup(defense=defense, epochs=40)
    together = harness.train_group(setup, [0, 1, 2, 3], None, False)
    alone = [harness.train_group(setup, [k], None, False) for k in range(4)]
    np.testing.assert_array_equal(together[2]["stopped_epoch"], [a[2]["stopped_epoch"][0] for a in alone])
    assert together[2]["stopped_epoch"].min() < 40
    np.testing.assert_allclose(together[0], np.concatenate([a[0] for a in alone]), atol=1e-4)


def test_on_epoch_returning_true_stops_the_loop_and_the_checkpoint_says_finished(tmp_path, toy_setup, no_defense):
    # The engine's stop signal that early stopping relies on.
    setup = toy_setup(defense=no_defense(), epochs=6)
    x, y, members = setup.population.x, setup.population.y, setup.plan.members
    calls = []

    def stop_after_two(epoch):
        calls.append(epoch)
        return epoch == 1

    checkpoint = tmp_path / "group.ckpt"
    models = harness.build_group(setup, [0, 1, 2, 3])
    engine.train(models, x, y, members, [0, 1, 2, 3], setup.recipe, 0, checkpoint, False, on_epoch=stop_after_two)
    assert calls == [0, 1]
    assert torch.load(checkpoint, weights_only=True)["epoch"] == 6  # a rerun resumes as finished...
    engine.train(models, x, y, members, [0, 1, 2, 3], setup.recipe, 0, checkpoint, False, on_epoch=stop_after_two)
    assert calls == [0, 1]  # ...and trains no further


def test_each_model_reports_its_best_epoch(runs_of):
    stopped = runs_of("regularizers", "early-stopping")["lira"].defense.facts["stopped_epoch"].per_model
    assert len(stopped) == 4 and all(1 <= epoch <= EPOCHS for epoch in stopped)
