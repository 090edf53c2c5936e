"""Files as data: data="path.csv" / ".parquet" read with pandas, then the DataFrame path (issue 11 item 3)."""

import numpy as np
import pytest

import nbtrain
from nbtrain.core.errors import DataError

pd = pytest.importorskip("pandas")


def _frame(n=120):
    rng = np.random.default_rng(0)
    df = pd.DataFrame(
        {
            "a": rng.normal(size=n),
            "b": rng.normal(size=n),
            "colour": np.array(["red", "green", "blue"])[np.arange(n) % 3],
        }
    )
    df["label"] = np.where(df["a"] + (df["colour"] == "red") > 0.5, "yes", "no")
    df.loc[[3, 10, 40], "b"] = np.nan
    return df


@pytest.mark.parametrize("ext", ["csv", "parquet"])
def test_a_file_trains_like_its_dataframe(tmp_path, ext):
    pytest.importorskip("pyarrow") if ext == "parquet" else None
    df = _frame()
    path = tmp_path / f"train.{ext}"
    df.to_csv(path, index=False) if ext == "csv" else df.to_parquet(path)
    kw = dict(target="label", preprocess="impute:median | onehot | standardize", model="mlp(8)", epochs=3)
    from_file = nbtrain.train(str(path), display="none", name="f", **kw)
    from_frame = nbtrain.train(pd.read_csv(path) if ext == "csv" else pd.read_parquet(path), display="none", **kw)
    assert from_file.history.last["val_loss"] == pytest.approx(from_frame.history.last["val_loss"])
    assert set(from_file.classes) == {"no", "yes"}
    X = df.drop(columns=["label"]).iloc[:5]
    assert (from_file.predict(X) == from_frame.predict(X)).all()
    assert (from_file.predict(str(path))[:5] == from_file.predict(X)).all()  # the target column is dropped
    assert from_file.evaluate()["accuracy"] == pytest.approx(from_frame.evaluate()["accuracy"])


def test_val_and_test_files(tmp_path):
    df = _frame()
    df.iloc[:80].to_csv(tmp_path / "tr.csv", index=False)
    df.iloc[80:100].to_csv(tmp_path / "va.csv", index=False)
    df.iloc[100:].to_csv(tmp_path / "te.csv", index=False)
    run = nbtrain.train(
        str(tmp_path / "tr.csv"), val_data=tmp_path / "va.csv", test_data=str(tmp_path / "te.csv"),
        target="label", preprocess="impute | onehot", epochs=2, display="none",
    )  # fmt: skip
    assert run.config["n_train"] == 80 and len(run.predictions("test")["y_true"]) == 20


def test_file_errors_are_one_sentence(tmp_path):
    with pytest.raises(DataError, match="there is no file at"):
        nbtrain.train(str(tmp_path / "missing.csv"), target="label", display="none")
    (tmp_path / "data.xlsx").write_text("x")
    with pytest.raises(DataError, match="'.xlsx' are not read; use .csv"):
        nbtrain.train(str(tmp_path / "data.xlsx"), target="label", display="none")
    _frame().to_csv(tmp_path / "t.csv", index=False)
    with pytest.raises(DataError, match=r"target column 'price' is not in data \('.*t.csv'\); its columns are a, b"):
        nbtrain.train(str(tmp_path / "t.csv"), target="price", display="none")
    (tmp_path / "bad.parquet").write_text("not parquet")
    with pytest.raises(DataError, match="could not be read as parquet"):
        nbtrain.train(str(tmp_path / "bad.parquet"), target="label", display="none")
    with pytest.raises(DataError, match="not numeric"):  # strings without onehot: the DataFrame path's error
        nbtrain.train(str(tmp_path / "t.csv"), target="label", display="none")
