"""Output noise: Gaussian noise on every served probability vector.

The simplest confidence-masking defense, and the untargeted baseline that MemGuard's
crafted noise improves on: each probability gets independent Gaussian noise of
standard deviation ``sigma``, is clipped to a small floor (so it stays positive
and its log finite), and the vector is renormalised and served as log-probabilities.
Unlike the other serving defenses it may flip the predicted class; utility is
measured on the served outputs, so the record shows that cost.

The noise is reproducible: model k draws from a generator seeded by
``derive(SEED, "output-noise", k, call)``, where ``call`` tells the population's
cube from inputs outside it (test examples, an attacker's queries). The same run
serves the same outputs; models and examples get different noise.
"""

from dataclasses import dataclass
from types import MappingProxyType

import numpy as np
from scipy.special import softmax

from miabench.api import Defense
from miabench.params import param
from miabench.registry import defenses
from miabench.seeding import derive

SEED = 0  # the defense's own randomness, fixed so that a run is reproducible
FLOOR = 1e-6  # noisy probabilities are clipped here: positive, so every served log-probability is finite


@defenses.register("output-noise")
@dataclass
class OutputNoise(Defense):
    sigma: float = param(0.1, "std of the Gaussian noise added to each probability", within="(0, inf)")

    serving_only = True
    description = "serve each probability vector with Gaussian noise added, renormalised"
    citation = ("jia2019memguard",)  # its untargeted noise baseline
    # From noise below a probability's usual differences to noise that often flips the predicted class.
    grid = MappingProxyType({"sigma": (0.01, 0.03, 0.1, 0.3)})

    def observe(self, logits, labels, members, models):
        probs = softmax(logits.astype(np.float64), axis=-1)
        call = "population" if members is not None else "outside"
        generators = [np.random.default_rng(derive(SEED, "output-noise", int(k), call)) for k in models]
        noise = np.stack([generator.normal(size=probs.shape[1:]) for generator in generators])
        noisy = np.maximum(probs + self.sigma * noise, FLOOR)
        return np.log(noisy / noisy.sum(axis=-1, keepdims=True)).astype(np.float32)
