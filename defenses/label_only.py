"""Label-only: the served output is the predicted class alone.

The limit of confidence masking: every score-based attack is reduced to what the
predicted label tells, whether the model is right on an example (the gap attack of
Yeom et al.). Attacks that compare this with reference models (LiRA) or query
perturbed inputs still do better than the gap attack (Choquette-Choo et al., ICML
2021). The output is served as logits: 0 for the predicted class and ``-GAP`` for
the others, so the attacks' log-softmax stays finite (float64 holds e^-100).
"""

from dataclasses import dataclass

import numpy as np

from miabench.api import Defense
from miabench.registry import defenses

GAP = 100.0  # logit margin of the predicted class over every other


@defenses.register("label-only")
@dataclass
class LabelOnly(Defense):
    serving_only = True
    serves = "label"  # judged by the label-only attacks too
    description = "serve only the predicted class"
    citation = ("choquette2021label",)  # the paper that measured what labels alone leak

    def observe(self, logits, labels, members, models):
        predicted = logits.argmax(axis=-1)[..., None] == np.arange(logits.shape[-1])
        return np.where(predicted, 0.0, -GAP).astype(np.float32)
