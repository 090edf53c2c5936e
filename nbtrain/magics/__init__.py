"""IPython magics: ``%%train``, ``%%lr_find``, ``%%sweep``, ``%evaluate``, ``%predict``, ``%runs``,
``%compare``, ``%train_panel``, ``%explain``.

``%load_ext nbtrain`` calls :func:`load_ipython_extension`; ``%unload_ext nbtrain`` removes the
magics again.  Settings live on :class:`NbtrainMagics` (``%config NbtrainMagics.epochs = 20``).
"""

from __future__ import annotations

from ..core import warmup
from .core import NbtrainMagics, plain_help
from .explain import ExplainMagics
from .tune import TuneMagics

for _cls in (NbtrainMagics, TuneMagics, ExplainMagics):
    plain_help(_cls)

__all__ = ["ExplainMagics", "NbtrainMagics", "TuneMagics", "load_ipython_extension", "unload_ipython_extension"]


def _loaded(ip):
    return next((c for c in ip.configurables if isinstance(c, NbtrainMagics)), None)


def _warm_after_cell(result=None) -> None:
    # the cell that loaded the extension has ended: warm the first run while the user types
    warmup.start()


def _wait_for_warmup(info=None) -> None:
    # a cell never runs beside the warm-up (two threads importing one package can deadlock)
    warmup.wait()


def load_ipython_extension(ip) -> None:
    """Register the magics and the settings object (loading twice is harmless); warm the first run."""
    if _loaded(ip) is not None:
        return
    magics = NbtrainMagics(shell=ip, parent=ip)  # parent: settings from ipython_config.py apply
    ip.register_magics(magics)
    magics.tune = TuneMagics(shell=ip, settings=magics)  # %%lr_find, %%sweep: NbtrainMagics' settings apply
    ip.register_magics(magics.tune)
    magics.explainer = ExplainMagics(shell=ip, settings=magics)  # %explain finds runs like %evaluate
    ip.register_magics(magics.explainer)
    if magics not in ip.configurables:  # register_magics adds it on IPython 8+; %config needs it there
        ip.configurables.append(magics)
    for event, callback in (("post_run_cell", _warm_after_cell), ("pre_run_cell", _wait_for_warmup)):
        if callback not in ip.events.callbacks[event]:
            ip.events.register(event, callback)


def unload_ipython_extension(ip) -> None:
    """Remove the magics and the settings object; runs and namespace variables stay."""
    magics = _loaded(ip)
    if magics is None:
        return
    mm = ip.magics_manager
    owners = [magics] + [
        m for m in (getattr(magics, "tune", None), getattr(magics, "explainer", None)) if m is not None
    ]
    for owner in owners:
        for kind, names in owner.magics.items():
            for name in names:
                if getattr(mm.magics[kind].get(name), "__self__", None) is owner:
                    del mm.magics[kind][name]
        mm.registry.pop(type(owner).__name__, None)
    ip.configurables[:] = [c for c in ip.configurables if c not in owners]
    for event, callback in (("post_run_cell", _warm_after_cell), ("pre_run_cell", _wait_for_warmup)):
        if callback in ip.events.callbacks[event]:
            ip.events.unregister(event, callback)
