"""Copy-paste augmentation for the pillar network: labelled objects pasted into other frames.

SECOND's "ground-truth sampling" (Yan et al. 2018), as used when only a few frames are labelled
(fine-tuning on an annotator's seed frames, :mod:`fusionlabel.detect.pillars.finetune`):

1. :meth:`ObjectBank.from_samples` cuts every labelled box out of the labelled frames: the box,
   its class, and the LiDAR points inside it (the box enlarged by ``margin`` metres on each side,
   below the box's floor excluded so the ground stays in its frame);
2. :func:`copy_paste` pastes up to ``max_objects`` of them into a frame. Each object is first
   rotated about the **sensor's vertical axis** through the ego origin by a random angle (an
   object seen at the same range and height from another azimuth: its point pattern stays the
   one the LiDAR would give, to first order), or kept where it was (``p_keep``). A paste that
   overlaps (BEV) a box already in the frame, or another paste, is skipped; points of the frame
   inside a pasted box are removed first (the object occludes them).

All randomness comes from the caller's ``numpy.random.Generator``: the same seed, the same
augmented frames.

Example
-------
>>> import numpy as np
>>> from fusionlabel.detect.pillars.train import Sample
>>> pts = np.array([[10.0, 0.0, 0.5], [10.2, 0.1, 1.0], [30.0, 5.0, 0.2]], np.float32)
>>> s = Sample(pts, np.array([[10.0, 0.0, 0.8, 4.0, 2.0, 1.6, 0.0]]), np.array([0]), np.zeros((1, 2)), "a#0")
>>> bank = ObjectBank.from_samples([s])
>>> len(bank), len(bank.points[0])
(1, 2)
>>> out = copy_paste(s, bank, np.random.default_rng(0), max_objects=1, p_keep=0.0)
>>> len(out.boxes) in (1, 2)
True
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes, bev_iou, points_in_boxes
from fusionlabel.detect.pillars.train import Sample


@dataclass(frozen=True)
class ObjectBank:
    """Labelled objects cut out of frames.

    boxes : (N, 7) float64 ``[x, y, z, l, w, h, yaw]`` ego frame
    labels : (N,) int64 class channels
    velocity : (N, 2) float64 m/s
    points : N arrays (M_i, 3 | 4) float32, the object's points in the ego frame
    """

    boxes: NDArray[np.float64]
    labels: NDArray[np.int64]
    velocity: NDArray[np.float64]
    points: tuple[NDArray[np.float32], ...]

    def __len__(self) -> int:
        return len(self.boxes)

    @classmethod
    def from_samples(cls, samples: Sequence[Sample], margin: float = 0.15, min_points: int = 1) -> ObjectBank:
        """Every box of ``samples`` with at least ``min_points`` points inside (enlarged by ``margin``)."""
        boxes, labels, vel, pts = [], [], [], []
        for s in samples:
            if len(s.boxes) == 0:
                continue
            grown = s.boxes.copy()
            grown[:, 3:5] += 2 * margin
            grown[:, 5] += margin  # upwards only: the floor stays where it is (no ground points)
            grown[:, 2] += margin / 2
            inside = points_in_boxes(s.points[:, :3].astype(np.float64), Boxes.from_array(grown))  # (M, N)
            for j in range(len(s.boxes)):
                sel = inside[:, j]
                if int(sel.sum()) < min_points:
                    continue
                boxes.append(s.boxes[j])
                labels.append(int(s.labels[j]))
                vel.append(s.velocity[j])
                pts.append(np.ascontiguousarray(s.points[sel]))
        return cls(
            np.asarray(boxes, np.float64).reshape(-1, 7),
            np.asarray(labels, np.int64),
            np.asarray(vel, np.float64).reshape(-1, 2),
            tuple(pts),
        )


def _rotate_about_z(
    box: NDArray[np.float64], pts: NDArray[np.float32], vel: NDArray[np.float64], a: float
) -> tuple[NDArray[np.float64], NDArray[np.float32], NDArray[np.float64]]:
    """Box, points and velocity rotated by ``a`` about the ego z axis: ``p -> R_z(a) p``, ``yaw -> yaw + a``."""
    c, s = math.cos(a), math.sin(a)
    R = np.array([[c, -s], [s, c]])
    b = box.copy()
    b[:2] = R @ b[:2]
    b[6] = math.atan2(math.sin(b[6] + a), math.cos(b[6] + a))
    p = pts.copy()
    p[:, :2] = p[:, :2] @ R.T.astype(np.float32)
    return b, p, R @ vel


def copy_paste(
    sample: Sample,
    bank: ObjectBank,
    rng: np.random.Generator,
    max_objects: int = 10,
    p_keep: float = 0.2,
) -> Sample:
    """``sample`` with up to ``max_objects`` objects of ``bank`` pasted in (see the module docstring).

    Parameters
    ----------
    sample : the frame to paste into (not changed)
    bank : the objects to draw from (drawn without replacement)
    rng : the random generator
    max_objects : most objects pasted
    p_keep : probability that an object keeps its own position instead of a random azimuth
    """
    if len(bank) == 0 or max_objects <= 0:
        return sample
    k = min(max_objects, len(bank))
    pick = rng.choice(len(bank), size=k, replace=False)
    boxes = list(sample.boxes)
    new_boxes: list[NDArray[np.float64]] = []
    new_pts: list[NDArray[np.float32]] = []
    new_lab: list[int] = []
    new_vel: list[NDArray[np.float64]] = []
    for i in pick:
        a = 0.0 if rng.random() < p_keep else float(rng.uniform(-math.pi, math.pi))
        b, p, v = _rotate_about_z(bank.boxes[i], bank.points[i], bank.velocity[i], a)
        have = np.asarray(boxes + new_boxes, np.float64).reshape(-1, 7)
        if len(have):
            grown = b.copy()
            grown[3:5] += 0.5
            if float(bev_iou(Boxes.from_array(grown[None]), Boxes.from_array(have)).max()) > 0.0:
                continue
        new_boxes.append(b)
        new_pts.append(p)
        new_lab.append(int(bank.labels[i]))
        new_vel.append(v)
    if not new_boxes:
        return sample
    pasted = np.asarray(new_boxes, np.float64)
    cover = pasted.copy()
    cover[:, 3:6] += 0.1
    inside = points_in_boxes(sample.points[:, :3].astype(np.float64), Boxes.from_array(cover)).any(axis=1)
    pts = np.concatenate([sample.points[~inside], *new_pts]).astype(np.float32)
    return Sample(
        np.ascontiguousarray(pts),
        np.concatenate([sample.boxes.reshape(-1, 7), pasted]),
        np.concatenate([sample.labels, np.asarray(new_lab, np.int64)]),
        np.concatenate([sample.velocity.reshape(-1, 2), np.asarray(new_vel, np.float64)]),
        sample.source,
    )
