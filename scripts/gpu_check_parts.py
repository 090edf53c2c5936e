"""The measuring checks of scripts/gpu_check.py (syncs, speed, bf16, compile, memory, OOM) and their helpers."""

from __future__ import annotations

import contextlib
import functools
import io
import statistics
import tempfile
import time
import warnings

import numpy as np
import torch
from torch import nn

import nbtrain

READS = ("item", "__float__", "__int__", "__bool__", "tolist", "cpu")


class Context:
    def __init__(self, device: torch.device):
        self.cuda = device.type == "cuda"
        if self.cuda and device.index is None:
            device = torch.device("cuda", torch.cuda.current_device())
        self.device = device
        if not self.cuda:
            torch.set_num_threads(1)  # the CPU run checks the script: small tensors, one thread is fastest

    def describe(self) -> str:
        if self.cuda:
            cap = ".".join(map(str, torch.cuda.get_device_capability(self.device)))
            return f"{torch.cuda.get_device_name(self.device)} (compute capability {cap})"
        return f"cpu ({torch.get_num_threads()} threads)"

    def sync(self):
        if self.cuda:
            torch.cuda.synchronize(self.device)


def classification(n, d, k=5, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.standard_normal((n, d)).astype(np.float32)
    return X, (X @ rng.standard_normal((d, k))).argmax(1)


def train(ctx, data, **kw):
    """``nbtrain.train`` without views, kept out of ``nbtrain.runs`` (its model would hold memory)."""
    args = dict(display="none", device=ctx.device)
    args.update(kw)
    run = nbtrain.train(data, **args)
    nbtrain.runs.pop(run.name, None)
    return run


class Syncs:
    """Host syncs while open: CUDA's sync debug mode counts them on a GPU; on the CPU, host reads of tensors."""

    def __init__(self, ctx):
        self.ctx, self.n = ctx, 0

    def __enter__(self):
        self._stack = contextlib.ExitStack()
        if self.ctx.cuda:
            self.ctx.sync()
            self._log = self._stack.enter_context(warnings.catch_warnings(record=True))
            warnings.simplefilter("always")
            torch.cuda.set_sync_debug_mode("warn")
            self._stack.callback(torch.cuda.set_sync_debug_mode, "default")
        else:
            for name in READS:
                orig = getattr(torch.Tensor, name)

                def counting(t, *a, _orig=orig, **k):
                    self.n += 1
                    return _orig(t, *a, **k)

                setattr(torch.Tensor, name, counting)
                self._stack.callback(setattr, torch.Tensor, name, orig)
        return self

    def __exit__(self, *exc):
        self._stack.close()
        if self.ctx.cuda:
            self.n = sum("synchroniz" in str(w.message) for w in self._log)
        return False


def ddp_once(ctx, args: dict):
    """The data-parallel path (DDP wrapper, shards, collectives) on one rank in this process."""
    import torch.distributed as dist

    from nbtrain.core.device import make_precision
    from nbtrain.core.optim import fuse_for
    from nbtrain.distributed import launcher
    from nbtrain.distributed.channel import Channel
    from nbtrain.distributed.ddp import ddp_fit
    from nbtrain.distributed.worker import _to_device

    backend = "nccl" if ctx.cuda else "gloo"
    settings = launcher.rank_settings(1, ctx.device.type, backend=backend)
    run, job = launcher.prepare_for_ranks(args, settings, "ddp")
    store = dist.TCPStore("127.0.0.1", 0, 1, is_master=True, wait_for_workers=False)
    dist.init_process_group(backend, store=store, rank=0, world_size=1)
    try:
        if ctx.cuda:
            torch.cuda.set_device(ctx.device)
        _to_device(run, job, ctx.device)
        job.precision = run._precision = make_precision(None, ctx.device)
        fuse_for(job.optimizer, run.config["optimizer"], ctx.device, False)
        # on a GPU the stop flag is a host tensor (no CUDA sync); the CPU count would see its
        # time-based reads (~5 a second), so the CPU run checks the script with the flag far apart
        every = None if ctx.cuda else 10**6
        with tempfile.TemporaryDirectory() as d, Syncs(ctx) as syncs:
            channel = Channel(d, lead=True)
            status = ddp_fit(run, job, rank=0, world=1, device=ctx.device, channel=channel, stop_every=every)
    finally:
        dist.destroy_process_group()
    return status, syncs.n


SYNC_PATHS = {
    "fp32 adam": {},
    "fp32 sgd": dict(optimizer="sgd(momentum=0.9)"),
    "bf16 adam": dict(amp="bf16"),
    "bf16 sgd": dict(amp="bf16", optimizer="sgd(momentum=0.9)"),
    "fp16 adam": dict(amp="fp16"),
    "fp16 sgd": dict(amp="fp16", optimizer="sgd(momentum=0.9)"),
    "clip fp16": dict(amp="fp16", clip=1.0),
    "accumulate": dict(accumulate=4, scheduler="onecycle"),
    "patience": dict(patience=5),
    "ddp": dict(ddp=True),
}


def check_syncs(ctx) -> dict:
    """Syncs for 2 epochs of 16 and of 64 batches: per-step syncs would add one (or more) per extra step."""
    out, ok = {}, True
    for path, extra in SYNC_PATHS.items():
        if "bf16" in path and ctx.cuda and torch.cuda.get_device_capability(ctx.device)[0] < 8:
            out[path] = "skipped: no native bf16"
            continue
        counts = []
        few, many = (16, 64) if ctx.cuda else (4, 16)
        for batches in (few, many):
            kw = dict(model="mlp(64)", epochs=2, batch_size=32, val=0.5, test=0.0, metrics="accuracy")
            kw.update(extra)
            data = classification(32 * batches * 2, 16)
            if kw.pop("ddp", False):
                status, n = ddp_once(ctx, dict(data=data, **kw))
            else:
                if ctx.cuda:
                    train(ctx, data, **kw)  # warm-up: lazy initialisation is not a per-step cost
                with Syncs(ctx) as syncs:
                    status = train(ctx, data, **kw).status
                n = syncs.n
            counts.append(n)
            ok &= status == "completed"
        growth = (counts[1] - counts[0]) / (2 * (many - few))  # extra syncs per extra step
        out[path] = {
            f"syncs_{few}_batches": counts[0],
            f"syncs_{many}_batches": counts[1],
            "per_step": round(growth, 3),
        }
        ok &= growth < 0.05
    return {"passed": bool(ok), "method": "cuda sync debug mode" if ctx.cuda else "host reads", **out}


def mlp(d, width, layers, k=10):
    mods, n = [], d
    for _ in range(layers):
        mods += [nn.Linear(n, width), nn.ReLU()]
        n = width
    return nn.Sequential(*mods, nn.Linear(n, k))


def hand_loop(X, y, epochs, bs, model) -> float:
    """A hand-written CUDA loop: resident data, a seeded permutation an epoch, fused Adam, one read an
    epoch.  Returns the seconds its epochs took."""
    opt = torch.optim.Adam(model.parameters(), lr=1e-3, fused=True)
    g = torch.Generator().manual_seed(0)
    n = len(X)
    t = time.perf_counter()
    for _ in range(epochs):
        perm = torch.randperm(n, generator=g).to(X.device)
        Xp, yp = X[perm], y[perm]
        total = torch.zeros((), device=X.device)
        for i in range(0, n, bs):
            loss = nn.functional.cross_entropy(model(Xp[i : i + bs]), yp[i : i + bs])
            opt.zero_grad(set_to_none=True)
            loss.backward()
            opt.step()
            total += loss.detach()
        float(total)
    return time.perf_counter() - t


def _medians(cases: dict, repeats: int) -> dict:
    """Each case returns the seconds its training epochs took; medians of ``repeats``, cases alternating."""
    for fn in cases.values():
        fn()  # warm-up: kernels, allocator, cuBLAS handles
    times = {k: [] for k in cases}
    for _ in range(repeats):
        for k, fn in cases.items():  # alternate, so drift hits every case alike
            times[k].append(fn())
    return {k: statistics.median(v) for k, v in times.items()}


def _epochs_s(run) -> float:
    """The run's training time: its epochs' wall time (each ends with the epoch's one host read)."""
    return float(sum(run.history["time"]))


def check_speed(ctx) -> dict:
    from nbtrain.display.console import ConsoleView

    n, d, width, bs, epochs = (65536, 256, 2048, 1024, 3) if ctx.cuda else (4096, 64, 256, 256, 2)
    X, y = classification(n, d, k=10)
    Xt, yt = torch.from_numpy(X).to(ctx.device), torch.from_numpy(y).to(ctx.device)

    def ours(console=False):
        torch.manual_seed(0)
        cbs = [ConsoleView(stream=io.StringIO(), tty=True)] if console else []  # its progress line reads live.loss()
        kw = dict(optimizer="adam", lr=1e-3, epochs=epochs, batch_size=bs, val=0, test=0, metrics=[])
        return _epochs_s(train(ctx, (X, y), model=mlp(d, width, 2).to(ctx.device), callbacks=cbs, **kw))

    def hand():
        torch.manual_seed(0)
        return hand_loop(Xt, yt, epochs, bs, mlp(d, width, 2).to(ctx.device))

    med = _medians({"hand": hand, "nbtrain": ours, "console": functools.partial(ours, True)}, 5)
    steps = epochs * -(-n // bs)
    rate = {k: steps / v for k, v in med.items()}
    ratio, console = rate["nbtrain"] / rate["hand"], rate["console"] / rate["hand"]
    passed = (ratio >= 0.9 and console >= 0.9) if ctx.cuda else True  # CPU: figures only
    return {"passed": passed, "steps_per_s": rate, "vs_hand": ratio, "console_vs_hand": console,
            "workload": f"MLP {d}-{width}-{width}-10, batch {bs}, {steps} steps"}  # fmt: skip


def check_bf16(ctx) -> dict:
    width, layers, n, bs = (4096, 4, 16384, 1024) if ctx.cuda else (256, 2, 2048, 256)
    if ctx.cuda and torch.cuda.get_device_capability(ctx.device)[0] < 8:
        return {"skipped": "no native bf16 on this GPU"}
    X, y = classification(n, width, k=10)
    dtypes = []

    def run_with(**kw):
        torch.manual_seed(0)
        model = mlp(width, width, layers).to(ctx.device)
        model[0].register_forward_hook(lambda m, i, o: dtypes.append(o.dtype) if m.training else None)
        args = dict(optimizer="adam", lr=1e-4, epochs=2, batch_size=bs, val=0, test=0, metrics=[])
        return _epochs_s(train(ctx, (X, y), model=model, **dict(args, **kw)))

    cases = {"fp32": run_with, "bf16": lambda: run_with(amp="bf16"), "tf32": lambda: run_with(tf32=True)}
    med = _medians(cases, 3)
    speedup = med["fp32"] / med["bf16"]
    bf16_seen = torch.bfloat16 in dtypes
    passed = bf16_seen and (speedup >= 1.5 if ctx.cuda else True)
    return {"passed": passed, "bf16_activations": bf16_seen, "epochs_s": med, "bf16_speedup": speedup,
            "tf32_speedup": med["fp32"] / med["tf32"], "mlp": f"{layers} x {width}, batch {bs}"}  # fmt: skip


def check_compile(ctx) -> dict:
    from torch._dynamo.utils import counters

    from nbtrain.core import store

    real = torch.compile
    if not ctx.cuda:  # dynamo counts graphs the same with the eager backend; no C++ toolchain needed
        torch.compile = functools.partial(real, backend="eager")
    try:
        torch._dynamo.reset()
        counters.clear()
        data = classification(1000, 16)  # 600 training rows, batch 64: a last batch of 24
        t = time.perf_counter()
        run = train(ctx, data, model="mlp(64)", epochs=3, batch_size=64, compile=True)
        graphs, frames = counters["stats"]["unique_graphs"], counters["frames"]["total"]
        out = {"graphs": graphs, "frames": frames, "first_run_s": time.perf_counter() - t}
        ok = run.status == "completed" and graphs == 1 and frames == 1
        for first, then in ((True, False), (False, True)):
            with tempfile.TemporaryDirectory() as d:
                ck = f"{d}/ck.pt"
                kw = dict(model="mlp(64)", epochs=4, batch_size=64, patience=3, checkpoint=ck)
                train(ctx, data, compile=first, callbacks=[_StopAfter(2)], **kw)
                keys = list(store.load_checkpoint(ck)["model"])
                resumed = train(ctx, data, compile=then, resume=True, **kw)
                clean = not any(k.startswith("_orig_mod.") for k in keys)
                out[f"resume {first}->{then}"] = resumed.status
                ok &= resumed.status == "completed" and clean
        return {"passed": bool(ok), **out}
    finally:
        torch.compile = real
        torch._dynamo.reset()


class _StopAfter(nbtrain.Callback):
    def __init__(self, epoch):
        self.epoch = epoch

    def on_epoch_end(self, run, epoch, logs, **kw):
        if epoch == self.epoch:
            run.request_stop("gpu check")
