"""KITTI multi-object-tracking files: AB3DMOT-style detections in, devkit tracking results out.

Detections (one ``<seq>.txt`` per sequence, 15 comma-separated fields per line)::

    frame, type, x1, y1, x2, y2, score, h, w, l, x, y, z, rotation_y, alpha

``type`` 1 = Pedestrian, 2 = Car, 3 = Cyclist; ``x1..y2`` the 2D box in image_02 (pixels);
``h w l`` metres; ``x y z`` the bottom centre in the rectified camera-0 frame (metres);
``rotation_y`` and ``alpha`` radians. ``score`` is in detector units (higher = surer).

Results (one ``<seq>.txt``, 18 space-separated fields, the KITTI devkit convention)::

    frame track_id type 0 0 alpha x1 y1 x2 y2 h w l x y z rotation_y score

written through :func:`fusionlabel.io.kitti.format_kitti_tracking_labels`. The 2D box is the
matched detection's where the track was matched, else the projection of the 3D box into
image_02 clipped to the image.

Seqmaps: ``<seq> empty <first frame> <end frame>`` per line (the end is exclusive, the devkit's
frame count for sequences starting at 0).

Example
-------
>>> import numpy as np, tempfile, pathlib
>>> p = pathlib.Path(tempfile.mkdtemp()) / "0000.txt"
>>> _ = p.write_text("0,2,10,20,110,90,5.5,1.5,1.6,3.9,1.0,1.7,15.0,-1.57,-1.63\\n")
>>> d = read_ab3dmot_detections(p)
>>> d.type, d.hwl.tolist()
(('Car',), [[1.5, 1.6, 3.9]])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.conventions import boxes_to_kitti_camera, kitti_alpha, kitti_camera_to_boxes
from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.textfile import read_text
from fusionlabel.core.transforms import Transform
from fusionlabel.io.kitti import KittiLabels, format_kitti_tracking_labels, read_kitti_labels


class TrackedBoxes(Protocol):
    """What :func:`kitti_results_from_table` reads: the tracker's flat output
    (:class:`fusionlabel.track.types.TrackTable` has these fields; io does not import it)."""

    @property
    def frame(self) -> NDArray[np.int64]: ...
    @property
    def track_id(self) -> NDArray[np.int64]: ...
    @property
    def category(self) -> NDArray[np.str_]: ...
    @property
    def box(self) -> NDArray[np.float64]: ...
    @property
    def score(self) -> NDArray[np.float64]: ...
    @property
    def matched(self) -> NDArray[np.bool_]: ...
    @property
    def extras(self) -> NDArray[np.float64] | None: ...

    def __len__(self) -> int: ...


#: AB3DMOT's detection type codes
DET_TYPES: Mapping[int, str] = {1: "Pedestrian", 2: "Car", 3: "Cyclist"}
DET_FIELDS = 15
RESULT_FIELDS = 18


@dataclass(frozen=True)
class KittiDetections:
    """AB3DMOT-style detections of one sequence (struct-of-arrays, file order, file units).

    frame : (N,) int64
    type : N class names (``Pedestrian``, ``Car``, ``Cyclist``)
    bbox : (N, 4) float64 ``x1 y1 x2 y2`` pixels, image_02
    score : (N,) float64 detector confidence
    hwl : (N, 3) float64 metres
    xyz : (N, 3) float64 metres, bottom centre, rectified camera-0 frame
    rotation_y : (N,) float64 radians; alpha : (N,) float64 radians
    """

    frame: NDArray[np.int64]
    type: tuple[str, ...]
    bbox: NDArray[np.float64]
    score: NDArray[np.float64]
    hwl: NDArray[np.float64]
    xyz: NDArray[np.float64]
    rotation_y: NDArray[np.float64]
    alpha: NDArray[np.float64]

    def __len__(self) -> int:
        return len(self.frame)

    def select(self, mask: NDArray[np.bool_]) -> KittiDetections:
        i = np.flatnonzero(mask)
        return KittiDetections(
            self.frame[i],
            tuple(self.type[k] for k in i),
            self.bbox[i],
            self.score[i],
            self.hwl[i],
            self.xyz[i],
            self.rotation_y[i],
            self.alpha[i],
        )


def read_ab3dmot_detections(path: str | Path) -> KittiDetections:
    """Read an AB3DMOT-style detection file (see the module docstring); an empty file has no detections.

    Raises
    ------
    DataError : the file cannot be read
    CorruptFileError : a line without 15 numeric fields, an unknown type code, a negative frame
        or a non-positive box size (naming the file and line)
    """
    p = Path(path)
    text = read_text(p, "detections", DataError)
    rows = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        f = line.split(",")
        if len(f) != DET_FIELDS:
            raise CorruptFileError(p, f"line {n}: expected {DET_FIELDS} comma-separated fields, got {len(f)}")
        try:
            v = [float(x) for x in f]
        except ValueError:
            raise CorruptFileError(p, f"line {n}: non-numeric field in {line.strip()!r}") from None
        rows.append(v)
    a = np.array(rows, dtype=np.float64).reshape(-1, DET_FIELDS)
    if not np.all(np.isfinite(a)):
        bad = int(np.flatnonzero(~np.all(np.isfinite(a), axis=1))[0])
        raise CorruptFileError(p, f"detection {bad + 1}: NaN or infinite value")
    frame = a[:, 0]
    if np.any(frame < 0) or np.any(frame != np.round(frame)):
        raise CorruptFileError(p, "frame numbers must be non-negative integers")
    codes = a[:, 1].astype(np.int64)
    unknown = ~np.isin(codes, list(DET_TYPES))
    if unknown.any():
        raise CorruptFileError(p, f"unknown type code {int(codes[unknown][0])} (1 Pedestrian, 2 Car, 3 Cyclist)")
    if np.any(a[:, 7:10] <= 0):
        raise CorruptFileError(p, "box dimensions h, w, l must be positive")
    return KittiDetections(
        frame=frame.astype(np.int64),
        type=tuple(DET_TYPES[int(c)] for c in codes),
        bbox=a[:, 2:6].copy(),
        score=a[:, 6].copy(),
        hwl=a[:, 7:10].copy(),
        xyz=a[:, 10:13].copy(),
        rotation_y=a[:, 13].copy(),
        alpha=a[:, 14].copy(),
    )


def format_ab3dmot_detections(d: KittiDetections) -> str:
    """The detection file text of ``d`` (inverse of :func:`read_ab3dmot_detections`)."""
    code = {v: k for k, v in DET_TYPES.items()}
    lines = []
    for i in range(len(d)):
        vals = [*d.bbox[i], d.score[i], *d.hwl[i], *d.xyz[i], d.rotation_y[i], d.alpha[i]]
        lines.append(f"{int(d.frame[i])},{code[d.type[i]]}," + ",".join(repr(float(v)) for v in vals))
    return "\n".join(lines) + ("\n" if lines else "")


@dataclass(frozen=True)
class SeqmapEntry:
    """One seqmap line: sequence name, first frame and end frame (exclusive)."""

    name: str
    first: int
    end: int

    @property
    def num_frames(self) -> int:
        return self.end


#: more frames than this in one sequence (a day at 10 Hz) is a broken file, not a recording
MAX_FRAMES = 1_000_000


def read_seqmap(path: str | Path) -> list[SeqmapEntry]:
    """Read a devkit seqmap (``<seq> empty <first> <end>`` per line).

    Raises
    ------
    DataError : unreadable; CorruptFileError : a malformed line or no sequence at all
    """
    p = Path(path)
    text = read_text(p, "seqmap", DataError)
    out = []
    for n, line in enumerate(text.splitlines(), 1):
        if not line.strip():
            continue
        f = line.split()
        try:
            if len(f) != 4:
                raise ValueError
            e = SeqmapEntry(f[0], int(f[2]), int(f[3]))
        except ValueError:
            raise CorruptFileError(p, f"line {n}: expected '<seq> empty <first> <end>', got {line.strip()!r}") from None
        if e.first < 0 or e.end < e.first or e.end > MAX_FRAMES:
            raise CorruptFileError(p, f"line {n}: frame range {e.first}..{e.end} is invalid")
        out.append(e)
    if not out:
        raise CorruptFileError(p, "seqmap lists no sequence")
    return out


def detections_to_ego(d: KittiDetections, T_rect_velo: Transform) -> Boxes:
    """The detections as :class:`Boxes` in the LiDAR (ego) frame."""
    return kitti_camera_to_boxes(d.xyz, d.hwl, d.rotation_y, T_rect_velo)


def labels_to_kitti_results(
    labels: LabelSet,
    T_rect_velo: Transform,
    P2: NDArray[np.float64],
    image_size: tuple[int, int],
) -> KittiLabels:
    """Tracks (ego frame) as KITTI tracking results (18 fields).

    The 2D box is taken from a box's ``"extras"`` attribute (``[x1, y1, x2, y2]`` carried from
    the detection) when present, else projected: the 8 corners in the rectified camera frame,
    ``u = P2 [X; 1]``, their bounding rectangle clipped to ``image_size`` (width, height). Boxes
    whose projection misses the image get an empty box at the clipped border.

    Parameters
    ----------
    labels : tracks with ``scores``
    T_rect_velo : LiDAR -> rectified camera 0
    P2 : (3, 4) projection of image_02 (rectified camera 0 coordinates -> pixels)
    image_size : (width, height) pixels
    """
    fr, tid, alpha, bbox, hwl, xyz, ry, sc = [], [], [], [], [], [], [], []
    typ: list[str] = []
    W, H = image_size
    P2 = np.asarray(P2, dtype=np.float64).reshape(3, 4)
    for k, f in labels.frames.items():
        if not len(f):
            continue
        xyz_c, hwl_c, ry_c = boxes_to_kitti_camera(f.boxes, T_rect_velo)
        corners = T_rect_velo.apply(f.boxes.corners().reshape(-1, 3))
        uvw = corners @ P2[:, :3].T + P2[:, 3]
        z = np.maximum(uvw[:, 2:3], 1e-3)
        uv = (uvw[:, :2] / z).reshape(len(f), 8, 2)
        proj = np.stack(
            [
                np.clip(uv[:, :, 0].min(1), 0, W - 1),
                np.clip(uv[:, :, 1].min(1), 0, H - 1),
                np.clip(uv[:, :, 0].max(1), 0, W - 1),
                np.clip(uv[:, :, 1].max(1), 0, H - 1),
            ],
            axis=1,
        )
        for i in range(len(f)):
            ex = f.attributes[i].get("extras")
            bbox.append(np.asarray(ex[:4], dtype=np.float64) if ex is not None else proj[i])
        fr.append(np.full(len(f), k))
        tid.append(f.track_ids)
        typ.extend(f.categories)
        alpha.append(kitti_alpha(xyz_c, ry_c))
        hwl.append(hwl_c)
        xyz.append(xyz_c)
        ry.append(ry_c)
        sc.append(f.scores)
    if not fr:
        z1 = np.zeros(0)
        return KittiLabels(
            "tracking",
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            (),
            z1,
            np.zeros(0, np.int64),
            z1,
            np.zeros((0, 4)),
            np.zeros((0, 3)),
            np.zeros((0, 3)),
            z1,
            z1,
        )
    n = sum(len(a) for a in fr)
    return KittiLabels(
        kind="tracking",
        frame=np.concatenate(fr).astype(np.int64),
        track_id=np.concatenate(tid).astype(np.int64),
        type=tuple(typ),
        truncated=np.zeros(n),
        occluded=np.zeros(n, np.int64),
        alpha=np.concatenate(alpha),
        bbox=np.array(bbox, dtype=np.float64).reshape(-1, 4),
        hwl=np.concatenate(hwl),
        xyz=np.concatenate(xyz),
        rotation_y=np.concatenate(ry),
        score=np.concatenate(sc).astype(np.float64),
    )


def kitti_results_from_table(
    table: TrackedBoxes,
    T_rect_velo: Transform,
    P2: NDArray[np.float64],
    image_size: tuple[int, int],
) -> KittiLabels:
    """The tracker's flat output (:class:`fusionlabel.track.types.TrackTable`, ego frame) as
    KITTI tracking results, every scored track included (the rules of
    :func:`labels_to_kitti_results`: the carried 2D box where matched, else the clipped
    projection), in one vectorised pass.
    """
    n = len(table)
    if n == 0:
        return labels_to_kitti_results(LabelSet({}), T_rect_velo, P2, image_size)
    boxes = Boxes.from_array(table.box)
    xyz_c, hwl_c, ry_c = boxes_to_kitti_camera(boxes, T_rect_velo)
    bbox = _projected_bbox(boxes, T_rect_velo, P2, image_size)
    if table.extras is not None and table.extras.shape[1] >= 4:
        ok = table.matched & np.all(np.isfinite(table.extras[:, :4]), axis=1)
        bbox[ok] = table.extras[ok, :4]
    return KittiLabels(
        kind="tracking",
        frame=table.frame.astype(np.int64),
        track_id=table.track_id.astype(np.int64),
        type=tuple(table.category.tolist()),
        truncated=np.zeros(n),
        occluded=np.zeros(n, np.int64),
        alpha=kitti_alpha(xyz_c, ry_c),
        bbox=bbox,
        hwl=hwl_c,
        xyz=xyz_c,
        rotation_y=ry_c,
        score=table.score.astype(np.float64),
    )


def _projected_bbox(
    boxes: Boxes, T_rect_velo: Transform, P2: NDArray[np.float64], image_size: tuple[int, int]
) -> NDArray[np.float64]:
    """(N, 4) ``x1 y1 x2 y2``: the 8 corners' projection ``u = P2 [X; 1]``, clipped to the image."""
    W, H = image_size
    P2 = np.asarray(P2, dtype=np.float64).reshape(3, 4)
    corners = T_rect_velo.apply(boxes.corners().reshape(-1, 3))
    uvw = corners @ P2[:, :3].T + P2[:, 3]
    z = np.maximum(uvw[:, 2:3], 1e-3)
    uv = (uvw[:, :2] / z).reshape(len(boxes), 8, 2)
    return np.stack(
        [
            np.clip(uv[:, :, 0].min(1), 0, W - 1),
            np.clip(uv[:, :, 1].min(1), 0, H - 1),
            np.clip(uv[:, :, 0].max(1), 0, W - 1),
            np.clip(uv[:, :, 1].max(1), 0, H - 1),
        ],
        axis=1,
    )


def write_kitti_results(path: str | Path, results: KittiLabels) -> None:
    """Write tracking results (18 fields, scores required) atomically."""
    if results.score is None:
        raise ValueError("tracking results need a score per box")
    if len(results) and np.any(results.track_id < 1):
        raise ValueError("KITTI result track ids must be >= 1")
    from fusionlabel.core.atomic import atomic_write_text

    atomic_write_text(Path(path), format_kitti_tracking_labels(results))


def read_kitti_results(path: str | Path) -> KittiLabels:
    """Read a tracking result file; :class:`CorruptFileError` unless every line has 18 fields."""
    r = read_kitti_labels(path)
    if len(r) and (r.kind != "tracking" or r.score is None):
        raise CorruptFileError(Path(path), f"tracking results need {RESULT_FIELDS} fields per line (with a score)")
    return r
