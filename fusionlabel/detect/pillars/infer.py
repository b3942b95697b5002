"""The ``pillars`` detector: runs a :class:`~fusionlabel.detect.pillars.model.PillarNet` checkpoint on frames.

torch is imported on the first ``detect`` call (or :meth:`PillarsDetector.load`), never when the
detector is created or its ``info`` read. The device is chosen then: ``"auto"`` means CUDA when
``torch.cuda.is_available()``, else the CPU; ``info.device`` reports the choice once made.
On CUDA the forward pass runs under ``torch.autocast(dtype=float16)`` (mixed precision); on the
CPU in float32.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Rig
from fusionlabel.core.frames import Frame
from fusionlabel.core.points import lidar_points_ego
from fusionlabel.detect.api import Detections, DetectorInfo
from fusionlabel.detect.pillars.config import PillarsConfig
from fusionlabel.detect.pillars.inputs import crop_points, resolve_device
from fusionlabel.detect.pillars.targets import Decoded, decode

__all__ = ["PillarsDetector", "crop_points", "resolve_device"]


class PillarsDetector:
    """CenterPoint-style pillar detector (see :mod:`fusionlabel.detect.pillars`).

    Parameters
    ----------
    weights : checkpoint path (see :mod:`~fusionlabel.detect.pillars.checkpoint`)
    config : its config (from :func:`~fusionlabel.detect.pillars.checkpoint.read_header`)
    meta : its metadata (``synthetic_only``, training command, figures)
    name : registered name
    device : ``"auto"``, ``"cpu"``, ``"cuda"`` or ``"cuda:N"``
    score_threshold : detections below it are dropped
    max_objects : at most this many detections per frame
    lidars : LiDAR sensor names to use (default: all of the frame's)
    mc_dropout : Monte Carlo dropout: drop this fraction of the BEV pseudo-image's features at
        random (scaled by ``1 / (1 - p)``) on every call, so that repeated calls disagree where
        the network is unsure (``fusionlabel rank``); 0 (default) is the deterministic detector
    seed : seed of the dropout masks
    """

    def __init__(
        self,
        weights: Path | None,
        config: PillarsConfig,
        meta: dict[str, Any] | None = None,
        *,
        name: str = "pillars",
        device: str = "auto",
        score_threshold: float = 0.3,
        max_objects: int = 200,
        lidars: Sequence[str] | None = None,
        mc_dropout: float = 0.0,
        seed: int = 0,
    ) -> None:
        if not 0.0 <= score_threshold <= 1.0:
            raise ValueError("score_threshold must lie in [0, 1]")
        if not 0.0 <= mc_dropout < 1.0:
            raise ValueError("mc_dropout must lie in [0, 1)")
        self.mc_dropout = float(mc_dropout)
        self._mc_rng = np.random.default_rng(seed)
        self.weights = weights
        self.config = config
        self.meta = dict(meta or {})
        self.name = name
        self._device_option = str(device)
        self._device: str | None = None if device == "auto" else str(device)
        self.score_threshold = float(score_threshold)
        self.max_objects = int(max_objects)
        self.lidars = None if lidars is None else tuple(lidars)
        self._net: Any = None
        self._lock = threading.Lock()
        self._hash: str | None = None

    @classmethod
    def from_network(cls, net: Any, config: PillarsConfig, **kwargs: Any) -> PillarsDetector:
        """Wrap an in-memory network (training, tests); ``device`` is taken from its parameters."""
        det = cls(None, config, **kwargs)
        det._net = net.eval()
        det._device = str(next(net.parameters()).device)
        return det

    # -- the protocol -----------------------------------------------------------------------------
    @property
    def info(self) -> DetectorInfo:
        synthetic = bool(self.meta.get("synthetic_only", False))
        src = f"{self.weights.name} sha256:{self._weights_hash()}" if self.weights is not None else "in-memory network"
        desc = "PointPillars encoder + CenterPoint head (torch)"
        if synthetic:
            desc += "; weights trained on SYNTHETIC data only"
        return DetectorInfo(
            self.name,
            self.config.classes,
            ("lidar",),
            self._device or self._device_option,
            f"{src} {self.meta.get('fusionlabel_version', '')}".strip(),
            desc,
        )

    def _weights_hash(self) -> str:
        """The first 12 hex digits of the checkpoint's SHA-256 (what ``info.version`` names)."""
        if self._hash is None:
            from fusionlabel.core.atomic import file_sha256

            try:
                self._hash = file_sha256(str(self.weights))[:12]
            except OSError:
                self._hash = "unreadable"
        return str(self._hash)

    def detect(self, frame: Frame, rig: Rig) -> Detections:
        """Detections of one frame, ego frame."""
        return self.detect_batch([frame], rig)[0]

    def detect_batch(self, frames: Sequence[Frame], rig: Rig) -> list[Detections]:
        """One forward pass for several frames; one :class:`Detections` each, in order."""
        clouds = [lidar_points_ego(f, rig, self.lidars) for f in frames]
        decoded = self.predict([c.xyz for c in clouds], [c.intensity for c in clouds])
        return [self.to_detections(d) for d in decoded]

    # -- learning from the annotator (fusionlabel.detect.adaptation.Adaptable) ---------------------
    def finetune(
        self,
        recording: Any,
        labels: Any,
        out: Path,
        options: Any,
        provenance: Any = None,
        progress: Any = None,
        cancel: Any = None,
    ) -> Any:
        """Fine-tune this detector's checkpoint on the frames of ``labels`` of ``recording`` and
        write the result to ``out`` (:func:`fusionlabel.detect.pillars.finetune.finetune`, with
        copy-paste, flip, rotation and scaling); the checkpoint itself is only read. Returns a
        :class:`~fusionlabel.detect.adaptation.FinetuneResult`."""
        from fusionlabel.detect.pillars.finetune import finetune
        from fusionlabel.detect.pillars.train import samples_from_labels

        if self.weights is None:
            raise ValueError("an in-memory network has no checkpoint to fine-tune")
        samples = samples_from_labels(recording, labels, self.config, options.min_points)
        return finetune(self.weights, samples, out, options, provenance, progress, cancel)

    # -- the work ---------------------------------------------------------------------------------
    def load(self) -> Any:
        """Build the network on its device (once; thread-safe); returns it."""
        with self._lock:
            if self._net is None:
                from fusionlabel.detect.pillars.checkpoint import build_network

                if self.weights is None:
                    raise ValueError("no weights and no network")
                device = resolve_device(self._device_option)
                net, config, meta = build_network(self.weights, device)
                if config != self.config:
                    from fusionlabel.core.errors import DataError

                    raise DataError(self.weights, "checkpoint changed on disk since the detector was created")
                self._net, self._device = net, device
                self.meta.update(meta)
        return self._net

    def predict(
        self, xyz: Sequence[NDArray[np.float32]], intensity: Sequence[NDArray[np.float32] | None] | None = None
    ) -> list[Decoded]:
        """Run the network on B ego-frame clouds ((M_b, 3) float32 each); one :class:`Decoded` each."""
        import torch

        net = self.load()
        device = self._device or "cpu"
        inten = list(intensity) if intensity is not None else [None] * len(xyz)
        pts = [crop_points(p, i, self.config) for p, i in zip(xyz, inten)]
        batch = torch.from_numpy(np.concatenate(pts) if pts else np.zeros((0, 3), np.float32)).to(device)
        bidx = torch.from_numpy(np.repeat(np.arange(len(pts)), [len(p) for p in pts])).to(device)
        with torch.inference_mode():
            if self.mc_dropout > 0:
                bev = net.pfn(batch, bidx, len(pts))
                keep = self._mc_rng.random(tuple(bev.shape), dtype=np.float32) >= self.mc_dropout
                mask = torch.from_numpy(keep.astype(np.float32) / (1.0 - self.mc_dropout)).to(bev.device)
                hm, reg = net.head(net.backbone(bev * mask))
            elif device.startswith("cuda"):
                with torch.autocast("cuda", dtype=torch.float16):
                    hm, reg = net(batch, bidx, len(pts))
            else:
                hm, reg = net(batch, bidx, len(pts))
            return decode(hm, reg, self.config, self.score_threshold, self.max_objects)

    def to_detections(self, d: Decoded) -> Detections:
        classes = (
            np.asarray(self.config.classes, dtype=object)[d.labels] if len(d.labels) else np.zeros(0, dtype=object)
        )
        attrs: tuple[dict[str, Any], ...] = ()
        if d.velocity is not None and len(d.boxes):
            attrs = tuple({"velocity": [float(v[0]), float(v[1])]} for v in d.velocity)
        det = Detections.from_arrays(d.boxes, d.scores, classes)
        return Detections(det.boxes, det.scores, det.classes, attrs) if attrs else det
