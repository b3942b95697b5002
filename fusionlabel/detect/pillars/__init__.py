"""The built-in learned detector ``pillars``: a PointPillars encoder with a CenterPoint head (torch).

Modules
-------
config      :class:`PillarsConfig` (grid, classes, architecture; JSON; no torch)
model       the network (torch): pillar PointNet -> BEV pseudo-image -> 2D CNN -> CenterPoint head
targets     Gaussian heatmap / regression targets and max-pool-NMS decoding
checkpoint  save / load (``torch.load(weights_only=True)``), header read without torch
train       data loading from labelled recordings, augmentation, the training loop (``fusionlabel train``)
infer       :class:`PillarsDetector`, the detector protocol implementation
evaluate    BEV / 3D average precision (KITTI-style 40-point interpolation)

The shipped weights (``weights/synth_v2.pt``, loaded by default) were trained on **synthetic
recordings only** (:func:`fusionlabel.synth.generate`); see this package's README for the exact
command that reproduces them and for their measured accuracy. On real LiDAR data train your own:
``fusionlabel train --recordings REC... --out model.pt`` then ``create(weights="model.pt")``.

torch is imported only when a network is built (first ``detect`` call, or training):
importing this package or calling :func:`create` does not import it.

Example
-------
>>> from fusionlabel.detect.pillars import create
>>> det = create()                                     # doctest: +SKIP
>>> det.info.classes, det.info.device                  # doctest: +SKIP
(('Car', 'Van', 'Truck', 'Bus', 'Pedestrian', 'Cyclist'), 'auto')
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from fusionlabel.detect.pillars.config import DEFAULT_CLASSES, PillarsConfig
from fusionlabel.detect.pillars.infer import PillarsDetector

#: the checkpoint :func:`create` loads when no ``weights`` are given (synthetic training data only)
DEFAULT_WEIGHTS = Path(__file__).resolve().parent / "weights" / "synth_v2.pt"


def create(
    weights: str | Path | None = None,
    *,
    device: str = "auto",
    score_threshold: float = 0.3,
    max_objects: int = 200,
    lidars: Sequence[str] | None = None,
    name: str = "pillars",
    mc_dropout: float = 0.0,
    seed: int = 0,
) -> PillarsDetector:
    """Entry-point factory of the ``pillars`` detector (cheap: reads the checkpoint header only).

    Parameters
    ----------
    weights : checkpoint written by ``fusionlabel train`` (default: the shipped
        :data:`DEFAULT_WEIGHTS`, trained on synthetic data only)
    device : ``"auto"`` (CUDA when available at first use), ``"cpu"``, ``"cuda"``, ``"cuda:N"``
    score_threshold : detections scoring below it are dropped
    max_objects : most detections per frame
    lidars : LiDAR names to use (default: every LiDAR of the frame)
    name : the name in ``info``
    mc_dropout, seed : Monte Carlo dropout of the BEV features (0: off), for uncertainty ranking

    Raises
    ------
    DataError
        the checkpoint is missing, unreadable or not a pillars checkpoint (names the file).
    """
    from fusionlabel.detect.pillars.checkpoint import read_header

    if device != "auto" and device != "cpu" and not str(device).startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    path = Path(weights) if weights is not None else DEFAULT_WEIGHTS
    header = read_header(path)
    return PillarsDetector(
        path,
        header.config,
        dict(header.meta),
        name=name,
        device=device,
        score_threshold=score_threshold,
        max_objects=max_objects,
        lidars=lidars,
        mc_dropout=mc_dropout,
        seed=seed,
    )


__all__ = ["DEFAULT_CLASSES", "DEFAULT_WEIGHTS", "PillarsConfig", "PillarsDetector", "create"]
