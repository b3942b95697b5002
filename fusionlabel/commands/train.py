"""``fusionlabel train --recordings REC [REC ...] --out model.pt``: train the ``pillars`` detector.

Example (a network on synthetic recordings of one sensor; the shipped weights' exact recipe, three
sensors, is in ``fusionlabel/detect/pillars/README.md``)::

    for s in $(seq 100 115); do
        fusionlabel synth /tmp/synth/train_$s --frames 40 --seed $s --vehicle-classes --label-range 100
    done
    fusionlabel train --recordings /tmp/synth/train_* --out model.pt --epochs 10 --device cpu --threads 2

Trains a PointPillars / CenterPoint network (:mod:`fusionlabel.detect.pillars`) on any labelled
recordings and writes a checkpoint that ``create(weights=...)`` of the ``pillars`` detector loads
(``--detector pillars --option weights=model.pt`` in the pipeline). torch is imported only when
the command runs.
"""

from __future__ import annotations

import shlex
import sys
from pathlib import Path

import typer

from fusionlabel.detect.pillars.config import DEFAULT_CLASSES


def train(
    recordings: list[Path] = typer.Option(
        ..., "--recordings", help="Labelled recordings: --recordings A B C (or repeat the flag)."
    ),
    more: list[Path] | None = typer.Argument(
        None, help="More recordings (the values after --recordings land here).", show_default=False
    ),
    out: Path = typer.Option(..., "--out", help="Checkpoint to write (.pt)."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out checkpoint."),
    epochs: int = typer.Option(20, "--epochs", min=1, help="Passes over all frames."),
    batch_size: int = typer.Option(4, "--batch-size", min=1, help="Frames per step."),
    lr: float = typer.Option(3e-3, "--lr", help="Peak learning rate (one-cycle schedule)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda[:N]."),
    seed: int = typer.Option(0, "--seed", help="Seed of initialisation, order and augmentation."),
    min_points: int = typer.Option(5, "--min-points", min=0, help="Ignore boxes with fewer LiDAR points."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="torch CPU threads (default: torch's)."),
    reach: float = typer.Option(
        100.0, "--range", min=8.0, max=500.0, help="Half-extent (m) of the square grid around the ego the network sees."
    ),
    classes: str = typer.Option(
        ",".join(DEFAULT_CLASSES), "--classes", help="Comma-separated classes, one heatmap each (label names)."
    ),
    window: float = typer.Option(
        80.0, "--window", min=0.0, help="Train each batch on a random window of this edge (m); 0: the whole grid."
    ),
) -> None:
    """Train the built-in `pillars` detector (PointPillars + CenterPoint head) on labelled recordings."""
    from rich.progress import (
        BarColumn,
        MofNCompleteColumn,
        Progress,
        TaskID,
        TextColumn,
        TimeElapsedColumn,
        TimeRemainingColumn,
    )

    from fusionlabel.commands._training import check_training_options
    from fusionlabel.detect.pillars.config import PillarsConfig
    from fusionlabel.detect.pillars.train import TrainOptions
    from fusionlabel.detect.pillars.train import train as run_train

    check_training_options(device, lr)
    opts = TrainOptions(
        epochs=epochs,
        batch_size=batch_size,
        lr=lr,
        seed=seed,
        device=device,
        min_points=min_points,
        threads=threads,
        window_m=window or None,
    )
    names = tuple(c.strip() for c in classes.split(",") if c.strip())
    try:
        config = PillarsConfig(classes=names, x_range=(-reach, reach), y_range=(-reach, reach))
    except ValueError as exc:
        raise typer.BadParameter(str(exc)) from None
    if out.exists() and not force:  # a trained model is hours of work
        from fusionlabel.core.errors import DataError

        raise DataError(out, "exists: pass --force to replace it, or choose another --out")
    command = "fusionlabel train " + " ".join(shlex.quote(a) for a in sys.argv[2:]) if len(sys.argv) > 2 else ""
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[loss]}"),
        TimeElapsedColumn(),
        TimeRemainingColumn(),
        transient=False,
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_progress(phase: str, done: int, total: int, loss: float | None) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(phase, total=total, loss="")
            progress.update(tasks[phase], completed=done, total=total, loss="" if loss is None else f"loss {loss:.3f}")

        result = run_train([Path(r) for r in [*recordings, *(more or [])]], out, opts, config, on_progress, command)
    losses = ", ".join(f"{x:.3f}" for x in result.epoch_losses)
    per_class = result.meta["training"]["boxes_per_class"]
    print(
        f"wrote {result.path} ({result.path.stat().st_size / 1e6:.2f} MB): {result.samples} frames, "
        f"{result.steps} steps on {result.device} in {result.seconds:.0f} s; epoch losses {losses}"
    )
    print("boxes trained on: " + ", ".join(f"{c} {n}" for c, n in per_class.items()))
    empty = [c for c, n in per_class.items() if n == 0]
    if empty:
        print(
            f"warning: no box of {', '.join(empty)} with >= {min_points} LiDAR points in these recordings: "
            "the network will not detect them (check --classes against the label names)",
            file=sys.stderr,
        )


def register(app: typer.Typer) -> None:
    app.command("train")(train)
