"""Batch pre-labeling over many recordings: local processes or Ray tasks, resumable, atomic.

For each input recording ``R`` the batch writes, under ``OUT/<name>/``::

    labels.json    the pre-labels (native label file, written atomically)
    review.json    the review queue (frames to check first, with reasons)
    report.json    written LAST, atomically: its presence with ``"status": "ok"`` marks the
                   recording done, so a re-run skips it (resume) unless ``overwrite``

``<name>`` is the recording folder's (or file's) name; when two inputs share a name a short hash
of the full path is appended. A failing recording (unreadable, a detector that cannot be built)
gets ``report.json`` with ``"status": "failed"`` and the reason; the others finish. Only
``report.json`` files with status ok count as done, so failed ones are retried next time.

The worker function :func:`prelabel_one` takes and returns plain data (paths, names, dicts), so
it runs unchanged in a local process pool or as a Ray task.
"""

from __future__ import annotations

import hashlib
import json
import time
import traceback
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable, Sequence

from fusionlabel.core.atomic import atomic_write_text
from fusionlabel.core.errors import FusionLabelError

REPORT = "report.json"
LABELS = "labels.json"
REVIEW = "review.json"


@dataclass(frozen=True)
class Job:
    """One recording to pre-label: input path and its output folder."""

    recording: Path
    out_dir: Path


def plan_jobs(recordings: Sequence[Path], out: Path) -> list[Job]:
    """Output folder per recording: its name, plus a path hash where names collide."""
    names = [Path(r).resolve().name.removesuffix(".json") or "recording" for r in recordings]
    jobs = []
    for r, n in zip(recordings, names):
        if names.count(n) > 1:
            n = f"{n}-{hashlib.sha1(str(Path(r).resolve()).encode()).hexdigest()[:8]}"
        jobs.append(Job(Path(r), out / n))
    return jobs


def is_done(job: Job, detector: str, view: str | None = None) -> bool:
    """True when ``report.json`` says this recording was pre-labeled with ``detector`` (and the
    labelled camera ``view``) successfully."""
    try:
        rep = json.loads((job.out_dir / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    return (rep.get("status") == "ok" and rep.get("detector") == detector and rep.get("view") == view
            and (job.out_dir / LABELS).is_file())


def prelabel_one(
    recording: str,
    out_dir: str,
    detector: str,
    classes: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    view: str | None = None,
) -> dict[str, Any]:
    """Pre-label one recording and write its outputs; never raises for a bad recording.

    ``view`` names the camera whose picture is labelled (:func:`fusionlabel.pipeline.prelabel.prelabel`).
    Returns the report dict (``status`` ``"ok"`` or ``"failed"`` with ``error``).
    """
    from fusionlabel.io.native_labels import write_labels
    from fusionlabel.io.open import open_recording
    from fusionlabel.pipeline.prelabel import prelabel

    out = Path(out_dir)
    t0 = time.perf_counter()
    try:
        rec = open_recording(recording)
        res = prelabel(rec, detector, classes=tuple(classes) if classes else None, progress=progress, view=view)
        if res.report.frames and len(res.report.failed_frames) == res.report.frames:
            raise FusionLabelError(f"every frame failed; first: {res.report.failed_frames[0]}")
        out.mkdir(parents=True, exist_ok=True)
        stamps = {int(k): int(rec.timestamps_ns[k]) for k in res.labels.frames if k < len(rec.timestamps_ns)}
        labels_path = out / LABELS
        if labels_path.exists():
            labels_path.unlink()  # an earlier run's pre-labels (possibly from an aborted run): replaced
        write_labels(res.labels, labels_path, stamps)
        atomic_write_text(out / REVIEW, json.dumps(res.review.to_dict(), indent=1))
        report = {"status": "ok", **res.report.to_dict(), "view": view, "review_load": round(res.review.load, 4)}
    except FusionLabelError as exc:
        report = {"status": "failed", "recording": str(recording), "detector": detector, "view": view,
                  "error": str(exc)}
    except Exception as exc:  # noqa: BLE001 - a worker must report, not die
        report = {
            "status": "failed",
            "recording": str(recording),
            "detector": detector,
            "view": view,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=5),
        }
    report["seconds"] = round(time.perf_counter() - t0, 3)
    out.mkdir(parents=True, exist_ok=True)
    atomic_write_text(out / REPORT, json.dumps(report, indent=1))
    return report


def run_local(
    jobs: Sequence[Job],
    detector: str,
    workers: int,
    classes: Sequence[str] | None = None,
    on_done: Callable[[Job, dict[str, Any]], None] | None = None,
    view: str | None = None,
) -> list[dict[str, Any]]:
    """Run jobs in ``workers`` processes (1 = in this process). Returns reports in job order."""
    reports: dict[int, dict[str, Any]] = {}
    if workers <= 1 or len(jobs) <= 1:
        for i, j in enumerate(jobs):
            reports[i] = prelabel_one(str(j.recording), str(j.out_dir), detector, classes, view=view)
            if on_done:
                on_done(j, reports[i])
        return [reports[i] for i in range(len(jobs))]
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # no fork: torch/numba/open3d threads do not survive fork
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: dict[Future[dict[str, Any]], int] = {
            pool.submit(prelabel_one, str(j.recording), str(j.out_dir), detector, classes, view=view): i
            for i, j in enumerate(jobs)
        }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                try:
                    reports[i] = fut.result()
                except Exception as exc:  # noqa: BLE001 - a crashed worker process
                    reports[i] = {"status": "failed", "recording": str(jobs[i].recording), "detector": detector,
                                  "error": f"worker crashed: {type(exc).__name__}: {exc}"}
                    atomic_write_text(jobs[i].out_dir / REPORT, json.dumps(reports[i], indent=1)) \
                        if jobs[i].out_dir.exists() else None
                if on_done:
                    on_done(jobs[i], reports[i])
    return [reports[i] for i in range(len(jobs))]


def run_ray(
    jobs: Sequence[Job],
    detector: str,
    address: str,
    classes: Sequence[str] | None = None,
    on_done: Callable[[Job, dict[str, Any]], None] | None = None,
    num_cpus_per_task: float = 1.0,
    init_kwargs: dict[str, Any] | None = None,
    view: str | None = None,
) -> list[dict[str, Any]]:
    """Run jobs as Ray tasks on the cluster at ``address`` (``"auto"``, ``"local"`` or ``ray://host:port``).

    Workers must see the recordings and ``OUT`` at the same paths (a shared filesystem), as with
    any Ray batch job over files. Ray is an optional dependency (``pip install fusionlabel[cluster]``).
    """
    try:
        import ray
    except ImportError:
        raise FusionLabelError("Ray is not installed: pip install 'fusionlabel[cluster]' (or drop --ray)") from None
    started_here = False
    if not ray.is_initialized():
        kw = dict(init_kwargs or {})
        if address == "local":
            ray.init(include_dashboard=False, log_to_driver=False, **kw)
        else:
            ray.init(address=address, log_to_driver=False, **kw)
        started_here = True
    try:
        task = ray.remote(num_cpus=num_cpus_per_task, max_retries=1)(prelabel_one)
        cls = list(classes) if classes else None
        refs = {task.remote(str(j.recording), str(j.out_dir), detector, cls, view=view): i
                for i, j in enumerate(jobs)}
        reports: dict[int, dict[str, Any]] = {}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                i = refs.pop(ref)
                try:
                    reports[i] = ray.get(ref)
                except Exception as exc:  # noqa: BLE001 - a task that died (node lost, OOM)
                    reports[i] = {"status": "failed", "recording": str(jobs[i].recording), "detector": detector,
                                  "error": f"ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}"}
                if on_done:
                    on_done(jobs[i], reports[i])
        return [reports[i] for i in range(len(jobs))]
    finally:
        if started_here:
            ray.shutdown()
