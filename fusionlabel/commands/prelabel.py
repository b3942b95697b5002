"""``fusionlabel prelabel RECORDING... --detector NAME --out DIR``: batch pre-labeling.

Runs recordings in parallel local processes (``--jobs``) or as Ray tasks (``--ray ADDRESS``),
shows a progress bar, writes each recording's labels atomically and resumes where a previous run
stopped (recordings done with the same configuration are skipped). An existing output that an
annotator touched, or that was made with another configuration (detector, weights, classes,
view, tracker settings), is never replaced without ``--overwrite``, and with it the touched files
are kept in ``OUT/<name>/backups/`` (:mod:`fusionlabel.pipeline.batch`). A failed or refused
recording is reported with its reason and the rest finish; the exit status is 2 when any failed
or was refused. A detector call past ``--timeout`` seconds kills the detector's worker process and
disables it for the rest of the run (the recordings left are reported failed, not run).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import typer


def prelabel_cmd(
    recordings: list[Path] = typer.Argument(..., help="Recordings (folders or files) to pre-label."),
    detector: str = typer.Option(
        "geometric", "--detector", "-d", help="Registered detector (see `fusionlabel plugins`)."
    ),
    out: Path = typer.Option(..., "--out", "-o", help="Output folder: one sub-folder per recording."),
    weights: Path | None = typer.Option(
        None,
        "--weights",
        help="The detector's weights (pillars: a checkpoint; onnx: a model.onnx): its factory's 'weights' option.",
    ),
    option: list[str] | None = typer.Option(
        None,
        "--option",
        help="A detector factory option KEY=VALUE (VALUE read as JSON when it parses, else text); repeatable.",
    ),
    jobs: int = typer.Option(
        0, "--jobs", "-j", help="Local worker processes (0 = one per CPU, at most one per recording)."
    ),
    ray_address: str = typer.Option(None, "--ray", help="Distribute over Ray: an address, 'auto' or 'local'."),
    classes: str = typer.Option(None, "--classes", help="Comma-separated classes to track (default: the detector's)."),
    view: str = typer.Option(
        None,
        "--view",
        help="Label what this camera shows (e.g. image_02): track ends mostly outside its picture are left out.",
    ),
    overwrite: bool = typer.Option(
        False,
        "--overwrite",
        help="Redo recordings already done or made with another "
        "configuration; labels an annotator touched are kept as a backup first.",
    ),
    timeout: float = typer.Option(
        60.0,
        "--timeout",
        min=0.001,
        help="Seconds one detector call may take per frame; a detector past it is killed and disabled "
        "for the rest of the run.",
    ),
    refine: bool = typer.Option(
        True,
        "--refine/--no-refine",
        help="Offboard track refinement: one size per track, one world pose for static objects, heading "
        "from motion, tracks extended where the object is seen but was not detected.",
    ),
    as_json: bool = typer.Option(False, "--json", help="Print the reports as one JSON list."),
) -> None:
    """Detect, track, refine and queue frames for review on many recordings."""
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from fusionlabel.core.errors import DataError
    from fusionlabel.detect.registry import find_entry
    from fusionlabel.pipeline.batch import expected_config, output_status, plan_jobs, run_local, run_ray

    find_entry(detector)  # unknown detector: one clear line before any work
    det_options = parse_options(option or [])
    if weights is not None:
        if not weights.exists():
            raise DataError(weights, "no such weights file")
        det_options["weights"] = str(weights.resolve())
    missing = [r for r in recordings if not r.exists()]  # reported as failed; the others still run
    if len(missing) == len(recordings):
        raise DataError(missing[0], "no such file or folder")
    recordings = [r for r in recordings if r.exists()]
    out.mkdir(parents=True, exist_ok=True)
    all_jobs = plan_jobs(recordings, out)
    cls = tuple(c.strip() for c in classes.split(",") if c.strip()) if classes else None
    if cls:  # a typo would track nothing and report "done"
        from fusionlabel.detect.registry import create_detector

        known = tuple(create_detector(detector, det_options or None).info.classes)
        unknown = [c for c in cls if known and c not in known]
        if unknown:
            raise typer.BadParameter(
                f"{', '.join(unknown)}: not a class of {detector} (it has {', '.join(known)})", param_hint="--classes"
            )
    config = expected_config(detector, cls, view, refine, det_options or None)
    statuses = [output_status(j, config, overwrite) for j in all_jobs]
    todo = [j for j, st in zip(all_jobs, statuses) if st.action == "run"]
    skipped = sum(st.action == "skip" for st in statuses)
    refused = [st.reason for st in statuses if st.action == "refuse"]
    import shutil

    con = Console(stderr=True, soft_wrap=True, width=shutil.get_terminal_size((160, 40)).columns)
    if skipped:
        con.print(f"resuming: {skipped} of {len(all_jobs)} recordings already done (use --overwrite to redo)")
    for reason in refused:
        con.print(f"[red]refused[/red] {reason}", markup=True, highlight=False)
    for r in missing:
        con.print(f"[red]failed[/red] {r}: no such file or folder", markup=True, highlight=False)
    failed = 0
    reports: list[dict[str, Any]] = [
        {"status": "failed", "recording": str(r), "error": "no such file or folder"} for r in missing
    ]
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=con,
        disable=as_json or not todo,
    ) as progress:
        task = progress.add_task(f"pre-labeling with {detector}", total=len(todo))

        def on_done(job, rep):
            nonlocal failed
            progress.advance(task)
            if rep["status"] != "ok":
                failed += 1
                progress.console.print(
                    f"[red]{rep['status']}[/red] {job.recording}: {rep['error']}", markup=True, highlight=False
                )
            else:
                bad = len(rep["failed_frames"])
                progress.console.print(
                    f"done {job.recording}: {rep['frames']} frames, {rep['tracks']} tracks, "
                    f"{rep['review_load'] * 100:.1f}% of frames to review, {rep['fps']} fps"
                    + (f"; {bad} frame(s) failed, first: {rep['failed_frames'][0]}" if bad else "")
                    + (f"; class(es) failed: {'; '.join(rep['failed_classes'])}" if rep.get("failed_classes") else "")
                    + (f"; the annotator's files were backed up to {rep['backup']}" if rep.get("backup") else ""),
                    highlight=False,
                )
            reports.append(rep)

        if ray_address and todo:
            run_ray(
                todo,
                detector,
                ray_address,
                cls,
                on_done,
                view=view,
                overwrite=overwrite,
                timeout_s=timeout,
                refine=refine,
                detector_options=det_options or None,
            )
        elif todo:
            workers = jobs or min(os.cpu_count() or 1, len(todo))
            run_local(
                todo,
                detector,
                workers,
                cls,
                on_done,
                view=view,
                overwrite=overwrite,
                timeout_s=timeout,
                refine=refine,
                detector_options=det_options or None,
            )
    if as_json:
        typer.echo(json.dumps(reports, indent=1))
    con.print(
        f"{len(todo) - failed} done, {failed + len(missing)} failed, {len(refused)} refused, {skipped} skipped; "
        f"outputs in {out}"
    )
    if failed or refused or missing:
        raise typer.Exit(code=2)


def parse_options(items: list[str]) -> dict[str, Any]:
    """``["score_threshold=0.4", "device=cpu"]`` -> ``{"score_threshold": 0.4, "device": "cpu"}``.

    >>> parse_options(["score_threshold=0.4", 'lidars=["top"]', "device=cpu"])
    {'score_threshold': 0.4, 'lidars': ['top'], 'device': 'cpu'}
    """
    out: dict[str, Any] = {}
    for item in items:
        key, sep, value = item.partition("=")
        if not sep or not key.strip():
            raise typer.BadParameter(f"{item!r} is not KEY=VALUE", param_hint="--option")
        try:
            out[key.strip()] = json.loads(value)
        except ValueError:
            out[key.strip()] = value
    return out


def register(app: typer.Typer) -> None:
    app.command("prelabel")(prelabel_cmd)
