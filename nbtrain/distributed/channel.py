"""Files shared by the ranks and the kernel: the only way numbers, weights and errors travel.

A run directory holds ``events.jsonl`` (rank 0 appends one JSON object a line; the kernel tails it),
``weights.pt`` (rank 0's final ``state_dict`` as ``torch.save`` bytes, written atomically),
``error-<rank>.json`` plus ``first_error.json`` (the first rank to fail wins an atomic link), and
``stop`` (the kernel asks rank 0 to stop; its text is the reason).  Files work the same for forked
ranks, spawned ranks and ``torchrun`` nodes, and never send tensors between processes.
"""

from __future__ import annotations

import json
import os
import time
import traceback

EVENTS, WEIGHTS, STOP, FIRST_ERROR = "events.jsonl", "weights.pt", "stop", "first_error.json"


class Channel:
    """Rank side.  Only rank 0 (``lead``) writes events and weights; every rank may record an error."""

    def __init__(self, outdir: str, lead: bool, interval: float = 0.1):
        self.outdir, self.lead, self.interval = outdir, lead, interval
        os.makedirs(outdir, exist_ok=True)
        self._events = open(os.path.join(outdir, EVENTS), "a", encoding="utf-8") if lead else None
        self._stop_path = os.path.join(outdir, STOP)

    def emit(self, event: str, **fields) -> None:
        if self._events is None:
            return
        fields["event"], fields["t"] = event, time.time()
        self._events.write(json.dumps(fields) + "\n")
        self._events.flush()

    def stop_requested(self) -> bool:
        return os.path.exists(self._stop_path)  # a stat call: cheap enough for every step

    def stop_reason(self) -> str | None:
        try:
            with open(self._stop_path, encoding="utf-8") as f:
                return f.read().strip() or None
        except OSError:
            return None

    def send_weights(self, state: dict) -> None:
        import torch

        tmp = os.path.join(self.outdir, WEIGHTS + ".tmp")
        torch.save({k: v.detach().cpu() for k, v in state.items()}, tmp)
        os.replace(tmp, os.path.join(self.outdir, WEIGHTS))

    def close(self) -> None:
        if self._events is not None:
            self._events.close()
            self._events = None


def record_error(outdir: str, rank: int, exc: BaseException) -> None:
    """Write this rank's error; the first rank to get here also becomes ``first_error.json``."""
    info = {
        "rank": rank,
        "type": type(exc).__name__,
        "message": str(exc),
        "traceback": "".join(traceback.format_exception(type(exc), exc, exc.__traceback__)),
        "time": time.time(),
    }
    path = os.path.join(outdir, f"error-{rank}.json")
    tmp = path + ".tmp"
    with open(tmp, "w", encoding="utf-8") as f:
        json.dump(info, f)
    os.replace(tmp, path)
    try:
        os.link(path, os.path.join(outdir, FIRST_ERROR))  # atomic: exactly one rank wins
    except FileExistsError:
        pass


class Reader:
    """Kernel side: tails ``events.jsonl``, reads errors and weights, writes the stop request."""

    def __init__(self, outdir: str):
        self.outdir = outdir
        self._offset = 0
        self._partial = b""

    def poll(self) -> list:
        path = os.path.join(self.outdir, EVENTS)
        try:
            with open(path, "rb") as f:
                f.seek(self._offset)
                data = f.read()
        except FileNotFoundError:
            return []
        self._offset += len(data)
        data = self._partial + data
        lines = data.split(b"\n")
        self._partial = lines.pop()  # an incomplete last line waits for the next poll
        return [json.loads(line) for line in lines if line.strip()]

    def first_error(self) -> dict | None:
        try:
            with open(os.path.join(self.outdir, FIRST_ERROR), encoding="utf-8") as f:
                return json.load(f)
        except (OSError, ValueError):
            return None

    def has_error(self, rank: int) -> bool:
        return os.path.exists(os.path.join(self.outdir, f"error-{rank}.json"))

    def request_stop(self, reason: str) -> None:
        path = os.path.join(self.outdir, STOP)
        if os.path.exists(path):
            return
        tmp = path + ".tmp"
        with open(tmp, "w", encoding="utf-8") as f:
            f.write(reason)
        os.replace(tmp, path)

    def weights(self) -> dict | None:
        import torch

        path = os.path.join(self.outdir, WEIGHTS)
        if not os.path.exists(path):
            return None
        return torch.load(path, map_location="cpu", weights_only=True)
