"""Batch pre-labeling over many recordings: local processes or Ray tasks, resumable, atomic, and
never at the cost of an annotator's work.

For each input recording ``R`` the batch writes, under ``OUT/<name>/``::

    labels.json          the pre-labels (native label file; boxes in state "proposed")
    labels.review.json   the review queue (frames to check first, with reasons; the one review
                         file format, :mod:`fusionlabel.io.review_file`)
    report.json          written LAST: its presence with ``"status": "ok"`` marks the recording
                         done; it holds the recording's path, the whole configuration
                         (:func:`fusionlabel.pipeline.prelabel.prelabel_config`), its
                         ``fingerprint`` and the hashes of the files written

``<name>`` is the recording folder's (or file's) name; when two inputs share a name a short hash
of the full path is appended. A failing recording (unreadable, a detector that cannot be built)
gets ``report.json`` with ``"status": "failed"`` and the reason; the others finish.

What happens to an existing output (:func:`output_status`):

* done with the same configuration: skipped (resume);
* labels an annotator touched (boxes accepted or edited, frames resolved, unsaved work in an
  autosave, or the file changed since the run wrote it), or made with another configuration
  (detector, weights, classes, view, tracker settings): **refused** without ``overwrite``, with
  the reason; with ``overwrite`` the touched files are first copied to
  ``OUT/<name>/backups/<UTC time>/``;
* the labels of another recording (``report.json`` names another path): refused, even with
  ``overwrite`` (choose another ``--out``);
* a label file a FusionLabel window has open for editing
  (:class:`fusionlabel.io.session.EditClaim`): refused, even with ``overwrite``, naming the window;
* an untouched output of an interrupted run: redone.

The write itself happens under the label file's lock (:func:`fusionlabel.core.atomic.locked`)
and only if the files are still those seen when the job started: an annotator who saved in the
meantime is never overwritten. The worker function :func:`prelabel_one` takes and returns plain
data (paths, names, dicts), so it runs unchanged in a local process pool or as a Ray task.
"""

from __future__ import annotations

import datetime as _dt
import hashlib
import json
import shutil
import time
import traceback
from collections.abc import Callable, Mapping, Sequence
from concurrent.futures import FIRST_COMPLETED, Future, ProcessPoolExecutor, wait
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusionlabel.core.atomic import atomic_write_text, clean_stale_tmp, file_sha256, locked
from fusionlabel.core.errors import DataError, FusionLabelError
from fusionlabel.detect.runner import DEFAULT_TIMEOUT_S
from fusionlabel.io.native_labels import OUTPUT_LABELS

REPORT = "report.json"
REVIEW = "labels.review.json"
BACKUPS = "backups"


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


def expected_config(
    detector: str,
    classes: Sequence[str] | None = None,
    view: str | None = None,
    refine: bool = True,
    detector_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """The configuration a run with these options records (builds the detector with its factory
    ``detector_options`` to ask its name and version, which for learned detectors names the
    weights' hash)."""
    from fusionlabel.detect.registry import create_detector
    from fusionlabel.pipeline.prelabel import prelabel_config, tracker_configs
    from fusionlabel.track.refine import RefineConfig

    info = create_detector(detector, detector_options).info
    cls = tuple(classes) if classes else tuple(info.classes)
    return prelabel_config(
        info.to_dict(), cls, view, tracker_configs(cls, None), refine=RefineConfig() if refine else None
    )


def _read_report(out_dir: Path) -> dict[str, Any] | None:
    try:
        rep = json.loads((out_dir / REPORT).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return rep if isinstance(rep, dict) else None


def _sha256(path: Path) -> str | None:
    try:
        return file_sha256(path)
    except OSError:
        return None


def touched(out_dir: Path) -> str | None:
    """Why the labels in ``out_dir`` hold an annotator's work, or None when they are untouched
    pre-labels (or absent)."""
    from fusionlabel.core.edits import box_state
    from fusionlabel.io.native_labels import read_labels
    from fusionlabel.io.review_file import find_review, read_review
    from fusionlabel.io.session import unsaved_work

    lp = out_dir / OUTPUT_LABELS
    unsaved = unsaved_work(lp)
    if unsaved is not None:
        return f"an editing session left unsaved work in {unsaved.name}"
    if not lp.exists():
        return None
    rep = _read_report(out_dir)
    if rep is not None and rep.get("labels_sha256") and _sha256(lp) != rep["labels_sha256"]:
        return "it changed after pre-labelling (saved by an annotator or another tool)"
    try:
        labels = read_labels(lp)
    except DataError as exc:
        return f"it cannot be read ({exc.reason}), so it is not ours to replace"
    n = sum(1 for fl in labels.frames.values() for a in fl.attributes if box_state(a) != "proposed")
    if n:
        return f"{n} box(es) accepted or edited"
    rp = find_review(lp)
    if rp is not None:
        try:
            r = read_review(rp)
        except DataError as exc:
            return f"its review file cannot be read ({exc.reason})"
        if r.resolutions:
            return f"{len(r.resolutions)} flagged frame(s) resolved"
    return None


@dataclass(frozen=True)
class OutputStatus:
    """What to do with a job's output folder: ``action`` is ``"run"``, ``"skip"`` (done with
    this configuration) or ``"refuse"`` (``reason`` says why); ``backup``: copy the touched files
    away before writing."""

    action: str
    reason: str = ""
    backup: bool = False


def _describe_change(old: dict[str, Any], new: dict[str, Any]) -> str:
    keys = [k for k in sorted(set(old) | set(new)) if old.get(k) != new.get(k)]
    parts = []
    for k in keys:
        if k == "tracker":
            parts.append("tracker settings")
        elif k == "detector":
            o, n = old.get(k) or {}, new.get(k) or {}
            parts.append(
                f"detector {o.get('name')} {o.get('version', '')}".rstrip()
                + " -> "
                + f"{n.get('name')} {n.get('version', '')}".rstrip()
            )
        else:
            parts.append(f"{k} {old.get(k)!r} -> {new.get(k)!r}")
    return ", ".join(parts) or "configuration"


def output_status(job: Job, config: dict[str, Any] | None, overwrite: bool = False) -> OutputStatus:
    """Decide what a run with ``config`` may do with ``job``'s existing output (module docstring)."""
    from fusionlabel.io.session import editing_elsewhere
    from fusionlabel.pipeline.prelabel import config_fingerprint

    lp = job.out_dir / OUTPUT_LABELS
    holder = editing_elsewhere(lp)
    if holder is not None:
        return OutputStatus(
            "refuse",
            f"{lp}: open for editing in a FusionLabel window ({holder}); nothing overwritten, even with "
            "--overwrite: close that window (saving or not) and run again",
        )
    rep = _read_report(job.out_dir)
    if rep is not None and rep.get("recording"):
        try:
            same = Path(rep["recording"]).resolve() == Path(job.recording).resolve()
        except (OSError, TypeError, ValueError):
            same = False
        if not same and lp.exists():
            return OutputStatus(
                "refuse",
                f"{lp}: holds the labels of another recording ({rep['recording']}); "
                "nothing overwritten: choose another --out",
            )
    if not lp.exists() and touched(job.out_dir) is None:
        return OutputStatus("run")
    why = touched(job.out_dir)
    fp = config_fingerprint(config) if config is not None else None
    same_config = rep is not None and rep.get("status") == "ok" and fp is not None and rep.get("fingerprint") == fp
    if same_config and not overwrite:
        return OutputStatus("skip", "done")
    if overwrite:
        return OutputStatus("run", backup=why is not None)
    if why is not None:
        return OutputStatus(
            "refuse",
            f"{lp}: holds an annotator's work ({why}); refusing to replace it: "
            "pass --overwrite to redo it (the edited files are kept as a backup)",
        )
    if rep is not None and rep.get("status") == "ok":
        old = rep.get("config") or {}
        change = _describe_change(old, config or {}) if old else "an older FusionLabel's configuration"
        return OutputStatus(
            "refuse",
            f"{lp}: pre-labelled with another configuration ({change}); "
            "refusing to replace it: pass --overwrite to redo it",
        )
    return OutputStatus("run")  # an untouched output of an interrupted or failed run


def is_done(job: Job, detector: str, view: str | None = None, classes: Sequence[str] | None = None) -> bool:
    """True when ``job`` was pre-labelled successfully with this detector, view and classes
    (and default tracker settings)."""
    return output_status(job, expected_config(detector, classes, view)).action == "skip"


def backup_outputs(out_dir: Path) -> Path:
    """Copy the label, review, autosave and report files of ``out_dir`` to
    ``out_dir/backups/<UTC time>/`` (modes kept); returns that folder."""
    from fusionlabel.io.review_file import find_review
    from fusionlabel.io.session import autosave_path, journal_path

    stamp = _dt.datetime.now(_dt.timezone.utc).strftime("%Y%m%dT%H%M%S.%fZ")
    dest = out_dir / BACKUPS / stamp
    dest.mkdir(parents=True, exist_ok=False)
    lp = out_dir / OUTPUT_LABELS
    for p in (lp, find_review(lp), autosave_path(lp), journal_path(lp), out_dir / REPORT):
        if p is not None and p.exists():
            shutil.copy2(p, dest / p.name)
    return dest


def _snapshot(out_dir: Path) -> tuple[str | None, ...]:
    from fusionlabel.io.review_file import find_review
    from fusionlabel.io.session import autosave_path, journal_path

    lp = out_dir / OUTPUT_LABELS
    return (
        _sha256(lp),
        _sha256(find_review(lp) or lp.with_name(REVIEW)),
        _sha256(autosave_path(lp)),
        _sha256(journal_path(lp)),
    )


def prelabel_one(
    recording: str,
    out_dir: str,
    detector: Any,
    classes: Sequence[str] | None = None,
    progress: Callable[[int, int], None] | None = None,
    view: str | None = None,
    overwrite: bool = False,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    refine: bool = True,
    detector_options: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """Pre-label one recording and write its outputs; never raises for a bad recording.

    ``detector`` is a registered name (the detector then runs in a worker process for this
    recording) or a :class:`~fusionlabel.detect.runner.DetectorRunner` shared by several calls
    (a detector that hung on one recording stays disabled for the next). ``view`` names the
    camera whose picture is labelled (:func:`fusionlabel.pipeline.prelabel.prelabel`),
    ``timeout_s`` the seconds one detector call may take, ``refine`` switches the offboard
    track refinement (:mod:`fusionlabel.track.refine`), ``detector_options`` the factory options
    of a detector given by name (``{"weights": ...}``). Existing outputs are handled as :func:`output_status` says (``overwrite`` as ``--overwrite``);
    the files are written only if nobody changed them while this job ran.
    Returns the report dict (``status`` ``"ok"``, ``"skipped"``, ``"refused"`` or ``"failed"``
    with ``error``; ``"detector_disabled": True`` when the detector hung).
    """
    from fusionlabel.core.review import Review
    from fusionlabel.detect.errors import PluginTimeoutError
    from fusionlabel.io.native_labels import write_labels
    from fusionlabel.io.open import open_recording
    from fusionlabel.io.review_file import write_review
    from fusionlabel.io.session import clean_stale, editing_elsewhere
    from fusionlabel.pipeline.prelabel import prelabel

    out = Path(out_dir)
    job = Job(Path(recording), out)
    t0 = time.perf_counter()
    name = detector if isinstance(detector, str) else getattr(detector, "name", str(detector))
    base: dict[str, Any] = {"recording": str(Path(recording).resolve()), "detector": name, "view": view}
    clean_stale(out / OUTPUT_LABELS)
    clean_stale_tmp(out / REPORT)
    before = _snapshot(out)
    try:
        rec = open_recording(recording)
        res = prelabel(
            rec,
            detector,
            classes=tuple(classes) if classes else None,
            progress=progress,
            view=view,
            timeout_s=timeout_s,
            refine=refine,
            detector_options=detector_options if isinstance(detector, str) else None,
        )
        if res.report.frames and len(res.report.failed_frames) == res.report.frames:
            raise FusionLabelError(f"every frame failed; first: {res.report.failed_frames[0]}")
        status = output_status(job, dict(res.report.config), overwrite)
        if status.action == "refuse":
            return {"status": "refused", **base, "error": status.reason, "seconds": round(time.perf_counter() - t0, 3)}
        out.mkdir(parents=True, exist_ok=True)
        stamps = {int(k): int(rec.timestamps_ns[k]) for k in res.labels.frames if k < len(rec.timestamps_ns)}
        labels_path = out / OUTPUT_LABELS
        backup = None
        with locked(labels_path):
            holder = editing_elsewhere(labels_path)  # a window that opened during the run
            if holder is not None:
                return {
                    "status": "refused",
                    **base,
                    "error": f"{labels_path}: opened for editing in a FusionLabel window during the run ({holder}); "
                    "nothing overwritten: close that window and run again",
                    "seconds": round(time.perf_counter() - t0, 3),
                }
            if _snapshot(out) != before:
                raise FusionLabelError(
                    f"{labels_path}: changed on disk while this recording was being pre-labelled (an annotator "
                    "saved it?); nothing overwritten: run again to decide with what is there now"
                )
            if status.backup:
                backup = backup_outputs(out)
            if labels_path.exists():
                labels_path.unlink()  # replaced (an untouched pre-label, a backed-up one, or --overwrite)
            write_labels(res.labels, labels_path, stamps)
            write_review(
                out / REVIEW,
                Review(
                    res.review,
                    provenance={
                        "tool": "fusionlabel prelabel",
                        "fingerprint": res.report.fingerprint,
                        **dict(res.report.config),
                    },
                ),
                res.labels,
            )
            legacy = out / "review.json"
            if legacy.exists():  # an older run's queue: superseded by labels.review.json
                legacy.unlink()
        report = {
            "status": "ok",
            **base,
            **res.report.to_dict(),
            "recording": base["recording"],
            "view": view,
            "review_load": round(res.review.load, 4),
            "labels_sha256": _sha256(labels_path),
            "review_sha256": _sha256(out / REVIEW),
        }
        if backup is not None:
            report["backup"] = str(backup)
    except FusionLabelError as exc:
        report = {"status": "failed", **base, "error": str(exc)}
        if isinstance(exc, PluginTimeoutError):
            report["detector_disabled"] = True
    except Exception as exc:
        report = {
            "status": "failed",
            **base,
            "error": f"{type(exc).__name__}: {exc}",
            "traceback": traceback.format_exc(limit=5),
        }
    report["seconds"] = round(time.perf_counter() - t0, 3)
    try:
        write_report(out, report)
    except DataError as exc:  # a full disk or a read-only folder: the caller still gets the report
        report["report_not_written"] = str(exc)
    return report


def write_report(out: Path, report: dict[str, Any]) -> None:
    """Write ``report.json``, except that a failure never replaces the ok report of the labels
    that are there (it goes to ``last_failure.json`` beside it)."""
    out.mkdir(parents=True, exist_ok=True)
    prev = _read_report(out)
    if (
        report.get("status") != "ok"
        and prev is not None
        and prev.get("status") == "ok"
        and (out / OUTPUT_LABELS).exists()
    ):
        atomic_write_text(out / "last_failure.json", json.dumps(report, indent=1))
    else:
        atomic_write_text(out / REPORT, json.dumps(report, indent=1))


def _not_run(job: Job, detector: str, why: dict[str, Any]) -> dict[str, Any]:
    """The report of a job left out because the detector was disabled (it hung) earlier in the run."""
    report = {
        "status": "failed",
        "recording": str(Path(job.recording).resolve()),
        "detector": detector,
        "error": f"not run: the detector was disabled after it hung on {why.get('recording')}: {why.get('error')}",
        "detector_disabled": True,
    }
    if job.out_dir.exists():
        write_report(job.out_dir, report)
    return report


def run_local(
    jobs: Sequence[Job],
    detector: str,
    workers: int,
    classes: Sequence[str] | None = None,
    on_done: Callable[[Job, dict[str, Any]], None] | None = None,
    view: str | None = None,
    overwrite: bool = False,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    refine: bool = True,
    detector_options: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run jobs in ``workers`` processes (1 = in this process). Returns reports in job order.

    A detector that hangs (a call past ``timeout_s``) is killed and disabled for the rest of the
    run: the jobs not started yet are reported failed without running (``"detector_disabled"``),
    so a hung detector costs its timeout once per worker, not once per recording.
    """
    reports: dict[int, dict[str, Any]] = {}
    if workers <= 1 or len(jobs) <= 1:
        from fusionlabel.detect.errors import PluginError
        from fusionlabel.detect.runner import DetectorRunner

        try:  # one worker process for every recording; a hang disables it for the rest
            runner: Any = DetectorRunner.isolated(detector, detector_options, timeout_s=timeout_s)
        except PluginError:
            runner = detector  # each job reports the error
        try:
            for i, j in enumerate(jobs):
                reports[i] = prelabel_one(
                    str(j.recording),
                    str(j.out_dir),
                    runner,
                    classes,
                    view=view,
                    overwrite=overwrite,
                    refine=refine,
                    detector_options=detector_options,
                )
                if on_done:
                    on_done(j, reports[i])
        finally:
            if isinstance(runner, DetectorRunner):
                runner.close()
        return [reports[i] for i in range(len(jobs))]
    import multiprocessing as mp

    ctx = mp.get_context("spawn")  # no fork: torch/numba/open3d threads do not survive fork
    with ProcessPoolExecutor(max_workers=workers, mp_context=ctx) as pool:
        pending: dict[Future[dict[str, Any]], int] = {
            pool.submit(
                prelabel_one,
                str(j.recording),
                str(j.out_dir),
                detector,
                classes,
                view=view,
                overwrite=overwrite,
                timeout_s=timeout_s,
                refine=refine,
                detector_options=dict(detector_options or {}),
            ): i
            for i, j in enumerate(jobs)
        }
        while pending:
            done, _ = wait(pending, return_when=FIRST_COMPLETED)
            for fut in done:
                i = pending.pop(fut)
                try:
                    reports[i] = fut.result()
                except Exception as exc:
                    reports[i] = {
                        "status": "failed",
                        "recording": str(jobs[i].recording),
                        "detector": detector,
                        "error": f"worker crashed: {type(exc).__name__}: {exc}",
                    }
                    if jobs[i].out_dir.exists():
                        write_report(jobs[i].out_dir, reports[i])
                if on_done:
                    on_done(jobs[i], reports[i])
                if reports[i].get("detector_disabled"):  # it hung: leave out the jobs not started
                    for other in [f for f in pending if f.cancel()]:
                        k = pending.pop(other)
                        reports[k] = _not_run(jobs[k], detector, reports[i])
                        if on_done:
                            on_done(jobs[k], reports[k])
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
    overwrite: bool = False,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    refine: bool = True,
    detector_options: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Run jobs as Ray tasks on the cluster at ``address`` (``"auto"``, ``"local"`` or ``ray://host:port``).

    As :func:`run_local`, a detector that hangs is disabled for the rest of the run: the tasks
    not finished yet are cancelled and reported failed.

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
        refs = {
            task.remote(
                str(j.recording),
                str(j.out_dir),
                detector,
                cls,
                view=view,
                overwrite=overwrite,
                timeout_s=timeout_s,
                refine=refine,
                detector_options=dict(detector_options or {}),
            ): i
            for i, j in enumerate(jobs)
        }
        reports: dict[int, dict[str, Any]] = {}
        while refs:
            ready, _ = ray.wait(list(refs), num_returns=1)
            for ref in ready:
                i = refs.pop(ref)
                try:
                    reports[i] = ray.get(ref)
                except Exception as exc:
                    reports[i] = {
                        "status": "failed",
                        "recording": str(jobs[i].recording),
                        "detector": detector,
                        "error": f"ray task failed: {type(exc).__name__}: {str(exc).splitlines()[0]}",
                    }
                if on_done:
                    on_done(jobs[i], reports[i])
                if reports[i].get("detector_disabled"):  # it hung: cancel the tasks left
                    for other, k in list(refs.items()):
                        ray.cancel(other)
                        del refs[other]
                        reports[k] = _not_run(jobs[k], detector, reports[i])
                        if on_done:
                            on_done(jobs[k], reports[k])
        return [reports[i] for i in range(len(jobs))]
    finally:
        if started_here:
            ray.shutdown()
