"""Run a call with a deadline in a worker thread.

Why a thread and not a subprocess
---------------------------------
A detector's input is a :class:`~fusionlabel.core.frames.Frame` of ~120k points whose images
decode lazily through closures, and its state is often a torch model on a GPU: sending that to
a process pool means pickling closures (impossible) or re-loading the model and copying every
frame (2-5 ms and a few MB per frame, plus CUDA re-initialisation per worker, which fork breaks).
So a call runs in a *daemon* thread and the caller waits on an event with a timeout.

The limit of this choice: Python cannot kill a thread. A call that hangs keeps its thread (and
whatever CPU it burns) until the process exits; the daemon flag guarantees it never blocks the
exit. :class:`~fusionlabel.detect.runner.DetectorRunner` therefore *disables* a detector after
its first timeout, so at most one thread leaks per detector and run. Hard isolation of a
plugin that may wedge the interpreter (a C extension holding the GIL forever) is the job of the
process that runs a whole recording (a local worker process or a Ray task in
:mod:`fusionlabel.pipeline`), which can be killed as a unit.

Consequences for plugin authors: ``detect`` runs in a worker thread, so thread-local state
(``torch.no_grad()``, ``torch.inference_mode()``, ``numpy.errstate``) must be set inside the
call, and signal handlers cannot be installed there.

Example
-------
>>> call_with_deadline(sum, 1.0, [1, 2, 3])
6
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any, TypeVar

T = TypeVar("T")


class CallTimedOut(Exception):
    """The call did not finish within ``timeout_s`` seconds (it may still be running)."""

    def __init__(self, timeout_s: float) -> None:
        self.timeout_s = timeout_s
        super().__init__(f"no result within {timeout_s:g} s")


def call_with_deadline(fn: Callable[..., T], timeout_s: float | None, *args: Any, **kwargs: Any) -> T:
    """``fn(*args, **kwargs)``, waiting at most ``timeout_s`` seconds for it.

    Parameters
    ----------
    fn : the call
    timeout_s : seconds to wait (> 0), or None to call ``fn`` directly in this thread

    Returns
    -------
    What ``fn`` returned.

    Raises
    ------
    CallTimedOut
        when ``fn`` has not returned in time; its thread is left running (daemon).
    BaseException
        whatever ``fn`` raised (``SystemExit`` included), re-raised here with its traceback.
    """
    if timeout_s is None:
        return fn(*args, **kwargs)
    if timeout_s <= 0:
        raise ValueError("timeout_s must be positive (or None for no deadline)")
    box: dict[str, Any] = {}
    done = threading.Event()

    def work() -> None:
        try:
            box["value"] = fn(*args, **kwargs)
        except BaseException as exc:
            box["error"] = exc
        finally:
            done.set()

    name = getattr(fn, "__qualname__", "call")
    worker = threading.Thread(target=work, name=f"fusionlabel-deadline-{name}", daemon=True)
    worker.start()
    if not done.wait(timeout_s):
        raise CallTimedOut(timeout_s)
    if "error" in box:
        err: BaseException = box.pop("error")
        raise err
    return box["value"]  # type: ignore[no-any-return]
