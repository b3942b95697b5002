"""``fusionlabel info PATH``: what a recording holds, how well it is synchronised, what is broken.

Exit status: 0 = the recording is healthy; 2 = it opened but some parts are broken (each
problem printed with its file and reason; the rest is still reported); 1 = it cannot be
opened at all (one line on stderr naming the file and the reason).
"""

from __future__ import annotations

import json
from pathlib import Path

import typer


def info(
    path: Path = typer.Argument(..., help="A recording folder, or a point-cloud / bag / MCAP / radar file."),
    format: str = typer.Option(None, "--format", help="Force a reader (native, kitti-raw, kitti-tracking, ...)."),
    check: int = typer.Option(200, "--check", help="Load this many frames (evenly spaced) to find broken files."),
    check_all: bool = typer.Option(False, "--check-all", help="Load every frame."),
    as_json: bool = typer.Option(False, "--json", help="Print one JSON object instead of tables."),
) -> None:
    """Print a recording's sensors, frames, rate, time span, synchronisation, calibration and problems."""
    from fusionlabel.io.open import open_recording
    from fusionlabel.pipeline.inspect import check_frames, print_summary, sample_indices, summarize

    rec = open_recording(path, format=format)
    idx = sample_indices(len(rec), None if check_all else max(check, 0))
    fc = check_frames(rec, idx, progress=not as_json)
    s = summarize(rec, fc)
    if as_json:
        typer.echo(json.dumps(s, indent=1))
    else:
        print_summary(s)
    if s["problems"]:
        raise typer.Exit(code=2)


def register(app: typer.Typer) -> None:
    app.command("info")(info)
