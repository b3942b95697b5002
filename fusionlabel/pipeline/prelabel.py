"""Pre-label one recording: run a detector on every frame, track per class, build the review queue.

This is the one function the CLI (``fusionlabel prelabel``), the desktop app (in a worker thread)
and cluster workers (Ray tasks) call. No Qt, no torch here: the detector is whatever the registry
builds.

Flow for a recording of M frames::

    for each frame k:   det_k = detector.detect(frame_k, rig)        (boxes in the ego frame)
                        radar_k = radar detections moved to the ego frame (if any)
    per class c:        tracks_c = Tracker(TrackerConfig.for_class(c)).step(...) ... .finish()
    labels = union of tracks_c with track ids made unique across classes
    review = per-frame union of the class review queues, most suspicious first, capped at the
             configured fraction of frames

A frame whose detector call fails (a plugin that raises, times out or returns garbage) is
recorded in the report and tracked as a frame without detections: the rest goes on. A class
whose tracking fails is recorded (``failed_classes``) and the other classes are delivered. A
detector that cannot be built at all raises :class:`~fusionlabel.detect.errors.PluginError`.

The labels come out as *proposed* boxes (``attributes["state"] == "proposed"``), and every queued
frame carries the digest of its boxes (:func:`fusionlabel.core.review.frame_digest`), so the app,
``fusionlabel review`` and ``eval`` tell untouched, accepted and edited frames apart. The report
holds the whole configuration (:func:`prelabel_config`) and its fingerprint: ``fusionlabel
prelabel`` compares it before it touches an existing output.

Example
-------
>>> from fusionlabel.io.open import SAMPLE, open_recording
>>> res = prelabel(open_recording(SAMPLE), "geometric")
>>> res.labels.num_boxes() > 0, res.review.load <= 0.1
(True, True)
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import time
import traceback
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.edits import mark_proposed
from fusionlabel.core.errors import FusionLabelError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.core.review import ReviewItem, ReviewQueue
from fusionlabel.track import FrameDetections, RadarMeasurements, Tracker, TrackerConfig, TrackingResult

Progress = Callable[[int, int], None]


class Cancelled(FusionLabelError):
    """Pre-labeling was cancelled by the caller (``cancel()`` returned True)."""


@dataclass(frozen=True)
class PrelabelReport:
    """What happened, for logs and the batch summary (JSON-serialisable through ``to_dict``)."""

    recording: str
    detector: str
    frames: int
    detections: int
    tracks: int
    boxes: int
    failed_frames: tuple[str, ...] = ()
    seconds_detect: float = 0.0
    seconds_track: float = 0.0
    failed_classes: tuple[str, ...] = ()
    config: Mapping[str, Any] = field(default_factory=dict)

    @property
    def fingerprint(self) -> str:
        """Hash of :attr:`config`: equal fingerprints, the same pre-labels."""
        return config_fingerprint(self.config)

    @property
    def fps(self) -> float:
        t = self.seconds_detect + self.seconds_track
        return self.frames / t if t > 0 else 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "detector": self.detector,
            "frames": self.frames,
            "detections": self.detections,
            "tracks": self.tracks,
            "boxes": self.boxes,
            "failed_frames": list(self.failed_frames),
            "failed_classes": list(self.failed_classes),
            "config": dict(self.config),
            "fingerprint": self.fingerprint,
            "seconds_detect": round(self.seconds_detect, 3),
            "seconds_track": round(self.seconds_track, 3),
            "fps": round(self.fps, 2),
        }


@dataclass(frozen=True)
class PrelabelResult:
    """Labels (persistent-ID tracks, ego frame), the review queue, per-frame ambiguity, the report."""

    labels: LabelSet
    review: ReviewQueue
    report: PrelabelReport
    ambiguity: Mapping[int, Any] = field(default_factory=dict)


def _runner(detector: Any, timeout_s: float | None):  # -> DetectorRunner
    from fusionlabel.detect.registry import create_detector
    from fusionlabel.detect.runner import DetectorRunner

    if isinstance(detector, DetectorRunner):
        return detector
    if isinstance(detector, str):
        return DetectorRunner(create_detector(detector), detector, timeout_s=timeout_s)
    return DetectorRunner(detector, timeout_s=timeout_s)


def merge_reviews(queues: list[ReviewQueue], num_frames: int, max_fraction: float) -> ReviewQueue:
    """Union of per-class review queues: one item per frame (highest score, all reasons),
    most suspicious first, at most ``max(1, floor(max_fraction * num_frames))`` frames."""
    best: dict[int, tuple[float, list[Mapping[str, Any]]]] = {}
    for q in queues:
        for it in q.items:
            s, reasons = best.get(it.frame, (0.0, []))
            best[it.frame] = (max(s, it.score), reasons + list(it.reasons))
    items = sorted((ReviewItem(f, s, tuple(r)) for f, (s, r) in best.items()), key=lambda it: (-it.score, it.frame))
    cap = max(1, int(np.floor(max_fraction * num_frames + 1e-9)))  # never above the fraction, except 1 frame
    return ReviewQueue(tuple(items[:cap]), num_frames, float(max_fraction))


def _jsonable(v: Any) -> Any:
    """Plain JSON data of a configuration value (dataclasses, mappings, tuples, numpy, inf)."""
    if dataclasses.is_dataclass(v) and not isinstance(v, type):
        return {f.name: _jsonable(getattr(v, f.name)) for f in dataclasses.fields(v)}
    if isinstance(v, Mapping):
        return {str(k): _jsonable(x) for k, x in sorted(v.items(), key=lambda kv: str(kv[0]))}
    if isinstance(v, (list, tuple)):
        return [_jsonable(x) for x in v]
    if isinstance(v, np.generic):
        v = v.item()
    if isinstance(v, float) and not math.isfinite(v):
        return "nan" if math.isnan(v) else ("inf" if v > 0 else "-inf")
    if v is None or isinstance(v, (bool, int, float, str)):
        return v
    return repr(v)


def tracker_configs(
    classes: tuple[str, ...], tracker_config: TrackerConfig | Mapping[str, TrackerConfig] | None
) -> dict[str, TrackerConfig]:
    """The tracker configuration of each class: one for all, a mapping's entry, else
    :meth:`TrackerConfig.for_class`."""
    out = {}
    for c in classes:
        if isinstance(tracker_config, TrackerConfig):
            out[c] = tracker_config
        elif tracker_config is not None and c in tracker_config:
            out[c] = tracker_config[c]
        else:
            out[c] = TrackerConfig.for_class(c)
    return out


def prelabel_config(
    detector: Mapping[str, Any],
    classes: tuple[str, ...],
    view: str | None,
    configs: Mapping[str, TrackerConfig],
    use_ego_poses: bool = True,
    use_radar: bool = True,
) -> dict[str, Any]:
    """Everything that decides the pre-labels, as JSON data: the detector (name, version: for
    learned detectors the weights' hash), the classes, the labelled view, the tracker settings
    of each class and the sensor options. Two runs with equal configs give the same labels."""
    trk = {c: _jsonable(replace(cfg, view=None)) for c, cfg in configs.items()}
    return {
        "detector": {"name": str(detector.get("name", "")), "version": str(detector.get("version", ""))},
        "classes": list(classes),
        "view": view,
        "tracker": trk,
        "use_ego_poses": bool(use_ego_poses),
        "use_radar": bool(use_radar),
    }


def config_fingerprint(config: Mapping[str, Any]) -> str:
    """A short stable hash of a :func:`prelabel_config`."""
    return hashlib.sha256(json.dumps(_jsonable(config), sort_keys=True).encode()).hexdigest()[:16]


def prelabel(
    recording: Recording,
    detector: Any,
    *,
    tracker_config: TrackerConfig | Mapping[str, TrackerConfig] | None = None,
    classes: tuple[str, ...] | None = None,
    progress: Progress | None = None,
    cancel: Callable[[], bool] | None = None,
    timeout_s: float | None = 60.0,
    use_ego_poses: bool = True,
    use_radar: bool = True,
    view: str | None = None,
) -> PrelabelResult:
    """Detect, track and queue one recording.

    Parameters
    ----------
    recording : any opened recording
    detector : a registered detector name (``"geometric"``, ``"pillars"``, a plugin), a detector
        object, or a :class:`~fusionlabel.detect.runner.DetectorRunner`
    tracker_config : one config for every class, or a mapping class -> config; default
        ``TrackerConfig.for_class(c)``
    classes : classes to track (default: the detector's ``info.classes``)
    progress : called as ``progress(done, total)`` after each frame (total = frames + 1 tracking step)
    cancel : polled between frames; returning True raises :class:`Cancelled`
    use_ego_poses : track in the world frame when the recording has ego poses
    use_radar : fuse radar range rates when the recording has radar
    view : the name of the camera whose picture the annotation guideline labels (e.g. KITTI's
        ``image_02``): track ends mostly outside it are not pre-labelled
        (:attr:`~fusionlabel.track.tracker.TrackerConfig.view`); None labels all the detector sees

    Raises
    ------
    FusionLabelError : ``view`` names no camera of the recording's rig
    """
    camera = None
    if view is not None:
        camera = recording.rig.cameras.get(view)
        if camera is None:
            have = ", ".join(sorted(recording.rig.cameras)) or "none"
            raise FusionLabelError(f"{recording.path}: no camera named {view!r} for --view (cameras: {have})")
    runner = _runner(detector, timeout_s)
    name = runner.info.name
    classes = tuple(classes or runner.info.classes)
    n = len(recording)
    per_frame: list[FrameDetections] = []
    failed: list[str] = []
    n_det = 0
    t0 = time.perf_counter()
    for k in range(n):
        if cancel is not None and cancel():
            raise Cancelled(f"pre-labeling of {recording.path} cancelled at frame {k} of {n}")
        try:
            frame = recording.frame(k)
        except FusionLabelError as exc:
            failed.append(f"frame {k}: {exc}")
            per_frame.append(FrameDetections(Boxes.empty(), np.zeros(0), ()))
            if progress:
                progress(k + 1, n + 1)
            continue
        res = runner.detect_many([frame], recording.rig)[0]
        if res.error is not None:
            failed.append(f"frame {k}: {res.error}")
            dets = None
        else:
            dets = res.detections
        pose = recording.ego_pose_at(frame.timestamp_ns) if use_ego_poses else None
        radar = None
        if use_radar and frame.radar:
            xyz, vr, origins = [], [], []
            for rname, rd in frame.radar.items():
                if rname not in recording.rig.radars or len(rd) == 0:
                    continue
                rm = RadarMeasurements.from_detections(rd, recording.rig.T_ego_sensor(rname))
                xyz.append(rm.xyz)
                vr.append(rm.radial_velocity)
                origins.append(rm.sensor_xyz)
            if xyz:  # one radar origin per frame: the tracker's measurement model takes one sensor
                radar = RadarMeasurements(np.vstack(xyz), np.concatenate(vr), origins[0])
        if dets is None or len(dets) == 0:
            per_frame.append(FrameDetections(Boxes.empty(), np.zeros(0), (), radar, pose))
        else:
            n_det += len(dets)
            per_frame.append(FrameDetections(dets.boxes, dets.scores, tuple(dets.classes), radar, pose))
        if progress:
            progress(k + 1, n + 1)
    t_det = time.perf_counter() - t0

    t0 = time.perf_counter()
    have_poses = use_ego_poses and all(fd.T_world_ego is not None for fd in per_frame) and n > 0
    configs = tracker_configs(classes, tracker_config)
    results: list[tuple[str, TrackingResult]] = []
    failed_classes: list[str] = []
    for c in classes:
        cfg = configs[c].for_length(n)
        cfg = cfg if camera is None else replace(cfg, view=camera)
        try:
            trk = Tracker(cfg)
            for fd in per_frame:
                idx = np.flatnonzero(np.array([cat == c for cat in fd.categories], dtype=bool))
                trk.step(
                    FrameDetections(
                        fd.boxes[idx],
                        fd.scores[idx],
                        tuple(fd.categories[i] for i in idx.tolist()),
                        fd.radar,
                        fd.T_world_ego if have_poses else None,
                    )
                )
            results.append((c, trk.finish()))
        except Exception as exc:
            last = traceback.extract_tb(exc.__traceback__)[-1:]
            where = f" ({last[0].filename.rsplit('/', 1)[-1]}:{last[0].lineno})" if last else ""
            failed_classes.append(f"{c}: {type(exc).__name__}: {exc}{where}")
    labels, ambiguity, remaps = _merge_labels(results)
    labels = mark_proposed(labels)
    queues = [r.review.remap_tracks(remap) for (_, r), remap in zip(results, remaps)]
    budget = max(
        (configs[c].review_fraction for c, _ in results),
        default=max((cfg.review_fraction for cfg in configs.values()), default=0.1),
    )
    review = merge_reviews(queues, n, budget).with_digests(labels)
    t_trk = time.perf_counter() - t0
    if progress:
        progress(n + 1, n + 1)
    config = prelabel_config(runner.info.to_dict(), classes, view, configs, use_ego_poses, use_radar)
    report = PrelabelReport(
        recording=str(recording.path),
        detector=name,
        frames=n,
        detections=n_det,
        tracks=len(labels.track_ids()),
        boxes=labels.num_boxes(),
        failed_frames=tuple(failed),
        seconds_detect=t_det,
        seconds_track=t_trk,
        failed_classes=tuple(failed_classes),
        config=config,
    )
    return PrelabelResult(labels, review, report, ambiguity)


def _merge_labels(
    results: list[tuple[str, TrackingResult]],
) -> tuple[LabelSet, dict[int, Any], list[dict[int, int]]]:
    """Union of per-class label sets; track ids renumbered 1..T in order of (class, id) to stay unique.

    Returns the labels, per-frame ambiguity lists, and each class's id map (old -> new).
    """
    frames: dict[int, list[FrameLabels]] = {}
    ambiguity: dict[int, list[Any]] = {}
    remaps: list[dict[int, int]] = []
    next_id = 1
    for _c, res in results:
        ids = res.labels.track_ids()
        remap = {int(t): next_id + i for i, t in enumerate(ids)}
        remaps.append(remap)
        next_id += len(ids)
        for k, fl in res.labels.frames.items():
            new_ids = np.array([remap[int(t)] for t in fl.track_ids], dtype=np.int64)
            frames.setdefault(k, []).append(FrameLabels(new_ids, fl.categories, fl.boxes, fl.scores, fl.attributes))
        for k, amb in res.ambiguity.items():
            ambiguity.setdefault(k, []).append(amb)
    merged: dict[int, FrameLabels] = {}
    for k, parts in frames.items():
        out = parts[0]
        for p in parts[1:]:
            out = FrameLabels(
                np.concatenate([out.track_ids, p.track_ids]),
                out.categories + p.categories,
                out.boxes.concat(p.boxes),
                np.concatenate([out.scores, p.scores]),
                out.attributes + p.attributes,
            )
        merged[k] = out
    return LabelSet(merged), ambiguity, remaps
