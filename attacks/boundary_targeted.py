"""Boundary-targeted: attack the candidates the classifier is least sure of (Hughes et al., 2026).

A strategy over any base attack. It selects, within each class, the candidates
with the lowest probability of their true label — measured on the target, on
the reference models, or on one fixed model for every target — and judges only
those. The record reports the base attack's metrics on the selected subset next
to its metrics on all candidates, so the amplification is one number, and what
the selected set holds of each target's members and non-members per class.

The paper's protocol is ``selector=model:0 per_class=20`` with K = 2 (models A and
B on disjoint halves, each the other's only reference) and base ``partner``,
``loss`` or ``confidence``: model A chooses the 20 least confident candidates of
each class once, and that set is scored on both models.
"""

import re
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
    # Whose confidence selects: "references" (their mean; independent of the target's membership),
    # "target" (each target its own; on a model that memorises, its least confident candidates are
    # mostly non-members, so few members remain to be found), or "model:<i>" (model i for every target,
    # as the paper's model A chooses once for A and B: for model i that is the target's own choice, for
    # its partner the partner's, whose least confident candidates lean to the target's members).
    selector: str = param(
        "references", "whose confidence selects the candidates: references, target, or model:<i> (one model for all)"
    )

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
        if self.selector not in ("references", "target") and not re.fullmatch(r"model:[0-9]+", self.selector):
            raise ParameterError(
                "selector", f"{self.selector!r} is not one of references, target, model:<i> (i a model index "
                "from 0); give e.g. selector=references or selector=model:0"
            )  # fmt: skip
        fixed = self.selector_model
        if fixed is not None and self.base_attack.threat_model().fixed_model not in (None, fixed):
            raise ParameterError("selector", f"the base attack '{self.base}' already fixes another model; "
                                 "give selector=references")  # fmt: skip

    @property
    def selector_model(self) -> int | None:
        """The model that chooses for every target (``selector=model:<i>``), or None."""
        return int(self.selector.removeprefix("model:")) if self.selector.startswith("model:") else None

    def threat_model(self) -> ThreatModel:
        base = self.base_attack.threat_model()
        access = max(base.access, "scores", key=ACCESS_LEVELS.index)  # selection needs the confidence
        references = max(base.min_references, int(self.selector == "references"))
        fixed = self.selector_model
        # A fixed selector is the partner of one target (model i's partner): that target's choice is its partner's.
        return ThreatModel(access, references, base.online, base.auxiliary, base.queries,
                           partner=base.partner or fixed is not None,
                           fixed_model=fixed if fixed is not None else base.fixed_model)  # fmt: skip

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
        base = self.base_attack.threat_model()  # the base sees only what its own threat model gives it
        base_view = AttackView(
            view.target["base"], view.labels, view.references["base"], view.reference_members, view.auxiliary,
            view.inputs, view.oracle,
            partner=view.partner["base"] if base.partner else None,
            fixed=view.fixed["base"] if base.fixed_model is not None else None,
        )  # fmt: skip
        scores = self.base_attack.score(base_view)
        scores = scores.scores if isinstance(scores, Selection) else scores
        if self.selector == "target":
            confidence = view.target["confidence"]
        elif self.selector == "references":
            confidence = view.references["confidence"].mean(axis=0)
        else:
            confidence = view.fixed["confidence"]
        return Selection(scores, self.chosen(confidence, view.labels, ~view.auxiliary), self.hint())

    def hint(self) -> str:
        """What to change when the choice holds no member or no non-member of some target."""
        size = "per_class" if self.per_class is not None else "fraction"
        if self.selector == "references":
            return f"choose more candidates (raise {size})"
        whose = "each target's" if self.selector == "target" else f"model {self.selector_model}'s"
        return (
            f"on models that memorise, {whose} least confident candidates are mostly its own non-members (so its "
            f"partner's members): choose more (raise {size}) or select by the references (selector=references, "
            "which needs K >= 4)"
        )
