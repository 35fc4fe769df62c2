"""Top-k: only the ``k`` largest probabilities of each vector are served.

Shokri et al. (S&P 2017) evaluate restricting the prediction vector to its top k
classes as a mitigation: fewer scores leave an attack less to compare. The top k
probabilities are served unchanged as log-probabilities; the others are zero,
served as a floor (log 0 would make the attacks' log-softmax infinite). The floor
is ``RELATIVE_FLOOR`` times the k-th largest probability, not a fixed constant: a
top-k probability can itself be tiny, and a fixed floor above it would reorder the
vector. The floor is a function of what is served, so it adds no information. The
predicted class is unchanged.

``k`` >= the task's number of classes would serve every probability, i.e. change
nothing; the defense refuses it when it sees the outputs.
"""

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from scipy.special import log_softmax

from miabench.api import Defense
from miabench.errors import UserError
from miabench.params import param
from miabench.registry import defenses

RELATIVE_FLOOR = 1e-6  # probabilities outside the top k are served as this share of the k-th largest


@defenses.register("top-k")
@dataclass
class TopK(Defense):
    k: int = param(3, "probabilities served per vector", within="[1, inf)")

    serving_only = True
    description = "serve only the k largest probabilities of each vector"
    citation = ("shokri2017membership",)
    # Shokri et al. serve the top 1 and top 3 classes; 2 lies between (k at or above C is refused when served).
    grid = MappingProxyType({"k": (1, 2, 3)})

    def observe(self, logits, labels, members, models):
        classes = logits.shape[-1]
        if self.k >= classes:
            raise UserError(
                f"defense 'top-k': k = {self.k} keeps all {classes} classes of this task and so changes nothing; "
                f"give k < {classes}, e.g. --param top-k.k={max(1, min(3, classes - 1))}"
            )
        log_probs = log_softmax(logits.astype(np.float64), axis=-1)
        # A stable sort of the negated values ranks ties by index, as argmax does: the top class stays first.
        order = np.argsort(-log_probs, axis=-1, kind="stable")
        kth = np.take_along_axis(log_probs, order[..., self.k - 1 : self.k], axis=-1)
        served = np.broadcast_to(kth + np.log(RELATIVE_FLOOR), log_probs.shape).copy()
        top = order[..., : self.k]
        np.put_along_axis(served, top, np.take_along_axis(log_probs, top, axis=-1), axis=-1)
        return served.astype(np.float32)
