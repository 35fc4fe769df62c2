"""Boundary-targeted under the paper's protocol (Hughes et al., 2026): one fixed model chooses for
every target (``selector=model:<i>``), a fixed number per class (``per_class``), the ``partner``
log-ratio base, the selected set's composition in the record, a degenerate choice refused, and a
K = 2 run (models A and B, each the other's only reference) stating that it is one pair."""

from dataclasses import dataclass

import numpy as np
import pytest
import torch
from torch import nn

import miabench
from miabench import harness, record, report, runner, scoring
from miabench.api import Population, Recipe, Task, TaskMetadata
from miabench.cli import main
from miabench.data import fingerprint
from miabench.errors import UserError
from miabench.leaderboard import validate
from miabench.plan import MembershipPlan
from miabench.registry import Entry, attacks, tasks


def cube(log_odds: np.ndarray) -> np.ndarray:
    """Two-class logits ``[K, N, 1, 2]`` whose class-1 logit is ``log_odds`` (class 0's is 0)."""
    logits = np.zeros((*log_odds.shape, 1, 2), np.float32)
    logits[..., 0, 1] = log_odds
    return logits


# --- selector=model:<i> on a tiny cube, by hand --------------------------------------------------

LABELS = np.array([0, 0, 0, 0, 1, 1, 1, 1])
# Models 0/1 and 2/3 split the eight examples (a paired plan, no auxiliary example).
MEMBERS = np.array([[1, 0, 1, 0, 1, 0, 1, 0], [0, 1, 0, 1, 0, 1, 0, 1],
                    [1, 1, 0, 0, 1, 1, 0, 0], [0, 0, 1, 1, 0, 0, 1, 1]], dtype=bool)  # fmt: skip
# Model 2's p(true label) as a log-odds of the true class: class 0's is minus the class-1 logit.
TRUE_LOG_ODDS_2 = np.array([3.0, -1.0, 0.5, 2.0, -2.0, 1.0, 0.0, 4.0])


def tiny_cube():
    rng = np.random.default_rng(3)
    log_odds = rng.normal(0, 2, (4, 8))
    log_odds[2] = np.where(LABELS == 1, TRUE_LOG_ODDS_2, -TRUE_LOG_ODDS_2)
    return cube(log_odds), LABELS, MembershipPlan(MEMBERS)


def test_a_fixed_model_chooses_the_same_candidates_for_every_target():
    logits, labels, plan = tiny_cube()
    assert plan.paired
    attack = attacks.create("boundary-targeted", {"selector": "model:2", "per_class": "2", "base": "loss"})
    threat = attack.threat_model()
    assert (threat.fixed_model, threat.partner, threat.min_references) == (2, True, 0)
    with pytest.warns(UserWarning, match="hold no member or no non-member"):
        scored = scoring.leave_one_out(attack, logits, labels, plan)
    # Model 2's two least confident of class 0 are examples 1 (-1) and 2 (0.5), of class 1 examples 4 (-2) and 6 (0).
    expected = np.isin(np.arange(8), [1, 2, 4, 6])
    assert (scored.chosen == expected).all()  # every target, model 2 included (its own choice) and 3 (its partner's)
    # The base (LOSS) scores every candidate of each target as it would alone.
    alone = scoring.leave_one_out(attacks.create("loss"), logits, labels, plan).scores
    assert np.array_equal(scored.scores, alone)
    # Another model would choose otherwise: model 0's two least confident of each class are not model 2's.
    confidence_0 = scoring.observe(logits, "scores")[0, np.arange(8), 0, labels]
    assert not (attack.chosen(confidence_0, labels, np.ones(8, bool)) == expected).all()


def test_the_composition_of_a_fixed_choice_by_hand():
    chosen = np.broadcast_to(np.isin(np.arange(8), [1, 2, 4, 6]), (4, 8))
    rows = scoring.composition(chosen, MEMBERS, LABELS, ["benign", "flagged"])
    # Target 0 holds 2, 4 and 6 (1 is its partner's); target 1 the complement; target 2 holds 1 and 4; 3 holds 2 and 6.
    assert [(r["members"], r["non_members"]) for r in rows] == [(3, 1), (1, 3), (2, 2), (2, 2)]
    assert rows[0]["by_class"] == {"class:benign": {"members": 1, "non_members": 1},
                                   "class:flagged": {"members": 2, "non_members": 0}}  # fmt: skip
    assert rows[2]["by_class"] == {"class:benign": {"members": 1, "non_members": 1},
                                   "class:flagged": {"members": 1, "non_members": 1}}  # fmt: skip


def test_per_class_takes_that_many_of_each_class_beside_fraction():
    attack = attacks.create("boundary-targeted", {"per_class": "20"})
    labels = np.repeat([0, 1, 2], [50, 30, 10])
    confidence = np.random.default_rng(0).normal(size=90)
    chosen = attack.chosen(confidence, labels, np.ones(90, bool))
    assert np.bincount(labels[chosen]).tolist() == [20, 20, 10]  # a class smaller than 20 gives all it has
    for c in range(3):
        in_class = np.flatnonzero(labels == c)
        assert confidence[in_class][chosen[in_class]].max() <= confidence[in_class][~chosen[in_class]].min(initial=9)
    by_fraction = attacks.create("boundary-targeted", {"fraction": "0.2"}).chosen(confidence, labels, np.ones(90, bool))
    assert np.bincount(labels[by_fraction]).tolist() == [10, 6, 2]


# --- the selector's values refused in one line ---------------------------------------------------


@pytest.mark.parametrize("value", ["model:x", "model:", "model:-1", "model 0", "models:0"])
def test_a_malformed_selector_is_refused_when_built(value):
    with pytest.raises(UserError) as refused:
        attacks.create("boundary-targeted", {"selector": value})
    assert str(refused.value) == (
        f"attack 'boundary-targeted' parameter 'selector': {value!r} is not one of references, target, model:<i> "
        "(i a model index from 0); give e.g. selector=references or selector=model:0"
    )


def test_a_selector_model_beyond_k_is_refused_before_training(capsys, monkeypatch, tmp_path):
    attack = attacks.create("boundary-targeted", {"selector": "model:2", "base": "loss"})
    expected = ("attack 'boundary-targeted' uses model 2 for every target but K = 2 numbers the models 0 to 1; "
                "choose a model below 2 (e.g. selector=model:0) or raise --models")  # fmt: skip
    with pytest.raises(UserError, match="^" + expected.replace("(", r"\(").replace(")", r"\)") + "$"):
        scoring.check(attack, 2, 0)
    scoring.check(attack, 4, 2)  # model 2 of four is fine
    work = []
    monkeypatch.setattr(harness, "train_group", lambda *args, **kwargs: work.append("trained"))
    monkeypatch.setattr(tasks.entry("location").component_class, "load", lambda *args, **kwargs: work.append("load"))
    code = main(
        ["run", "--attack", "boundary-targeted", "--models", "2", "--param", "boundary-targeted.selector=model:2",
         "--param", "boundary-targeted.base=loss", "--data-dir", str(tmp_path / "no-data"),
         "--cache-dir", str(tmp_path / "cache"), "--out", str(tmp_path / "out"), "--quiet"]
    )  # fmt: skip
    assert code == 2
    assert capsys.readouterr().err == f"miabench: error: {expected}\n"
    assert work == []


# --- the partner base ----------------------------------------------------------------------------


def test_partner_is_the_log_ratio_of_p_true_label_to_the_partners():
    # Labels 1, 0, 1, 0; model 0's p(true): 3/4, 1/2, 3/4, 3/4; model 1's: 1/2, 3/4, 1/4, 1/2.
    ln3 = np.log(3.0)
    logits = np.zeros((2, 4, 1, 2), np.float32)
    logits[0, :, 0] = [[0, ln3], [0, 0], [0, ln3], [ln3, 0]]
    logits[1, :, 0] = [[0, 0], [ln3, 0], [ln3, 0], [0, 0]]
    labels = np.array([1, 0, 1, 0])
    plan = MembershipPlan(np.array([[1, 0, 1, 0], [0, 1, 0, 1]], dtype=bool))
    attack = attacks.create("partner")
    assert attack.threat_model().partner and attack.threat_model().min_references == 0
    scores = scoring.leave_one_out(attack, logits, labels, plan).scores
    expected = np.log([3 / 2, 2 / 3, 3, 3 / 2])
    assert scores[0] == pytest.approx(expected, abs=1e-6)
    assert scores[1] == pytest.approx(-expected, abs=1e-6)


def test_partner_on_a_k4_plan_takes_the_pair_partner_not_a_reference():
    logits, labels, plan = tiny_cube()
    log_p = scoring.observe(logits, "scores")[:, np.arange(8), 0, labels]  # [K, N]
    scores = scoring.leave_one_out(attacks.create("partner"), logits, labels, plan).scores
    for k in range(4):
        assert scores[k] == pytest.approx(log_p[k] - log_p[k ^ 1])
    # Other attacks still see no partner (the default view leaves it out).
    seen = []

    class Spy(type(attacks.create("loss"))):
        def score(self, view):
            seen.append((view.partner, view.fixed))
            return view.target

    scoring.leave_one_out(Spy(), logits, labels, plan, per_target=True)
    assert seen == [(None, None)] * 4


def test_partner_is_refused_on_an_unpaired_plan():
    logits = cube(np.zeros((2, 4)))
    plan = MembershipPlan(np.array([[1, 1, 0, 0], [1, 0, 1, 0]], dtype=bool))
    with pytest.raises(UserError, match="^attack 'partner' needs each target's pair partner .* is not paired"):
        scoring.leave_one_out(attacks.create("partner"), logits, np.zeros(4, np.int64), plan)


def test_boundary_targeted_over_partner_passes_the_partner_to_its_base():
    logits, labels, plan = tiny_cube()
    attack = attacks.create("boundary-targeted", {"base": "partner", "selector": "model:2", "per_class": "2"})
    assert attack.threat_model().partner and attack.threat_model().min_references == 0
    with pytest.warns(UserWarning):
        scored = scoring.leave_one_out(attack, logits, labels, plan)
    assert np.array_equal(scored.scores, scoring.leave_one_out(attacks.create("partner"), logits, labels, plan).scores)


# --- a degenerate choice is refused --------------------------------------------------------------


def test_a_choice_without_members_is_refused_in_one_line():
    # Each model is sure of its members (log-odds +4) and unsure of the rest (-1): its own least confident
    # candidates are all its non-members, and so all its partner's members.
    logits = cube(np.where(MEMBERS, 4.0, -1.0) * np.where(LABELS == 1, 1, -1))
    for selector in ("target", "model:0"):
        attack = attacks.create("boundary-targeted", {"base": "loss", "selector": selector, "per_class": "2"})
        with pytest.raises(UserError) as refused:
            scoring.leave_one_out(attack, logits, LABELS, MembershipPlan(MEMBERS))
        message = str(refused.value)
        assert "\n" not in message
        assert message.startswith("attack 'boundary-targeted': the 4 candidates it chose for target 0 hold 0 of its "
                                  "members and 4 non-members (")  # fmt: skip
        assert "the TPR is undefined there" in message and "raise per_class" in message
        assert "selector=references" in message


# --- a K = 2 run of the paper's protocol, end to end ---------------------------------------------


@dataclass
class PairTask(Task):
    """Two overlapping Gaussian blobs, the second flagged: the paper's binary shape in miniature."""

    examples: int = 160

    metadata = TaskMetadata(
        name="toy-pair", version="0", description="two Gaussian blobs, the second flagged", citation=(),
        license="n/a", source="synthetic", model_family="mlp-16", num_classes=2, default_models=2,
        class_names=("benign", "flagged"), flagged_class=1,
    )  # fmt: skip
    pinned_recipe = Recipe(epochs=5, batch_size=16, lr=1e-2)

    def load(self, data_dir, progress=True) -> Population:
        rng = np.random.default_rng(0)
        y = rng.integers(0, 2, self.examples + 60)
        x = (rng.normal(size=(len(y), 8)) + np.eye(2, 8)[y]).astype(np.float32)
        x, y = torch.from_numpy(x), torch.from_numpy(y)
        n = self.examples
        return Population(x[:n], y[:n], x[n:], y[n:], np.arange(n), fingerprint(x.numpy(), y.numpy()))

    def make_model(self) -> nn.Module:
        return nn.Sequential(nn.Linear(8, 16), nn.ReLU(), nn.Linear(16, 2))


@pytest.fixture
def pair_task(monkeypatch):
    tasks.names()  # load the built-ins first
    monkeypatch.setitem(tasks._entries, "toy-pair", Entry("toy-pair", PairTask, {}))
    return "toy-pair"


PAPER = {"selector": "model:0", "per_class": 20, "auxiliary_fraction": 0}


def test_the_papers_protocol_at_k2_end_to_end(pair_task, tmp_path):
    runs = {}
    for base in ("partner", "loss"):
        (runs[base],) = miabench.evaluate(
            task=pair_task, attacks=["boundary-targeted"], params={**PAPER, "base": base}, models=2,
            cache_dir=tmp_path / "cache", out=tmp_path / base, progress=False,
        )  # fmt: skip
    for base, made in runs.items():
        assert made.models == 2 and made.attack.params["base"] == base
        assert made.attack.threat_model.partner and made.attack.threat_model.fixed_model == 0
        # Model A chose 20 of each class once: both targets judge the same 40 candidates.
        with np.load(tmp_path / base / "boundary-targeted" / "scores.npz") as saved:
            chosen, members, labels = saved["chosen"], saved["members"], saved["labels"]
        assert (chosen[0] == chosen[1]).all() and np.bincount(labels[chosen[0]]).tolist() == [20, 20]
        # The record states the composition per target and class: B's members are A's non-members.
        a, b = made.selection
        assert (a.target, b.target) == (0, 1)
        assert (a.members, a.non_members) == (b.non_members, b.members) == (
            int((chosen[0] & members[0]).sum()), int((chosen[0] & ~members[0]).sum()))  # fmt: skip
        for name, c in (("class:benign", 0), ("class:flagged", 1)):
            side = a.by_class[name]
            assert (side.members, side.non_members) == (int((chosen[0] & members[0] & (labels == c)).sum()),
                                                        int((chosen[0] & ~members[0] & (labels == c)).sum()))  # fmt: skip
            assert (b.by_class[name].members, b.by_class[name].non_members) == (side.non_members, side.members)
        assert made.metrics.examples == 40 and made.metrics.targets == 2
        # One pair: said so, in the record and in the summary; the "CI" resamples the one pair.
        assert made.caveats == [record.SINGLE_PAIR]
        assert made.metrics.ci_unit == "pairs"
        assert made.metrics.tpr_at_fpr["0.05"].ci95 == [made.metrics.tpr_at_fpr["0.05"].mean] * 2
        summary = (tmp_path / base / "summary.md").read_text()
        assert f"caveat: {record.SINGLE_PAIR}" in summary
        assert "boundary-targeted chose, per target (members / non-members): 0: " in summary
        # The stored scores give back every number the record claims.
        assert validate.scores(made, tmp_path / base / "boundary-targeted" / "scores.npz") == []
    # The partner's log-ratio finds members of the boundary set better than the target's loss alone.
    assert runs["partner"].metrics.auc.mean > runs["loss"].metrics.auc.mean


def test_composition_and_caveat_are_stated_only_when_they_apply(pair_task, tmp_path):
    (plain,) = miabench.evaluate(task=pair_task, attacks=["loss"], params={"auxiliary_fraction": 0}, models=4,
                                 cache_dir=tmp_path / "cache", progress=False)  # fmt: skip
    assert plain.selection is None and plain.caveats == []
    dumped = plain.model_dump()
    assert "selection" not in dumped and "caveats" not in dumped
    assert "partner" not in dumped["attack"]["threat_model"] and "fixed_model" not in dumped["attack"]["threat_model"]
    assert "caveat" not in report.run_summary([plain])


def test_runner_lists_partner_as_runnable_at_k2():
    kept, skipped = runner.supported([attacks.create("partner")], 2, 0)
    assert [a.name for a in kept] == ["partner"] and skipped == []
