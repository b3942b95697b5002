"""KITTI tracking evaluation inputs: label / result files to :class:`EvalSequence` with the KITTI rules.

This reproduces the data handling of AB3DMOT's ``scripts/KITTI/evaluate.py`` (the KITTI devkit
extended to 3D); ``docs/evaluation.md`` lists every rule with where it follows or departs.

Files
-----
* seqmap: lines ``<seq> empty <first> <end>`` (read by :func:`fusionlabel.io.kitti_mot.read_seqmap`);
  the sequence length (used for the review load only) is its frame count;
* ground truth ``<gt>/<seq>.txt``: 17 fields
  ``frame track_id type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y``;
* results ``<results>/<seq>.txt``: 17 or 18 fields (the 18th the score; 17 fields: score -1).
  A ``(frame, track_id)`` that appears twice is refused (:class:`CorruptFileError`).
  Both are parsed by the one KITTI label parser, :func:`fusionlabel.io.kitti_files.read_kitti_labels`;
  :class:`KittiRows` is only the evaluator's view of its :class:`~fusionlabel.io.kitti_files.KittiLabels`
  (:func:`rows_from_labels`: lower-case types, integer truncation and occlusion, score -1 when the
  file has 17 fields, as AB3DMOT reads them).

Rules for class ``c`` (``car``, ``pedestrian``, ``cyclist``; case-insensitive)
------------------------------------------------------------------------------
* rows are loaded when their type *contains* one of ``{car, van}`` (Car),
  ``{pedestrian, person_sitting}`` (Pedestrian) or ``{c}`` (others), or ``dontcare``;
  rows with ``track_id == -1`` that are not DontCare are dropped;
* ground truth is ignored (neither TP nor FN) when ``occluded > 2`` or ``truncated > 0`` or it
  is a Van (Car) / Person_sitting (Pedestrian);
* a result box is ignorable (ignored when it matches nothing) when it is a Van / Person_sitting,
  its 2D box is 25 px tall or less (``|y2 - y1| <= 25``), or more than half of its 2D box area
  lies inside a DontCare box;
* similarity: 3D IoU of the upright boxes (:func:`fusionlabel.core.boxes.iou_3d`), computed in
  a z-up frame that is an exact axis permutation of the rectified camera frame
  (``x = z_cam, y = -x_cam, z = -y_cam``, :data:`T_ZUP_FROM_RECT`), so the value equals
  AB3DMOT's camera-frame IoU (footprint on the camera x-z plane, height along camera y).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes, iou_3d
from fusionlabel.core.conventions import kitti_camera_to_boxes
from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.io.kitti_files import KittiLabels, read_kitti_labels
from fusionlabel.io.kitti_mot import read_seqmap
from fusionlabel.quality.clear_mot import EvalFrame, EvalSequence

#: ``T_rect_zup``: maps a z-up frame (x = camera forward, y = camera left, z = up) into the
#: rectified camera frame. A pure axis permutation: IoU is the same in both frames.
T_ZUP_FROM_RECT = np.array([[0.0, -1, 0, 0], [0, 0, -1, 0], [1, 0, 0, 0], [0, 0, 0, 1]])

MIN_HEIGHT = 25.0
MAX_TRUNCATION = 0
MAX_OCCLUSION = 2


@dataclass(frozen=True)
class KittiRows:
    """KITTI tracking rows of one file as the evaluator reads them, struct-of-arrays (rectified camera frame).

    A view of :class:`~fusionlabel.io.kitti_files.KittiLabels` built by :func:`rows_from_labels`
    (no text parsing of its own).

    frame, track_id, truncated, occluded : (N,) int64
    types : N lower-case type names
    bbox : (N, 4) float64 pixels ``x1 y1 x2 y2``
    hwl : (N, 3) float64 metres; xyz : (N, 3) bottom centre, metres; rotation_y : (N,) radians
    score : (N,) float64 (-1 where the file has 17 fields, as AB3DMOT)
    """

    frame: NDArray[np.int64]
    track_id: NDArray[np.int64]
    types: tuple[str, ...]
    truncated: NDArray[np.int64]
    occluded: NDArray[np.int64]
    bbox: NDArray[np.float64]
    hwl: NDArray[np.float64]
    xyz: NDArray[np.float64]
    rotation_y: NDArray[np.float64]
    score: NDArray[np.float64]

    def select(self, mask: NDArray[np.bool_]) -> KittiRows:
        idx = np.flatnonzero(mask)
        return KittiRows(
            self.frame[idx],
            self.track_id[idx],
            tuple(self.types[i] for i in idx),
            self.truncated[idx],
            self.occluded[idx],
            self.bbox[idx],
            self.hwl[idx],
            self.xyz[idx],
            self.rotation_y[idx],
            self.score[idx],
        )


def rows_from_labels(kl: KittiLabels) -> KittiRows:
    """Evaluation rows from :func:`fusionlabel.io.kitti_files.read_kitti_labels` output (AB3DMOT's
    ``int(float(.))`` on truncation and occlusion, lower-case types, score -1 when absent)."""
    n = len(kl)
    return KittiRows(
        frame=np.asarray(kl.frame, np.int64),
        track_id=np.asarray(kl.track_id, np.int64),
        types=tuple(t.lower() for t in kl.type),
        truncated=np.asarray(kl.truncated).astype(np.int64),
        occluded=np.asarray(kl.occluded).astype(np.int64),
        bbox=np.asarray(kl.bbox, np.float64).reshape(n, 4),
        hwl=np.asarray(kl.hwl, np.float64).reshape(n, 3),
        xyz=np.asarray(kl.xyz, np.float64).reshape(n, 3),
        rotation_y=np.asarray(kl.rotation_y, np.float64),
        score=np.full(n, -1.0) if kl.score is None else np.asarray(kl.score, np.float64),
    )


def read_kitti_rows(path: str | Path) -> KittiRows:
    """A KITTI tracking label (17 fields) or result file (18 fields) as evaluation rows.

    Raises :class:`CorruptFileError` naming the file (missing, wrong field count, not numeric,
    or an object-detection file with 15 fields).
    """
    kl = read_kitti_labels(path)
    if len(kl) and kl.kind != "tracking":
        raise CorruptFileError(Path(path), "not a KITTI tracking file (expected 17 or 18 fields per line)")
    if not np.all(np.isfinite(kl.bbox)) or not np.all(np.isfinite(kl.xyz)) or not np.all(np.isfinite(kl.hwl)):
        raise CorruptFileError(Path(path), "a box field is NaN or infinite")
    return rows_from_labels(kl)


def class_filter(cls: str) -> list[str]:
    """The type substrings AB3DMOT loads for a class (DontCare always)."""
    c = cls.lower()
    if "car" in c:
        names = ["car", "van"]
    elif "pedestrian" in c:
        names = ["pedestrian", "person_sitting"]
    else:
        names = [c]
    return names + ["dontcare"]


def _neighbour(cls: str, types: tuple[str, ...]) -> NDArray[np.bool_]:
    c = cls.lower()
    return np.array([(c == "car" and t == "van") or (c == "pedestrian" and t == "person_sitting") for t in types], bool)


def _load_for_class(rows: KittiRows, cls: str) -> KittiRows:
    names = class_filter(cls)
    keep = np.array([any(s in t for s in names) for t in rows.types], dtype=bool)
    keep &= ~((rows.track_id == -1) & np.array([t != "dontcare" for t in rows.types], dtype=bool))
    return rows.select(keep)


def camera_boxes(rows: KittiRows, path: Path) -> Boxes:
    """The rows' 3D boxes in the z-up permutation of the camera frame (see the module docstring)."""
    if np.any(rows.hwl <= 0):
        i = int(np.flatnonzero(np.any(rows.hwl <= 0, axis=1))[0])
        raise CorruptFileError(path, f"frame {rows.frame[i]} track {rows.track_id[i]}: box size must be positive")
    return kitti_camera_to_boxes(rows.xyz, rows.hwl, rows.rotation_y, T_ZUP_FROM_RECT)


def _ioa(a: NDArray[np.float64], b: NDArray[np.float64]) -> NDArray[np.float64]:
    """(N, M) intersection of 2D boxes ``a`` over the area of ``a`` (AB3DMOT ``boxoverlap(.., 'a')``)."""
    if len(a) == 0 or len(b) == 0:
        return np.zeros((len(a), len(b)))
    w = np.minimum(a[:, None, 2], b[None, :, 2]) - np.maximum(a[:, None, 0], b[None, :, 0])
    h = np.minimum(a[:, None, 3], b[None, :, 3]) - np.maximum(a[:, None, 1], b[None, :, 1])
    inter = np.where((w > 0) & (h > 0), w * h, 0.0)
    area = (a[:, 2] - a[:, 0]) * (a[:, 3] - a[:, 1])
    return inter / np.where(area > 0, area, np.inf)[:, None]


def kitti_sequence(
    name: str,
    gt: KittiRows,
    res: KittiRows,
    cls: str,
    n_frames: int,
    gt_path: Path = Path("<gt>"),
    res_path: Path = Path("<results>"),
    min_height: float = MIN_HEIGHT,
    max_truncation: int = MAX_TRUNCATION,
    max_occlusion: int = MAX_OCCLUSION,
) -> EvalSequence:
    """Build the :class:`EvalSequence` of one KITTI sequence with the rules of the module docstring."""
    gt = _load_for_class(gt, cls)
    res = _load_for_class(res, cls)
    seen: set[tuple[int, int]] = set()
    for fr, tid in zip(res.frame.tolist(), res.track_id.tolist()):
        if (fr, tid) in seen:
            raise CorruptFileError(res_path, f"track id {tid} occurs twice in frame {fr}")
        seen.add((fr, tid))
    gt_dc = np.array([t == "dontcare" for t in gt.types], bool)
    dc = gt.select(gt_dc)
    gt = gt.select(~gt_dc)
    res_dc = np.array([t == "dontcare" for t in res.types], bool)
    res = res.select(~res_dc)  # AB3DMOT keeps them as result boxes of type dontcare; see docs
    gt_boxes = camera_boxes(gt, gt_path)
    res_boxes = camera_boxes(res, res_path)
    gt_ign_all = (gt.occluded > max_occlusion) | (gt.truncated > max_truncation) | _neighbour(cls, gt.types)
    res_small = np.abs(res.bbox[:, 1] - res.bbox[:, 3]) <= min_height
    res_ignorable_all = _neighbour(cls, res.types) | res_small
    frames = []
    for f in sorted(set(gt.frame.tolist()) | set(res.frame.tolist())):
        gi = np.flatnonzero(gt.frame == f)
        ti = np.flatnonzero(res.frame == f)
        di = np.flatnonzero(dc.frame == f)
        ignorable = res_ignorable_all[ti].copy()
        if len(di) and len(ti):
            ignorable |= np.any(_ioa(res.bbox[ti], dc.bbox[di]) > 0.5, axis=1)
        if len(gi) and len(ti):
            sim = iou_3d(gt_boxes[gi], res_boxes[ti])
        else:
            sim = np.zeros((len(gi), len(ti)))
        try:
            frames.append(
                EvalFrame(f, gt.track_id[gi], gt_ign_all[gi], res.track_id[ti], res.score[ti], ignorable, sim)
            )
        except ValueError as exc:
            raise CorruptFileError(gt_path, str(exc)) from None
    return EvalSequence(name, tuple(frames), n_frames)


def load_kitti(gt_dir: str | Path, results_dir: str | Path, seqmap: str | Path, cls: str) -> list[EvalSequence]:
    """All sequences of a seqmap, ground truth from ``gt_dir``, results from ``results_dir``.

    The sequence length is the seqmap's frame count (:func:`fusionlabel.io.kitti_mot.read_seqmap`).
    Raises :class:`DataError` naming the missing or broken file.
    """
    gt_dir, results_dir = Path(gt_dir), Path(results_dir)
    out = []
    for e in read_seqmap(seqmap):
        gp, rp = gt_dir / f"{e.name}.txt", results_dir / f"{e.name}.txt"
        for p in (gp, rp):
            if not p.is_file():
                raise DataError(p, "file not found (the seqmap lists this sequence)")
        out.append(kitti_sequence(e.name, read_kitti_rows(gp), read_kitti_rows(rp), cls, e.num_frames, gp, rp))
    return out
