"""Device choice and precision as null objects: the loop always calls ``precision.autocast()``,
``precision.backward(loss)``, ``precision.unscale(optimizer)`` (before clipping) and
``precision.step(optimizer)``; on fp32 they are plain calls.  ``tf32(enabled)`` allows TF32 math for
one run and puts the user's settings back after it."""

from __future__ import annotations

import contextlib

import torch

from .errors import ConfigError, DeviceError


def _mps_available() -> bool:
    mps = getattr(torch.backends, "mps", None)
    return bool(mps and mps.is_available())


def resolve_device(device="auto") -> torch.device:
    """``"auto"`` picks cuda, then mps, then cpu.  An unavailable device is an error, not a fallback."""
    if isinstance(device, torch.device):
        device = str(device)
    if device is None or device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if _mps_available():
            return torch.device("mps")
        return torch.device("cpu")
    if not isinstance(device, str):
        raise ConfigError(f"device must be 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps', got {device!r}.")
    try:
        dev = torch.device(device)
    except RuntimeError:
        raise ConfigError(f"unknown device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'.") from None
    if dev.type == "cuda":
        if not torch.cuda.is_available():
            raise DeviceError(
                f"device={device!r} was asked for but no CUDA GPU is available; use device='auto' or 'cpu'."
            )
        if dev.index is not None and dev.index >= torch.cuda.device_count():
            raise DeviceError(f"device={device!r} does not exist: this machine has {torch.cuda.device_count()} GPU(s).")
    elif dev.type == "mps" and not _mps_available():
        raise DeviceError(f"device={device!r} was asked for but MPS is not available; use device='auto' or 'cpu'.")
    elif dev.type not in ("cpu", "cuda", "mps"):
        raise ConfigError(f"unsupported device {device!r}; use 'auto', 'cpu', 'cuda', 'cuda:N' or 'mps'.")
    return dev


def describe(device: torch.device) -> str:
    if device.type == "cuda":
        return f"{device} ({torch.cuda.get_device_name(device)})"
    return str(device)


class Precision:
    """Full precision: every hook is a plain call."""

    name = "fp32"

    def autocast(self):
        return contextlib.nullcontext()

    def backward(self, loss):
        loss.backward()

    def unscale(self, optimizer):
        """Gradients in their true scale, before clipping (only fp16's GradScaler scales them)."""

    def step(self, optimizer):
        optimizer.step()

    def state_dict(self) -> dict:
        return {}

    def load_state_dict(self, state: dict) -> None:
        pass


class AutocastPrecision(Precision):
    """bf16/fp16 autocast; fp16 adds a GradScaler so small gradients do not underflow."""

    def __init__(self, dtype: torch.dtype, device: torch.device):
        self.dtype, self.device_type = dtype, device.type
        self.name = "bf16" if dtype == torch.bfloat16 else "fp16"
        self.scaler = torch.amp.GradScaler(device.type) if dtype == torch.float16 else None

    def autocast(self):
        return torch.autocast(self.device_type, dtype=self.dtype)

    def backward(self, loss):
        (self.scaler.scale(loss) if self.scaler else loss).backward()

    def unscale(self, optimizer):
        if self.scaler:
            self.scaler.unscale_(optimizer)

    def step(self, optimizer):
        # with a fused optimizer (adam, adamw, sgd, adagrad) GradScaler hands the inf check to the
        # kernel; any other optimizer makes it read found_inf on the host once per step
        if self.scaler:
            self.scaler.step(optimizer)
            self.scaler.update()
        else:
            optimizer.step()

    def state_dict(self) -> dict:
        return self.scaler.state_dict() if self.scaler else {}

    def load_state_dict(self, state: dict) -> None:
        if self.scaler and state:
            self.scaler.load_state_dict(state)


def make_precision(amp, device: torch.device) -> Precision:
    if amp in (None, False, "", "fp32", "none"):
        return Precision()
    amp = str(amp).lower()
    if amp not in ("bf16", "fp16"):
        raise ConfigError(f"amp must be 'bf16' or 'fp16' (or None for full precision), got {amp!r}.")
    if device.type == "mps" and amp == "bf16":
        raise ConfigError("amp='bf16' is not supported on MPS; use amp='fp16' or no amp.")
    if device.type == "cuda" and amp == "bf16":
        check_bf16(device)
    if amp == "fp16" and not hasattr(torch.amp, "GradScaler"):
        raise ConfigError(
            f"amp='fp16' needs torch 2.3 or newer (torch.amp.GradScaler); this is torch {torch.__version__}."
        )
    return AutocastPrecision(torch.bfloat16 if amp == "bf16" else torch.float16, device)


def check_bf16(device: torch.device) -> None:
    """bf16 only where the run's own GPU runs it natively (compute capability 8.0+: A100, H100, RTX 30xx
    and later).  ``torch.cuda.is_bf16_supported()`` is also true where bf16 is emulated (V100, T4), slowly."""
    major, minor = torch.cuda.get_device_capability(device)
    if major < 8:
        raise DeviceError(
            f"amp='bf16' needs a GPU with native bf16 (compute capability 8.0 or newer); "
            f"{torch.cuda.get_device_name(device)} is {major}.{minor}, where bf16 is emulated and slow. Use amp='fp16'."
        )


@contextlib.contextmanager
def tf32(enabled: bool):
    """With ``enabled``: TF32 for float32 matmuls and convolutions, and ``cudnn.benchmark`` (the fastest
    convolution algorithm for each input shape), for the duration of a run; the previous settings come
    back afterwards, so a user's own choice never leaks.  TF32 keeps float32's range with a 10-bit
    mantissa (about 3 significant digits per product, like fp16); accumulation stays float32.

    >>> with tf32(True):      # doctest: +SKIP
    ...     fit(run, job)
    """
    if not enabled:
        yield
        return
    cuda, cudnn = torch.backends.cuda.matmul, torch.backends.cudnn
    saved = cuda.allow_tf32, cudnn.allow_tf32, cudnn.benchmark
    cuda.allow_tf32 = cudnn.allow_tf32 = cudnn.benchmark = True
    try:
        yield
    finally:
        cuda.allow_tf32, cudnn.allow_tf32, cudnn.benchmark = saved
