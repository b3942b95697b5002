"""Run a registered detector in a worker process that is killed at a deadline.

Why a process
-------------
A detector that hangs (a deadlocked plugin, a C extension spinning with the GIL held) cannot be
stopped inside the process that called it: a thread cannot be killed. :class:`DetectorProcess`
builds the detector **inside a child process** from its registry name and options (detectors
need not pickle; their names and options do), sends it one frame (or batch) at a time over a
pipe and waits at most the deadline for the answer. A call past the deadline kills the child
(``SIGKILL``) and reaps it: nothing is left running, and
:class:`~fusionlabel.detect.runner.DetectorRunner` disables the detector for the rest of the run.

What crosses the pipe: the :class:`~fusionlabel.core.frames.Frame` (points, radar, and camera
images only when the detector declares the ``camera`` sensor: images a reader decodes through a
closure are decoded here first) and the :class:`~fusionlabel.core.calibration.Rig`, pickled;
the detector's output comes back pickled and is validated in the parent as before. The cost is
a copy of each frame (a few MB for 120k points: milliseconds) and one interpreter start per
worker (``spawn``: torch, numba and open3d threads do not survive ``fork``).

A child that dies (a segfault in a plugin) is reported for that call and started again for the
next one. A child never outlives its parent by more than its current call: it exits when the
pipe closes.

Example
-------
>>> from fusionlabel.io.open import SAMPLE, open_recording
>>> rec = open_recording(SAMPLE)
>>> with DetectorProcess("geometric") as proc:
...     len(proc.call("detect", (rec.frame(0), rec.rig), timeout_s=60.0)) > 0
True
"""

from __future__ import annotations

import pickle
import signal
import sys
from collections.abc import Mapping
from typing import Any

from fusionlabel.core.frames import Frame, ImageRef
from fusionlabel.detect.deadline import CallTimedOut
from fusionlabel.detect.registry import DEFAULT_LOAD_TIMEOUT_S


class WorkerError(Exception):
    """The worker could not answer: it failed to build the detector, or died (``reason`` says)."""


class RemoteCallError(Exception):
    """The detector raised in the worker; ``description`` is ``"Type: first line"``."""

    def __init__(self, description: str) -> None:
        self.description = description
        super().__init__(description)


def _describe(exc: BaseException) -> str:
    msg = str(exc).strip().splitlines()
    return f"{type(exc).__name__}: {msg[0]}" if msg else type(exc).__name__


def _serve(conn: Any, name: str, options: Mapping[str, Any] | None, sys_path: list[str]) -> None:
    """The child: build the detector, then answer ``(method, args)`` requests until the pipe closes."""
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl+C is the parent's to handle (it kills us)
    for p in reversed(sys_path):  # plugins found on the parent's path at the time of the call
        if p not in sys.path:
            sys.path.insert(0, p)
    from fusionlabel.detect.errors import PluginError
    from fusionlabel.detect.registry import create_detector

    try:
        det = create_detector(name, options, timeout_s=None)  # the parent holds the deadline
    except PluginError as exc:
        conn.send(("failed", exc.reason))
        return
    conn.send(("ready", None))
    while True:
        try:
            msg = conn.recv()
        except (EOFError, OSError):
            return
        if msg is None:
            return
        method, args = msg
        try:
            reply: tuple[str, Any] = ("ok", getattr(det, method)(*args))
        except BaseException as exc:  # SystemExit and KeyboardInterrupt of a plugin included
            reply = ("raised", _describe(exc))
        try:
            conn.send(reply)
        except Exception as exc:  # the output does not pickle: say so instead
            conn.send(("raised", f"its output cannot be returned ({_describe(exc)})"))


def _picklable_image(ref: ImageRef) -> ImageRef:
    """``ref`` if it pickles, else the same image decoded now (a closure over a container)."""
    try:
        pickle.dumps(ref.decoder)
        return ref
    except Exception:
        import functools

        from fusionlabel.core.errors import DataError

        try:
            img = ref.load()
        except DataError as exc:
            return ImageRef(
                ref.source, functools.partial(_raise_data_error, str(exc.path), exc.reason), ref.timestamp_ns
            )
        return ImageRef(ref.source, functools.partial(_same, img), ref.timestamp_ns)


def _same(x: Any) -> Any:
    return x


def _raise_data_error(path: str, reason: str) -> Any:
    from fusionlabel.core.errors import CorruptFileError

    raise CorruptFileError(path, reason)


def sendable_frame(frame: Frame, with_images: bool) -> Frame:
    """``frame`` as it can cross to a worker: images dropped unless ``with_images``, and those
    that would not pickle decoded first."""
    from dataclasses import replace

    images = {k: _picklable_image(v) for k, v in frame.images.items()} if with_images else {}
    return replace(frame, images=images)


class DetectorProcess:
    """A registered detector, built and called in a child process (see the module docstring).

    Parameters
    ----------
    name : the detector's registered name (``fusionlabel.detectors`` entry point)
    options : its factory options (must pickle)
    load_timeout_s : seconds the child may take to start and build the detector (None: no limit)

    Use as a context manager, or call :meth:`close`: the child is killed and reaped.
    """

    def __init__(
        self,
        name: str,
        options: Mapping[str, Any] | None = None,
        load_timeout_s: float | None = DEFAULT_LOAD_TIMEOUT_S,
    ) -> None:
        self.name = name
        self.options = dict(options or {})
        self.load_timeout_s = load_timeout_s
        self._proc: Any = None
        self._conn: Any = None
        #: worker processes started so far (a crashed worker is restarted for the next call)
        self.starts = 0

    def __enter__(self) -> DetectorProcess:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    def __del__(self) -> None:
        try:
            self.close()
        except Exception:
            pass

    @property
    def pid(self) -> int | None:
        """The worker's process id while it runs."""
        return self._proc.pid if self._proc is not None and self._proc.is_alive() else None

    def _start(self) -> None:
        import multiprocessing as mp

        ctx = mp.get_context("spawn")
        parent, child = ctx.Pipe()
        proc = ctx.Process(
            target=_serve,
            args=(child, self.name, self.options, list(sys.path)),
            name=f"fusionlabel-detector-{self.name}",
            daemon=False,  # a detector may start processes of its own (data loaders)
        )
        proc.start()
        child.close()
        self._proc, self._conn = proc, parent
        self.starts += 1
        kind, payload = self._receive(self.load_timeout_s, "starting the worker and building the detector")
        if kind != "ready":
            self.close()
            raise WorkerError(f"the worker could not build the detector: {payload}")

    def _receive(self, timeout_s: float | None, what: str) -> tuple[str, Any]:
        assert self._conn is not None
        try:
            ready = True if timeout_s is None else self._conn.poll(timeout_s)
            if not ready:
                self.kill()
                raise CallTimedOut(float(timeout_s or 0.0))
            msg = self._conn.recv()
        except (EOFError, OSError, pickle.UnpicklingError) as exc:
            code = self._reap()
            raise WorkerError(
                f"its worker process died while {what} (exit code {code})"
                if code is not None
                else f"the worker's answer could not be read while {what} ({_describe(exc)})"
            ) from None
        return msg  # type: ignore[no-any-return]

    def call(self, method: str, args: tuple[Any, ...], timeout_s: float | None) -> Any:
        """``detector.<method>(*args)`` in the worker (started on first use), waiting at most
        ``timeout_s`` seconds for the answer.

        Raises
        ------
        CallTimedOut : no answer in time; the worker was killed (the next call starts another)
        RemoteCallError : the detector raised (``description`` names the exception)
        WorkerError : the worker could not build the detector, or died during the call
        """
        if self._proc is None or not self._proc.is_alive():
            self._reap()
            self._start()
        assert self._conn is not None
        try:
            self._conn.send((method, args))
        except (BrokenPipeError, OSError):
            code = self._reap()
            raise WorkerError(f"its worker process died before the call (exit code {code})") from None
        kind, payload = self._receive(timeout_s, f"running {method}")
        if kind == "raised":
            raise RemoteCallError(str(payload))
        return payload

    def _reap(self) -> int | None:
        """Wait for a dead worker and forget it; its exit code (None when there was none)."""
        proc, self._proc = self._proc, None
        if self._conn is not None:
            self._conn.close()
            self._conn = None
        if proc is None:
            return None
        proc.join(5)
        return proc.exitcode  # type: ignore[no-any-return]

    def kill(self) -> None:
        """Kill the worker at once (``SIGKILL``) and reap it."""
        if self._proc is not None and self._proc.is_alive():
            self._proc.kill()
        self._reap()

    def close(self) -> None:
        """Stop the worker: ask it to exit, kill it if it does not at once, and reap it."""
        proc = self._proc
        if proc is None:
            return
        if self._conn is not None and proc.is_alive():
            try:
                self._conn.send(None)
            except (BrokenPipeError, OSError):
                pass
            proc.join(0.5)
        if proc.is_alive():
            proc.kill()
        self._reap()
