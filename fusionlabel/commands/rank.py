"""``fusionlabel rank RECORDING... [--budget N] [--json]``: the frames to label next.

Scores every frame by the detector's uncertainty (score entropy, disagreement between test-time
rotated and Monte Carlo dropout passes, the tracker's ambiguity) and lists the ``--budget``
frames to label first, spread apart, and the recordings by their mean score
(:func:`fusionlabel.pipeline.rank.rank`). Frame numbers are 0-based, as in the label files.
Label those frames, then ``fusionlabel adapt`` learns from them.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from fusionlabel.commands._frames import shown as frame_no


def rank_cmd(
    recordings: list[Path] = typer.Argument(..., help="Recordings to rank."),
    budget: int = typer.Option(10, "--budget", "-n", min=1, help="Frames to select."),
    detector: str = typer.Option("pillars", "--detector", "-d", help="Registered detector whose doubt is measured."),
    weights: Path | None = typer.Option(None, "--weights", help="The detector's weights (its 'weights' option)."),
    passes: int = typer.Option(4, "--passes", min=1, help="Views per frame for the disagreement (1: none)."),
    mc_dropout: float = typer.Option(
        0.1, "--mc-dropout", min=0.0, max=0.9, help="Monte Carlo dropout of the passes (detectors that take it)."
    ),
    min_gap: int | None = typer.Option(
        None,
        "--min-gap",
        min=0,
        help="Frames between two selected frames (default: a tenth of the shortest recording).",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object."),
) -> None:
    """Rank frames and recordings to label next by model uncertainty."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fusionlabel.core.errors import DataError
    from fusionlabel.pipeline.rank import rank

    options = {}
    if weights is not None:
        if not weights.exists():
            raise DataError(weights, "no such weights file")
        options["weights"] = str(weights.resolve())
    con = Console(stderr=True)
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=con,
        disable=as_json,
        transient=True,
    ) as progress:
        task = progress.add_task("scoring frames", total=None)
        res = rank(
            recordings,
            budget,
            detector=detector,
            detector_options=options or None,
            passes=passes,
            mc_dropout=mc_dropout,
            min_gap=min_gap,
            progress=lambda d, t: progress.update(task, completed=d, total=t),
        )
    for s in res.skipped:  # the others are ranked
        typer.echo(f"error: {s['error']}", err=True)
    if as_json:
        typer.echo(json.dumps(res.to_dict(), indent=1))
    else:
        _print(res)
    if res.skipped:
        raise typer.Exit(code=1)


def _print(res: Any) -> None:
    print(f"frames to label next ({len(res.selected)} of {len(res.frames)}; min gap {res.config['min_gap']}):")
    print(f"  {'#':>3}  {'frame':>6}  {'score':>6}  {'entropy':>8}  {'disagree':>8}  {'ambig':>6}  recording")
    for i, f in enumerate(res.selected, 1):
        print(
            f"  {i:>3}  {frame_no(f.frame):>6}  {f.score:>6.3f}  {f.entropy:>8.2f}  {f.disagreement:>8.2f}  "
            f"{f.ambiguity:>6.3f}  {f.recording}"
        )
    print("recordings by mean frame score:")
    for row in res.recordings:
        print(f"  {row['score']:>6.3f}  {row['frames']:>5} frames, {row['selected']} selected  {row['recording']}")


def register(app: typer.Typer) -> None:
    app.command("rank")(rank_cmd)
