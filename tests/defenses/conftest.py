"""What the defense tests share: one helper for every benchmark run (``run_defense``), one for scoring
served outputs (``score_outputs``), and the real-data runs that several test modules compare against.

Every run here is on Location-30 (the offline copy: ``data_dir``).
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch

import miabench
from miabench.cache import SignalsCache
from miabench.signals import Signals


@dataclass
class Run:
    """One run's records by attack, the signals cube its cache holds, and where its scores are."""

    records: dict
    signals: Signals
    out: Path

    def __getitem__(self, attack: str):
        return self.records[attack]

    def scores(self, attack: str = "loss") -> np.ndarray:
        """The per-example scores ``[K, N]`` the attack's record was computed from."""
        with np.load(self.out / attack / "scores.npz") as scores:
            return scores["scores"]

    def losses(self) -> tuple[float, float]:
        """The models' mean cross-entropy on their members and on the held-out test set."""
        signals = self.signals
        logp = torch.from_numpy(signals.logits[:, :, 0]).log_softmax(-1).numpy()
        ce = -np.take_along_axis(logp, signals.labels[None, :, None], -1)[..., 0]
        test = torch.from_numpy(signals.test_logits).log_softmax(-1).numpy()
        test_ce = -np.take_along_axis(test, signals.test_labels[None, :, None], -1)[..., 0]
        return float(ce[signals.members].mean()), float(test_ce.mean())


@pytest.fixture(scope="session")
def run_defense(data_dir):
    """``run_defense(defense, root, params=None, models=4, attacks=("loss",))``: one run of location under
    ``defense`` with ``params`` (flat ``--param`` assignments, e.g. ``{"epochs": 3, "lira.online": False}``),
    its records written under ``root`` and its models cached in ``root / "cache"`` (shared by the runs of a root).

    Every benchmark run of these tests goes through here, so a change to the runner's API is made once.
    """
    counter = itertools.count()

    def run(defense: str, root: Path, params: dict | None = None, models: int = 4, attacks=("loss",)) -> Run:
        out = root / f"{defense}-{next(counter)}"
        results = miabench.evaluate(
            task="location", attacks=list(attacks), defense=defense, models=models, params=dict(params or {}),
            data_dir=data_dir, out=out, cache_dir=root / "cache", progress=False,
        )  # fmt: skip
        records = {record.attack.name: record for record in results}
        signals = SignalsCache(root / "cache").load(results[0].timings.cache_key)
        return Run(records, signals, out)

    return run


@pytest.fixture(scope="session")
def score_outputs():
    """``score_outputs(logits, signals, attack)``: the record of ``attack`` on served ``logits`` ``[K, N, A, C]``
    with the labels and memberships of ``signals``."""

    def score(logits: np.ndarray, signals: Signals, attack: str):
        arrays = {"logits": logits, "labels": signals.labels, "members": signals.members}
        (record,) = miabench.score(arrays, attack)
        return record

    return score


@pytest.fixture(scope="session")
def runs_of(run_defense, tmp_path_factory):
    """``runs_of(group, defense, attacks=None)``: the run of ``defense`` in one of the comparison groups below,
    made once a session on first use; ``attacks`` narrows the group's attacks."""
    roots = {group: tmp_path_factory.mktemp(group) for group in GROUPS}
    done = {}

    def get(group: str, defense: str, attacks: tuple | None = None) -> Run:
        setting = GROUPS[group]
        attacks = attacks or setting["attacks"]
        if (group, defense, attacks) not in done:
            run = run_defense(defense, roots[group], {"epochs": setting["epochs"]}, setting["models"], attacks)
            summary = ", ".join(f"{name} AUC {run[name].metrics.auc.mean:.3f}" for name in attacks)
            print(f"\n{group}: {defense}: test accuracy {run[attacks[0]].utility.test_accuracy.mean:.3f}, {summary}")
            done[group, defense, attacks] = run
        return done[group, defense, attacks]

    return get


# Each group shares one cache, so that its serving defenses serve the group's undefended models.
GROUPS = {
    # Dropout, label smoothing, early stopping, RelaxLoss, CRL against none: K = 4, a short recipe.
    "regularizers": {"models": 4, "epochs": 12, "attacks": ("loss", "lira")},
    # AdvReg and SELENA: enough epochs for the undefended models to overfit (LiRA AUC about 0.78 at K = 4).
    "adversarial": {"models": 4, "epochs": 15, "attacks": ("loss", "lira")},
    # Output-side defenses on one undefended cube (K = 8).
    "serving": {"models": 8, "epochs": 10, "attacks": ("loss", "lira", "gap", "logit-probe")},
}
