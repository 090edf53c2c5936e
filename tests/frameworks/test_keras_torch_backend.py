"""A Keras 3 model on the torch backend trains through ``nbtrain.train`` as it is (docs/frameworks.md).

Keras picks its backend when it is first imported, so the model is built and trained in a fresh
interpreter with ``KERAS_BACKEND=torch``; its predictions are then checked with Keras' own
``model.predict`` on the run's fitted preprocessing."""

from __future__ import annotations

import importlib.util
import json
import os
import subprocess
import sys

import pytest

pytestmark = pytest.mark.skipif(
    importlib.util.find_spec("keras") is None, reason="keras is not installed (pip install keras: Keras 3)"
)

SCRIPT = r"""
import json, numpy as np, torch, keras, nbtrain
from sklearn.datasets import load_iris
torch.set_num_threads(1)
keras.utils.set_random_seed(0)
X, y = load_iris(return_X_y=True)
model = keras.Sequential([keras.Input((4,)), keras.layers.Dense(16, activation="relu"), keras.layers.Dense(3)])
before = [p.detach().clone() for p in model.parameters()]
run = nbtrain.train((X, y), model=model, loss="cross_entropy", preprocess="standardize", epochs=30, lr=0.01,
                    display="none")
moved = [float((p.detach() - b).abs().max()) for p, b in zip(model.parameters(), before)]
logits = model.predict(run.preprocess.transform(X).astype("float32"), verbose=0)   # Keras' own forward pass
print(json.dumps({
    "backend": keras.backend.backend(), "is_module": isinstance(model, torch.nn.Module), "status": run.status,
    "losses": run.history["train_loss"], "moved": moved, "test": run.evaluate()["accuracy"],
    "agree": bool((np.asarray(logits).argmax(axis=1) == run.predict(X)).all()),
}))
"""


def test_a_keras_3_model_trains_through_nbtrain(tmp_path):
    env = dict(os.environ, KERAS_BACKEND="torch", NBTRAIN_STORE="", OMP_NUM_THREADS="1")
    proc = subprocess.run(
        [sys.executable, "-c", SCRIPT], env=env, cwd=tmp_path, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    out = json.loads(proc.stdout.strip().splitlines()[-1])
    assert out["backend"] == "torch" and out["is_module"] and out["status"] == "completed"
    assert out["losses"][-1] < 0.5 * out["losses"][0]
    assert all(m > 0 for m in out["moved"])  # every Keras weight was trained by nbtrain's optimizer
    assert out["test"] >= 0.85
    assert out["agree"]  # nbtrain's predictions are the Keras model's own
