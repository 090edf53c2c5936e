"""A new kind of source is one adapter (docs/data.md, "Adding a source kind"): a module-like object
with ``claims`` and ``adapt``, put in ``sources.ADAPTERS``, and nothing after the sources changes --
the run trains, splits, preprocesses and predicts as for ``(X, y)``, and the path goes one way."""

import sys
import types

import numpy as np
import pytest
from test_data_direction import backward_steps, trace_stages  # tests/core is on the path (rootdir-relative)

import nbtrain
from nbtrain.core import sources
from nbtrain.core.errors import DataError
from nbtrain.core.prepare import prepare
from nbtrain.core.sources import arrays


class Columns:
    """A made-up kind of data: named columns plus the name of the target column."""

    def __init__(self, columns: dict, target: str):
        self.columns, self.target = columns, target


def _adapt(data, ctx):
    if data.target not in data.columns:
        raise DataError(f"{ctx.what}: no column {data.target!r} for the target.")
    X = np.column_stack([v for k, v in data.columns.items() if k != data.target])
    return arrays.table(X, data.columns[data.target], ctx.what)


COLUMNS = types.SimpleNamespace(claims=lambda data: isinstance(data, Columns), adapt=_adapt)


@pytest.fixture
def with_columns(monkeypatch):
    monkeypatch.setattr(sources, "ADAPTERS", (COLUMNS, *sources.ADAPTERS))


def _columns(n=120):
    rng = np.random.default_rng(0)
    a, b = rng.standard_normal(n), rng.standard_normal(n)
    return Columns({"a": a, "b": b, "y": (a + b > 0).astype(int)}, target="y"), np.column_stack([a, b])


@pytest.mark.skipif(sys.version_info < (3, 11), reason="the trace tells methods apart by co_qualname (3.11+)")
def test_one_adapter_is_all_a_new_kind_of_source_needs(with_columns):
    data, X = _columns()
    run = nbtrain.train(data, preprocess="standardize", epochs=30, lr=0.1, display="none")
    assert run.task == "classification" and run.config["n_train"] == 72  # split as (X, y) is: 0.6 of 120
    assert run.evaluate()["accuracy"] > 0.8
    same = nbtrain.train((X, data.columns["y"]), preprocess="standardize", epochs=30, lr=0.1, display="none")
    assert np.array_equal(run.predict(X), same.predict(X))  # the same path from the adapter on
    steps = trace_stages(lambda: prepare(data, name="r", epochs=1))
    assert backward_steps(steps) == []


def test_the_adapter_says_what_is_wrong(with_columns):
    data, _ = _columns()
    data.target = "zz"
    with pytest.raises(DataError, match="no column 'zz'"):
        nbtrain.train(data, display="none")


def test_without_the_adapter_the_kind_is_one_sentence():
    data, _ = _columns()
    with pytest.raises(nbtrain.NbtrainError, match="unsupported form Columns"):
        nbtrain.train(data, display="none")
