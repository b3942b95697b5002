"""``fusionlabel compare``: agreement between two annotators' labels, and their consensus.

::

    fusionlabel compare A B [--format F] [--recording R] [--consensus OUT.json [--force]] [--json]
                            [--match-iou 0.3] [--agree-iou 0.7] [--top N]

Matches boxes per frame by 3D IoU and tracks by identity
(:func:`fusionlabel.quality.compare.compare_labels`), prints mean IoU, ID consistency, missing
and extra objects and the disagreements to review; ``--consensus`` writes the boxes both agree
on as a native label file.
"""

from __future__ import annotations

import json
from pathlib import Path

import typer

from fusionlabel.commands._frames import shown as frame_no


def compare(
    a: Path = typer.Argument(..., help="Labels of annotator A."),
    b: Path = typer.Argument(..., help="Labels of annotator B."),
    fmt: str | None = typer.Option(None, "--format", help="Label format of both (default: sniffed)."),
    recording: Path | None = typer.Option(None, "--recording", help="Recording (for formats that need it)."),
    consensus: Path | None = typer.Option(None, "--consensus", help="Write the consensus as a native label file."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --consensus file."),
    match_iou: float = typer.Option(0.3, "--match-iou", min=0.0, max=1.0, help="3D IoU to match two boxes."),
    agree_iou: float = typer.Option(0.7, "--agree-iou", min=0.0, max=1.0, help="3D IoU to agree on a box."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
    top: int = typer.Option(30, "--top", min=0, help="Disagreements to print (0: all)."),
) -> None:
    """Compare two label sets: box IoU, ID consistency, missing/extra objects, consensus."""
    from fusionlabel.io.label_formats import load_labels
    from fusionlabel.quality.compare import compare_labels

    if consensus is not None:
        from fusionlabel.io.session import check_replaceable

        check_replaceable(consensus, force)  # before the work: an annotator's file is never replaced
    la, ctx = load_labels(a, fmt, recording)
    lb, _ = load_labels(b, fmt, recording)
    r = compare_labels(la.labels, lb.labels, match_iou, agree_iou)
    if consensus is not None:
        from fusionlabel.io.native_labels import write_labels
        from fusionlabel.io.session import replace_label_file

        times = {k: int(v) for k, v in ctx.timestamps_ns.items() if k in r.consensus.frames}
        replace_label_file(consensus, force, lambda: write_labels(r.consensus, consensus, times or None))
    if as_json:
        typer.echo(json.dumps(r.to_dict(), allow_nan=False))
        return
    g = r.agreement
    typer.echo(f"A {g.boxes_a} boxes / {g.tracks_a} tracks, B {g.boxes_b} boxes / {g.tracks_b} tracks")
    typer.echo(
        f"matched {g.matched}, missing from B {g.missing}, extra in B {g.extra}; mean 3D IoU {g.mean_iou:.3f}; "
        f"ID consistency {100 * g.id_consistency:.1f} %; category mismatches {g.category_mismatches}; "
        f"consensus {g.consensus_boxes} boxes"
    )
    shown = r.disagreements if top == 0 else r.disagreements[:top]
    for d in shown:
        typer.echo(f"  frame {frame_no(d.frame):<6d} {d.kind:<9s} A {d.track_a}  B {d.track_b}  {d.detail}")
    if len(shown) < len(r.disagreements):
        typer.echo(f"  ... {len(r.disagreements) - len(shown)} more disagreements (--top 0 shows all)")


def register(app: typer.Typer) -> None:
    app.command("compare")(compare)
