"""Label smoothing: PyTorch's smoothed cross-entropy; on real models it caps members' confidence."""

import numpy as np
import torch
import torch.nn.functional as F

from miabench.registry import defenses


def test_loss_is_each_models_mean_smoothed_cross_entropy():
    logits, labels = torch.randn(2, 5, 3), torch.randint(3, (2, 5))
    loss = defenses.create("label-smoothing", {"epsilon": "0.2"}).loss(logits, labels)
    expected = torch.stack([F.cross_entropy(logits[g], labels[g], label_smoothing=0.2) for g in range(2)])
    torch.testing.assert_close(loss, expected)


def test_label_smoothing_caps_member_confidence(runs_of):
    """The smoothed target's optimum is p_y = 1 - eps + eps / C (0.90): members are rarely pushed far past it."""
    run, plain = runs_of("regularizers", "label-smoothing"), runs_of("regularizers", "none")

    def confident_members(signals):
        p = torch.from_numpy(signals.logits[:, :, 0]).softmax(-1).numpy()
        p_label = np.take_along_axis(p, signals.labels[None, :, None], -1)[..., 0]
        return (p_label[signals.members] > 0.98).mean()

    smoothed, undefended = confident_members(run.signals), confident_members(plain.signals)
    print(f"\nmembers with p_y > 0.98: label-smoothing {smoothed:.3f}, none {undefended:.3f}")
    assert smoothed < undefended / 4
    assert run.losses()[0] > plain.losses()[0]  # the member loss
