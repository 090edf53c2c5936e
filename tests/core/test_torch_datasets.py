"""torch Datasets: labels without a pre-pass, lazy splits, workers, IterableDataset (issue 11 items 1-2)."""

import multiprocessing
import pickle
import warnings

import numpy as np
import pytest
import torch

import nbtrain
from nbtrain.core import datasets as DS
from nbtrain.core.errors import ConfigError, DataError, NbtrainError
from nbtrain.core.sources import torch_items as TI


class Counting(torch.utils.data.Dataset):
    """Counts __getitem__ calls; ``targets`` (and ``classes``) optional, as torchvision's datasets."""

    def __init__(self, n=200, targets=True, classes=False, seed=0):
        g = torch.Generator().manual_seed(seed)
        self.X = torch.randn(n, 4, generator=g)
        self.y = (self.X[:, 0] > 0).long()
        self.calls = 0
        if targets:
            self.targets = self.y.tolist()
        if classes:
            self.classes = ["neg", "pos"]

    def __len__(self):
        return len(self.X)

    def __getitem__(self, i):
        self.calls += 1
        return self.X[i], self.y[i]


def test_targets_attribute_means_one_read_per_sample_plus_the_probe():
    ds = Counting(200)
    with warnings.catch_warnings():
        warnings.simplefilter("error", TI.LabelsReadWarning)
        run = nbtrain.train(ds, model="mlp(8)", epochs=1, val=0, test=0, display="none", batch_size=16)
    assert run.status == "completed" and run.task == "classification" and run.config["n_classes"] == 2
    assert ds.calls <= len(ds) + TI.PROBE_ROWS, ds.calls


def test_classes_names_and_declarations():
    ds = Counting(100, targets=False, classes=True)
    run = nbtrain.train(ds, model="mlp(8)", epochs=1, display="none")
    assert list(run.classes) == ["neg", "pos"]
    assert ds.calls <= len(ds) + TI.PROBE_ROWS  # splits are lazy (Subset indices), no label pass
    ds2 = Counting(100, targets=False)
    run = nbtrain.train(ds2, model="mlp(8)", classes=3, epochs=1, val=0, test=0, display="none")
    assert run.config["n_classes"] == 3 and ds2.calls <= len(ds2) + TI.PROBE_ROWS
    ds3 = Counting(50)
    ds3.targets = [3] * 50
    with pytest.raises(DataError, match="declared"):
        nbtrain.train(ds3, classes=2, model="mlp(4)", display="none", epochs=1)


def test_no_targets_reads_labels_once_and_says_so():
    ds = Counting(60, targets=False)
    with pytest.warns(TI.LabelsReadWarning, match="read all 60 samples"):
        run = nbtrain.train(ds, model="mlp(4)", epochs=1, val=0, test=0, display="none")
    assert run.status == "completed"
    assert ds.calls <= 2 * len(ds) + TI.PROBE_ROWS


def test_regression_task_declared_needs_no_labels():
    class Reg(torch.utils.data.Dataset):
        calls = 0

        def __len__(self):
            return 40

        def __getitem__(self, i):
            Reg.calls += 1
            return torch.full((3,), float(i)), torch.tensor(float(i))

    run = nbtrain.train(Reg(), task="regression", epochs=1, val=0, test=0, display="none")
    assert run.task == "regression" and Reg.calls <= 40 + TI.PROBE_ROWS


def test_subset_targets_follow_indices():
    ds = Counting(30)
    sub = torch.utils.data.Subset(ds, [3, 1, 2])
    assert TI.known_targets(sub).tolist() == [ds.targets[3], ds.targets[1], ds.targets[2]]
    td = torch.utils.data.TensorDataset(torch.zeros(5, 2), torch.arange(5))
    assert TI.known_targets(td).tolist() == [0, 1, 2, 3, 4]


def test_bad_options():
    ds = Counting(20)
    for bad in (-1, 1.5, "2", True):
        with pytest.raises(ConfigError, match="workers"):
            nbtrain.train(ds, workers=bad, display="none")
    with pytest.raises(ConfigError, match="task"):
        nbtrain.train(ds, task="clustering", display="none")
    with pytest.raises(ConfigError, match="classes"):
        nbtrain.train(ds, classes=1, display="none")
    X, y = np.random.rand(20, 2), np.arange(20) % 2
    with pytest.raises(ConfigError, match="workers= is for a torch Dataset"):
        nbtrain.train((X, y), workers=2, display="none")


def test_workers_train_with_a_notebook_class_on_fork():
    if multiprocessing.get_start_method() != "fork":
        pytest.skip("fork start method only")
    ds = Counting(64)
    run = nbtrain.train(ds, model="mlp(4)", workers=2, epochs=2, display="none", batch_size=16)
    assert run.status == "completed" and len(run.history) == 2
    b = run._splits["train"]
    assert b.workers == 2 and not b._loaders  # persistent workers ended with the run
    assert run.evaluate()["accuracy"] >= 0 and not run._splits["test"]._loaders  # and with an evaluation


def test_spawn_refuses_a_notebook_class_before_training(monkeypatch):
    monkeypatch.setattr(DS, "start_method", lambda: "spawn")
    Notebook = type("Notebook", (Counting,), {"__module__": "__main__"})
    with pytest.raises(ConfigError, match="defined in the notebook"):
        nbtrain.train(Notebook(20), workers=2, display="none")

    class Unpicklable(Counting):
        def __reduce__(self):
            raise pickle.PicklingError("no")

    with pytest.raises(ConfigError, match="cannot be sent to a worker"):
        nbtrain.train(Unpicklable(20), workers=1, display="none")
    assert "run1" not in nbtrain.runs or nbtrain.runs["run1"].status != "running"


class Stream(torch.utils.data.IterableDataset):
    def __init__(self, n=None):
        self.n = n

    def __iter__(self):
        g = torch.Generator().manual_seed(0)
        i = 0
        while self.n is None or i < self.n:
            x = torch.randn(3, generator=g)
            yield x, (x.sum() > 0).long()
            i += 1


def test_iterable_dataset_with_steps_per_epoch():
    with pytest.raises(ConfigError, match="steps_per_epoch"):
        nbtrain.train(Stream(), classes=2, val=0, test=0, display="none")
    with pytest.raises(ConfigError, match="cannot be split"):
        nbtrain.train(Stream(), classes=2, steps_per_epoch=5, display="none")
    with pytest.raises(ConfigError, match="classes"):
        nbtrain.train(Stream(), steps_per_epoch=5, val=0, test=0, display="none")
    run = nbtrain.train(
        Stream(), classes=2, steps_per_epoch=5, val=0, test=0, val_data=Stream(40), epochs=3, batch_size=8,
        model="mlp(4)", display="none",
    )  # fmt: skip
    assert run.status == "completed" and len(run.history) == 3 and "val_loss" in run.history.last
    # a finite stream shorter than the steps: a new pass
    run = nbtrain.train(Stream(12), classes=2, steps_per_epoch=4, val=0, test=0, epochs=2, batch_size=8, display="none")
    assert run.status == "completed"


def test_pair_and_shape_errors_are_clear():
    class Bad(torch.utils.data.Dataset):
        def __len__(self):
            return 10

        def __getitem__(self, i):
            return torch.zeros(3)

    with pytest.raises(DataError, match=r"\(x, y\) pairs"):
        nbtrain.train(Bad(), display="none")


def test_slow_data_hint_is_said_once(monkeypatch):
    b = DS.LoaderBatches(Counting(10), 4, torch.Generator(), torch.device("cpu"), torch.long)
    b.wait, b.elapsed = 0.9, 1.0
    assert "more DataLoader workers would help" in b.slow_data_hint(1)
    assert b.slow_data_hint(2) is None
    b2 = DS.LoaderBatches(Counting(10), 4, torch.Generator(), torch.device("cpu"), torch.long)
    b2.wait, b2.elapsed = 0.1, 1.0
    assert b2.slow_data_hint(1) is None


def test_slow_data_reaches_an_event_and_the_run():
    import time

    class Slow(Counting):
        def __getitem__(self, i):
            time.sleep(0.02)  # data clearly slower than the step, even on a busy machine (xdist)
            return super().__getitem__(i)

    heard = []

    class Listener(nbtrain.Callback):
        def on_hint(self, run, message, **kw):
            heard.append(message)

    run = nbtrain.train(Slow(200), model="mlp(4)", epochs=2, val=0, test=0, callbacks=[Listener()], display="none")
    assert len(heard) == 1 and run.hints == heard and "workers=" in heard[0]


def test_mps_refuses_a_float64_model():
    from nbtrain.core.prepare import check_dtypes

    with pytest.raises(NbtrainError, match="float64"):
        check_dtypes(torch.nn.Linear(2, 2).double(), torch.device("mps"))
    check_dtypes(torch.nn.Linear(2, 2), torch.device("mps"))


def test_float64_is_cast_before_the_copy(monkeypatch):
    seen = []
    real = torch.Tensor.to

    def spy(self, *a, **k):
        if a and isinstance(a[0], torch.device):
            seen.append(self.dtype)
        return real(self, *a, **k)

    monkeypatch.setattr(torch.Tensor, "to", spy)
    DS._move(torch.zeros(3, dtype=torch.float64), torch.device("cpu"), torch.float32, False)
    DS._move(torch.zeros(3, dtype=torch.uint8), torch.device("cpu"), torch.float32, False)
    assert seen == [torch.float32, torch.uint8]


def test_cuda_resident_samples_refuse_workers():
    with pytest.raises(ConfigError, match="CUDA tensors"):
        DS.check_workers(Counting(4), 2, on_device=True)


def test_declared_classes_and_task_on_arrays():
    X = np.random.default_rng(0).normal(size=(60, 3)).astype(np.float32)
    y = np.arange(60) % 2
    run = nbtrain.train((X, y), classes=3, epochs=1, display="none")
    assert run.config["n_classes"] == 3 and list(run.classes) == [0, 1, 2]
    with pytest.raises(DataError, match="which classes= does not name"):
        nbtrain.train((X, np.array(["a", "b", "c"] * 20)), classes=["a", "b"], display="none")
    run = nbtrain.train((X, y), task="regression", epochs=1, display="none")
    assert run.task == "regression"
    with pytest.raises(ConfigError, match="classes= is for classification"):
        nbtrain.train((X, y), task="regression", classes=2, display="none")


def test_the_same_batches_with_any_number_of_workers():
    if multiprocessing.get_start_method() != "fork":
        pytest.skip("fork start method only")
    kw = dict(model="mlp(8, dropout=0.2)", epochs=3, display="none", batch_size=16, seed=3)
    a = nbtrain.train(Counting(96), **kw)
    b = nbtrain.train(Counting(96), workers=2, **kw)
    assert a.history["train_loss"] == b.history["train_loss"]
