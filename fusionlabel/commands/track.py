"""``fusionlabel track``: link detections into persistent-ID tracks, with a review queue.

::

    fusionlabel track --format kitti --detections DIR --calib DIR --seqmap FILE --class Car --out DIR

Writes ``OUT/<seq>.txt`` (KITTI tracking results) and ``OUT/<seq>.review.json`` per sequence; the
work is :func:`fusionlabel.track.kitti.track_kitti`. Bad input ends the command with one line
naming the file.
"""

from __future__ import annotations

from pathlib import Path

import typer


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
        from fusionlabel.track.kitti import CLASSES, track_kitti

        if fmt != "kitti":
            raise typer.BadParameter(f"--format {fmt!r} is not supported (kitti)")
        if cls not in CLASSES:
            raise typer.BadParameter(f"--class must be one of {', '.join(CLASSES)}, got {cls!r}")
        summary = track_kitti(detections, calib, seqmap, cls, out)
        failed = {k: v["error"] for k, v in summary.items() if "error" in v}
        done = [v for v in summary.values() if "error" not in v]
        for why in failed.values():
            typer.echo(f"error: {why}", err=True)
        frames = sum(v["frames"] for v in done)
        queued = sum(v["queued"] for v in done)
        tracks = sum(v["tracks"] for v in done)
        typer.echo(
            f"{len(done)} sequences, {frames} frames, {tracks} {cls} tracks; "
            f"review queue {queued} frames ({100.0 * queued / max(frames, 1):.1f}%) -> {out}"
            + (f"; {len(failed)} sequence(s) failed" if failed else "")
        )
        if failed:
            raise typer.Exit(code=1)
