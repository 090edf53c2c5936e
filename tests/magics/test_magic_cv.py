"""``%%train --cv K`` in a real IPython shell: the twin of ``nbtrain.cross_validate``."""

from __future__ import annotations

import pytest

CELL = """
from sklearn.datasets import load_iris
data = load_iris(return_X_y=True)
model = "mlp(8)"
preprocess = "standardize"
"""


def test_train_cv_trains_k_fold_runs_and_shows_their_table(shell, one_thread):
    import nbtrain

    cv = shell.run(f"%%train --cv 3 --epochs 2 --name irisCV\n{CELL}")
    assert [r.name for r in cv.runs] == ["irisCV/fold1", "irisCV/fold2", "irisCV/fold3"]
    assert all(r.config["epochs"] == 2 for r in cv.runs)
    assert set(nbtrain.runs) >= {"irisCV/fold1", "irisCV/fold2", "irisCV/fold3"}
    assert "accuracy" in cv.summary()
    assert "mean ± std" in repr(cv)


def test_train_cv_error_is_a_usage_error(shell):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="k must be an integer of at least 2"):
        shell.run(f"%%train --cv 1\n{CELL}")


def test_cv_is_refused_by_the_tuning_magics(shell):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="--cv is for %%train"):
        shell.run(f"%%lr_find --cv 3\n{CELL}")
