"""``fusionlabel adapt RECORDING --labels SEED --out DIR``: learn from the annotator's frames.

Fine-tunes the learned detector on the frames of SEED an annotator labelled or corrected, then
pre-labels the recording again, keeping SEED's frames as they are, and writes
``DIR/<name>/labels.json``, ``labels.review.json``, ``adapted.pt`` (with its provenance) and
``report.json`` (:func:`fusionlabel.pipeline.adapt.adapt`). ``fusionlabel open DIR/<name>``
reviews the result.
"""

from __future__ import annotations

from pathlib import Path

import typer


def adapt_cmd(
    recording: Path = typer.Argument(..., help="The recording to adapt to and pre-label again."),
    labels: Path = typer.Option(
        ...,
        "--labels",
        "-l",
        help="SEED: native label file (or prelabel output folder) with the frames an annotator labelled or corrected.",
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder (DIR/<name>/ is written)."),
    detector: str = typer.Option("pillars", "--detector", "-d", help="The learned detector to fine-tune."),
    weights: Path | None = typer.Option(None, "--weights", help="Base weights (default: the detector's own)."),
    epochs: int = typer.Option(8, "--epochs", min=1, help="Epochs of --samples-per-epoch augmented seed frames."),
    samples_per_epoch: int = typer.Option(32, "--samples-per-epoch", min=1, help="Augmented frames per epoch."),
    lr: float = typer.Option(2e-3, "--lr", help="Peak learning rate (one-cycle schedule)."),
    device: str = typer.Option("auto", "--device", help="auto (CUDA when present), cpu or cuda[:N]."),
    seed: int = typer.Option(0, "--seed", help="Seed of the augmentation and the data order."),
    min_points: int = typer.Option(3, "--min-points", min=0, help="Do not train on boxes with fewer LiDAR points."),
    copy_paste: bool = typer.Option(
        True, "--copy-paste/--no-copy-paste", help="Paste labelled objects into the training frames."
    ),
    paste_objects: int = typer.Option(3, "--paste-objects", min=1, help="Most objects pasted into a frame."),
    threads: int | None = typer.Option(None, "--threads", min=1, help="torch CPU threads (default: torch's)."),
    score_threshold: float = typer.Option(0.3, "--score-threshold", min=0.0, max=1.0, help="Operating point."),
    skip_unknown_classes: bool = typer.Option(
        False, "--skip-unknown-classes", help="Keep seed boxes of classes the detector lacks without training on them."
    ),
    refine: bool = typer.Option(True, "--refine/--no-refine", help="Offboard track refinement of the new pre-labels."),
    overwrite: bool = typer.Option(
        False, "--overwrite", help="Redo an existing output (an annotator's files are backed up first)."
    ),
) -> None:
    """Fine-tune the learned detector on the annotator's frames and pre-label the recording again."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn

    from fusionlabel.commands._training import check_training_options
    from fusionlabel.core.errors import DataError
    from fusionlabel.detect.adaptation import AdaptOptions
    from fusionlabel.pipeline.adapt import adapt

    check_training_options(device, lr)
    for p in (recording, labels):
        if not p.exists():
            raise DataError(p, "no such file or folder")
    opts = AdaptOptions(
        epochs=epochs,
        samples_per_epoch=samples_per_epoch,
        lr=lr,
        device=device,
        seed=seed,
        min_points=min_points,
        copy_paste=copy_paste,
        paste_objects=paste_objects,
        threads=threads,
    )
    with Progress(
        TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(), transient=False
    ) as progress:
        tasks: dict[str, TaskID] = {}

        def on_progress(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(phase, total=total)
            progress.update(tasks[phase], completed=done, total=total)

        res = adapt(
            recording,
            labels,
            out,
            detector=detector,
            weights=weights,
            options=opts,
            overwrite=overwrite,
            skip_unknown_classes=skip_unknown_classes,
            refine=refine,
            score_threshold=score_threshold,
            progress=on_progress,
        )
    r = res.report
    a = r.get("adaptation", {})
    print(
        f"adapted on {len(a.get('seed_frames', []))} seed frame(s) ({a.get('seed_boxes', 0)} boxes) in "
        f"{r['seconds_finetune']:.0f} s on {a.get('device', '?')}; {r['frames']} frames pre-labelled again: "
        f"{r['tracks']} tracks, {100 * r['review_load']:.1f} % of frames to review"
    )
    print(f"wrote {res.out_dir / 'labels.json'}, labels.review.json, {res.checkpoint.name}, report.json")


def register(app: typer.Typer) -> None:
    app.command("adapt")(adapt_cmd)
