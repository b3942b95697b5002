"""The detector plugin API: what a detector is, what it returns, and how output is checked.

A detector is any object with an ``info`` attribute (:class:`DetectorInfo`) and a
``detect(frame, rig)`` method returning :class:`Detections`; it may add
``detect_batch(frames, rig)`` when it can process several frames at once (a GPU network). It is
made by a *factory* (``create(**options) -> Detector``) registered under the entry-point group
``fusionlabel.detectors`` (see :mod:`fusionlabel.detect.registry`). The app never calls a
detector directly: :class:`fusionlabel.detect.runner.DetectorRunner` calls it with a deadline
and checks its output with :func:`validate_detections`, turning any failure into a typed
:class:`~fusionlabel.detect.errors.PluginError`.

Contract for plugin authors
---------------------------
* The factory and ``info`` are cheap: no torch import, no weight loading (do that lazily, on the
  first ``detect`` call); ``fusionlabel plugins`` calls the factory to read ``info``.
* ``detect`` does not mutate the frame; it returns boxes in the **ego frame** of that frame
  (x forward, y left, z up, metres; gravity centre, ``(l, w, h)``, yaw in radians, as
  :class:`~fusionlabel.core.boxes.Boxes`). Point clouds arrive in their sensor frames: use
  :func:`lidar_points_ego` (``rig.lidars[name].T_ego_lidar``) to bring them into the ego frame.
* ``scores`` are confidences in [0, 1]; ``classes`` are names listed in ``info.classes``
  (prefer the canonical names of :data:`fusionlabel.core.labels.CATEGORIES`).
* Output is a :class:`Detections`, or (for wrappers of existing models) a mapping with keys
  ``boxes`` ((N, 7) ``[x, y, z, l, w, h, yaw]`` array or :class:`Boxes`), ``scores`` (N,) and
  ``classes`` (N,) str; anything else is reported as malformed and the frame's detections dropped.

Example
-------
>>> import numpy as np
>>> d = Detections.from_arrays([[10.0, 2.0, 0.8, 4.2, 1.8, 1.5, 0.1]], [0.9], ["Car"])
>>> len(d), d.classes.tolist(), float(d.scores[0])
(1, ['Car'], 0.9)
>>> validate_detections("demo", {"boxes": np.zeros((1, 7)), "scores": [0.5], "classes": ["Car"]}, ("Car",))
Traceback (most recent call last):
...
fusionlabel.detect.errors.PluginOutputError: detector 'demo': malformed output: box sizes must be positive
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Rig
from fusionlabel.core.frames import Frame
from fusionlabel.core.labels import FrameLabels
from fusionlabel.detect.errors import PluginOutputError

#: the entry-point group detectors register under
ENTRY_POINT_GROUP = "fusionlabel.detectors"
#: sensor kinds a detector may require
SENSOR_KINDS = ("lidar", "camera", "radar")


@dataclass(frozen=True)
class DetectorInfo:
    """What a detector is, for listings and for the runner.

    Attributes
    ----------
    name : the detector's name (normally its entry-point name)
    classes : the class names it can output (non-empty)
    sensors : the sensor kinds it needs in a frame, from ``("lidar", "camera", "radar")``
    device : where it runs: ``"cpu"``, ``"cuda"``, ``"cuda:0"`` ..., or ``"auto"`` when chosen at
        first use (CUDA when present); reading it must not import torch
    version : free-form version string (weights, algorithm)
    description : one line for ``fusionlabel plugins``
    """

    name: str
    classes: tuple[str, ...]
    sensors: tuple[str, ...] = ("lidar",)
    device: str = "cpu"
    version: str = ""
    description: str = ""

    def __post_init__(self) -> None:
        if not isinstance(self.name, str) or not self.name:
            raise ValueError("DetectorInfo.name must be a non-empty string")
        classes = tuple(self.classes) if not isinstance(self.classes, str) else (self.classes,)
        sensors = tuple(self.sensors) if not isinstance(self.sensors, str) else (self.sensors,)
        if not classes or not all(isinstance(c, str) and c for c in classes):
            raise ValueError("DetectorInfo.classes must be a non-empty sequence of class names")
        bad = [s for s in sensors if s not in SENSOR_KINDS]
        if bad:
            raise ValueError(f"DetectorInfo.sensors: unknown sensor kind(s) {bad}; use {SENSOR_KINDS}")
        object.__setattr__(self, "classes", classes)
        object.__setattr__(self, "sensors", sensors)
        object.__setattr__(self, "device", str(self.device))

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "classes": list(self.classes),
            "sensors": list(self.sensors),
            "device": self.device,
            "version": self.version,
            "description": self.description,
        }


def _readonly(a: NDArray[Any]) -> NDArray[Any]:
    a.setflags(write=False)
    return a


@dataclass(frozen=True)
class Detections:
    """The detections of one frame, struct-of-arrays.

    Attributes
    ----------
    boxes : N boxes in the frame's **ego** frame (metres, radians; see :mod:`fusionlabel.core.boxes`)
    scores : (N,) float64 confidence in [0, 1]
    classes : (N,) numpy str array of class names
    attributes : N dicts of free-form per-box extras (e.g. ``{"num_points": 42}``); default empty

    ``Detections(...)`` raises ``ValueError`` naming the first inconsistency (lengths, NaN, score
    outside [0, 1], empty class name); :class:`Boxes` itself rejects NaN and sizes <= 0.
    """

    boxes: Boxes
    scores: NDArray[np.float64]
    classes: NDArray[np.str_]
    attributes: tuple[Mapping[str, Any], ...] = field(default=())

    def __post_init__(self) -> None:
        if not isinstance(self.boxes, Boxes):
            raise ValueError(f"boxes must be a fusionlabel Boxes, got {type(self.boxes).__name__}")
        n = len(self.boxes)
        _check_boxes(self.boxes)
        scores = np.array(self.scores, dtype=np.float64, copy=True)
        if scores.shape != (n,):
            raise ValueError(f"scores has shape {scores.shape}, expected ({n},) for {n} boxes")
        if not np.all(np.isfinite(scores)):
            raise ValueError("scores contain NaN or infinity")
        if n and (scores.min() < 0.0 or scores.max() > 1.0):
            raise ValueError(f"scores must lie in [0, 1] (got {scores.min():.3g} .. {scores.max():.3g})")
        raw = self.classes
        if isinstance(raw, str):
            raise ValueError("classes must be a sequence of names, got one string")
        cls_arr = np.asarray(raw, dtype=object)
        if cls_arr.size == 0 and n == 0:
            cls_arr = cls_arr.reshape(0)
        if cls_arr.shape != (n,):
            raise ValueError(f"classes has shape {cls_arr.shape}, expected ({n},) for {n} boxes")
        if not all(isinstance(c, str) and c for c in cls_arr):
            raise ValueError("classes must be non-empty strings")
        classes = cls_arr.astype(np.str_) if n else np.zeros(0, dtype="<U1")
        attrs = tuple({} for _ in range(n)) if not self.attributes else tuple(self.attributes)
        if len(attrs) != n:
            raise ValueError(f"attributes has {len(attrs)} entries for {n} boxes")
        object.__setattr__(self, "scores", _readonly(scores))
        object.__setattr__(self, "classes", _readonly(classes))
        object.__setattr__(self, "attributes", attrs)

    # -- constructors -------------------------------------------------------------------------
    @classmethod
    def empty(cls) -> Detections:
        return cls(Boxes.empty(), np.zeros(0), np.zeros(0, dtype="<U1"))

    @classmethod
    def from_arrays(cls, boxes: ArrayLike | Boxes, scores: ArrayLike, classes: Sequence[str] | ArrayLike) -> Detections:
        """From an (N, 7) ``[x, y, z, l, w, h, yaw]`` array (ego frame) or :class:`Boxes`, scores, classes."""
        if not isinstance(boxes, Boxes):
            arr = np.asarray(boxes, dtype=np.float64)
            if arr.ndim != 2 or arr.shape[1] != 7:
                if arr.size == 0:
                    arr = arr.reshape(0, 7)
                else:
                    raise ValueError(f"boxes array has shape {arr.shape}, expected (N, 7) [x, y, z, l, w, h, yaw]")
            boxes = Boxes.from_array(arr)
        return cls(boxes, np.asarray(scores, dtype=np.float64), np.asarray(classes, dtype=object))

    # -- views --------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.boxes)

    def select(self, mask: NDArray[np.bool_] | NDArray[np.int64]) -> Detections:
        """A subset by boolean mask or index array (e.g. ``d.select(d.classes == "Car")``)."""
        idx = np.flatnonzero(mask) if np.asarray(mask).dtype == bool else np.asarray(mask, dtype=np.int64)
        return Detections(self.boxes[idx], self.scores[idx], self.classes[idx], tuple(self.attributes[i] for i in idx))

    def concat(self, other: Detections) -> Detections:
        return Detections(
            self.boxes.concat(other.boxes),
            np.concatenate([self.scores, other.scores]),
            np.concatenate([self.classes.astype(object), other.classes.astype(object)]),
            self.attributes + other.attributes,
        )

    def to_frame_labels(self, track_ids: ArrayLike | None = None, source: str | None = None) -> FrameLabels:
        """As :class:`FrameLabels` (ids ``0..N-1`` unless given; ``source`` stored in each box's attributes)."""
        ids = np.arange(len(self), dtype=np.int64) if track_ids is None else np.asarray(track_ids, dtype=np.int64)
        attrs = tuple({**a, **({"source": source} if source else {})} for a in self.attributes)
        return FrameLabels(ids, tuple(str(c) for c in self.classes), self.boxes, self.scores, attrs)


def _check_boxes(b: Boxes) -> None:
    """Re-check a Boxes' invariants (a subclass or a mutated instance may break them)."""
    n = len(b.yaw)
    if np.shape(b.center) != (n, 3) or np.shape(b.size) != (n, 3) or np.shape(b.yaw) != (n,):
        raise ValueError(
            f"box arrays have shapes center {np.shape(b.center)}, size {np.shape(b.size)}, yaw {np.shape(b.yaw)}"
        )
    for name, arr in (("center", b.center), ("size", b.size), ("yaw", b.yaw)):
        if not np.all(np.isfinite(arr)):
            raise ValueError(f"box {name} contains NaN or infinity")
    if np.any(np.asarray(b.size) <= 0):
        raise ValueError("box sizes must be positive")


def validate_detections(name: str, output: object, classes: Sequence[str] | None = None) -> Detections:
    """Check one frame's output of detector ``name``; return it as :class:`Detections`.

    Parameters
    ----------
    name : the detector's registered name (for the error)
    output : what ``detect`` returned: :class:`Detections` or a mapping with ``boxes`` ((N, 7)
        array or :class:`Boxes`), ``scores`` (N,), ``classes`` (N,)
    classes : the classes the detector declared; an output class outside them is malformed
        (None: not checked)

    Raises
    ------
    PluginOutputError
        naming the detector and the first problem (wrong type or shape, NaN/inf, size <= 0,
        score outside [0, 1], undeclared class).
    """
    try:
        if isinstance(output, Detections):
            det = output
            _check_boxes(det.boxes)
            Detections(det.boxes, det.scores, det.classes, det.attributes)  # re-run the invariants
        elif isinstance(output, Mapping):
            missing = [k for k in ("boxes", "scores", "classes") if k not in output]
            if missing:
                raise ValueError(f"output mapping lacks key(s) {missing}")
            det = Detections.from_arrays(output["boxes"], output["scores"], output["classes"])
        else:
            raise ValueError(f"returned {type(output).__name__}, expected Detections")
    except (ValueError, TypeError) as exc:
        raise PluginOutputError(name, f"malformed output: {exc}") from None
    if classes is not None and len(det):
        unknown = sorted(set(det.classes.tolist()) - set(classes))
        if unknown:
            raise PluginOutputError(name, f"malformed output: class(es) {unknown} not declared in info.classes")
    return det


@runtime_checkable
class Detector(Protocol):
    """A 3D object detector (see the module docstring for the contract).

    Example
    -------
    A complete detector that reports one box wherever a frame has points above 0.5 m::

        class Tallest:
            info = DetectorInfo("tallest", ("Misc",), ("lidar",), "cpu")

            def detect(self, frame: Frame, rig: Rig) -> Detections:
                xyz = lidar_points_ego(frame, rig).xyz
                hi = xyz[xyz[:, 2] > 0.5]
                if len(hi) == 0:
                    return Detections.empty()
                c = hi.mean(axis=0)
                return Detections.from_arrays([[*c, 1.0, 1.0, 1.0, 0.0]], [0.5], ["Misc"])
    """

    @property
    def info(self) -> DetectorInfo:
        """Name, classes, required sensor kinds and device."""
        ...

    def detect(self, frame: Frame, rig: Rig) -> Detections:
        """Detect objects in one frame; boxes in the frame's ego frame."""
        ...


@runtime_checkable
class BatchDetector(Detector, Protocol):
    """A detector that can also process several frames in one call (e.g. one GPU batch)."""

    def detect_batch(self, frames: Sequence[Frame], rig: Rig) -> Sequence[Detections]:
        """One :class:`Detections` per frame, in order."""
        ...


#: a factory registered under :data:`ENTRY_POINT_GROUP`: ``create(**options) -> Detector``
DetectorFactory = Callable[..., Detector]


def frame_has(frame: Frame, kind: str, empty_ok: bool = False) -> bool:
    """Whether ``frame`` holds at least one non-empty sample of sensor kind ``kind`` (with
    ``empty_ok``: any sample, a LiDAR sweep of 0 points included)."""
    if kind == "lidar":
        return any(empty_ok or len(c) > 0 for c in frame.lidar.values())
    if kind == "camera":
        return len(frame.images) > 0
    if kind == "radar":
        return len(frame.radar) > 0
    raise ValueError(f"unknown sensor kind {kind!r}; use {SENSOR_KINDS}")
