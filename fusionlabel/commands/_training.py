"""Options ``train`` and ``adapt`` share, checked before any work: a usage error (exit 2), never
a traceback from deep in the training code."""

from __future__ import annotations

import math

import typer


def check_training_options(device: str, lr: float) -> None:
    """``--device`` is auto, cpu or cuda[:N] (and CUDA is there when asked for); ``--lr`` is a
    finite learning rate in (0, 10]."""
    if device != "auto" and device != "cpu" and not device.startswith("cuda"):
        raise typer.BadParameter(f"unknown device {device!r}; use auto, cpu or cuda[:N]", param_hint="--device")
    if device.startswith("cuda"):
        import torch

        if not torch.cuda.is_available():
            raise typer.BadParameter(f"{device!r}: CUDA is not available on this machine", param_hint="--device")
        if ":" in device:
            idx = device.split(":", 1)[1]
            if not idx.isdigit() or int(idx) >= torch.cuda.device_count():
                raise typer.BadParameter(
                    f"{device!r}: this machine has {torch.cuda.device_count()} CUDA device(s)", param_hint="--device"
                )
    if not (math.isfinite(lr) and 0.0 < lr <= 10.0):
        raise typer.BadParameter(f"{lr!r}: a learning rate is a number in (0, 10]", param_hint="--lr")
