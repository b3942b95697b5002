"""``fusionlabel review LABELS... [--json]``: where the review of pre-labelled recordings stands.

For each label file (or ``prelabel`` output folder): the flagged frames with their reasons and
states, and how many are still open. ``--json`` prints one object per label file
(:func:`fusionlabel.pipeline.review_status.review_summary`, with a ``flagged_frames`` list); for
several files, a JSON list of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer


def _reasons(rs: list[dict[str, Any]]) -> str:
    return (
        "; ".join(
            f"track {r.get('track_id', '?')} {r.get('reason', '?')} ({float(r.get('severity', 0)):.2f})" for r in rs
        )
        or "-"
    )


def format_review(s: dict[str, Any]) -> str:
    """Human-readable text of :func:`review_summary` (frame numbers as in the files: 0-based)."""
    st = s["states"]
    lines = [
        f"{s['labels']}: {s['flagged']} flagged frame(s) of {s['num_frames']} "
        f"({100 * s['review_load']:.1f} %), {s['open']} open, {s['resolved']} resolved; "
        f"{st['proposed']} proposed, {st['accepted']} accepted, {st['edited']} edited"
        + ("  [done]" if s["done"] else "")
    ]
    if s["flagged_frames"]:
        lines.append(f"  {'frame':>6}  {'score':>6}  {'state':<8}  {'status':<36}  reasons")
    for f in s["flagged_frames"]:
        r = f["resolution"]
        status = "open" if r is None else f"resolved by {r['user']} {r['time']}"
        lines.append(f"  {f['frame']:>6}  {f['score']:>6.3f}  {f['state']:<8}  {status:<36}  {_reasons(f['reasons'])}")
    return "\n".join(lines)


def review_cmd(
    labels: list[Path] = typer.Argument(..., help="Label files (or prelabel output folders holding labels.json)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (a list of them for several files)."),
) -> None:
    """List the flagged frames of pre-labelled recordings with their reasons and states, and how many are open."""
    from fusionlabel.pipeline.review_status import review_summary

    out = [review_summary(p) for p in labels]
    if as_json:
        typer.echo(json.dumps(out[0] if len(out) == 1 else out, indent=1))
    else:
        typer.echo("\n".join(format_review(s) for s in out))


def register(app: typer.Typer) -> None:
    app.command("review")(review_cmd)
