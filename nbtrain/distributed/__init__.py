"""Data-parallel training on ``torch.distributed`` (DDP) from the same call or cell.

``nbtrain.train(..., processes=N)`` (``%%train --processes N``) trains on N ranks on this machine:
gloo on CPU, nccl with one GPU per rank.  For several machines, export the run to a file, start
``torchrun ... -m nbtrain.worker RUNFILE`` on each node and ``attach`` the notebook to the result.
See docs/distributed.md.
"""

from .export import attach, export
from .launcher import RankError, train_processes

__all__ = ["attach", "export", "RankError", "train_processes"]
