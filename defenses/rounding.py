"""Rounding: every served probability is rounded to ``decimals`` decimal places.

Coarser confidence scores hide the small differences between members and
non-members that score-based attacks read; Shokri et al. (S&P 2017) evaluate it as
a mitigation. The rounded vector is served as log-probabilities; a probability that
rounds to 0 is served as ``floor = 10**-decimals / 10`` instead, since attacks take
the log-softmax of what is served and log 0 would make their scores infinite. That
floor lies below every nonzero rounded value (a zero stays recognisable, so the
floor adds no information) and within [0, half a unit), the true probabilities
that round to 0. The predicted class is kept: where rounding ties the top class
with another, the top class's log-probability is raised by ``TIE_BREAK``.
"""

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from scipy.special import softmax

from miabench.api import Defense
from miabench.params import param
from miabench.registry import defenses

TIE_BREAK = 1e-4  # added to the top class's log-probability where rounding made a tie


def keep_argmax(served: np.ndarray, logits: np.ndarray) -> np.ndarray:
    """``served`` with each vector's original top class raised slightly above the rest where it lost its lead."""
    top = logits.argmax(axis=-1)[..., None]
    lost = served.argmax(axis=-1)[..., None] != top
    raised = np.take_along_axis(served, top, axis=-1)
    highest = served.max(axis=-1, keepdims=True)
    np.put_along_axis(served, top, np.where(lost, highest + TIE_BREAK, raised), axis=-1)
    return served


@defenses.register("rounding")
@dataclass
class Rounding(Defense):
    decimals: int = param(1, "decimal places kept of each probability", within="[0, inf)")

    serving_only = True
    description = "serve every probability rounded to a number of decimal places"
    citation = ("shokri2017membership",)
    # Shokri et al. coarsen the served probabilities to a few decimals.
    grid = MappingProxyType({"decimals": (1, 2, 3)})

    def observe(self, logits, labels, members, models):
        rounded = np.round(softmax(logits.astype(np.float64), axis=-1), self.decimals)
        served = np.log(np.maximum(rounded, 10.0**-self.decimals / 10))
        return keep_argmax(served, logits).astype(np.float32)
