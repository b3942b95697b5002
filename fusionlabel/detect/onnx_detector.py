"""The ``onnx`` detector: bring your own model, run by ONNX Runtime.

``fusionlabel prelabel REC --detector onnx --weights model.onnx`` runs any model that meets this
contract (``fusionlabel export-model`` writes the built-in ``pillars`` network as one):

**Input** -- exactly one tensor: float32, shape ``(N, F)`` with ``N`` dynamic (the number of
points) and ``F`` = 3 (``x y z``) or 4 (``x y z intensity``, intensity in [0, 1]: 8-bit
intensities are divided by 255). The points of every LiDAR of the frame, in the frame's **ego
frame** (x forward, y left, z up, metres; docs/conventions.md), not cropped: the model crops.

**Outputs** -- three tensors, found by name:

* ``boxes``: float32 ``(M, 7)``, ``[x, y, z, l, w, h, yaw]`` in the same ego frame, gravity
  centre, metres, yaw in radians about z from the x axis;
* ``scores``: float32 ``(M,)`` in [0, 1];
* ``labels``: int64 or int32 ``(M,)``, indices into the class names.

``M`` may be fixed (top-K, low scores included) or dynamic; the detector keeps the rows scoring
at least its ``score_threshold``.

**Metadata** (``metadata_props`` of the model): ``fusionlabel.classes``, a JSON list of class
names (canonical names such as ``Car``, ``Pedestrian``, ``Cyclist``), required; optional
``fusionlabel.description``.

What is checked, each failure a :class:`OnnxContractError` (a ``DataError``) naming the model
file: when the detector is created, the file parses, it has one input of rank 2 and float type
with 3 or 4 columns, outputs named ``boxes``, ``scores`` and ``labels`` of ranks 2, 1, 1 and
float / float / integer types, and the classes; at each run, the shapes agree (``M`` rows, 7
columns), the values are finite, the labels index the classes. The model runs on CUDA
(``CUDAExecutionProvider``) when ``device`` is ``auto`` or ``cuda`` and the installed ONNX
Runtime has it, else on the CPU; ``info.device`` says which once known.

``info.version`` names the model file's SHA-256, so ``fusionlabel prelabel`` refuses to mix the
outputs of two models (the configuration fingerprint changes with the file).

Example
-------
>>> from fusionlabel.detect.onnx_detector import create   # doctest: +SKIP
>>> det = create("model.onnx", score_threshold=0.3)       # doctest: +SKIP
>>> det.info.classes                                       # doctest: +SKIP
('Car', 'Pedestrian', 'Cyclist')
"""

from __future__ import annotations

import json
import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Rig
from fusionlabel.core.errors import DataError
from fusionlabel.core.frames import Frame
from fusionlabel.core.points import lidar_points_ego
from fusionlabel.detect.api import Detections, DetectorInfo

CLASSES_KEY = "fusionlabel.classes"
OUTPUTS = ("boxes", "scores", "labels")


class OnnxContractError(DataError):
    """The ONNX model does not meet the detector's input / output contract (names the file)."""


def _ort() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise ImportError("onnxruntime is not installed: pip install 'fusionlabel[onnx]'") from None
    return onnxruntime


def _session(path: Path, providers: Sequence[str]) -> Any:
    ort = _ort()
    so = ort.SessionOptions()
    so.log_severity_level = 3  # errors only: the exported graph's shape notes are not news
    try:
        return ort.InferenceSession(str(path), sess_options=so, providers=list(providers))
    except Exception as exc:
        msg = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise OnnxContractError(path, f"not a readable ONNX model: {msg}") from None


def _rank(shape: Any) -> int:
    return len(shape) if isinstance(shape, (list, tuple)) else -1


def check_contract(path: Path, session: Any) -> tuple[tuple[str, ...], int, str]:
    """``(classes, input features, description)`` of a session's model, or :class:`OnnxContractError`."""
    inputs = session.get_inputs()
    if len(inputs) != 1:
        raise OnnxContractError(path, f"has {len(inputs)} inputs; the contract is one (N, 3|4) float32 'points'")
    inp = inputs[0]
    if _rank(inp.shape) != 2 or inp.type != "tensor(float)":
        raise OnnxContractError(
            path, f"input {inp.name!r} is {inp.type} of shape {inp.shape}; the contract is (N, 3|4) float32"
        )
    feats = inp.shape[1]
    if feats not in (3, 4):
        raise OnnxContractError(path, f"input {inp.name!r} has {feats} columns; the contract is 3 (x y z) or 4")
    outs = {o.name: o for o in session.get_outputs()}
    missing = [n for n in OUTPUTS if n not in outs]
    if missing:
        raise OnnxContractError(
            path, f"has no output(s) {', '.join(missing)} (outputs: {', '.join(outs) or 'none'}); see the contract"
        )
    want: dict[str, tuple[int, tuple[str, ...]]] = {
        "boxes": (2, ("tensor(float)",)),
        "scores": (1, ("tensor(float)",)),
        "labels": (1, ("tensor(int64)", "tensor(int32)")),
    }
    for n, (rank, types) in want.items():
        o = outs[n]
        if _rank(o.shape) != rank or o.type not in types:
            raise OnnxContractError(
                path,
                f"output {n!r} is {o.type} of shape {o.shape}; the contract is rank {rank} of {' or '.join(types)}",
            )
    if outs["boxes"].shape[1] not in (7, None) and not isinstance(outs["boxes"].shape[1], str):
        raise OnnxContractError(path, f"output 'boxes' has {outs['boxes'].shape[1]} columns; the contract is 7")
    meta = session.get_modelmeta().custom_metadata_map
    raw = meta.get(CLASSES_KEY)
    if raw is None:
        raise OnnxContractError(path, f"has no {CLASSES_KEY!r} metadata (a JSON list of class names)")
    try:
        classes = json.loads(raw)
    except ValueError:
        classes = None
    if not isinstance(classes, list) or not classes or not all(isinstance(c, str) and c for c in classes):
        raise OnnxContractError(path, f"metadata {CLASSES_KEY!r} is not a JSON list of class names: {raw[:80]!r}")
    return tuple(classes), int(feats), str(meta.get("fusionlabel.description", ""))


class OnnxDetector:
    """An ONNX model behind the :class:`~fusionlabel.detect.api.Detector` protocol (module docstring).

    Parameters
    ----------
    weights : the ``.onnx`` model file
    score_threshold : rows scoring below it are dropped
    device : ``"auto"`` (CUDA when ONNX Runtime offers it), ``"cpu"`` or ``"cuda"``
    lidars : LiDAR names to use (default: all of the frame's)
    name : the name in ``info``
    """

    def __init__(
        self,
        weights: str | Path,
        *,
        score_threshold: float = 0.3,
        device: str = "auto",
        lidars: Sequence[str] | None = None,
        name: str = "onnx",
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError("score_threshold must lie in [0, 1]")
        if device not in ("auto", "cpu") and not str(device).startswith("cuda"):
            raise ValueError(f"unknown device {device!r}; use auto, cpu or cuda")
        self.weights = Path(weights)
        if not self.weights.is_file():
            raise DataError(self.weights, "no such ONNX model file")
        self.score_threshold = float(score_threshold)
        self.lidars = None if lidars is None else tuple(lidars)
        self.name = name
        self._device_option = device
        from fusionlabel.core.atomic import file_sha256

        self._hash = file_sha256(self.weights)[:12]
        providers = self._providers()
        self._session = _session(self.weights, providers)
        self.classes, self.features, self.description = check_contract(self.weights, self._session)
        self._device = "cuda" if self._session.get_providers()[0] == "CUDAExecutionProvider" else "cpu"
        self._lock = threading.Lock()

    def _providers(self) -> list[str]:
        have = _ort().get_available_providers()
        if self._device_option != "cpu" and "CUDAExecutionProvider" in have:
            return ["CUDAExecutionProvider", "CPUExecutionProvider"]
        if self._device_option.startswith("cuda"):
            raise ValueError("device 'cuda' requested but this ONNX Runtime has no CUDAExecutionProvider")
        return ["CPUExecutionProvider"]

    def __getstate__(self) -> dict[str, Any]:  # sessions do not pickle: rebuild in the other process
        d = dict(self.__dict__)
        d.pop("_session", None)
        d.pop("_lock", None)
        return d

    def __setstate__(self, d: dict[str, Any]) -> None:
        self.__dict__.update(d)
        self._session = _session(self.weights, self._providers())
        self._lock = threading.Lock()

    @property
    def info(self) -> DetectorInfo:
        return DetectorInfo(
            self.name,
            self.classes,
            ("lidar",),
            self._device,
            f"{self.weights.name} sha256:{self._hash}",
            self.description or "ONNX model run by ONNX Runtime (bring your own model)",
        )

    def detect(self, frame: Frame, rig: Rig) -> Detections:
        """Detections of one frame, ego frame."""
        cloud = lidar_points_ego(frame, rig, self.lidars)
        return self.run(cloud.xyz, cloud.intensity)

    def run(self, xyz: NDArray[np.floating], intensity: NDArray[np.floating] | None = None) -> Detections:
        """The model on one ego-frame cloud ((N, 3) metres; (N,) intensities)."""
        pts = np.asarray(xyz, np.float32).reshape(-1, 3)
        if len(pts) == 0:
            return Detections.empty()
        if self.features == 4:
            inten = np.zeros(len(pts), np.float32) if intensity is None else np.asarray(intensity, np.float32)
            if len(inten) and float(np.nanmax(inten)) > 1.0:
                inten = inten / 255.0
            pts = np.column_stack([pts, inten]).astype(np.float32)
        with self._lock:
            out = self._session.run(list(OUTPUTS), {self._session.get_inputs()[0].name: np.ascontiguousarray(pts)})
        return self._to_detections(*out)

    def _to_detections(self, boxes: Any, scores: Any, labels: Any) -> Detections:
        b = np.asarray(boxes)
        s = np.asarray(scores)
        lab = np.asarray(labels)
        if b.ndim != 2 or b.shape[1] != 7 or s.shape != (len(b),) or lab.shape != (len(b),):
            raise OnnxContractError(
                self.weights,
                f"outputs break the contract: boxes {b.shape}, scores {s.shape}, labels {lab.shape} "
                "(expected (M, 7), (M,), (M,))",
            )
        if not (np.all(np.isfinite(b)) and np.all(np.isfinite(s))):
            raise OnnxContractError(self.weights, "outputs break the contract: non-finite boxes or scores")
        if len(lab) and (lab.min() < 0 or lab.max() >= len(self.classes)):
            raise OnnxContractError(
                self.weights,
                f"outputs break the contract: label {int(lab.max())} is not a class index (0..{len(self.classes) - 1})",
            )
        keep = s >= self.score_threshold
        order = np.argsort(-s[keep], kind="stable")
        cls = np.asarray(self.classes, dtype=object)[lab[keep][order].astype(np.int64)]
        return Detections.from_arrays(
            b[keep][order].astype(np.float64), np.clip(s[keep][order].astype(np.float64), 0.0, 1.0), cls
        )


def create(
    weights: str | Path | None = None,
    *,
    score_threshold: float = 0.3,
    device: str = "auto",
    lidars: Sequence[str] | None = None,
    name: str = "onnx",
) -> OnnxDetector:
    """Entry-point factory of the ``onnx`` detector.

    ``weights`` is the model file (default: the shipped pillars network exported to ONNX,
    ``fusionlabel/detect/pillars/weights/synth_v2.onnx``, trained on synthetic data only).

    Raises
    ------
    DataError / OnnxContractError : the file is missing, unreadable or breaks the contract
    ImportError : onnxruntime is not installed
    """
    path = Path(weights) if weights is not None else DEFAULT_MODEL
    return OnnxDetector(path, score_threshold=score_threshold, device=device, lidars=lidars, name=name)


#: the model :func:`create` loads when no ``weights`` are given
DEFAULT_MODEL = Path(__file__).resolve().parent / "pillars" / "weights" / "synth_v2.onnx"
