"""``fusionlabel track``: link detections into persistent-ID tracks, with a review queue.

::

    fusionlabel track --format kitti --detections DIR --calib DIR --seqmap FILE --class Car --out DIR

reads ``DIR/<seq>.txt`` (AB3DMOT-style detections, one file per sequence of the seqmap) and
``CALIB/<seq>.txt``, tracks the chosen class and writes ``OUT/<seq>.txt`` (KITTI devkit tracking
results, 18 fields) and ``OUT/<seq>.review.json`` (the frames to review, with scores and
reasons). Bad input ends the command with one line naming the file.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer

CLASSES = ("Car", "Pedestrian", "Cyclist")


def track_kitti(
    detections: Path, calib: Path, seqmap: Path, cls: str, out: Path, progress: bool = True
) -> dict[str, Any]:
    """Track every sequence of ``seqmap``; returns ``{seq: {"frames", "tracks", "boxes", "queued"}}``.

    Raises
    ------
    DataError : a missing or malformed detection, calibration or seqmap file (naming it)
    """
    import numpy as np

    from fusionlabel.core.errors import CalibrationError, DataError
    from fusionlabel.io.kitti import DEFAULT_IMAGE_SIZE, kitti_T_rect_velo, read_kitti_calib
    from fusionlabel.io.kitti_mot import (
        detections_to_ego,
        labels_to_kitti_results,
        read_ab3dmot_detections,
        read_seqmap,
        write_kitti_results,
    )
    from fusionlabel.track.tracker import Tracker, TrackerConfig

    if cls not in CLASSES:
        raise typer.BadParameter(f"--class must be one of {', '.join(CLASSES)}, got {cls!r}")
    if not detections.is_dir():
        raise DataError(detections, "detections folder not found")
    if not calib.is_dir():
        raise DataError(calib, "calibration folder not found")
    seqs = read_seqmap(seqmap)
    out.mkdir(parents=True, exist_ok=True)
    summary: dict[str, Any] = {}

    def run_one(e: Any) -> None:
        det_path = detections / f"{e.name}.txt"
        cal_path = calib / f"{e.name}.txt"
        if not det_path.is_file():
            raise DataError(det_path, "detection file for this sequence not found")
        cal = read_kitti_calib(cal_path)
        T_rect_velo = kitti_T_rect_velo(cal, cal_path)
        if "P2" not in cal or cal["P2"].size != 12:
            raise CalibrationError(cal_path, "missing key 'P2' (12 values)")
        P2 = cal["P2"].reshape(3, 4)
        d = read_ab3dmot_detections(det_path)
        d = d.select(np.array([t == cls for t in d.type], dtype=bool))
        n_frames = max(e.end, int(d.frame.max()) + 1 if len(d) else 0)
        order = np.argsort(d.frame, kind="stable")
        boxes = detections_to_ego(d, T_rect_velo).to_array()[order]
        scores = d.score[order]
        bbox = d.bbox[order]
        starts = np.searchsorted(d.frame[order], np.arange(n_frames + 1))
        trk = Tracker(TrackerConfig.for_class(cls))
        codes = trk.category_codes([cls] * len(d))
        for k in range(n_frames):
            a, b = starts[k], starts[k + 1]
            trk.step_arrays(boxes[a:b], scores[a:b], codes[a:b], bbox[a:b])
        res = trk.finish()
        results = labels_to_kitti_results(res.labels, T_rect_velo, P2, DEFAULT_IMAGE_SIZE)
        write_kitti_results(out / f"{e.name}.txt", results)
        res.review.save(out / f"{e.name}.review.json")
        summary[e.name] = {
            "frames": n_frames,
            "tracks": int(len(res.labels.track_ids())),
            "boxes": int(res.labels.num_boxes()),
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
    return summary


def register(app: typer.Typer) -> None:
    @app.command("track")
    def track_cmd(
        fmt: str = typer.Option("kitti", "--format", help="Input/output format (kitti)."),
        detections: Path = typer.Option(..., "--detections", help="Folder of <seq>.txt detection files."),
        calib: Path = typer.Option(..., "--calib", help="Folder of <seq>.txt KITTI calibration files."),
        seqmap: Path = typer.Option(..., "--seqmap", help="Devkit seqmap listing the sequences."),
        cls: str = typer.Option("Car", "--class", help="Object class: Car, Pedestrian or Cyclist."),
        out: Path = typer.Option(..., "--out", help="Output folder: <seq>.txt results and <seq>.review.json."),
    ) -> None:
        """Track detections into persistent-ID cuboid tracks and write a review queue per sequence."""
        if fmt != "kitti":
            raise typer.BadParameter(f"--format {fmt!r} is not supported (kitti)")
        summary = track_kitti(detections, calib, seqmap, cls, out)
        frames = sum(v["frames"] for v in summary.values())
        queued = sum(v["queued"] for v in summary.values())
        tracks = sum(v["tracks"] for v in summary.values())
        typer.echo(
            f"{len(summary)} sequences, {frames} frames, {tracks} {cls} tracks; "
            f"review queue {queued} frames ({100.0 * queued / max(frames, 1):.1f}%) -> {out}"
        )
