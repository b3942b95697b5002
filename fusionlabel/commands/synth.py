"""``fusionlabel synth OUT --frames N --seed S``: write a synthetic recording with exact ground truth."""

from __future__ import annotations

from pathlib import Path

import typer


def synth(
    out: Path = typer.Argument(..., help="Folder to create (must not exist or be empty)."),
    frames: int = typer.Option(20, "--frames", min=1, help="Number of LiDAR frames."),
    seed: int = typer.Option(0, "--seed", help="Random seed: same seed, same bytes."),
    overwrite: bool = typer.Option(False, "--overwrite", help="Replace OUT if it holds a FusionLabel recording."),
    lidar: str = typer.Option("hdl32e", "--lidar", help="Beam pattern: hdl32e (32 beams), vlp16 or hdl64e."),
    azimuth_steps: int = typer.Option(
        512,
        "--azimuth-steps",
        min=16,
        max=20000,
        help="Rays per revolution per beam (512: 0.7 deg; a real HDL-32E: ~2200).",
    ),
    ego_height: float = typer.Option(
        0.0, "--ego-height", help="Height (m) of the ego origin above the ground (1.84: at the LiDAR, as KITTI)."
    ),
    label_range: float = typer.Option(
        80.0, "--label-range", min=1.0, help="Objects farther than this (m) from the ego are not labelled."
    ),
    vehicle_classes: bool = typer.Option(
        False, "--vehicle-classes", help="Also draw vans, trucks and buses, moving and parked (off: the classic seeds)."
    ),
) -> None:
    """Generate a synthetic camera + LiDAR + radar recording with ground-truth tracks."""
    from rich.progress import Progress

    from fusionlabel.core.errors import DataError
    from fusionlabel.synth import generate

    with Progress(transient=True) as progress:
        task = progress.add_task("synthesising", total=None)
        try:
            path = generate(
                out,
                frames=frames,
                seed=seed,
                overwrite=overwrite,
                lidar=lidar,
                azimuth_steps=azimuth_steps,
                ego_height=ego_height,
                vehicle_classes=vehicle_classes,
                label_range_m=label_range,
                progress=lambda done, total: progress.update(task, completed=done, total=total),
            )
        except ValueError as exc:
            raise typer.BadParameter(str(exc)) from None
        except FileExistsError as exc:
            reason = str(exc).removeprefix(f"{out}: ").replace("pass overwrite=True", "pass --overwrite")
            raise DataError(out, reason) from None
    print(f"wrote {frames} frames to {path}")


def register(app: typer.Typer) -> None:
    app.command("synth")(synth)
