"""``fusionlabel qa``: rank statistically unlikely labels.

::

    fusionlabel qa LABELS [--format F] [--recording R] [--report out.html|out.png] [--json] [--top N]

Runs :func:`fusionlabel.quality.label_qa.check_labels`: size changes within a track, implausible
speed, acceleration or yaw rate, overlapping boxes, IDs reused after a gap and, with
``--recording``, boxes with LiDAR rays passing through them and boxes far from the ground.
Prints the findings ranked by score (``--json``: one JSON object). A native label file's review
file (:mod:`fusionlabel.io.review_file`) is read too: findings on flagged frames still open are
marked and the open count is printed (``--json``: a ``review`` object). Exit status 0 whether or
not there are findings; 1 with a one-line reason when the input cannot be read.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fusionlabel.commands._frames import shown as frame_no
from fusionlabel.core.errors import DataError


def qa(
    labels: Path = typer.Argument(..., help="Label file (native, openlabel, ...) or folder (nuscenes)."),
    fmt: str | None = typer.Option(None, "--format", help="Label format (default: sniffed)."),
    recording: Path | None = typer.Option(None, "--recording", help="Recording: LiDAR checks, poses, times."),
    report: Path | None = typer.Option(None, "--report", help="Write an HTML or PNG report."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    top: int = typer.Option(50, "--top", min=0, help="Findings to print (0: all)."),
) -> None:
    """Rank the labels that are statistically unlikely."""
    from fusionlabel.io.label_formats import load_labels
    from fusionlabel.quality.label_qa import check_labels

    if report is not None and report.suffix.lower() not in (".html", ".htm", ".png"):
        raise DataError(report, "the report must be an .html or .png file")
    imported, ctx = load_labels(labels, fmt, recording)
    rec = None
    if recording is not None:
        from fusionlabel.io.open import open_recording

        rec = open_recording(recording)
    rep = check_labels(imported.labels, ctx.timestamps_ns, ctx.ego_poses, rec)
    from fusionlabel.pipeline.review_status import open_frames_line, review_summary_if_any

    review = review_summary_if_any(labels) if (fmt in (None, "native")) else None
    open_frames = {f["frame"] for f in review["flagged_frames"] if f["open"]} if review else set()
    if report is not None:
        from fusionlabel.quality.report import write_qa_report

        write_qa_report(rep, imported.labels, report, title=f"label QA: {labels.name}")
    if as_json:
        d = rep.to_dict()
        if review is not None:
            d["review"] = {k: review[k] for k in ("review_file", "flagged", "open", "resolved", "states")}
            d["review"]["open_frames"] = sorted(open_frames)
        typer.echo(json.dumps(d, allow_nan=False))
        return
    shown = rep.findings if top == 0 else rep.findings[:top]
    typer.echo(
        f"{len(rep.findings)} findings in {rep.num_boxes} boxes, {rep.num_tracks} tracks "
        f"(checks: {', '.join(rep.checks)})"
    )
    for i, f in enumerate(shown, 1):
        frames = (
            f"{frame_no(f.frames[0])}" if len(f.frames) == 1 else f"{frame_no(f.frames[0])}-{frame_no(f.frames[-1])}"
        )
        on_open = " [on an open flagged frame]" if open_frames & {int(k) for k in f.frames} else ""
        typer.echo(f"{i:4d}  score {f.score:6.2f}  track {f.track_id:<6d} frames {frames:<10s} {f.reason}{on_open}")
    if len(shown) < len(rep.findings):
        typer.echo(f"... {len(rep.findings) - len(shown)} more (--top 0 shows all)")
    if report is not None:
        typer.echo(f"report: {report}")
    if review is not None:
        line = open_frames_line(review)
        typer.echo(line or f"review: all {review['flagged']} flagged frame(s) resolved")


def register(app: typer.Typer) -> None:
    app.command("qa")(qa)
