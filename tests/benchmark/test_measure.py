"""Utility from served test outputs: accuracy, balanced accuracy, each class's recall."""

import numpy as np
import pytest

from miabench import measure


def test_utility_counts_recall_per_class_and_leaves_absent_classes_out():
    labels = np.array([0, 0, 0, 1])  # class 2 never appears in the test set
    predictions = np.array([[0, 0, 1, 1], [0, 1, 1, 1]])  # model 0: 3 of 4 right; model 1: 2 of 4
    logits = np.eye(3)[predictions]
    utility = measure.utility(logits, labels, ("a", "b", "c"), flagged=1)
    assert utility["test_accuracy"]["mean"] == pytest.approx(0.625)
    assert utility["recall"]["class:a"]["mean"] == pytest.approx((2 / 3 + 1 / 3) / 2)
    assert utility["recall"]["class:b"]["mean"] == utility["recall"]["flagged"]["mean"] == 1.0
    assert utility["recall"]["class:c"] is None
    assert utility["balanced_accuracy"]["mean"] == pytest.approx(((2 / 3 + 1) / 2 + (1 / 3 + 1) / 2) / 2)
    assert measure.utility(None, None) is None


def test_outliers_are_the_farthest_share_of_each_class():
    import torch

    from miabench.outliers import outlier_mask

    x = torch.tensor([[0.0], [0.1], [-0.1], [5.0], [10.0], [10.1], [-3.0], [9.9]])
    labels = np.array([0, 0, 0, 0, 1, 1, 1, 1])
    mask = outlier_mask(x, labels, fraction=0.25)
    assert mask.tolist() == [False, False, False, True, False, False, True, False]
