"""The network's inputs: the device to run on and the points it sees (no torch at import).

Example
-------
>>> import numpy as np
>>> from fusionlabel.detect.pillars.config import PillarsConfig
>>> crop_points(np.array([[1.0, 2.0, 0.5], [120.0, 0.0, 0.0]], np.float32), None, PillarsConfig()).shape
(1, 3)
"""

from __future__ import annotations

import numpy as np
from numpy.typing import NDArray

from fusionlabel.detect.pillars.config import PillarsConfig


def resolve_device(device: str) -> str:
    """``"auto"`` -> ``"cuda"`` when available else ``"cpu"``; ``"cuda"`` without a GPU raises ``ValueError``."""
    import torch

    if device == "auto":
        return "cuda" if torch.cuda.is_available() else "cpu"
    if device.startswith("cuda") and not torch.cuda.is_available():
        raise ValueError(f"device {device!r} requested but torch.cuda.is_available() is False")
    if device != "cpu" and not device.startswith("cuda"):
        raise ValueError(f"unknown device {device!r}; use auto, cpu, cuda or cuda:N")
    return device


def crop_points(
    xyz: NDArray[np.float32], intensity: NDArray[np.float32] | None, config: PillarsConfig
) -> NDArray[np.float32]:
    """The network's point input: (M, 3 | 4) float32 ego-frame points inside the grid's box.

    Intensity (4th column, only when ``config.use_intensity``) is scaled to [0, 1] by dividing by
    255 when the cloud's maximum exceeds 1 (8-bit intensities), as KITTI's are already.
    """
    xyz = np.asarray(xyz, np.float32)
    keep = config.inside(xyz)
    if not config.use_intensity:
        return np.ascontiguousarray(xyz[keep])
    if intensity is None:
        inten = np.zeros(len(xyz), np.float32)
    else:
        inten = np.asarray(intensity, np.float32)
        if len(inten) and float(np.nanmax(inten)) > 1.0:
            inten = inten / 255.0
    return np.ascontiguousarray(np.column_stack([xyz, inten])[keep])
