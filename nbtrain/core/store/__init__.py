"""Everything nbtrain writes to disk, by concern; loading never executes code.

- :mod:`.atomic`      atomic writes (temp file, fsync, rename)
- :mod:`.safe_load`   checks shared by every reader (weights_only torch loads, state dicts, histories)
- :mod:`.trust`       fitted preprocessing as skops data, with an exact trust list
- :mod:`.runfile`     run files (``Run.save`` / ``nbtrain.load``)
- :mod:`.checkpoint`  per-epoch checkpoints for exact resume
"""

from .atomic import atomic_write
from .checkpoint import CKPT_FORMAT, CKPT_VERSION, CheckpointWriteError, load_checkpoint, save_checkpoint
from .runfile import FORMAT, VERSION, read_run_file, save_run
from .trust import SAFE_SKOPS_TYPES, load_transformer

__all__ = [
    "CKPT_FORMAT",
    "CKPT_VERSION",
    "FORMAT",
    "SAFE_SKOPS_TYPES",
    "VERSION",
    "CheckpointWriteError",
    "atomic_write",
    "load_checkpoint",
    "load_transformer",
    "read_run_file",
    "save_checkpoint",
    "save_run",
]
