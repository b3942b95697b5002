"""Adapt from the app: :func:`fusionlabel.pipeline.adapt.adapt` in a worker **process**.

The annotator corrects or accepts a few frames, then *Adapt* (Ctrl+Shift+A): the frames they
labelled (:func:`~fusionlabel.pipeline.adapt.labelled_frames` of the document: frames with no
box still proposed, and resolved frames) go, as a native label document, to a *spawn* process
that fine-tunes the learned detector on them and pre-labels the recording again
(:mod:`fusionlabel.app.prelabel_worker` is the model: same messages, same
:class:`~fusionlabel.app.prelabel_worker.WorkerResult`). The outputs are written to a temporary
folder (the adapted checkpoint is kept there for the session: ``report["adapted_checkpoint"]``)
and come back as plain data: the labels (the seed frames exactly as they were, the other frames
as *proposals*), their review queue and the report. Progress counts the fine-tuning steps, then
the frames; Cancel terminates the process, and the window's labels stay as they were.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from fusionlabel.app.prelabel_worker import PrelabelJob
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Recording


def _child(rec_path: str, seed: dict[str, Any], options: dict[str, Any], out_dir: str, out: Any) -> None:
    """The worker process's entry point (module level: spawn imports it by name)."""
    import os

    try:
        os.nice(10)
    except (AttributeError, OSError):
        pass
    try:
        from fusionlabel.core.errors import FusionLabelError
        from fusionlabel.core.review import Review
        from fusionlabel.detect.adaptation import AdaptOptions
        from fusionlabel.io.native_labels import labels_from_dict, labels_to_dict, write_labels
        from fusionlabel.io.review_file import review_to_dict
        from fusionlabel.pipeline.adapt import adapt

        try:
            opts = dict(options)
            detector = str(opts.pop("detector", "pillars"))
            weights = opts.pop("weights", None)
            ao = AdaptOptions(**opts)
            seed_path = Path(out_dir) / "seed.json"
            write_labels(labels_from_dict(seed, "<seed>"), seed_path)
            steps = ao.steps

            def progress(phase: str, done: int, total: int) -> None:
                if phase == "fine-tuning":
                    out.put(("progress", int(done), int(steps + 1 + total)))
                else:
                    out.put(("progress", int(steps + done), int(steps + total)))

            res = adapt(
                rec_path,
                seed_path,
                Path(out_dir) / "out",
                detector=detector,
                weights=weights,
                options=ao,
                skip_unknown_classes=True,
                progress=progress,
            )
            body = {
                "labels": labels_to_dict(res.labels),
                "review": review_to_dict(Review(res.review, {})),
                "report": {**dict(res.report), "adapted_checkpoint": str(res.checkpoint)},
            }
            out.put(("done", body))
        except FusionLabelError as exc:
            out.put(("failed", str(exc)))
    except Exception as exc:
        out.put(("failed", f"adapting failed: {type(exc).__name__}: {exc}"))


class AdaptJob(PrelabelJob):
    """One adaptation run in a worker process; the signals of
    :class:`~fusionlabel.app.prelabel_worker.PrelabelJob` (``finished`` carries a
    :class:`~fusionlabel.app.prelabel_worker.WorkerResult`).

    Parameters
    ----------
    rec : the recording (re-opened from its path in the worker)
    seed : the annotator's labelled frames
    options : ``detector``, ``weights`` and :class:`~fusionlabel.detect.adaptation.AdaptOptions` fields
    """

    #: what ``cancelled`` says
    cancel_message = "adapting cancelled"

    def __init__(self, rec: Recording, seed: LabelSet, options: dict[str, Any] | None = None, parent: Any = None):
        super().__init__(rec, "pillars", options, parent)
        self.seed = seed
        self.workdir = tempfile.mkdtemp(prefix="fusionlabel-adapt-")

    def start(self) -> None:
        import multiprocessing as mp

        from fusionlabel.io.native_labels import labels_to_dict

        ctx = mp.get_context("spawn")
        self._queue = ctx.Queue()
        self._proc = ctx.Process(
            target=_child,
            args=(str(self.rec.path), labels_to_dict(self.seed), dict(self.options), self.workdir, self._queue),
            name="fusionlabel-adapt",
            daemon=False,
        )
        self._proc.start()
        self.timer.start()
