"""``fusionlabel gold``: hidden reference frames in an annotator's queue, and the annotator's score.

    fusionlabel gold LABELS --reference REF.json --count 5 --manifest lead/gold.json
    fusionlabel gold --score --manifest lead/gold.json [LABELS] [--json]

The first mixes ``--count`` frames that REF labels into the review queue of LABELS (a label file
or a ``prelabel`` output folder) as ordinary flagged frames and writes which they are to the
manifest, kept away from the annotator. The second scores what the annotator saved on them:
box IoU, misses, extras, ID consistency, time (:mod:`fusionlabel.pipeline.gold`).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fusionlabel.commands._frames import parse_frames, shown


def gold_cmd(
    labels: Path | None = typer.Argument(None, help="The annotator's label file (or prelabel output folder)."),
    manifest: Path = typer.Option(..., "--manifest", "-m", help="The gold manifest (kept away from the annotator)."),
    reference: Path | None = typer.Option(None, "--reference", "-r", help="Reference label file (native)."),
    count: int = typer.Option(5, "--count", "-n", min=1, help="Gold frames to mix in."),
    frames: str | None = typer.Option(
        None, "--frames", help="Exactly these frames (comma-separated, numbered from 1 as the window shows them)."
    ),
    seed: int = typer.Option(0, "--seed", help="Seed of the frame choice and of their queue entries."),
    score: bool = typer.Option(False, "--score", help="Score the annotator's work on the manifest's gold frames."),
    iou: float = typer.Option(0.25, "--iou", min=0.0, max=1.0, help="3D IoU a box match needs (--score)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (--score)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --manifest (when mixing)."),
) -> None:
    """Mix hidden reference frames into an annotator's queue, or score the annotator on them."""
    from fusionlabel.pipeline.gold import mix_gold, score_gold

    if score:
        res = score_gold(manifest, labels, iou).summary()
        if as_json:
            typer.echo(json.dumps(res, indent=1))
            return
        iou_txt = "-" if res["mean_iou"] is None else f"{res['mean_iou']:.3f}"
        idc = "-" if res["id_consistency"] is None else f"{100 * res['id_consistency']:.1f} %"
        spf = "-" if res["seconds_per_frame"] is None else f"{res['seconds_per_frame']:.0f} s"
        print(
            f"{res['labels']}: {res['gold_frames']} gold frame(s), {res['resolved']} resolved and scored, "
            f"{res['open']} still open; "
            f"{res['matched']} of {res['reference_boxes']} reference boxes matched (mean 3D IoU {iou_txt}), "
            f"{res['misses']} missed, {res['extras']} extra, {res['class_errors']} of another class; "
            f"ID consistency {idc} ({res['id_pairs']} pairs); {spf} per resolved frame"
        )
        print(
            f"  {'frame':>6}  {'ref':>4}  {'ann':>4}  {'IoU':>5}  {'miss':>4}  {'extra':>5}  {'state':<8}  {'s':>6}  by"
        )
        for f in res["frames"]:
            print(
                f"  {shown(f['frame']):>6}  {f['reference_boxes']:>4}  {f['annotator_boxes']:>4}  "
                f"{'-' if f['mean_iou'] is None else format(f['mean_iou'], '.3f'):>5}  {f['misses']:>4}  "
                f"{f['extras']:>5}  {f['state'] or '-':<8}  {'-' if f['seconds'] is None else format(f['seconds'], '.0f'):>6}  "
                f"{f['resolved_by'] or 'open'}"
            )
        if res.get("warning"):
            print(f"warning: {res['warning']}")
        return
    if labels is None or reference is None:
        raise typer.BadParameter("mixing gold frames needs LABELS and --reference (or pass --score)")
    chosen = parse_frames(frames, "--frames") if frames else None
    got = mix_gold(labels, reference, manifest, count, chosen, seed, force=force)
    print(f"mixed {len(got)} gold frame(s) into the queue of {labels}, unmarked; which ones: {manifest}")


def register(app: typer.Typer) -> None:
    app.command("gold")(gold_cmd)
