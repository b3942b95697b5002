"""``fusionlabel synth OUT --frames N --seed S``: write a synthetic recording with exact ground truth."""

from __future__ import annotations

from pathlib import Path

import typer


def synth(
    out: Path = typer.Argument(..., help="Folder to create (must not exist or be empty)."),
    frames: int = typer.Option(20, "--frames", min=1, help="Number of LiDAR frames."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same bytes."),
) -> None:
    """Generate a synthetic camera + LiDAR + radar recording with ground-truth tracks."""
    from fusionlabel.core.errors import DataError
    from fusionlabel.synth import generate

    if out.exists() and (not out.is_dir() or any(out.iterdir())):
        raise DataError(out, "output exists and is not an empty folder; choose a new path")
    from rich.progress import Progress

    with Progress(transient=True) as progress:
        task = progress.add_task("synthesising", total=frames)
        path = generate(out, frames=frames, seed=seed, progress=lambda i: progress.update(task, completed=i + 1))
    print(f"wrote {frames} frames to {path}")


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
