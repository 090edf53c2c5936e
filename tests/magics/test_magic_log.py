"""``%%train --log`` and ``%config NbtrainMagics.log`` in a real IPython shell."""

from __future__ import annotations

import pandas as pd
import pytest

CELL = """
from sklearn.datasets import load_iris
data = load_iris(return_X_y=True)
model = "mlp(8)"
preprocess = "standardize"
"""


def test_train_log_option_and_config_setting(shell, tmp_path, monkeypatch, one_thread):
    monkeypatch.chdir(tmp_path)
    run = shell.run(f"%%train --epochs 3 --name flagged --log csv\n{CELL}")
    df = pd.read_csv(tmp_path / "runs" / "flagged" / "history.csv")
    assert df["epoch"].tolist() == [1, 2, 3] and df["train_loss"].tolist() == run.history["train_loss"]
    shell.run("%config NbtrainMagics.log = 'csv'")
    shell.run(f"%%train --epochs 2 --name configured\n{CELL}")
    assert len(pd.read_csv(tmp_path / "runs" / "configured" / "history.csv")) == 2
    shell.run(f"%%train --epochs 2 --name nolog --log none\n{CELL}")  # overrides the setting
    assert not (tmp_path / "runs" / "nolog").exists()


def test_unknown_logger_is_a_usage_error(shell):
    from IPython.core.error import UsageError

    with pytest.raises(UsageError, match="is not a logger"):
        shell.run(f"%%train --epochs 2 --log tensorbored\n{CELL}")
