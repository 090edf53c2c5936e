"""Kernel side of a running distributed fit: rank 0's events into the Run and its views, the ranks
watched, and the outcome decided (result, failure with the failing rank's own message, or stop)."""

from __future__ import annotations

import signal
import time

from ..core.errors import NbtrainError, first_line
from ..core.events import CallbackList
from ..core.loop import Live
from .channel import Reader


class RankError(NbtrainError, RuntimeError):
    """A rank raised; the message is that rank's own error (its traceback is chained below)."""

    def __init__(self, message: str, rank: int | None = None, remote_traceback: str = ""):
        super().__init__(message)
        self.rank, self.remote_traceback = rank, remote_traceback


class RemoteTraceback(Exception):
    def __str__(self):
        return "\n" + self.args[0]


class RemoteLive(Live):
    """``run.live`` in the kernel: counters and the loss come from rank 0's stream."""

    def __init__(self):
        super().__init__()
        self.remote_loss: float | None = None

    def loss(self) -> float | None:
        return self.remote_loss


class Relay:
    """Tails rank 0's events into ``run`` and the callbacks; watches the ranks; decides the outcome."""

    def __init__(self, run, cbs: CallbackList, outdir: str, ranks=(), poll: float = 0.02, grace: float = 10.0):
        self.run, self.cbs, self.reader, self.ranks = run, cbs, Reader(outdir), list(ranks)
        self.poll, self.grace = poll, grace
        self.end: dict | None = None
        self.failure: dict | None = None
        self._stop_sent = False
        self._end_seen: float | None = None
        self.exit_grace = 5.0
        self.late_exit = False  # a rank had to be ended after rank 0 reported the result
        self._last_pump = time.monotonic()
        if not isinstance(run.live, RemoteLive):
            run.live = RemoteLive()

    def dispatch(self, ev: dict) -> None:
        run, cbs, live, kind = self.run, self.cbs, self.run.live, ev["event"]
        if kind == "epoch_start":
            live.epoch, live.batch, live.num_batches = ev["epoch"], 0, ev["num_batches"]
            live.epoch_start, live.remote_loss = time.perf_counter(), None
            cbs.on_epoch_start(run, ev["epoch"])
        elif kind == "batch":
            live.batch, live.step, live.remote_loss = ev["batch"], ev["step"], ev["loss"]
            cbs.on_batch_end(run, ev["epoch"], ev["batch"], ev["num_batches"])
            self._last_pump = time.monotonic()
        elif kind == "epoch_end":
            logs = cbs.floats(ev["logs"])
            run.history.append(logs)  # record first, then tell the views
            cbs.on_epoch_end(run, ev["epoch"], logs)
        elif kind == "interrupt":
            run.request_stop(ev["reason"])
            cbs.on_interrupt(run, reason=ev["reason"])
        elif kind == "fit_end":
            self.end = ev

    def step(self) -> bool:
        """One round of polling.  Returns True when the run is over (ended, or a rank failed)."""
        for ev in self.reader.poll():
            self.dispatch(ev)
        if self.run.stop_requested and not self._stop_sent:
            self.send_stop(self.run.stop_reason or "stop requested")
        codes = [r.poll() for r in self.ranks]
        if self.end is not None:  # the result is in: give the ranks a moment to exit, then end them
            if self._end_seen is None:
                self._end_seen = time.monotonic()
            if all(c is not None for c in codes):
                return True
            if time.monotonic() - self._end_seen > self.exit_grace:
                self.late_exit = True
                return True
            return False
        if self.reader.first_error() is not None:
            self.failure = self._blame()
            return True
        if any(c not in (None, 0) for c in codes):
            self.failure = self._blame()
            return True
        if self.ranks and all(c == 0 for c in codes):
            for ev in self.reader.poll():
                self.dispatch(ev)
            if self.end is None:
                self.failure = {
                    "rank": 0,
                    "type": "RankExit",
                    "traceback": "",
                    "message": "the ranks ended without rank 0 reporting the end of training",
                }
            return True
        now = time.monotonic()
        if now - self._last_pump > 0.25 and self.run.live.batch:
            # keep the views (and the Stop button's message pump) alive while rank 0 validates
            self._last_pump = now
            live = self.run.live
            self.cbs.on_batch_end(self.run, live.epoch, live.batch, live.num_batches)
        return False

    def _blame(self) -> dict:
        """Which rank failed first.  A rank that raised wrote its error before exiting, so the first
        error file names it.  A rank killed by a signal (OOM killer, kill -9) writes nothing, and the
        others then fail on a broken connection: name the silent rank, not the first that noticed."""
        time.sleep(0.2)  # let the exits and error files of this moment land
        err = self.reader.first_error()
        for i, r in enumerate(self.ranks):
            code = r.poll()
            if code not in (None, 0) and not self.reader.has_error(i):
                msg = (
                    f"rank {i} ended with {_describe_exit(code)} without reporting an error (out of memory, or killed?)"
                )
                if err is not None:
                    first = first_line(err["message"] or "")
                    msg += f"; then rank {err['rank']} failed: {err['type']}: {first}"
                return {"rank": i, "type": "RankExit", "traceback": "", "message": msg}
        return err or {"rank": 0, "type": "RankExit", "traceback": "", "message": "a rank failed without reporting why"}

    def send_stop(self, reason: str) -> None:
        self._stop_sent = True
        self.reader.request_stop(reason)

    def loop(self, deadline: float | None = None) -> bool:
        while not self.step():
            if deadline is not None and time.monotonic() > deadline:
                return False
            time.sleep(self.poll)
        return True

    def kill_all(self, wait: float = 5.0) -> None:
        for r in self.ranks:
            r.kill()
        t_end = time.monotonic() + wait
        for r in self.ranks:
            r.wait(max(0.05, t_end - time.monotonic()))

    def finish(self, interrupted: bool = False) -> None:
        """Set the run's final state in the kernel and call ``on_fit_end`` (raises RankError on failure)."""
        run = self.run
        if self.failure is not None:
            f = self.failure
            msg = f"rank {f['rank']} failed: {f['type']}: {f['message']}" if f["type"] != "RankExit" else f["message"]
            run.status, run.error = "failed", msg
            run.config["rank_files"] = self.reader.outdir  # kept: the ranks' logs say more
            msg += f" (rank logs: {self.reader.outdir})"
            self.cbs.on_fit_end(run, status="failed")
            err = RankError(msg, f.get("rank"), f.get("traceback", ""))
            if f.get("traceback"):
                raise err from RemoteTraceback(f"Traceback from rank {f['rank']}:\n{f['traceback']}")
            raise err
        state = self.reader.weights() if self.end is not None else None
        if state is not None:
            run.model.load_state_dict(state)
        if self.end is not None:
            run.status = self.end["status"]
            run.error, run.note = self.end.get("error"), self.end.get("note")
            run.best_epoch = self.end.get("best_epoch")
        else:  # interrupted and the ranks did not answer in time
            run.status = "stopped"
            run.note = (
                (run.stop_reason or "interrupted") + "; the ranks did not stop in time and were ended, "
                "so run.model holds the weights it started with (the history of finished epochs is kept)"
            )
        run.live.batch = 0
        self.cbs.on_fit_end(run, status=run.status)


def _describe_exit(code) -> str:
    if code is not None and code < 0:
        try:
            return f"signal {signal.Signals(-code).name}"
        except ValueError:
            return f"signal {-code}"
    return f"exit code {code}"
