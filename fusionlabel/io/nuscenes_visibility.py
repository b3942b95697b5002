"""nuScenes visibility of exported boxes: how much of each box the cameras see.

**Visibility** (:func:`visibility_tokens`): of a 4 x 4 x 4 grid of points inside the box, the
fraction that projects into at least one camera image with the line of sight not passing through
another labelled box; binned into nuScenes' levels ``1`` (0-40 %), ``2`` (40-60 %), ``3`` (60-80 %),
``4`` (80-100 %) (:data:`VISIBILITY_LEVELS`, the ``visibility`` table). Scenery and unlabelled
objects do not occlude. Without cameras: ``""``.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera

#: nuScenes visibility levels: (token, level, description)
VISIBILITY_LEVELS: tuple[tuple[str, str, str], ...] = (
    ("1", "v0-40", "visibility of whole object is between 0 and 40%"),
    ("2", "v40-60", "visibility of whole object is between 40 and 60%"),
    ("3", "v60-80", "visibility of whole object is between 60 and 80%"),
    ("4", "v80-100", "visibility of whole object is between 80 and 100%"),
)

#: box-frame offsets of the visibility grid, in units of the box size: 4 x 4 x 4 cell centres
_GRID = np.stack(np.meshgrid(*([(np.arange(4) + 0.5) / 4 - 0.5] * 3), indexing="ij"), axis=-1).reshape(-1, 3)


def _box_grid(boxes: Boxes) -> NDArray[np.float64]:
    """(N, 64, 3) grid points inside each box, same frame as the boxes: ``c + Rz(yaw) (g * size)``."""
    local = _GRID[None, :, :] * boxes.size[:, None, :]
    c, s = np.cos(boxes.yaw)[:, None], np.sin(boxes.yaw)[:, None]
    x = c * local[..., 0] - s * local[..., 1]
    y = s * local[..., 0] + c * local[..., 1]
    return np.stack([x, y, local[..., 2]], axis=-1) + boxes.center[:, None, :]


def _occluded(
    origin: NDArray[np.float64], flat: NDArray[np.float64], owner: NDArray[np.int64], boxes: Boxes
) -> NDArray[np.bool_]:
    """(M,) whether the segment ``origin -> flat[m]`` passes through a box other than ``owner[m]``.

    Slab test in each box ``j``'s frame: ``q = Rz(-yaw_j)(p - c_j)``; the segment
    ``q_o + t (q_p - q_o)``, ``t in [0, 1)``, meets the box where the per-axis intervals
    ``[(-h - q_o) / d, (h - q_o) / d]`` overlap.
    """
    out = np.zeros(len(flat), dtype=bool)
    for j in range(len(boxes)):
        c, s = math.cos(boxes.yaw[j]), math.sin(boxes.yaw[j])
        R = np.array([[c, s, 0.0], [-s, c, 0.0], [0.0, 0.0, 1.0]])  # Rz(-yaw_j)
        qo = R @ (origin - boxes.center[j])
        qp = (flat - boxes.center[j]) @ R.T
        d = qp - qo
        d = np.where(np.abs(d) < 1e-12, 1e-12, d)
        half = boxes.size[j] / 2.0
        t1 = (-half - qo) / d
        t2 = (half - qo) / d
        tmin = np.minimum(t1, t2).max(axis=1)
        tmax = np.maximum(t1, t2).min(axis=1)
        out |= (tmin <= tmax) & (tmax > 0.0) & (tmin < 1.0) & (owner != j)
    return out


def visibility_tokens(boxes: Boxes, cameras: Sequence[Camera]) -> list[str]:
    """nuScenes visibility token of each box (ego frame) seen by ``cameras`` (see the module docstring).

    Returns
    -------
    N tokens ``"1"`` .. ``"4"``; all ``""`` when no camera has an image size.
    """
    from fusionlabel.core.projection import project_points

    cams = [c for c in cameras if c.width > 0 and c.height > 0]
    n = len(boxes)
    if not cams or n == 0:
        return [""] * n
    flat = _box_grid(boxes).reshape(-1, 3)
    owner = np.repeat(np.arange(n), len(_GRID))
    seen = np.zeros(len(flat), dtype=bool)
    for cam in cams:
        idx = np.flatnonzero(project_points(flat, cam, cam.T_ego_cam.inverse()).valid & ~seen)
        if len(idx) and n > 1:
            idx = idx[~_occluded(cam.T_ego_cam.translation, flat[idx], owner[idx], boxes)]
        seen[idx] = True
    frac = seen.reshape(n, -1).mean(axis=1)
    # levels: [0, 0.4) -> 1, [0.4, 0.6) -> 2, [0.6, 0.8) -> 3, [0.8, 1] -> 4
    return [str(1 + int(np.searchsorted([0.4, 0.6, 0.8], f, side="right"))) for f in frac]
