"""Shared by the distributed tests: tiny data, weight comparison, process and port checks."""

from __future__ import annotations

import os
import socket

import numpy as np

RANK_ENV = {"OMP_NUM_THREADS": "1", "GLOO_SOCKET_IFNAME": "lo"}


def classification(n=60, features=5, classes=3, seed=0):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features)).astype(np.float32)
    w = rng.normal(size=(features, classes))
    y = (X @ w).argmax(1)
    return X, y


def regression(n=60, features=4, seed=1):
    rng = np.random.default_rng(seed)
    X = rng.normal(size=(n, features)).astype(np.float32)
    y = (X @ rng.normal(size=features) + 0.1 * rng.normal(size=n)).astype(np.float32)
    return X, y


def max_weight_diff(a, b) -> float:
    sa, sb = a.state_dict(), b.state_dict()
    assert sa.keys() == sb.keys()
    return max(float((sa[k].float() - sb[k].float()).abs().max()) for k in sa)


def alive(pid: int) -> bool:
    """True if ``pid`` runs (a zombie waiting to be reaped counts as ended)."""
    try:
        with open(f"/proc/{pid}/stat") as f:
            state = f.read().rsplit(")", 1)[1].split()[0]
    except (FileNotFoundError, ProcessLookupError):
        return False
    return state not in ("Z", "X")


def listening(port: int) -> bool:
    """Is any socket on this machine listening on TCP ``port``?"""
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            with open(table) as f:
                rows = f.read().splitlines()[1:]
        except FileNotFoundError:
            continue
        for row in rows:
            parts = row.split()
            if int(parts[1].rsplit(":", 1)[1], 16) == port and parts[3] == "0A":  # 0A = LISTEN
                return True
    return False


def bindable(port: int) -> bool:
    s = socket.socket()
    s.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as any server (TCPStore too) binds
    try:
        s.bind(("127.0.0.1", port))
        s.listen()
        return True
    except OSError:
        return False
    finally:
        s.close()


def children(pid: int) -> list[int]:
    out = []
    for name in os.listdir("/proc"):
        if name.isdigit():
            try:
                with open(f"/proc/{name}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid == pid and alive(int(name)):
                out.append(int(name))
    return out
