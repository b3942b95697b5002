"""Tracking KITTI-format detections: what ``fusionlabel track --format kitti`` runs.

:func:`track_kitti` reads ``DETECTIONS/<seq>.txt`` (AB3DMOT-style detections, one file per
sequence of the seqmap) and ``CALIB/<seq>.txt``, tracks one class and writes ``OUT/<seq>.txt``
(KITTI devkit tracking results, 18 fields: every scored track, as score sweeps such as sAMOTA
need) and ``OUT/<seq>.review.json`` (the review file, :mod:`fusionlabel.io.review_file`: the
frames to review with scores and reasons, the review budget and the pre-labels' operating point
``score_threshold``: the tracks delivered to an annotator are those whose mean score reaches it).
The camera's horizontal field of view (from ``P2``) tells the ambiguity model where objects
enter, and ``image_02`` is the labelled view (KITTI labels what that camera shows).

Example
-------
>>> import numpy as np
>>> cfg = kitti_config("Car", np.diag([700.0, 700.0, 1.0, 0.0])[:3], (1242, 375))
>>> cfg.output_threshold, round(cfg.ambiguity.fov, 3)   # 2 atan(1242 / 1400) rad
(3.0, 1.451)
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

CLASSES = ("Car", "Pedestrian", "Cyclist")

#: operating points of the pre-labels for AB3DMOT's PointRCNN detections (score units of that
#: detector): the track-confidence threshold with the fewest edit operations on the whole KITTI
#: development split (grid step 0.5, ``benchmarks/bench_tracking.py``). Its two-fold
#: cross-validation shows how the choice transfers: half A (0000 0003 0005 0009 0017) alone
#: chooses Car 2.5, Pedestrian 3.5, Cyclist 0.5, half B (0002 0004 0007 0011 0020) Car 3.0,
#: Pedestrian 2.5, Cyclist 2.0
POINTRCNN_OPERATING_POINTS = {"Car": 3.0, "Pedestrian": 3.5, "Cyclist": 2.0}


def kitti_config(
    cls: str,
    P2: Any,
    image_size: tuple[int, int],
    overrides: Mapping[str, Any] | None = None,
    T_rect_velo: Any = None,
) -> Any:
    """The class's :class:`~fusionlabel.track.tracker.TrackerConfig` for KITTI PointRCNN detections:
    the operating point :data:`POINTRCNN_OPERATING_POINTS`, the camera's horizontal field of
    view ``2 atan(W / (2 f_x))`` (image_02 width ``W``, focal length ``f_x = P2[0, 0]``) in the
    ambiguity model and, when ``T_rect_velo`` is given, ``image_02`` as the labelled view (KITTI
    labels what that camera shows: track ends mostly outside its picture are not reported);
    ``overrides`` replace config fields (e.g. for cross-validation)."""
    import math
    from dataclasses import replace

    from fusionlabel.io.kitti import kitti_camera
    from fusionlabel.track.types import TrackerConfig

    view = None if T_rect_velo is None else kitti_camera("image_02", P2, T_rect_velo, image_size)
    ov = {"output_threshold": POINTRCNN_OPERATING_POINTS.get(cls, -math.inf), "view": view, **dict(overrides or {})}
    cfg = TrackerConfig.for_class(cls, **ov)
    fov = 2.0 * math.atan(image_size[0] / (2.0 * float(P2[0, 0])))
    return replace(cfg, ambiguity=replace(cfg.ambiguity, fov=fov))


def track_kitti_sequence(
    detections: Path,
    calib: Path,
    entry: Any,
    cls: str,
    config_overrides: Mapping[str, Any] | None = None,
    backend: str = "batch",
) -> tuple[Any, Any]:
    """Track one seqmap entry: returns the :class:`~fusionlabel.track.tracker.TrackingResult` and
    its KITTI results (:class:`~fusionlabel.io.kitti.KittiLabels`, every scored track).

    Raises
    ------
    DataError : a missing or malformed detection or calibration file (naming it)
    """
    import numpy as np

    from fusionlabel.core.errors import CalibrationError, DataError
    from fusionlabel.io.kitti import DEFAULT_IMAGE_SIZE, kitti_T_rect_velo, read_kitti_calib
    from fusionlabel.io.kitti_mot import (
        MAX_FRAMES,
        detections_to_ego,
        kitti_results_from_table,
        read_ab3dmot_detections,
    )
    from fusionlabel.track.tracker import Tracker

    det_path = detections / f"{entry.name}.txt"
    cal_path = calib / f"{entry.name}.txt"
    if not det_path.is_file():
        raise DataError(det_path, "detection file for this sequence not found")
    cal = read_kitti_calib(cal_path)
    T_rect_velo = kitti_T_rect_velo(cal, cal_path)
    if "P2" not in cal or cal["P2"].size != 12:
        raise CalibrationError(cal_path, "missing key 'P2' (12 values)")
    P2 = cal["P2"].reshape(3, 4)
    if not np.all(np.isfinite(P2)) or abs(float(np.linalg.det(P2[:, :3]))) < 1e-12:
        raise CalibrationError(cal_path, "P2 is not a camera projection (NaN, infinite or singular)")
    d = read_ab3dmot_detections(det_path)
    d = d.select(np.array([t == cls for t in d.type], dtype=bool))
    n_frames = max(entry.end, int(d.frame.max()) + 1 if len(d) else 0)
    if n_frames > MAX_FRAMES:  # the seqmap's end is checked by read_seqmap: a detection's frame
        raise DataError(
            det_path,
            f"frame {n_frames - 1} is past {MAX_FRAMES:,} frames (a day at 10 Hz): not a frame number of a recording",
        )
    order = np.argsort(d.frame, kind="stable")
    boxes = detections_to_ego(d, T_rect_velo).to_array()[order]
    scores = d.score[order]
    bbox = d.bbox[order]
    starts = np.searchsorted(d.frame[order], np.arange(n_frames + 1))
    trk = Tracker(
        kitti_config(cls, P2, DEFAULT_IMAGE_SIZE, config_overrides, T_rect_velo).for_length(n_frames), backend
    )
    codes = trk.category_codes([cls] * len(d))
    for k in range(n_frames):
        a, b = starts[k], starts[k + 1]
        trk.step_arrays(boxes[a:b], scores[a:b], codes[a:b], bbox[a:b])
    res = trk.finish()
    return res, kitti_results_from_table(res.table, T_rect_velo, P2, DEFAULT_IMAGE_SIZE)


def track_kitti(
    detections: Path,
    calib: Path,
    seqmap: Path,
    cls: str,
    out: Path,
    progress: bool = True,
    config_overrides: Mapping[str, Any] | None = None,
    backend: str = "batch",
) -> dict[str, Any]:
    """Track every sequence of ``seqmap``; returns
    ``{seq: {"frames", "tracks", "delivered", "boxes", "queued"}}``, or ``{seq: {"error": why}}``
    for a sequence whose detection or calibration file is missing or malformed (the others are
    tracked).

    Raises
    ------
    DataError : a missing or malformed seqmap or folder, or no sequence could be tracked (the
    first one's error)
    """
    import numpy as np

    from fusionlabel.core.errors import DataError
    from fusionlabel.core.review import Review
    from fusionlabel.io.kitti_mot import read_seqmap, write_kitti_results
    from fusionlabel.io.review_file import review_path, write_review

    if cls not in CLASSES:
        raise ValueError(f"class must be one of {', '.join(CLASSES)}, got {cls!r}")
    if not detections.is_dir():
        raise DataError(detections, "detections folder not found")
    if not calib.is_dir():
        raise DataError(calib, "calibration folder not found")
    seqs = read_seqmap(seqmap)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}

    errors: list[DataError] = []

    def run_one(e: Any) -> None:
        try:
            res, results = track_kitti_sequence(detections, calib, e, cls, config_overrides, backend)
        except DataError as exc:  # one broken sequence: reported, the others are tracked
            summary[e.name] = {"error": str(exc)}
            errors.append(exc)
            return
        write_kitti_results(out / f"{e.name}.txt", results)
        write_review(
            review_path(out / f"{e.name}.txt"),
            Review(
                res.review,
                provenance={
                    "tool": "fusionlabel track",
                    "format": "kitti",
                    "class": cls,
                    "detections": str(detections),
                },
            ),
        )
        summary[e.name] = {
            "frames": res.num_frames,
            "tracks": len(np.unique(res.table.track_id)),
            "delivered": len(np.unique(res.table.track_id[res.table.delivered])),
            "boxes": len(res.table),
            "queued": len(res.review.items),
        }

    if progress:
        from rich.progress import Progress

        with Progress(transient=True) as bar:
            task = bar.add_task(f"tracking {cls}", total=len(seqs))
            for e in seqs:
                run_one(e)
                bar.advance(task)
    else:
        for e in seqs:
            run_one(e)
    if errors and len(errors) == len(seqs):
        raise errors[0]
    return summary
