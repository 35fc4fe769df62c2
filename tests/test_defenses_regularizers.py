"""Training-side defenses that change the model, the loss or the stopping point: dropout,
label smoothing, early stopping, RelaxLoss and CRL.

Each is checked on real Location-30 runs (K = 4, a short recipe, shared between tests)
against the undefended models of the same seed, plus unit checks of its mechanics.
"""

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn
from toy import toy_task

from miabench import engine, harness, runner
from miabench.cache import SignalsCache
from miabench.defenses import early_stopping as early_stopping_module
from miabench.defenses import relaxloss as relaxloss_module
from miabench.defenses.crl import Centres
from miabench.errors import UserError
from miabench.plan import MembershipPlan
from miabench.registry import defenses, tasks

NAMES = ["dropout", "label-smoothing", "early-stopping", "relaxloss", "crl"]
EPOCHS = 12
CHANCE = 1 / 30


def member_and_test_loss(signals) -> tuple[float, float]:
    """Mean cross-entropy of the models on their members and on the held-out test set."""
    logp = torch.from_numpy(signals.logits[:, :, 0]).log_softmax(-1).numpy()
    ce = -np.take_along_axis(logp, signals.labels[None, :, None], -1)[..., 0]
    test = torch.from_numpy(signals.test_logits).log_softmax(-1).numpy()
    test_ce = -np.take_along_axis(test, signals.test_labels[None, :, None], -1)[..., 0]
    return float(ce[signals.members].mean()), float(test_ce.mean())


@pytest.fixture(scope="module", autouse=True)
def load_location_once():
    """Every run here draws on the same Location-30 population: parse it once, not once a run (seconds each)."""
    task_class = tasks.entry("location").component_class
    original, loaded = task_class.load, {}

    def load(self, data_dir, progress=True):
        key = (str(data_dir), self.test_size)
        if key not in loaded:
            loaded[key] = original(self, data_dir, progress)
        return loaded[key]

    patch = pytest.MonkeyPatch()
    patch.setattr(task_class, "load", load)
    yield
    patch.undo()


@pytest.fixture(scope="module")
def runs(data_dir, tmp_path_factory):
    """``none`` and every defense with its defaults, same seed and recipe: records, signals, summary."""
    root = tmp_path_factory.mktemp("regularizers")
    out = {}
    for name in ["none", *NAMES]:
        records = runner.run(
            task="location", attacks=["loss", "lira"], defense=name, models=4, params={"epochs": str(EPOCHS)},
            data_dir=data_dir, out=root / name, cache_dir=root / "cache", progress=False,
        )  # fmt: skip
        by_attack = {record["attack"]["name"]: record for record in records}
        signals = SignalsCache(root / "cache").load(records[0]["timings"]["cache_key"])
        member, test = member_and_test_loss(signals)
        out[name] = {
            **by_attack,
            "signals": signals,
            "accuracy": records[0]["utility"]["test_accuracy"]["mean"],
            "lira_auc": by_attack["lira"]["metrics"]["auc"]["mean"],
            "member_loss": member,
            "gap": test - member,
        }
    print(f"\nLocation-30, K=4, {EPOCHS} epochs: test accuracy, LiRA AUC, member loss, test-member loss gap")
    for name, run in out.items():
        print(
            f"  {name:16s} acc {run['accuracy']:.3f}  LiRA AUC {run['lira_auc']:.3f}  "
            f"member loss {run['member_loss']:.3f}  gap {run['gap']:.3f}"
        )
    return out


@pytest.mark.parametrize("name", NAMES)
def test_registers_with_a_citation_and_trains(name):
    defense = defenses.create(name)
    assert name in defenses.names()
    assert type(defense).citation.startswith("@")
    assert not type(defense).serving_only and type(defense).stacks
    assert defense.training_config()["name"] == name


@pytest.mark.parametrize(
    "name, params",
    [
        ("dropout", {"p": "0"}),
        ("dropout", {"p": "1"}),
        ("label-smoothing", {"epsilon": "0"}),
        ("label-smoothing", {"epsilon": "1.5"}),
        ("early-stopping", {"patience": "0"}),
        ("early-stopping", {"validation": "0"}),
        ("early-stopping", {"validation": "1"}),
        ("relaxloss", {"alpha": "0"}),
        ("crl", {"temperature": "-1"}),
        ("crl", {"center_momentum": "0"}),
        ("crl", {"center_weight": "0"}),
    ],
)
def test_bad_parameters_are_one_line_user_errors(name, params):
    with pytest.raises(UserError) as error:
        defenses.create(name, params)
    message = str(error.value)
    assert "\n" not in message and f"'{name}'" in message and next(iter(params)) in message


@pytest.mark.parametrize("name", NAMES)
def test_changes_training_and_keeps_useful_utility(runs, name):
    run, plain = runs[name], runs["none"]
    assert not np.allclose(run["signals"].logits, plain["signals"].logits), f"{name} trained the same models"
    assert run["accuracy"] > 9 * CHANCE  # useful: far above chance (1/30), against ~0.63 undefended


def test_dropout_lowers_lira_auc(runs):
    assert runs["dropout"]["lira_auc"] < runs["none"]["lira_auc"] - 0.03


def test_label_smoothing_caps_member_confidence(runs):
    """The smoothed target's optimum is p_y = 1 - eps + eps / C (0.90): members are rarely pushed far past it."""

    def confident_members(signals):
        p = torch.from_numpy(signals.logits[:, :, 0]).softmax(-1).numpy()
        p_label = np.take_along_axis(p, signals.labels[None, :, None], -1)[..., 0]
        return (p_label[signals.members] > 0.98).mean()

    smoothed, plain = confident_members(runs["label-smoothing"]["signals"]), confident_members(runs["none"]["signals"])
    print(f"\nmembers with p_y > 0.98: label-smoothing {smoothed:.3f}, none {plain:.3f}")
    assert smoothed < plain / 4
    assert runs["label-smoothing"]["member_loss"] > runs["none"]["member_loss"]


def test_relaxloss_holds_members_near_alpha_and_narrows_the_gap(runs):
    alpha = defenses.create("relaxloss").alpha
    relax, plain = runs["relaxloss"], runs["none"]
    assert relax["member_loss"] > 0.7 * alpha > plain["member_loss"]  # ascent kept members from reaching 0
    assert relax["gap"] < 0.75 * plain["gap"]
    assert relax["lira_auc"] < plain["lira_auc"] - 0.03


def test_crl_lowers_lira_auc(runs):
    assert runs["crl"]["lira_auc"] < runs["none"]["lira_auc"] - 0.03


def test_early_stopping_reports_each_models_best_epoch(runs):
    stopped = runs["early-stopping"]["lira"]["defense"]["facts"]["stopped_epoch"]["per_model"]
    assert len(stopped) == 4 and all(1 <= epoch <= EPOCHS for epoch in stopped)
    assert runs["early-stopping"]["lira_auc"] < runs["none"]["lira_auc"]


# --- mechanics ---------------------------------------------------------------------------------


def toy_setup(defense, epochs, models=4, seed=0):
    task = toy_task()
    population = task.load(None)
    plan = MembershipPlan.balanced(models, len(population), seed)
    recipe = dataclasses.replace(task.recipe(), epochs=epochs)
    return harness.Setup(task, population, plan, defense, recipe, seed, torch.device("cpu"))


def test_dropout_layers_follow_every_activation_and_act_only_in_training():
    defense = defenses.create("dropout", {"p": "0.3"})
    plain = tasks.create("location").make_model()
    model = defense.wrap_model(tasks.create("location").make_model())
    drops = [m for m in model.modules() if isinstance(m, nn.Dropout)]
    assert len(drops) == sum(isinstance(m, nn.ReLU) for m in model.modules()) == 2
    assert all(d.p == 0.3 for d in drops)
    assert all(
        isinstance(s[0], nn.ReLU) and isinstance(s[1], nn.Dropout) for s in model if isinstance(s, nn.Sequential)
    )

    plain.load_state_dict(model.state_dict())  # same keys: dropout adds no weights
    stacked = engine.StackedModels([model, model])  # two models with the same weights
    x = torch.randn(1, 8, 446).expand(2, 8, 446)
    stacked.train()
    first, second = stacked(x), stacked(x)
    assert not torch.allclose(first, second)  # masks are redrawn every pass...
    assert not torch.allclose(first[0], first[1])  # ...and differ between the stacked models
    stacked.eval()
    torch.testing.assert_close(stacked(x)[0], plain(x[0]))  # served: dropout is the identity


def test_dropout_refuses_a_model_without_activations():
    with pytest.raises(UserError, match="no torch.nn activation"):
        defenses.create("dropout").wrap_model(nn.Sequential(nn.Linear(4, 2)))


def test_early_stopping_stops_at_patience_and_restores_each_best_epoch(monkeypatch):
    epochs, patience = 40, 2
    defense = defenses.create("early-stopping", {"patience": str(patience), "validation": "0.2"})
    setup = toy_setup(defense, epochs)
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


def test_early_stopping_trains_the_same_models_in_any_grouping():
    defense = defenses.create("early-stopping", {"patience": "2", "validation": "0.2"})
    setup = toy_setup(defense, epochs=40)
    together = harness.train_group(setup, [0, 1, 2, 3], None, False)
    alone = [harness.train_group(setup, [k], None, False) for k in range(4)]
    np.testing.assert_array_equal(together[2]["stopped_epoch"], [a[2]["stopped_epoch"][0] for a in alone])
    assert together[2]["stopped_epoch"].min() < 40
    np.testing.assert_allclose(together[0], np.concatenate([a[0] for a in alone]), atol=1e-4)


def test_relaxloss_branches_per_model():
    relax = defenses.create("relaxloss", {"alpha": "1.0"})
    labels = torch.tensor([[0, 1, 2, 0], [0, 1, 2, 0]])
    onehot = torch.nn.functional.one_hot(labels[1], 3).float()
    sure = onehot * 6 + onehot.roll(1, -1) * 2  # model 1 fits its batch (loss < alpha), runner-up uneven
    logits = torch.stack([torch.zeros(4, 3), sure]).requires_grad_()
    ce = torch.nn.functional.cross_entropy(logits.flatten(0, 1), labels.flatten(), reduction="none").view(2, 4)
    assert ce[0].mean() >= 1.0 > ce[1].mean()

    even, odd = relax.relaxloss(logits, labels, even=True), relax.relaxloss(logits, labels, even=False)
    torch.testing.assert_close(even, torch.stack([ce[0].mean(), -ce[1].mean()]))  # descent / ascent
    targets = relaxloss_module.flattened_targets(logits[1], labels[1])
    p = logits[1].detach().softmax(-1)
    torch.testing.assert_close(targets.sum(-1), torch.ones(4))
    torch.testing.assert_close(targets.gather(-1, labels[1, :, None])[:, 0], p.gather(-1, labels[1, :, None])[:, 0])
    flat = relaxloss_module.soft_cross_entropy(logits[1], targets).mean()
    torch.testing.assert_close(odd, torch.stack([ce[0].mean(), flat]))  # descent / posterior flattening
    # Flattening holds p_y (no gradient on the label's logit) and evens out the other classes.
    (grad,) = torch.autograd.grad(odd[1], logits)
    assert grad[0].abs().sum() == 0 and grad[1].abs().sum() > 1e-4
    torch.testing.assert_close(grad[1].gather(-1, labels[1, :, None]), torch.zeros(4, 1))

    # A misclassified example keeps its one-hot target in the flattening step.
    wrong = sure.clone()
    wrong[0] = torch.tensor([2.0, 2.5, 0.0])  # label 0, predicted 1; the batch still below alpha
    mixed = relax.relaxloss(torch.stack([torch.zeros(4, 3), wrong]), labels, even=False)
    per_example = torch.nn.functional.cross_entropy(wrong, labels[1], reduction="none")
    assert per_example.mean() < 1.0
    soft = relaxloss_module.soft_cross_entropy(wrong, relaxloss_module.flattened_targets(wrong, labels[1]))
    torch.testing.assert_close(mixed[1], torch.cat([per_example[:1], soft[1:]]).mean())


def test_relaxloss_resumes_with_the_right_epoch_parity(tmp_path, monkeypatch):
    defense = defenses.create("relaxloss", {"alpha": "1.0"})
    whole = harness.train_group(toy_setup(defense, epochs=6), [0, 1, 2, 3], None, False)[0]
    checkpoint = tmp_path / "group.ckpt"
    harness.train_group(toy_setup(defense, epochs=3), [0, 1, 2, 3], checkpoint, False)  # "killed" after epoch 3
    resumed = harness.train_group(toy_setup(defense, epochs=6), [0, 1, 2, 3], checkpoint, False)[0]
    np.testing.assert_allclose(resumed, whole, atol=1e-5)

    # The check can fail: a clock restarted at epoch 0 would ascend where it should flatten.
    harness.train_group(toy_setup(defense, epochs=3), [0, 1, 2, 3], checkpoint.with_suffix(".b"), False)
    monkeypatch.setattr(relaxloss_module, "resumed_epoch", lambda job: 0)
    wrong = harness.train_group(toy_setup(defense, epochs=6), [0, 1, 2, 3], checkpoint.with_suffix(".b"), False)[0]
    assert not np.allclose(wrong, whole, atol=1e-3)


def test_crl_centres_are_running_class_means():
    centres = Centres(momentum=0.5)
    vectors = torch.tensor([[[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]]])  # one model, classes 0, 0, 1
    centres.update(vectors, torch.tensor([[0, 0, 1]]))
    torch.testing.assert_close(centres.value[0], torch.tensor([[2.0, 0.0], [0.0, 2.0]]))  # first batch sets them
    centres.update(torch.tensor([[[4.0, 0.0]]]), torch.tensor([[0]]))
    torch.testing.assert_close(centres.value[0], torch.tensor([[3.0, 0.0], [0.0, 2.0]]))  # absent class stays


def test_on_epoch_returning_true_stops_the_loop_and_the_checkpoint_says_finished(tmp_path):
    setup = toy_setup(defenses.create("none"), epochs=6)
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
