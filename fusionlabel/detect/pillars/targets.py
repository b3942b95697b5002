"""CenterPoint targets: Gaussian class heatmaps and per-centre box regression; and their decoding.

Encoding (numpy, no torch) of one frame's boxes on the heatmap grid of a :class:`PillarsConfig`
(cell size ``s = pillar_size * out_stride``; ``x_min``, ``y_min`` the grid origin)::

    u = (x - x_min) / s,  v = (y - y_min) / s           continuous cell coordinates of the centre
    (i, j) = (floor u, floor v)                           the centre cell (column i, row j)
    heatmap[k, j', i'] = max over boxes of class k of exp(-((i'-i)^2 + (j'-j)^2) / (2 sigma^2)),
        sigma = (2 r + 1) / 6, r = max(min_radius, floor(gaussian_radius(l / s, w / s)))
    reg at (j, i) = [u - i, v - j, z, log l, log w, log h, sin yaw, cos yaw (, vx, vy)]

Decoding (:func:`decode`) inverts it: peaks of the sigmoid heatmap that equal their 3x3 max-pool
(the "max-pool NMS" of CenterNet), top-K of them above a score threshold, and the regression at
each peak read back into boxes ``x = (i + dx) s + x_min`` etc.

Example
-------
>>> import numpy as np
>>> from fusionlabel.detect.pillars.config import PillarsConfig
>>> cfg = PillarsConfig()
>>> t = encode_targets(np.array([[10.0, -5.0, 0.8, 4.2, 1.8, 1.5, 0.3]]), np.array([0]), cfg)
>>> k, j, i = np.unravel_index(np.argmax(t.heatmap), t.heatmap.shape)
>>> (int(k), int(j), int(i)) == (0, int((-5.0 + 100.0) // 0.8), int((10.0 + 100.0) // 0.8))
True
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.detect.pillars.config import PillarsConfig

if TYPE_CHECKING:  # pragma: no cover
    from torch import Tensor


def gaussian_radius(length: float, width: float, min_overlap: float = 0.1) -> float:
    """CenterNet's radius (in cells) within which a shifted box keeps IoU >= ``min_overlap``.

    The smallest root of the three quadratic cases of Law & Deng (CornerNet, 2018), as used by
    CenterPoint with ``length``, ``width`` the box footprint in heatmap cells.
    """
    h, w = float(length), float(width)
    # both corners shifted inwards/outwards: r^2 - (h + w) r + h w (1 - o) / (1 + o) = 0
    b1 = h + w
    c1 = w * h * (1 - min_overlap) / (1 + min_overlap)
    r1 = (b1 + math.sqrt(max(b1**2 - 4 * c1, 0.0))) / 2
    b2 = 2 * (h + w)
    c2 = (1 - min_overlap) * w * h
    r2 = (b2 + math.sqrt(max(b2**2 - 16 * c2, 0.0))) / 2
    a3 = 4 * min_overlap
    b3 = -2 * min_overlap * (h + w)
    c3 = (min_overlap - 1) * w * h
    r3 = (b3 + math.sqrt(max(b3**2 - 4 * a3 * c3, 0.0))) / 2
    return min(r1, r2, r3)


def draw_gaussian(heatmap: NDArray[np.float32], i: int, j: int, radius: int) -> None:
    """``heatmap = max(heatmap, G)`` with G a Gaussian of peak 1 at column ``i``, row ``j`` (in place)."""
    d = 2 * radius + 1
    sigma = d / 6.0
    g = np.arange(-radius, radius + 1, dtype=np.float32)
    gauss = np.exp(-(g[None, :] ** 2 + g[:, None] ** 2) / (2 * sigma * sigma)).astype(np.float32)
    H, W = heatmap.shape
    left, right = min(i, radius), min(W - i, radius + 1)
    top, bottom = min(j, radius), min(H - j, radius + 1)
    if left + right <= 0 or top + bottom <= 0:
        return
    hm = heatmap[j - top : j + bottom, i - left : i + right]
    np.maximum(hm, gauss[radius - top : radius + bottom, radius - left : radius + right], out=hm)


@dataclass(frozen=True)
class Targets:
    """Training targets of one frame.

    Attributes
    ----------
    heatmap : (K, H, W) float32 in [0, 1], 1 exactly at each object's centre cell
    index : (M,) int64 flat cell index ``j * W + i`` of each object's centre
    reg : (M, R) float32 regression targets (see the module docstring)
    labels : (M,) int64 class channel of each object
    """

    heatmap: NDArray[np.float32]
    index: NDArray[np.int64]
    reg: NDArray[np.float32]
    labels: NDArray[np.int64]


def encode_targets(
    boxes: NDArray[np.float64],
    labels: NDArray[np.int64],
    config: PillarsConfig,
    velocity: NDArray[np.float64] | None = None,
) -> Targets:
    """Heatmap and regression targets for one frame.

    Parameters
    ----------
    boxes : (N, 7) float64 ``[x, y, z, l, w, h, yaw]``, ego frame, metres / radians
    labels : (N,) int64 class channel of each box (index into ``config.classes``)
    config : the grid
    velocity : (N, 2) float64 m/s in the ego frame; required when ``config.velocity``

    A box whose centre lies outside the grid has no peak and no regression target, but the part
    of its Gaussian that reaches into the grid is drawn: an object cut by the grid's (or a
    training window's) border is not taught as background where its points are. When two
    centres fall in one cell the later box's regression wins (both heatmap peaks stay).
    """
    K = len(config.classes)
    H, W = config.out_shape
    s = config.cell_size
    heatmap = np.zeros((K, H, W), np.float32)
    R = config.box_code_size
    b = np.asarray(boxes, np.float64).reshape(-1, 7)
    lab = np.asarray(labels, np.int64).reshape(-1)
    if config.velocity and velocity is None:
        raise ValueError("config.velocity is set but no velocity targets were given")
    cells: dict[int, int] = {}
    regs: list[NDArray[np.float32]] = []
    labs: list[int] = []
    for n in range(len(b)):
        x, y, z, l, w, h, yaw = b[n]
        u = (x - config.x_range[0]) / s
        v = (y - config.y_range[0]) / s
        i, j = math.floor(u), math.floor(v)
        r = max(config.min_radius, int(gaussian_radius(l / s, w / s, config.gaussian_overlap)))
        if not (0 <= i < W and 0 <= j < H):
            if -r <= i < W + r and -r <= j < H + r:  # its tail reaches in: below 1, never a peak
                draw_gaussian(heatmap[lab[n]], i, j, r)
            continue
        draw_gaussian(heatmap[lab[n]], i, j, r)
        code = [u - i, v - j, z, math.log(l), math.log(w), math.log(h), math.sin(yaw), math.cos(yaw)]
        if config.velocity:
            assert velocity is not None
            code += [float(velocity[n, 0]), float(velocity[n, 1])]
        flat = j * W + i
        if flat in cells:
            regs[cells[flat]] = np.asarray(code, np.float32)
            labs[cells[flat]] = int(lab[n])
        else:
            cells[flat] = len(regs)
            regs.append(np.asarray(code, np.float32))
            labs.append(int(lab[n]))
    return Targets(
        heatmap,
        np.fromiter(cells.keys(), np.int64, len(cells)),
        np.asarray(regs, np.float32).reshape(-1, R),
        np.asarray(labs, np.int64),
    )


@dataclass(frozen=True)
class Decoded:
    """Decoded boxes of one frame (numpy).

    boxes : (N, 7) float64 ``[x, y, z, l, w, h, yaw]`` ego frame; scores : (N,) float64 in
    [0, 1]; labels : (N,) int64 class channels; velocity : (N, 2) float64 or None.
    """

    boxes: NDArray[np.float64]
    scores: NDArray[np.float64]
    labels: NDArray[np.int64]
    velocity: NDArray[np.float64] | None = None


def decode(
    heatmap: Tensor,
    reg: Tensor,
    config: PillarsConfig,
    score_threshold: float = 0.1,
    max_objects: int = 200,
    heatmap_is_prob: bool = False,
) -> list[Decoded]:
    """Boxes from network outputs by max-pool NMS on the heatmap.

    Parameters
    ----------
    heatmap : (B, K, H, W) logits (or probabilities when ``heatmap_is_prob``)
    reg : (B, R, H, W) regression
    config : the grid
    score_threshold : peaks below it are dropped
    max_objects : at most this many peaks per frame (top-K over all classes)

    Returns
    -------
    One :class:`Decoded` per frame, sorted by decreasing score.
    """
    import torch
    import torch.nn.functional as F

    hm = heatmap.float() if heatmap_is_prob else torch.sigmoid(heatmap.float())
    reg = reg.float()
    B, K, H, W = hm.shape
    # a peak is a cell equal to the max of its 3x3 neighbourhood (CenterNet's NMS)
    peaks = hm * (F.max_pool2d(hm, 3, stride=1, padding=1) == hm)
    k = min(max_objects, K * H * W)
    scores, idx = torch.topk(peaks.view(B, -1), k)
    labels = idx // (H * W)
    cell = idx % (H * W)
    jj = (cell // W).float()
    ii = (cell % W).float()
    g = torch.gather(reg.view(B, reg.shape[1], -1), 2, cell[:, None, :].expand(-1, reg.shape[1], -1))  # (B, R, k)
    s = config.cell_size
    x = (ii + g[:, 0]) * s + config.x_range[0]
    y = (jj + g[:, 1]) * s + config.y_range[0]
    size = torch.exp(g[:, 3:6].clamp(max=5.0))
    yaw = torch.atan2(g[:, 6], g[:, 7])
    boxes = torch.stack([x, y, g[:, 2], size[:, 0], size[:, 1], size[:, 2], yaw], dim=2)  # (B, k, 7)
    out: list[Decoded] = []
    boxes_np = boxes.cpu().double().numpy()
    scores_np = scores.cpu().double().numpy()
    labels_np = labels.cpu().numpy().astype(np.int64)
    vel_np: Any = g[:, 8:10].permute(0, 2, 1).cpu().double().numpy() if config.velocity else None
    for b in range(B):
        keep = scores_np[b] >= score_threshold
        out.append(
            Decoded(
                boxes_np[b][keep],
                np.clip(scores_np[b][keep], 0.0, 1.0),
                labels_np[b][keep],
                vel_np[b][keep] if vel_np is not None else None,
            )
        )
    return out
