"""KITTI label rows: tracking (17 fields) and object (15 fields) label files, read, written and converted.

Labels (each row with an optional score; :class:`KittiLabels`) are boxes in the rectified
camera-0 frame (bottom centre, ``h w l``, ``rotation_y``); they are converted to ego-frame
:class:`~fusionlabel.core.boxes.Boxes` by :func:`fusionlabel.core.conventions.kitti_camera_to_boxes`
(see ``docs/conventions.md``) and back by :func:`labelset_to_kitti_labels`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.atomic import atomic_write_text
from fusionlabel.core.calibration import Camera
from fusionlabel.core.conventions import boxes_to_kitti_camera, kitti_alpha, kitti_camera_to_boxes
from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.transforms import Transform

TRACKING_FIELDS = 17
OBJECT_FIELDS = 15


@dataclass(frozen=True)
class KittiLabels:
    """Rows of a KITTI label file, struct-of-arrays, in the file's order and units.

    kind : ``"tracking"`` (17 fields, + score) or ``"object"`` (15 fields, + score)
    frame : (N,) int64 frame numbers (object files: 0)
    track_id : (N,) int64 (-1 for DontCare; object files: -1)
    type : N class names (``Car``, ``Van``, ``Pedestrian``, ``DontCare``...)
    truncated : (N,) float64 (KITTI's tracking files: levels 0, 1, 2; object files and FusionLabel's
        tracking export: the fraction 0..1 outside the image; -1 for DontCare)
    occluded : (N,) int64, 0 fully visible, 1 partly, 2 largely occluded, 3 unknown
    alpha : (N,) float64 radians, observation angle
    bbox : (N, 4) float64 pixels ``x1 y1 x2 y2`` in image_02
    hwl : (N, 3) float64 metres ``h w l``
    xyz : (N, 3) float64 metres, bottom centre in the rectified camera-0 frame
    rotation_y : (N,) float64 radians about camera y
    score : (N,) float64 or None when the file has no score column
    """

    kind: Literal["tracking", "object"]
    frame: NDArray[np.int64]
    track_id: NDArray[np.int64]
    type: tuple[str, ...]
    truncated: NDArray[np.float64]
    occluded: NDArray[np.int64]
    alpha: NDArray[np.float64]
    bbox: NDArray[np.float64]
    hwl: NDArray[np.float64]
    xyz: NDArray[np.float64]
    rotation_y: NDArray[np.float64]
    score: NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return len(self.type)

    @property
    def dont_care(self) -> NDArray[np.bool_]:
        return np.array([t == "DontCare" for t in self.type], dtype=bool)


def read_kitti_labels(path: str | Path) -> KittiLabels:
    """Read a KITTI tracking (17 fields) or object (15 fields) label file, each with an optional score.

    Raises
    ------
    CorruptFileError : naming the file and line for a wrong field count or a non-numeric value
    """
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(path, f"cannot read labels: {getattr(exc, 'strerror', None) or exc}") from None
    rows: list[list[str]] = []
    lines: list[int] = []
    for n, line in enumerate(text.splitlines(), 1):
        if line.strip():
            rows.append(line.split())
            lines.append(n)
    ncols = len(rows[0]) if rows else TRACKING_FIELDS
    if ncols not in (OBJECT_FIELDS, OBJECT_FIELDS + 1, TRACKING_FIELDS, TRACKING_FIELDS + 1):
        raise CorruptFileError(
            path, f"line {lines[0]}: {ncols} fields; KITTI labels have 15 (object) or 17 (tracking), +1 score"
        )
    kind: Literal["tracking", "object"] = "tracking" if ncols >= TRACKING_FIELDS else "object"
    off = 2 if kind == "tracking" else 0
    for r, n in zip(rows, lines):
        if len(r) != ncols:
            raise CorruptFileError(path, f"line {n}: {len(r)} fields, the file's first row has {ncols}")
    try:
        num = np.array([[float(v) for v in r[off + 1 :]] for r in rows], dtype=np.float64).reshape(
            len(rows), ncols - off - 1
        )
        head = np.array([[int(v) for v in r[:off]] for r in rows], dtype=np.int64).reshape(len(rows), off)
    except OverflowError:  # a frame or track number beyond 64 bits
        raise CorruptFileError(path, "a frame or track number is out of range") from None
    except ValueError:
        bad = next(n for r, n in zip(rows, lines) if not _numeric_row(r, off))
        raise CorruptFileError(path, f"line {bad}: a numeric field does not parse") from None
    if np.any(num[:, 1] != np.round(num[:, 1])):
        raise CorruptFileError(path, "the 'occluded' field must be an integer")
    n = len(rows)
    return KittiLabels(
        kind=kind,
        frame=head[:, 0] if off else np.zeros(n, np.int64),
        track_id=head[:, 1] if off else np.full(n, -1, np.int64),
        type=tuple(r[off] for r in rows),
        truncated=num[:, 0],
        occluded=num[:, 1].astype(np.int64),
        alpha=num[:, 2],
        bbox=num[:, 3:7],
        hwl=num[:, 7:10],
        xyz=num[:, 10:13],
        rotation_y=num[:, 13],
        score=num[:, 14] if num.shape[1] > 14 else None,
    )


def _numeric_row(r: list[str], off: int) -> bool:
    try:
        [int(v) for v in r[:off]]
        [float(v) for v in r[off + 1 :]]
        return True
    except ValueError:
        return False


def _f(v: float) -> str:
    return "%f" % (round(float(v), 6) + 0.0)  # + 0.0 turns -0.0 into 0.0


def _truncation_text(v: float) -> str:
    """``truncated`` as text: an integer as ``%d`` (KITTI's levels, -1 for DontCare, 1 for a box
    wholly outside the image), a fraction in (0, 1) as ``%.2f`` capped at ``0.99``.

    Every KITTI tracking evaluator reads the field as ``int(float(x))`` (the devkit, AB3DMOT,
    TrackEval), so a partly visible box reads as level 0 and is evaluated; the cap keeps
    ``0.996`` from printing as ``1.00`` and turning a visible box into an ignored one.
    """
    v = float(v)
    if v == round(v):
        return str(round(v))
    return f"{min(v, 0.99) if 0.0 < v < 1.0 else v:.2f}"


def format_kitti_tracking_labels(labels: KittiLabels) -> str:
    """KITTI tracking label text, as the devkit writes it: ``%d %d %s`` then ``truncated``
    (:func:`_truncation_text`), ``%d`` occluded and ``%f`` fields.

    ``frame track_id type truncated occluded alpha x1 y1 x2 y2 h w l x y z rotation_y [score]``.
    """
    out = []
    for i in range(len(labels)):
        vals = [labels.alpha[i], *labels.bbox[i], *labels.hwl[i], *labels.xyz[i], labels.rotation_y[i]]
        if labels.score is not None:
            vals.append(labels.score[i])
        out.append(
            f"{int(labels.frame[i])} {int(labels.track_id[i])} {labels.type[i]} "
            f"{_truncation_text(labels.truncated[i])} {int(labels.occluded[i])} " + " ".join(_f(v) for v in vals)
        )
    return "\n".join(out) + ("\n" if out else "")


def write_kitti_tracking_labels(path: str | Path, labels: KittiLabels) -> None:
    """Write ``labels`` as a KITTI tracking label file (atomically)."""
    atomic_write_text(Path(path), format_kitti_tracking_labels(labels))


def frame_labels_from_kitti(
    labels: KittiLabels, rows: NDArray[np.int64], T_rect_velo: Transform, ids: NDArray[np.int64], path: Path
) -> FrameLabels:
    """The label rows ``rows`` ((K,) indices into ``labels``) as ego-frame :class:`FrameLabels`.

    Boxes get the track ids ``ids`` ((K,) int64), the types as categories and the attributes
    ``truncated``, ``occluded``, ``alpha`` and ``bbox_2d`` (image_02 pixels).

    Raises
    ------
    CorruptFileError : naming ``path`` (and the frame of tracking labels) for an invalid box
    """
    try:
        boxes = kitti_camera_to_boxes(labels.xyz[rows], labels.hwl[rows], labels.rotation_y[rows], T_rect_velo)
        attrs = tuple(
            {
                "truncated": float(labels.truncated[i]),
                "occluded": int(labels.occluded[i]),
                "alpha": float(labels.alpha[i]),
                "bbox_2d": [float(v) for v in labels.bbox[i]],
            }
            for i in rows
        )
        scores = None if labels.score is None else labels.score[rows]
        return FrameLabels(ids, tuple(labels.type[i] for i in rows), boxes, scores, attrs)
    except ValueError as exc:
        where = f"frame {int(labels.frame[rows[0]])}" if labels.kind == "tracking" and len(rows) else "labels"
        raise CorruptFileError(path, f"{where}: {exc}") from None


def kitti_labels_to_labelset(
    labels: KittiLabels, T_rect_velo: Transform, path: str | Path
) -> tuple[LabelSet, dict[int, NDArray[np.float64]]]:
    """Tracking labels -> (LabelSet in the Velodyne/ego frame, DontCare regions per frame).

    Boxes keep the KITTI track ids and types (as categories) and carry the attributes
    ``truncated``, ``occluded``, ``alpha`` and ``bbox_2d`` (image_02 pixels). ``DontCare`` rows
    are kept out of the tracks and returned as ``{frame: (K, 4) x1 y1 x2 y2}``.
    """
    path = Path(path)
    dc = labels.dont_care
    frames: dict[int, FrameLabels] = {}
    dont_care: dict[int, NDArray[np.float64]] = {}
    for f in np.unique(labels.frame):
        rows = np.flatnonzero((labels.frame == f) & ~dc)
        if len(rows):
            frames[int(f)] = frame_labels_from_kitti(labels, rows, T_rect_velo, labels.track_id[rows], path)
        d = np.flatnonzero((labels.frame == f) & dc)
        if len(d):
            dont_care[int(f)] = labels.bbox[d].copy()
    return LabelSet(frames), dont_care


def labelset_to_kitti_labels(
    labels: LabelSet,
    T_rect_velo: Transform,
    dont_care: Mapping[int, NDArray[np.float64]] | None = None,
    camera: Camera | None = None,
    points: Callable[[int], NDArray[np.float64]] | None = None,
    scores: bool = False,
) -> KittiLabels:
    """Ego-frame labels -> KITTI tracking rows (inverse of :func:`kitti_labels_to_labelset`).

    ``alpha``, ``truncated``, ``occluded`` and ``bbox_2d`` come from each box's attributes when
    present; otherwise alpha is computed (:func:`~fusionlabel.core.conventions.kitti_alpha`),
    the 2D box is the projection into ``camera`` (``image_02``), and ``truncated`` (the fraction
    of the silhouette outside the image) and ``occluded`` (KITTI level 0-2 of the hidden
    fraction, 3 when no part is in the image) are computed in ``camera`` by
    :func:`fusionlabel.core.occlusion.image_visibility`: the frame's other boxes and, when
    ``points`` is given, ``points(frame)`` ((M, 3) LiDAR points in that frame's ego frame) occlude.
    Without a camera: truncated 0, occluded 3 (unknown). Per frame, DontCare rows come first,
    then boxes in track order.

    ``scores=True`` gives the rows the 18th field (the box scores) as KITTI tracking *results*
    have it, and leaves the DontCare rows out (results carry none: evaluators would read them as
    result boxes with the duplicate id -1).

    Raises
    ------
    ValueError : a box has no ``bbox_2d`` attribute and no ``camera`` is given
    """
    from fusionlabel.core.occlusion import image_visibility
    from fusionlabel.core.projection import project_boxes

    cols: dict[str, list[Any]] = {
        k: [] for k in ("frame", "tid", "type", "tr", "oc", "al", "bb", "hwl", "xyz", "ry", "sc")
    }

    def add(
        f: int, tid: int, typ: str, tr: float, oc: int, al: float, bb: Any, hwl: Any, xyz: Any, ry: float, sc: float
    ) -> None:
        for k, v in zip(cols, (f, tid, typ, tr, oc, al, bb, hwl, xyz, ry, sc)):
            cols[k].append(v)

    dont_care = dont_care or {}
    T_cam_velo = None
    if camera is not None:
        T_cam_velo = camera.T_ego_cam.inverse()
    for f in sorted(set(labels.frames) | (set() if scores else set(dont_care))):
        for bb in dont_care.get(f, np.zeros((0, 4))) if not scores else ():
            # the tracking benchmark's DontCare filler (object files use h w l = -1, xyz = -1000, ry = -10)
            add(f, -1, "DontCare", -1, -1, -10.0, bb, [-1000.0] * 3, [-10.0, -1.0, -1.0], -1.0, 1.0)
        fl = labels.get(f)
        if len(fl) == 0:
            continue
        xyz, hwl, ry = boxes_to_kitti_camera(fl.boxes, T_rect_velo)
        alpha = kitti_alpha(xyz, ry)
        proj = project_boxes(fl.boxes, camera, T_cam_velo).bbox if camera is not None else None
        trunc, occl = np.zeros(len(fl)), np.full(len(fl), 3, np.int64)
        if camera is not None and any("truncated" not in a or "occluded" not in a for a in fl.attributes):
            vis = image_visibility(fl.boxes, camera, T_cam_velo, points(f) if points is not None else None)
            trunc, occl = vis.truncation, vis.level
            if proj is not None:
                # no 2D box where the silhouette misses the picture (its bounding box may touch a corner)
                proj = np.where(vis.in_image[:, None], proj, np.nan)
        for j in range(len(fl)):
            a = fl.attributes[j]
            if "bbox_2d" in a:
                bb = np.asarray(a["bbox_2d"], dtype=np.float64)
            elif proj is not None:
                bb = proj[j]
            else:
                raise ValueError(
                    f"frame {f}, track {int(fl.track_ids[j])}: no 'bbox_2d' attribute and no camera to project into"
                )
            add(
                f,
                int(fl.track_ids[j]),
                fl.categories[j],
                float(a.get("truncated", trunc[j])),
                int(a.get("occluded", occl[j])),
                float(a.get("alpha", alpha[j])),
                bb,
                hwl[j],
                xyz[j],
                ry[j],
                float(fl.scores[j]),
            )
    n = len(cols["frame"])
    return KittiLabels(
        kind="tracking",
        frame=np.asarray(cols["frame"], np.int64),
        track_id=np.asarray(cols["tid"], np.int64),
        type=tuple(cols["type"]),
        truncated=np.asarray(cols["tr"], np.float64),
        occluded=np.asarray(cols["oc"], np.int64),
        alpha=np.asarray(cols["al"], np.float64),
        bbox=np.asarray(cols["bb"], np.float64).reshape(n, 4),
        hwl=np.asarray(cols["hwl"], np.float64).reshape(n, 3),
        xyz=np.asarray(cols["xyz"], np.float64).reshape(n, 3),
        rotation_y=np.asarray(cols["ry"], np.float64),
        score=np.asarray(cols["sc"], np.float64) if scores else None,
    )
