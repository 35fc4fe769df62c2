"""Boundary-targeted: attack the candidates the classifier is least sure of (Hughes et al., 2026).

A strategy over any base attack. It selects, within each class, the candidates
with the lowest probability of their true label — measured on the target, or on
the reference models — and judges only those. The record reports the base
attack's metrics on the selected subset next to its metrics on all candidates,
so the amplification is one number.
"""

from dataclasses import dataclass

import numpy as np

from miabench import scoring
from miabench.api import ACCESS_LEVELS, Attack, AttackView, Selection, ThreatModel
from miabench.attacks.common import true_class_log_prob
from miabench.params import ParameterError, param
from miabench.registry import attacks


@attacks.register("boundary-targeted")
@dataclass
class BoundaryTargeted(Attack):
    base: str = param("reference", "the attack that scores the chosen candidates")
    fraction: float = param(0.1, "share of each class's candidates to attack", within="(0, 1]")
    per_class: int | None = param(None, "or a fixed number per class (overrides fraction)", within="[1, inf)")
    # Whose confidence selects: "references" (their mean; independent of the target's membership) or
    # "target" (the paper's literal reading; on a model that memorises, its least confident
    # candidates are mostly non-members, so few members remain to be found).
    selector: str = param("references", "whose confidence selects the candidates", choices=("references", "target"))

    description = "judge only the least confident candidates of each class with a base attack"
    citation = ("hughes2026boundary",)

    def __post_init__(self):
        super().__post_init__()
        if self.base == "boundary-targeted":
            raise ParameterError("base", "it must be another attack; give e.g. base=reference")
        if self.base not in attacks.names():
            raise ParameterError("base", f"{self.base!r} is not an attack; give e.g. base=reference "
                                 "('miabench list attacks' shows them all)")  # fmt: skip
        self.base_attack = attacks.create(self.base)

    def threat_model(self) -> ThreatModel:
        base = self.base_attack.threat_model()
        access = max(base.access, "scores", key=ACCESS_LEVELS.index)  # selection needs the confidence
        references = max(base.min_references, int(self.selector == "references"))
        return ThreatModel(access, references, base.online, base.auxiliary, base.queries)

    def statistic(self, outputs: np.ndarray, labels: np.ndarray) -> dict:
        # Whatever this attack observes, the base attack sees only what its own access allows.
        base_outputs = scoring.observe(outputs, self.base_attack.threat_model().access)
        confidence = true_class_log_prob(scoring.observe(outputs, "scores"), labels).mean(axis=-1)  # [K, N]
        return {"base": self.base_attack.statistic(base_outputs, labels), "confidence": confidence}

    def chosen(self, confidence: np.ndarray, labels: np.ndarray, candidates: np.ndarray) -> np.ndarray:
        """The least confident candidates of each class."""
        chosen = np.zeros(len(labels), dtype=bool)
        for c in np.unique(labels[candidates]):
            in_class = np.flatnonzero(candidates & (labels == c))
            count = self.per_class if self.per_class is not None else int(np.ceil(self.fraction * len(in_class)))
            order = in_class[np.argsort(confidence[in_class], kind="stable")]
            chosen[order[:count]] = True
        return chosen

    def score(self, view: AttackView) -> Selection:
        base_view = AttackView(
            view.target["base"], view.labels, view.references["base"], view.reference_members, view.auxiliary,
            view.inputs, view.oracle,
        )  # fmt: skip
        scores = self.base_attack.score(base_view)
        scores = scores.scores if isinstance(scores, Selection) else scores
        if self.selector == "target":
            confidence = view.target["confidence"]
        else:
            confidence = view.references["confidence"].mean(axis=0)
        return Selection(scores, self.chosen(confidence, view.labels, ~view.auxiliary))
