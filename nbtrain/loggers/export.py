"""``nbtrain.runs.export``: runs of the run store (or of this session) written by a logger afterwards,
as it would have written them while they trained."""

from __future__ import annotations

from ..core.errors import ConfigError


def replay(logger, run) -> None:
    """Feed one finished run (a Run or a StoredRun) through a logger's hooks."""
    logger.on_fit_start(run)
    for row in run.history:
        logger.on_epoch_end(run, epoch=int(row.get("epoch", 0)), logs=row)
    logger.on_fit_end(run, status=run.status)
    for on, metrics in (getattr(run, "evaluations", None) or {}).items():
        logger.on_evaluate(run, on=on, metrics=dict(metrics))


def export(to: str, runs: list, **options) -> list:
    """Write ``runs`` with the logger named ``to`` ("tensorboard", "mlflow" or "csv"), made with
    ``options`` (e.g. ``tracking_uri=``, ``experiment=``, ``log_dir=``); returns the runs' names."""
    from . import KNOWN

    if not isinstance(to, str) or to.strip().lower() not in KNOWN:
        raise ConfigError(f"export to {to!r}: the loggers are {', '.join(KNOWN)}.")
    try:
        logger = KNOWN[to.strip().lower()](**options)
    except TypeError as exc:
        raise ConfigError(f"export to {to!r}: {exc}.") from None
    for run in runs:
        replay(logger, run)
    return [run.name for run in runs]
