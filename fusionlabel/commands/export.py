"""``fusionlabel export`` and ``fusionlabel import``: labels to and from interchange formats.

::

    fusionlabel export --format openlabel|kitti|nuscenes|nuscenes-tracking|native LABELS --recording R --out PATH
                       [--recompute-2d] [--nuscenes-version V] [--identity-pose] [--copy-images] [--schema FILE]
    fusionlabel import [--format auto|F] PATH [--recording R] --out LABELS [--force]

``LABELS`` is a native label file (any version: older ones are migrated on read). ``--recording``
gives the frame times, ego poses (nuScenes: required), the rig (OpenLABEL streams) and the KITTI
camera frame. ``export --format kitti --out DIR`` writes ``DIR/label_02/0000.txt`` and
``DIR/calib/0000.txt``; ``--out FILE.txt`` the label file only. ``export --format nuscenes --out
DIR`` writes a nuScenes dataroot (``DIR/<version>/`` with the 13 tables, ``DIR/samples/``, a map)
that ``nuscenes.NuScenes(version, DIR)`` loads; ``--format nuscenes-tracking --out FILE.json`` the
pre-labels as the devkit's tracking results (same sample tokens). ``import`` reads the whole input
(validating it) before it writes ``--out`` once, atomically: a bad file leaves nothing behind.
It refuses to replace an existing ``--out`` without ``--force``. ``--format auto`` (the default)
sniffs the format; the labelling tools' files import too (``sustechpoints``, ``labelcloud``,
``cvat-datumaro``, ``cvat-kitti``, ``supervisely``, ``segments``, ``xtreme1``: their LiDAR-frame
boxes go to the ego frame with ``--recording``'s rig, frames matched by name). Formats:
``docs/label_formats.md``.
"""

from __future__ import annotations

from pathlib import Path

import typer

from fusionlabel.core.errors import UnsupportedFormatError
from fusionlabel.io.label_formats import load_labels


def export(
    labels: Path = typer.Argument(..., help="Native label file (any version), or a prelabel output folder."),
    fmt: str = typer.Option(
        ...,
        "--format",
        help="openlabel, kitti, nuscenes, nuscenes-tracking, native, or a labelling tool's: sustechpoints, "
        "labelcloud, cvat-datumaro, cvat-kitti, supervisely, segments, xtreme1.",
    ),
    recording: Path | None = typer.Option(None, "--recording", help="Recording the labels belong to."),
    out: Path = typer.Option(
        ...,
        "--out",
        help="Output file (openlabel, native, nuscenes-tracking, kitti *.txt) or folder (nuscenes dataroot, kitti).",
    ),
    recompute_2d: bool = typer.Option(
        False,
        "--recompute-2d",
        help="KITTI: compute alpha, the 2D box, truncation and occlusion from the geometry "
        "even where the labels carry them.",
    ),
    scores: bool | None = typer.Option(
        None,
        "--scores/--no-scores",
        help="KITTI: write the score column (default: for pre-labels, i.e. proposed boxes or scores other than 1).",
    ),
    nuscenes_version: str | None = typer.Option(
        None, "--nuscenes-version", help="nuScenes: the version folder (default v1.0-fusionlabel)."
    ),
    identity_pose: bool = typer.Option(
        False,
        "--identity-pose",
        help="nuScenes: a recording without ego poses is "
        "exported with the ego frame as the global frame (refused otherwise).",
    ),
    copy_images: bool = typer.Option(False, "--copy-images", help="nuScenes: copy camera images instead of linking."),
    schema: Path | None = typer.Option(
        None,
        "--schema",
        help="The project's label schema (default: label_schema.yaml beside LABELS): its attributes go "
        "where the format has a place for them (KITTI occluded/truncated, nuScenes attributes, OpenLABEL).",
    ),
) -> None:
    """Export labels to an interchange format."""
    from dataclasses import replace

    from fusionlabel.io.label_formats import NuScenesTablesFormat, NuScenesTrackingFormat, get_format

    try:
        strategy = get_format(fmt)
    except ValueError as exc:
        raise UnsupportedFormatError(out, str(exc)) from None
    if isinstance(strategy, NuScenesTablesFormat):
        strategy = NuScenesTablesFormat(version=nuscenes_version, identity_pose=identity_pose, copy_images=copy_images)
    elif isinstance(strategy, NuScenesTrackingFormat):
        strategy = NuScenesTrackingFormat(identity_pose=identity_pose)
    from fusionlabel.io.native_labels import resolve_label_path

    labels = resolve_label_path(labels)  # a label file or a prelabel output folder
    imported, ctx = load_labels(labels, "native", recording)
    ctx = replace(
        ctx, recompute_kitti_2d=recompute_2d, name=recording.name if recording else labels.stem, kitti_scores=scores
    )
    if imported.dont_care and not ctx.dont_care:
        ctx = replace(ctx, dont_care=imported.dont_care)
    from fusionlabel.io.label_schema import find_schema, read_schema

    schema_path = schema or find_schema([labels.parent])
    if schema_path is not None:
        ctx = replace(ctx, schema=read_schema(schema_path))  # a mistake: a typed error naming file and line
    if strategy.name == "native":  # an export replaces its output, but no annotator's session
        from fusionlabel.io.session import replace_label_file

        replace_label_file(out, True, lambda: strategy.write(out, imported.labels, ctx))
    else:
        strategy.write(out, imported.labels, ctx)
    typer.echo(
        f"wrote {out} ({strategy.name}): {imported.labels.num_boxes} boxes, {len(imported.labels)} frames, "
        f"{len(imported.labels.track_ids)} tracks"
    )
    report = getattr(strategy, "report", None)
    for problem in getattr(report, "problems", ()) or ():
        typer.echo(f"warning: {problem}", err=True)
    left_out = int(getattr(strategy, "left_out", 0))
    if left_out:
        typer.echo(f"note: {left_out} box(es) of classes outside nuScenes' tracking classes left out", err=True)
    from fusionlabel.pipeline.review_status import open_frames_line, review_summary_if_any

    review = review_summary_if_any(labels)
    line = open_frames_line(review) if review is not None else None
    if line:
        typer.echo(line, err=True)


def import_(
    path: Path = typer.Argument(..., help="The file or folder to import."),
    fmt: str = typer.Option(
        "auto",
        "--format",
        help="auto (sniffed), native, openlabel, kitti, nuscenes, nuscenes-tracking, sustechpoints, labelcloud, "
        "cvat-datumaro, cvat-kitti, supervisely, segments or xtreme1.",
    ),
    recording: Path | None = typer.Option(None, "--recording", help="Recording: times, poses, camera frame."),
    out: Path = typer.Option(..., "--out", help="Native label file to write."),
    force: bool = typer.Option(False, "--force", help="Replace an existing --out."),
) -> None:
    """Import labels from an interchange format into a native label file (all or nothing)."""
    from fusionlabel.io.native_labels import write_labels
    from fusionlabel.io.session import check_replaceable, replace_label_file

    check_replaceable(out, force)
    imported, ctx = load_labels(path, fmt, recording)
    times = {k: int(v) for k, v in (imported.timestamps_ns or ctx.timestamps_ns).items() if k in imported.labels.frames}
    replace_label_file(out, force, lambda: write_labels(imported.labels, out, times or None))
    typer.echo(
        f"wrote {out}: {imported.labels.num_boxes} boxes, {len(imported.labels)} frames, "
        f"{len(imported.labels.track_ids)} tracks"
    )


def register(app: typer.Typer) -> None:
    app.command("export")(export)
    app.command("import")(import_)
