"""scikit-learn's own estimator checks (``parametrize_with_checks``) on NbtrainClassifier and
NbtrainRegressor.

The estimators are checked with ``epochs=30, lr=0.05``: the checks' score thresholds
(``check_classifiers_train``: accuracy 0.83 on blobs; ``check_regressors_train``: R² 0.5) hold for a
trained network, not for the defaults' 10 epochs at Adam's 1e-3 (as for ``MLPClassifier``, the
defaults are where a search starts).  Not applicable, and skipped by scikit-learn itself:
``check_array_api_input`` (nbtrain takes numpy, pandas and torch inputs, not the array API)."""

from __future__ import annotations

import pytest
import torch
from sklearn.utils.estimator_checks import parametrize_with_checks

from nbtrain.sklearn import NbtrainClassifier, NbtrainRegressor

ESTIMATORS = [NbtrainClassifier(epochs=30, lr=0.05), NbtrainRegressor(epochs=30, lr=0.05)]
NOT_APPLICABLE = {
    "check_array_api_input": "nbtrain takes numpy arrays, DataFrames and torch tensors, not the array API",
}


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


@parametrize_with_checks(ESTIMATORS, expected_failed_checks=lambda est: NOT_APPLICABLE)
def test_scikit_learn_estimator_checks(estimator, check):
    check(estimator)
