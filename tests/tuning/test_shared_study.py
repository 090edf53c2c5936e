"""Two worker processes on one study file: together they run the requested number of trials, none twice.

Each worker, after its first trial, waits until the other has started one (a callback and a file per
worker): without it, on a loaded 2-core machine one worker could run the whole study while the other
was still importing torch, and "both took part" would fail for a reason that is not nbtrain's.
"""

import os
import subprocess
import sys
import textwrap

import pytest

optuna = pytest.importorskip("optuna")
pytestmark = [pytest.mark.slow, pytest.mark.timeout(300)]

WORKER = textwrap.dedent(
    """
    import pathlib, sys, time, torch
    torch.set_num_threads(1)
    import numpy as np
    import nbtrain
    from sklearn.datasets import load_digits
    X, y = load_digits(return_X_y=True)
    idx = np.random.default_rng(0).permutation(len(X))[:400]
    sampler, storage, trials = sys.argv[1], sys.argv[2], int(sys.argv[3])
    me, sync = sys.argv[4], pathlib.Path(sys.argv[5])


    class Together(nbtrain.Callback):
        # marks this worker as started; at the end of its first trial, waits for the other to start one

        waited = False

        def on_fit_start(self, run, **kw):
            (sync / me).touch()

        def on_fit_end(self, run, status, **kw):
            deadline = time.monotonic() + 120
            while not self.waited and len(list(sync.iterdir())) < 2 and time.monotonic() < deadline:
                time.sleep(0.05)
            self.waited = True


    if sampler == "grid":
        space = dict(lr=nbtrain.choice([0.003, 0.01, 0.03]), model=nbtrain.choice(["mlp(8)", "mlp(16)"]))
    else:
        space = dict(lr=nbtrain.loguniform(1e-3, 1e-1), model=nbtrain.choice(["mlp(8)", "mlp(16)"]))
    s = nbtrain.sweep((X[idx], y[idx]), preprocess="standardize", epochs=2, display="none", name="shared",
                      metric="val_accuracy", trials=trials, sampler=sampler, storage=storage,
                      callbacks=[Together()], **space)
    print("ran", sorted(s.runs))
    """
)


def _workers(tmp_path, sampler, storage, trials):
    script = tmp_path / "worker.py"
    script.write_text(WORKER)
    sync = tmp_path / "started"
    sync.mkdir()
    env = dict(os.environ, PYTHONPATH=os.pathsep.join(p for p in (os.getcwd(), os.environ.get("PYTHONPATH")) if p))
    procs = [
        subprocess.Popen(
            [sys.executable, str(script), sampler, storage, str(trials), f"worker{i}", str(sync)],
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
            text=True,
        )
        for i in range(2)
    ]
    outs = [p.communicate(timeout=240) for p in procs]
    for p, (_out, err) in zip(procs, outs):
        assert p.returncode == 0, err[-3000:]
    return [out for out, _ in outs]


def _study(storage):
    if storage.endswith(".db"):
        return optuna.load_study(study_name="shared", storage=f"sqlite:///{storage}")
    from optuna.storages.journal import JournalFileBackend, JournalStorage

    return optuna.load_study(study_name="shared", storage=JournalStorage(JournalFileBackend(storage)))


@pytest.mark.parametrize("sampler, name", [("tpe", "study.log"), ("grid", "study.db")])
def test_two_workers_share_one_budget(tmp_path, sampler, name):
    storage = str(tmp_path / name)
    trials = 6
    outs = _workers(tmp_path, sampler, storage, trials)
    study = _study(storage)
    done = [t for t in study.trials if t.state == optuna.trial.TrialState.COMPLETE]
    assert len(done) == trials and len(study.trials) == trials, [(t.number, t.state) for t in study.trials]
    assert sorted(t.number for t in study.trials) == list(range(trials))
    ran = [eval(o.split("ran", 1)[1]) for o in outs]  # the trial numbers each worker ran: "[0, 2, 5]"
    assert all(ran) and sorted(ran[0] + ran[1]) == list(range(trials)), ran  # both took part, none twice
    if sampler == "grid":
        points = {tuple(sorted(t.params.items())) for t in done}
        assert len(points) == trials  # every grid point once
    else:
        assert len({tuple(sorted(t.params.items())) for t in done}) == trials  # no random start drawn twice
