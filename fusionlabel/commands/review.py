"""``fusionlabel review LABELS... [--json]``: where the review of pre-labelled recordings stands.

For each label file (or ``prelabel`` output folder): the flagged frames with their reasons,
states and review levels (annotator -> reviewer -> QA), and how many are still open.
``--sign-off reviewer|qa|annotator [--frames 3,7]`` records a level's approval (who: ``--user``
or ``$FUSIONLABEL_USER``, when: now), ``--send-back`` returns frames to the annotator
(:func:`fusionlabel.pipeline.review_status.sign_off_frames`). ``--json`` prints one object per label file
(:func:`fusionlabel.pipeline.review_status.review_summary`, with a ``flagged_frames`` list); for
several files, a JSON list of them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from fusionlabel.commands._frames import parse_frames, shown


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
    lv = s.get("levels")
    if lv:
        lines.append(
            f"  levels: {lv['none']} with the annotator, {lv['annotator']} annotated, {lv['reviewer']} reviewed, "
            f"{lv['qa']} QA-passed"
        )
    if s["flagged_frames"]:
        lines.append(f"  {'frame':>6}  {'score':>6}  {'state':<8}  {'level':<9}  {'status':<36}  reasons")
    for f in s["flagged_frames"]:
        r = f["resolution"]
        status = "open" if r is None else f"resolved by {r['user']} {r['time']}"
        level = f.get("level") or "-"
        lines.append(
            f"  {shown(f['frame']):>6}  {f['score']:>6.3f}  {f['state']:<8}  {level:<9}  {status:<36}  {_reasons(f['reasons'])}"
        )
    return "\n".join(lines)


def review_cmd(
    labels: list[Path] = typer.Argument(..., help="Label files (or prelabel output folders holding labels.json)."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object (a list of them for several files)."),
    sign_off: str | None = typer.Option(
        None, "--sign-off", help="Approve frames at this level: annotator, reviewer or qa (then list)."
    ),
    send_back: bool = typer.Option(False, "--send-back", help="Return frames to the annotator (with --frames)."),
    frames: str | None = typer.Option(
        None,
        "--frames",
        help="Comma-separated frames, numbered from 1 as the window shows them (default: every flagged frame at the level before).",
    ),
    user: str | None = typer.Option(None, "--user", help="Who signs off (default: $FUSIONLABEL_USER or the login)."),
    note: str = typer.Option("", "--note", help="A note with the sign-off."),
) -> None:
    """List the flagged frames of pre-labelled recordings with their reasons, states and review levels."""
    from fusionlabel.core.review import ReviewLevelError
    from fusionlabel.pipeline.review_status import review_summary, sign_off_frames

    if sign_off is not None or send_back:
        if send_back and frames is None:
            raise typer.BadParameter("name the frames to send back", param_hint="--frames")
        chosen = parse_frames(frames, "--frames") if frames else None
        for p in labels:
            try:
                done = sign_off_frames(p, sign_off or "reviewer", chosen, user, note, send_back)
            except ReviewLevelError as exc:
                typer.echo(f"error: {p}: {exc}", err=True)
                raise typer.Exit(code=1) from None
            what = "sent back to the annotator" if send_back else f"signed off at level {sign_off}"
            typer.echo(
                f"{p}: {len(done)} frame(s) {what}" + (f": {', '.join(str(shown(f)) for f in done)}" if done else ""),
                err=True,
            )

    from fusionlabel.core.errors import DataError

    out, failed = [], 0
    for p in labels:  # one broken file is reported; the others are still listed
        try:
            out.append(review_summary(p))
        except DataError as exc:
            typer.echo(f"error: {exc}", err=True)
            failed += 1
    if as_json:
        typer.echo(json.dumps(out[0] if len(out) == 1 and not failed else out, indent=1))
    elif out:
        typer.echo("\n".join(format_review(s) for s in out))
    if failed:
        raise typer.Exit(code=1)


def register(app: typer.Typer) -> None:
    app.command("review")(review_cmd)
