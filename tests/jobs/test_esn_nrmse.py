"""The ESN job's NRMSE: RMSE over the truth's spread, and what it means for a constant truth."""
import math

import torch

from rnnkit.jobs.esn import nrmse


def test_nrmse_is_rmse_over_the_standard_deviation_of_the_truth():
    truth = torch.tensor([0.0, 2.0, 4.0])
    assert nrmse(truth + 1.0, truth) == 1.0 / float(truth.std())


def test_a_constant_truth_scores_zero_when_met_and_infinity_when_missed():
    truth = torch.full((5,), 3.0)
    assert nrmse(truth.clone(), truth) == 0.0
    assert nrmse(truth + 0.1, truth) == math.inf
