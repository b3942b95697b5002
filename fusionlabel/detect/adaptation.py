"""Detectors that can learn from an annotator's frames: the :class:`Adaptable` protocol (no torch).

A detector whose object has a ``finetune`` method (the built-in ``pillars`` detector; a plugin may
add one) can be adapted to a recording by ``fusionlabel adapt``
(:func:`fusionlabel.pipeline.adapt.adapt`): it trains on a few labelled frames of the recording
and writes **new** weights, which the same detector's factory then loads (``weights`` option).
Its base weights are only read.

This module holds what the pipeline needs without importing torch: the options
(:class:`AdaptOptions`), the protocol, the result and the typed errors.

Example
-------
>>> AdaptOptions(epochs=2).steps
32
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Recording

#: what :attr:`AdaptOptions.layers` may say
LAYERS = ("all", "input", "norm", "ends")


class FinetuneCancelled(Exception):
    """The caller's ``cancel()`` returned True between two steps; nothing was written."""


class NoTrainingData(ValueError):
    """No labelled box is usable for training (none of the detector's classes with enough points)."""


@dataclass(frozen=True)
class AdaptOptions:
    """Fine-tuning arguments (all stored in the adapted weights' metadata).

    epochs : passes of ``samples_per_epoch`` augmented frames each
    samples_per_epoch : frames drawn (with replacement) from the seed frames per epoch (with one
        to five seed frames an epoch over them would be one or two steps)
    batch_size, lr (peak of the one-cycle schedule), weight_decay, seed, device (``auto``: CUDA
        when there is one)
    min_points : seed boxes with fewer LiDAR points are not trained on (they stay in the labels)
    copy_paste : paste labelled objects into the training frames; paste_objects : at most so many
    flip, rotation (radians), scaling (relative) : the global augmentation
    layers : what is trained: ``"all"`` the whole network, ``"input"`` only the point encoder
        (the layers that see the sensor's points; the rest keeps what it learnt), ``"norm"`` the
        point encoder and every batch norm, ``"ends"`` the point encoder and the box head's
        regression (where the boxes' heights come out), the backbone and class heatmaps kept
    body_lr : with ``layers="all"``, the learning rate of the layers between the point encoder
        and the box regression, as a fraction of ``lr`` (they hold what generalises across sensors)
    threads : torch CPU threads (None: torch's default)
    window_m : each batch is trained on a square window of this edge on a larger grid
        (``fusionlabel.detect.pillars.train.random_window``; None: the whole grid)
    """

    epochs: int = 8
    samples_per_epoch: int = 32
    batch_size: int = 2
    lr: float = 2e-3
    weight_decay: float = 0.01
    seed: int = 0
    device: str = "auto"
    min_points: int = 3
    copy_paste: bool = True
    paste_objects: int = 3
    flip: bool = True
    rotation: float = math.pi / 4
    scaling: float = 0.05
    layers: str = "all"
    body_lr: float = 0.1
    threads: int | None = None
    window_m: float | None = 80.0

    def __post_init__(self) -> None:
        if self.epochs < 1 or self.samples_per_epoch < 1 or self.batch_size < 1:
            raise ValueError("epochs, samples_per_epoch and batch_size must be >= 1")
        if self.window_m is not None and self.window_m <= 0:
            raise ValueError("window_m must be positive (or None: the whole grid)")
        if self.layers not in LAYERS:
            raise ValueError(f"layers must be one of {', '.join(LAYERS)}")
        if self.lr <= 0:
            raise ValueError("lr must be positive")

    @property
    def steps(self) -> int:
        """Optimiser steps in all."""
        return self.epochs * math.ceil(self.samples_per_epoch / self.batch_size)


@dataclass(frozen=True)
class FinetuneResult:
    """New weights: path, their SHA-256, the base weights' path and SHA-256, steps, seconds,
    per-epoch mean losses, device, and the metadata stored with them."""

    path: Path
    sha256: str
    base: Path
    base_sha256: str
    steps: int
    seconds: float
    epoch_losses: tuple[float, ...]
    device: str
    meta: Mapping[str, Any] = field(default_factory=dict)


@runtime_checkable
class Adaptable(Protocol):
    """A detector that can be fine-tuned on labelled frames of one recording."""

    def finetune(
        self,
        recording: Recording,
        labels: LabelSet,
        out: Path,
        options: AdaptOptions,
        provenance: Mapping[str, Any] | None = None,
        progress: Callable[[int, int, float], None] | None = None,
        cancel: Callable[[], bool] | None = None,
    ) -> FinetuneResult:
        """Train on the frames of ``labels`` (ego-frame boxes of ``recording``) and write new
        weights to ``out``; raise :class:`NoTrainingData` or :class:`FinetuneCancelled`."""
        ...
