"""Call detectors safely: deadline, output checks, typed errors, and "skip, don't stop".

:class:`DetectorRunner` wraps one detector. ``detect(frame, rig)`` returns checked
:class:`~fusionlabel.detect.api.Detections` or raises one
:class:`~fusionlabel.detect.errors.PluginError` naming the detector and the reason:

* the frame lacks a required sensor kind -> ``DetectorInputError`` (the detector is not called);
  a LiDAR sweep of 0 points is not missing: a frame whose sensors are all there but empty has
  nothing to detect and gets empty detections (the detector is not called either);
* the call raises (anything, ``SystemExit`` included) -> ``PluginRuntimeError``;
* it runs past ``timeout_s`` -> ``PluginTimeoutError``, and the runner is **disabled**: every
  later call raises the same error at once;
* it returns malformed output -> ``PluginOutputError``.

Where the detector runs: :meth:`DetectorRunner.isolated` (what ``prelabel`` uses for a detector
given by its registered name) builds it again in a worker process
(:class:`~fusionlabel.detect.worker.DetectorProcess`): a call past the deadline **kills** that
process, so a hung detector leaves nothing running. A detector *object* handed to the runner
(tests, notebooks, the app's own objects: they need not pickle) is called in a deadline thread
instead (:mod:`fusionlabel.detect.deadline`): a hung call keeps its thread until the process
exits, one per disabled runner. Close a runner (:meth:`DetectorRunner.close`, or ``with``) to
stop its worker.

``detect_many`` never raises a ``PluginError``: it returns one :class:`FrameResult` per frame
(detections or the error), batching through ``detect_batch`` when the detector has it and
falling back to single frames for a batch that fails, so one bad frame costs only itself.
:func:`load_detectors` and :func:`run_detectors` do the same for several detectors: a failing
plugin is reported and skipped, the others go on.

Example
-------
>>> from fusionlabel.detect.registry import create_detector
>>> runner = DetectorRunner(create_detector("geometric"), "geometric", timeout_s=30)
>>> runner.info.name, runner.disabled is None
('geometric', True)
>>> with DetectorRunner.isolated("geometric", timeout_s=30) as isolated:
...     isolated.process is not None
True
"""

from __future__ import annotations

import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from fusionlabel.core.calibration import Rig
from fusionlabel.core.frames import Frame
from fusionlabel.detect.api import Detections, Detector, DetectorInfo, frame_has, validate_detections
from fusionlabel.detect.deadline import CallTimedOut, call_with_deadline
from fusionlabel.detect.errors import (
    DetectorInputError,
    PluginError,
    PluginOutputError,
    PluginRuntimeError,
    PluginTimeoutError,
)
from fusionlabel.detect.registry import DEFAULT_LOAD_TIMEOUT_S, check_detector, create_detector
from fusionlabel.detect.worker import DetectorProcess, RemoteCallError, WorkerError, sendable_frame

#: seconds one ``detect`` call may take (per frame; a batch gets this times its length). Generous,
#: because a learned detector's first call may load weights and compile kernels.
DEFAULT_TIMEOUT_S = 60.0


def _describe(exc: BaseException) -> str:
    if isinstance(exc, RemoteCallError):  # raised in the worker process: its own description
        return exc.description
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0]}" if msg else type(exc).__name__


@dataclass(frozen=True)
class FrameResult:
    """One frame's outcome: ``detections`` or ``error`` (exactly one is set).

    index : the frame's index; seconds : wall time of the call (a batch's time is shared equally)
    """

    index: int
    detections: Detections | None
    error: PluginError | None
    seconds: float

    @property
    def ok(self) -> bool:
        return self.error is None


class DetectorRunner:
    """One detector behind a deadline and output checks.

    Parameters
    ----------
    detector : any object satisfying :class:`~fusionlabel.detect.api.Detector`
    name : the name used in errors (default: ``detector.info.name``)
    timeout_s : deadline per frame in seconds; None runs calls inline without a deadline
        (debugging, profiling)
    process : run the calls in this worker process instead of a deadline thread (see
        :meth:`isolated`); ``detector`` is then only asked for its ``info``

    Raises
    ------
    PluginImportError
        at construction when ``detector`` does not satisfy the protocol.
    """

    def __init__(
        self,
        detector: Detector,
        name: str | None = None,
        *,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
        process: DetectorProcess | None = None,
    ) -> None:
        raw_name = name or getattr(getattr(detector, "info", None), "name", None) or type(detector).__name__
        self.info: DetectorInfo = check_detector(str(raw_name), detector)
        self.name: str = str(raw_name)
        self.detector = detector
        self.timeout_s = timeout_s
        self.process = process
        #: set after a timeout: the error every later call raises
        self.disabled: PluginTimeoutError | None = None

    @classmethod
    def isolated(
        cls,
        name: str,
        options: Mapping[str, Any] | None = None,
        *,
        timeout_s: float | None = DEFAULT_TIMEOUT_S,
        load_timeout_s: float | None = DEFAULT_LOAD_TIMEOUT_S,
    ) -> DetectorRunner:
        """A runner for the detector registered as ``name`` whose calls run in a worker process
        (:class:`~fusionlabel.detect.worker.DetectorProcess`, started at the first call), killed
        when a call runs past ``timeout_s``. The detector is also built here, once, for its
        ``info``. Raises :class:`~fusionlabel.detect.errors.PluginError` as :func:`create_detector`."""
        det = create_detector(name, options, timeout_s=load_timeout_s)
        return cls(det, name, timeout_s=timeout_s, process=DetectorProcess(name, options, load_timeout_s))

    def close(self) -> None:
        """Stop the worker process, if any (a later call would start another)."""
        if self.process is not None:
            self.process.close()

    def __enter__(self) -> DetectorRunner:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __repr__(self) -> str:
        where = "process" if self.process is not None else "thread"
        return (
            f"DetectorRunner({self.name!r}, timeout_s={self.timeout_s}, {where}, disabled={self.disabled is not None})"
        )

    def _call(self, method: str, timeout_s: float | None, *args: Any) -> Any:
        """``detector.<method>(*args)`` within ``timeout_s``: in the worker process or a deadline thread."""
        if self.process is None:
            return call_with_deadline(getattr(self.detector, method), timeout_s, *args)
        with_images = "camera" in self.info.sensors
        if method == "detect_batch":
            args = ([sendable_frame(f, with_images) for f in args[0]], *args[1:])
        else:
            args = (sendable_frame(args[0], with_images), *args[1:])
        return self.process.call(method, args, timeout_s)

    @property
    def supports_batch(self) -> bool:
        return callable(getattr(self.detector, "detect_batch", None))

    # -- single frame -------------------------------------------------------------------------
    def _check_input(self, frame: Frame) -> None:
        if self.disabled is not None:
            raise self.disabled
        missing = [k for k in self.info.sensors if not frame_has(frame, k, empty_ok=True)]
        if missing:
            raise DetectorInputError(
                self.name,
                f"frame {frame.index} has no {' or '.join(missing)} data (the detector needs {', '.join(self.info.sensors)})",
            )

    def _nothing_to_detect(self, frame: Frame) -> bool:
        """Every sensor the detector needs is there, and empty (a LiDAR sweep of 0 points)."""
        return not any(frame_has(frame, k) for k in self.info.sensors)

    def _timed_out(self, what: str, timeout_s: float) -> PluginTimeoutError:
        how = "its worker process was killed" if self.process is not None else "its thread cannot be stopped"
        self.disabled = PluginTimeoutError(
            self.name, f"{what} took longer than {timeout_s:g} s; detector disabled for this run ({how})"
        )
        return self.disabled

    def detect(self, frame: Frame, rig: Rig) -> Detections:
        """Checked detections of one frame (ego frame); raises a :class:`PluginError` subclass."""
        self._check_input(frame)
        if self._nothing_to_detect(frame):
            return Detections.empty()
        try:
            out = self._call("detect", self.timeout_s, frame, rig)
        except CallTimedOut as exc:
            raise self._timed_out(f"detect on frame {frame.index}", exc.timeout_s) from None
        except KeyboardInterrupt:
            raise
        except WorkerError as exc:
            raise PluginRuntimeError(self.name, f"detect on frame {frame.index}: {exc}") from None
        except BaseException as exc:
            raise PluginRuntimeError(self.name, f"detect raised {_describe(exc)} on frame {frame.index}") from None
        return validate_detections(self.name, out, self.info.classes)

    # -- many frames --------------------------------------------------------------------------
    def _one(self, frame: Frame, rig: Rig) -> FrameResult:
        t0 = time.perf_counter()
        try:
            det = self.detect(frame, rig)
        except PluginError as exc:
            return FrameResult(frame.index, None, exc, time.perf_counter() - t0)
        return FrameResult(frame.index, det, None, time.perf_counter() - t0)

    def _batch(self, frames: Sequence[Frame], rig: Rig) -> list[FrameResult] | None:
        """One detect_batch call; None when it raised or returned the wrong number (caller falls back)."""
        timeout = None if self.timeout_s is None else self.timeout_s * len(frames)
        t0 = time.perf_counter()
        try:
            out = self._call("detect_batch", timeout, list(frames), rig)
        except CallTimedOut as exc:
            err = self._timed_out(f"detect_batch on frames {frames[0].index}..{frames[-1].index}", exc.timeout_s)
            dt = (time.perf_counter() - t0) / len(frames)
            return [FrameResult(f.index, None, err, dt) for f in frames]
        except KeyboardInterrupt:
            raise
        except BaseException:
            return None
        dt = (time.perf_counter() - t0) / len(frames)
        if isinstance(out, (str, bytes, Mapping)) or not isinstance(out, Sequence) or len(out) != len(frames):
            n = len(out) if isinstance(out, Sequence) else type(out).__name__
            bad = PluginOutputError(
                self.name, f"malformed output: detect_batch returned {n} results for {len(frames)} frames"
            )
            return [FrameResult(f.index, None, bad, dt) for f in frames]
        res = []
        for f, o in zip(frames, out):
            try:
                res.append(FrameResult(f.index, validate_detections(self.name, o, self.info.classes), None, dt))
            except PluginOutputError as exc:
                res.append(FrameResult(f.index, None, exc, dt))
        return res

    def detect_many(self, frames: Sequence[Frame], rig: Rig, batch_size: int = 1) -> list[FrameResult]:
        """One :class:`FrameResult` per frame, in order; never raises a :class:`PluginError`.

        With ``batch_size > 1`` and a detector that has ``detect_batch``, frames go in batches;
        a batch that raises is redone frame by frame (so the error names the bad frame). Frames
        missing a required sensor are reported and left out of the batch.
        """
        results: dict[int, FrameResult] = {}
        todo: list[tuple[int, Frame]] = []
        for pos, f in enumerate(frames):
            try:
                self._check_input(f)
            except PluginError as exc:
                results[pos] = FrameResult(f.index, None, exc, 0.0)
                continue
            if self._nothing_to_detect(f):
                results[pos] = FrameResult(f.index, Detections.empty(), None, 0.0)
                continue
            todo.append((pos, f))
        step = max(1, int(batch_size))
        for s in range(0, len(todo), step):
            chunk = todo[s : s + step]
            chunk_frames = [f for _, f in chunk]
            got: list[FrameResult] | None = None
            if self.disabled is None and step > 1 and self.supports_batch:
                got = self._batch(chunk_frames, rig)
            if got is None:
                got = [self._one(f, rig) for f in chunk_frames]
            for (pos, _), r in zip(chunk, got):
                results[pos] = r
        return [results[p] for p in range(len(frames))]


def load_detectors(
    names: Sequence[str],
    options: Mapping[str, Mapping[str, Any]] | None = None,
    *,
    timeout_s: float | None = DEFAULT_TIMEOUT_S,
    load_timeout_s: float | None = DEFAULT_LOAD_TIMEOUT_S,
) -> tuple[dict[str, DetectorRunner], list[PluginError]]:
    """Create a runner per name; a detector that fails to load is reported and skipped.

    Parameters
    ----------
    names : registered detector names
    options : per-name factory options, e.g. ``{"pillars": {"weights": "model.pt"}}``
    timeout_s : each runner's per-frame deadline
    load_timeout_s : deadline for importing a plugin and calling its factory

    Returns
    -------
    (runners by name, in the order given; errors of those that failed)
    """
    runners: dict[str, DetectorRunner] = {}
    errors: list[PluginError] = []
    for n in names:
        try:
            det = create_detector(n, (options or {}).get(n), timeout_s=load_timeout_s)
            runners[n] = DetectorRunner(det, n, timeout_s=timeout_s)
        except PluginError as exc:
            errors.append(exc)
    return runners, errors


def run_detectors(
    runners: Mapping[str, DetectorRunner], frame: Frame, rig: Rig
) -> tuple[dict[str, Detections], list[PluginError]]:
    """Every runner on one frame: (detections by detector name, errors of those that failed)."""
    out: dict[str, Detections] = {}
    errors: list[PluginError] = []
    for n, r in runners.items():
        try:
            out[n] = r.detect(frame, rig)
        except PluginError as exc:
            errors.append(exc)
    return out, errors
