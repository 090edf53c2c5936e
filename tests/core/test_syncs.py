"""No host sync per step: the number of host reads of tensors (item, __float__, __int__, __bool__,
tolist, cpu; each a sync on a GPU) does not grow with the number of batches, on every training path
of one process.  (The data-parallel path: tests/distributed/test_engine_ranks.py.)"""

import time

import numpy as np
import pytest
import torch

import nbtrain

READS = ("item", "__float__", "__int__", "__bool__", "tolist", "cpu")


class Reads:
    """Counts host reads while installed (``with Reads() as r: ...; r.n``)."""

    def __init__(self, monkeypatch):
        self.n, self.by = 0, {}
        for name in READS:
            orig = getattr(torch.Tensor, name)

            def counting(t, *a, _orig=orig, _name=name, **k):
                self.n += 1
                self.by[_name] = self.by.get(_name, 0) + 1
                return _orig(t, *a, **k)

            monkeypatch.setattr(torch.Tensor, name, counting)


def data(n, d=8, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    return X, (X[:, 0] - X[:, 1] > 0).astype(int)


def reads(monkeypatch, batches, **kw):
    X, y = data(16 * batches * 2)  # val=0.5: `batches` training batches of 16
    args = dict(model="mlp(16)", epochs=3, batch_size=16, val=0.5, test=0.0, metrics="accuracy", display="none")
    args.update(kw)
    with monkeypatch.context() as m:
        r = Reads(m)
        run = nbtrain.train((X, y), **args)
    assert run.status == "completed", run.error
    return r


PATHS = {
    "fp32 adam": {},
    "fp32 sgd": dict(optimizer="sgd(momentum=0.9)"),
    "bf16 adam": dict(amp="bf16"),
    "fp16 adam": dict(amp="fp16"),
    "fp16 sgd": dict(amp="fp16", optimizer="sgd"),
    "clip": dict(clip=1.0, optimizer="sgd"),
    "clip_value fp16": dict(clip_value=0.5, amp="fp16"),
    "accumulate": dict(accumulate=3, scheduler="onecycle"),
    "patience": dict(patience=5),
}


@pytest.mark.parametrize("path", list(PATHS))
def test_host_reads_do_not_grow_with_batches(path, monkeypatch, one_thread):
    few, many = reads(monkeypatch, 8, **PATHS[path]), reads(monkeypatch, 32, **PATHS[path])
    print(f"{path}: {few.n} reads for 3 x 8 steps, {many.n} for 3 x 32 steps ({many.by})")
    assert few.n >= 3  # the epoch ends read: the counter sees reads
    assert many.n == few.n, (few.by, many.by)


def test_a_non_fused_optimizer_with_fp16_is_the_one_known_exception(monkeypatch, one_thread):
    """RMSprop has no fused kernel: GradScaler reads found_inf once per optimizer step (documented)."""
    few, many = (
        reads(monkeypatch, 8, amp="fp16", optimizer="rmsprop"),
        reads(monkeypatch, 32, amp="fp16", optimizer="rmsprop"),
    )
    assert many.n - few.n == 3 * 24


def test_a_view_reading_every_batch_costs_reads_by_time_not_by_batches(monkeypatch, one_thread):
    class Greedy(nbtrain.Callback):
        def on_batch_end(self, run, epoch, batch, num_batches, **kw):
            run.live.loss()  # a careless view: every batch

    t = time.perf_counter()
    r = reads(monkeypatch, 64, callbacks=[Greedy()])
    elapsed = time.perf_counter() - t
    base = reads(monkeypatch, 64)
    budget = 3 * (elapsed / nbtrain.core.loop.Live.min_interval + 1)  # a read each interval (+ the first)
    assert r.n - base.n <= budget, (r.n, base.n, elapsed)
    assert r.n - base.n < 3 * 64 / 2  # far fewer than one a batch
