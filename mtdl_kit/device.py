"""Device and mixed-precision selection: cuda -> mps -> cpu, AMP (bf16, else fp16) on cuda only."""

from __future__ import annotations

from dataclasses import dataclass

import torch

DEVICE_CHOICES = ("auto", "cuda", "mps", "cpu")


def pick_device(device: str | torch.device = "auto") -> torch.device:
    """Resolve ``"auto"`` to the best available device (cuda, then Apple mps, then cpu).

    Raises:
        ValueError: for an unknown name or a device that is not available here.
    """
    if isinstance(device, torch.device):
        device = str(device)
    name = device.split(":")[0]
    if name not in DEVICE_CHOICES:
        raise ValueError(f"Unknown device {device!r}; allowed values are {DEVICE_CHOICES} (optionally 'cuda:N').")
    if name == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        if getattr(torch.backends, "mps", None) is not None and torch.backends.mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device='cuda' was requested but no CUDA GPU is available; use device='auto' or 'cpu'.")
    if name == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise ValueError("device='mps' was requested but Apple MPS is not available; use device='auto' or 'cpu'.")
    return torch.device(device)


@dataclass(frozen=True)
class Precision:
    """Autocast settings: ``enabled`` and ``dtype`` (bf16 where the GPU supports it, else fp16)."""

    enabled: bool
    dtype: torch.dtype | None

    @property
    def label(self) -> str:
        """``"bf16"``, ``"fp16"`` or ``"fp32"``."""
        if not self.enabled:
            return "fp32"
        return "bf16" if self.dtype == torch.bfloat16 else "fp16"


def pick_precision(device: torch.device, amp: bool | None = None) -> Precision:
    """AMP on cuda by default (bf16 if supported, else fp16); never on cpu/mps unless forced off.

    Args:
        device: the training device.
        amp: ``None`` = automatic, ``True`` = require AMP (cuda only), ``False`` = full precision.

    Raises:
        ValueError: if ``amp=True`` on a device without AMP support here.
    """
    if amp is False:
        return Precision(False, None)
    if device.type != "cuda":
        if amp:
            raise ValueError(f"amp=True needs a CUDA device; training runs on {device.type}. Use amp=None or False.")
        return Precision(False, None)
    dtype = torch.bfloat16 if torch.cuda.is_bf16_supported() else torch.float16
    return Precision(True, dtype)
