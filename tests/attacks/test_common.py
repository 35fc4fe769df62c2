"""What several attacks share: the logit-scaled confidence and the mean over OUT references."""

import numpy as np
import pytest

from miabench.attacks.common import logit_scaled_confidence, out_mean
from miabench.errors import UserError


def test_logit_scaled_confidence_is_the_log_odds_of_the_true_class():
    probs = np.array([[[0.7, 0.2, 0.1]], [[0.05, 0.05, 0.9]]])
    phi = logit_scaled_confidence(np.log(probs), np.array([0, 2]))
    np.testing.assert_allclose(phi[:, 0], np.log([0.7 / 0.3, 0.9 / 0.1]))


def test_out_mean_averages_the_references_that_did_not_train_on_each_example():
    rng = np.random.default_rng(0)
    references = rng.normal(size=(5, 40))
    members = rng.random((5, 40)) < 0.5
    members[4] = False  # every example has an OUT reference...
    members[:, 0] = [True, True, True, True, False]  # ...example 0 a single one
    members[:, 1] = True  # no OUT reference: allowed, since example 1 is not needed
    needed = np.arange(40) != 1
    got = out_mean(references, members, needed, "spy")
    # The definition, one example at a time.
    expected = [references[~members[:, n], n].mean() for n in np.flatnonzero(needed)]
    np.testing.assert_allclose(got[needed], expected, rtol=1e-12)
    assert got[0] == references[4, 0]
    assert np.isfinite(got[1])  # not NaN, though meaningless: nobody reads it


def test_out_mean_refuses_a_needed_example_without_an_out_reference():
    references = np.zeros((2, 3))
    members = np.array([[True, False, True], [True, True, False]])  # example 0 is IN in both references
    with pytest.raises(UserError, match="attack 'spy' needs at least one reference model") as refused:
        out_mean(references, members, np.ones(3, bool), "spy")
    assert "1 have none" in str(refused.value) and "\n" not in str(refused.value)
    # The same example is fine when it is not needed (e.g. auxiliary).
    assert out_mean(references, members, np.array([False, True, True]), "spy").shape == (3,)
