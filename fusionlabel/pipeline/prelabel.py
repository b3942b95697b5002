"""Pre-label one recording: run a detector on every frame, track per class, build the review queue.

This is the one function the CLI (``fusionlabel prelabel``), the desktop app (in a worker thread)
and cluster workers (Ray tasks) call. No Qt, no torch here: the detector is whatever the registry
builds.

Flow for a recording of M frames::

    for each frame k:   det_k = detector.detect(frame_k, rig)        (boxes in the ego frame)
                        det_k = det_k without boxes that overlap a better one of any class
                                (BEV IoU > NMS_IOU: one object, one box)
                        radar_k = radar detections moved to the ego frame (if any)
    per class c:        tracks_c = Tracker(TrackerConfig.for_class(c)).step(...) ... .finish()
    labels = union of tracks_c with track ids made unique across classes
    review = per-frame union of the class review queues, most suspicious first, capped at the
             configured fraction of frames

A frame whose detector call fails (a plugin that raises or returns garbage) is recorded in the
report and tracked as a frame without detections: the rest goes on. A frame whose LiDAR sweep
holds 0 points is a valid frame with no detections. A class whose tracking fails is recorded
(``failed_classes``) and the other classes are delivered. A detector that cannot be built at
all raises :class:`~fusionlabel.detect.errors.PluginError`; one that runs past its deadline is
disabled and the run stops with its
:class:`~fusionlabel.detect.errors.PluginTimeoutError` (partial pre-labels would look done).

What is refused before any detection, each with the cause ``fusionlabel info`` reports too:
frames out of time order or sharing a timestamp
(:class:`~fusionlabel.core.errors.TimeOrderError`), an extrinsic that is not a rotation, and a
LiDAR with no calibration in the rig (:class:`~fusionlabel.core.errors.CalibrationError`
naming the calibration problem the reader recorded: a NaN, a missing file...).

A detector given by its registered name runs in a worker process that is killed at the
deadline (:meth:`~fusionlabel.detect.runner.DetectorRunner.isolated`); a detector object runs in
a deadline thread (it need not pickle; a hung call keeps its thread).

The labels come out as *proposed* boxes (``attributes["state"] == "proposed"``), and every queued
frame carries the digest of its boxes (:func:`fusionlabel.core.review.frame_digest`), so the app,
``fusionlabel review`` and ``eval`` tell untouched, accepted and edited frames apart. The report
holds the whole configuration (:func:`prelabel_config`) and its fingerprint: ``fusionlabel
prelabel`` compares it before it touches an existing output.

Example
-------
>>> from fusionlabel.io.open import SAMPLE, open_recording
>>> res = prelabel(open_recording(SAMPLE), "geometric")
>>> res.labels.num_boxes > 0, res.review.load <= 0.1
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

from fusionlabel.core.boxes import Boxes, nms_bev
from fusionlabel.core.edits import mark_proposed
from fusionlabel.core.errors import CalibrationError, FusionLabelError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.core.review import ReviewItem, ReviewQueue
from fusionlabel.track import FrameDetections, RadarMeasurements, Tracker, TrackerConfig, TrackingResult
from fusionlabel.track.ambiguity import REASONS, AmbiguityConfig, AmbiguityRows, error_probability
from fusionlabel.track.refine import RefineConfig, refine_tracks
from fusionlabel.track.review import review_queue_from_rows

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
    refine: Mapping[str, Any] | None = None
    #: the tracker's time step used, seconds (the recording's frame interval; None: its config's)
    frame_interval_s: float | None = None

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
            "refine": None if self.refine is None else dict(self.refine),
            "config": dict(self.config),
            "fingerprint": self.fingerprint,
            "frame_interval_s": self.frame_interval_s,
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


def _runner(detector: Any, timeout_s: float | None, options: Mapping[str, Any] | None = None):  # -> DetectorRunner
    from fusionlabel.detect.runner import DetectorRunner

    if isinstance(detector, DetectorRunner):
        return detector
    if isinstance(detector, str):
        return DetectorRunner.isolated(detector, options, timeout_s=timeout_s)
    return DetectorRunner(detector, timeout_s=timeout_s)


def check_recording(recording: Recording, needs_lidar: bool = True) -> None:
    """Refuse what cannot be pre-labelled, with the cause ``fusionlabel info`` reports:
    frames not in time order (:meth:`~fusionlabel.core.recording.Recording.check_time_order`),
    an extrinsic that is not a rigid transform, a LiDAR stream with no calibration.

    Raises
    ------
    TimeOrderError, CalibrationError : naming the file
    """
    from fusionlabel.core.calibration import rig_problems

    recording.check_time_order()
    bad = rig_problems(recording.rig, recording.path)
    if bad:
        raise bad[0]
    if needs_lidar and (err := _no_calibration(recording)) is not None:
        raise err


def _no_calibration(recording: Recording, names: list[str] | None = None) -> CalibrationError | None:
    """The error for LiDARs the rig lacks (:meth:`~fusionlabel.core.recording.Recording.lidar_calibration_problem`)."""
    bad = recording.lidar_calibration_problem(names)
    return None if bad is None else CalibrationError(bad.path, f"{bad.reason}: cannot pre-label")


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


#: detections of any class whose footprints overlap a better-scored one by more than this BEV IoU
#: are dropped before tracking: a detector's two boxes on one object (two peaks on a long
#: vehicle, a pedestrian also seen as a cyclist) would otherwise become two tracks
NMS_IOU = 0.3


def prelabel_config(
    detector: Mapping[str, Any],
    classes: tuple[str, ...],
    view: str | None,
    configs: Mapping[str, TrackerConfig],
    use_ego_poses: bool = True,
    use_radar: bool = True,
    refine: RefineConfig | None = None,
    nms_iou: float | None = NMS_IOU,
) -> dict[str, Any]:
    """Everything that decides the pre-labels, as JSON data: the detector (name, version: for
    learned detectors the weights' hash), the classes, the labelled view, the tracker settings
    of each class, the refinement (None: off) and the sensor options. Two runs with equal
    configs give the same labels. ``tracker_step`` says the tracker's ``motion.dt`` is the
    recording's frame interval (the report's ``frame_interval_s``), not the value in
    ``tracker``: outputs of versions that tracked every recording at 0.1 s have another
    fingerprint, so a re-run does not take them for done."""
    trk = {c: _jsonable(replace(cfg, view=None)) for c, cfg in configs.items()}
    return {
        "detector": {"name": str(detector.get("name", "")), "version": str(detector.get("version", ""))},
        "classes": list(classes),
        "view": view,
        "tracker": trk,
        "refine": None if refine is None else _jsonable(refine),
        "nms_iou": nms_iou,
        "use_ego_poses": bool(use_ego_poses),
        "use_radar": bool(use_radar),
        "tracker_step": "recording frame interval",
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
    refine: bool | RefineConfig = True,
    detector_options: Mapping[str, Any] | None = None,
    nms_iou: float | None = NMS_IOU,
) -> PrelabelResult:
    """Detect, track, refine and queue one recording.

    Parameters
    ----------
    recording : any opened recording
    detector : a registered detector name (``"geometric"``, ``"pillars"``, a plugin), a detector
        object, or a :class:`~fusionlabel.detect.runner.DetectorRunner`
    tracker_config : one config for every class, or a mapping class -> config; default
        ``TrackerConfig.for_class(c)``. Its ``motion.dt`` is replaced by the recording's frame
        interval (:func:`frame_interval_s`; kept for a recording of one frame)
    classes : classes to track (default: the detector's ``info.classes``)
    progress : called as ``progress(done, total)`` after each frame (total = frames + 1 tracking step)
    cancel : polled between frames; returning True raises :class:`Cancelled`
    use_ego_poses : track in the world frame when the recording has ego poses
    use_radar : fuse radar range rates when the recording has radar
    view : the name of the camera whose picture the annotation guideline labels (e.g. KITTI's
        ``image_02``): track ends mostly outside it are not pre-labelled
        (:attr:`~fusionlabel.track.tracker.TrackerConfig.view`); None labels all the detector sees
    refine : the offboard track refinement (:mod:`fusionlabel.track.refine`: one size per track,
        one world pose for static objects, heading from motion, tracks extended into frames where
        the object is seen but was not detected, tracks that never look like an object dropped);
        True uses the defaults, a :class:`~fusionlabel.track.refine.RefineConfig` sets them,
        False switches it off
    detector_options : the factory options of a detector given by its registered name (e.g.
        ``{"weights": "model.onnx"}``); they travel to its worker process. The detector's
        ``info.version`` (for learned detectors the weights' hash) enters the configuration

    nms_iou : detections overlapping a better-scored one of any class by more than this BEV IoU
        are dropped before tracking (:data:`NMS_IOU`); None keeps every detection
    timeout_s : seconds one detector call may take (per frame); past it the detector is
        disabled and :class:`~fusionlabel.detect.errors.PluginTimeoutError` raised
    Raises
    ------
    FusionLabelError : ``view`` names no camera of the recording's rig
    TimeOrderError, CalibrationError : the recording cannot be pre-labelled (:func:`check_recording`)
    PluginError : the detector cannot be built, or it hung (disabled)
    """
    camera = None
    if view is not None:
        camera = recording.rig.cameras.get(view)
        if camera is None:
            have = ", ".join(sorted(recording.rig.cameras)) or "none"
            raise FusionLabelError(f"{recording.path}: no camera named {view!r} for --view (cameras: {have})")
    runner = _runner(detector, timeout_s, detector_options)
    try:
        return _prelabel(
            recording,
            runner,
            camera,
            tracker_config,
            classes,
            progress,
            cancel,
            use_ego_poses,
            use_radar,
            view,
            refine,
            nms_iou,
        )
    finally:
        if runner is not detector:  # made here: stop its worker process
            runner.close()


def frame_interval_s(recording: Recording) -> float | None:
    """Seconds between the recording's frames (the median step of its reference timestamps),
    the tracker's time step: a 15 Hz recording moves its objects 2/3 as far per frame as a
    10 Hz one, and radar range rates are in m/s. None with fewer than two frames."""
    s = recording.streams.get(recording.reference)
    rate = s.rate_hz if s is not None else 0.0
    return 1.0 / rate if rate > 0 else None


def _prelabel(
    recording: Recording,
    runner: Any,
    camera: Any,
    tracker_config: TrackerConfig | Mapping[str, TrackerConfig] | None,
    classes: tuple[str, ...] | None,
    progress: Progress | None,
    cancel: Callable[[], bool] | None,
    use_ego_poses: bool,
    use_radar: bool,
    view: str | None,
    refine: bool | RefineConfig = True,
    nms_iou: float | None = NMS_IOU,
) -> PrelabelResult:
    if runner.disabled is not None:  # a shared runner whose detector hung on an earlier recording
        from fusionlabel.detect.errors import PluginTimeoutError

        raise PluginTimeoutError(runner.name, f"not run: disabled earlier in this run ({runner.disabled.reason})")
    check_recording(recording, "lidar" in runner.info.sensors)
    name = runner.info.name
    classes = tuple(classes or runner.info.classes)
    n = len(recording)
    per_frame: list[FrameDetections] = []
    failed: list[str] = []
    n_det = 0
    t0 = time.perf_counter()
    for k in range(n):
        if cancel is not None and cancel():
            raise Cancelled(f"pre-labeling of {recording.path} cancelled at frame {k + 1} of {n} (index {k})")
        if runner.disabled is not None:  # it hung: the rest would only fail, and look done
            raise runner.disabled
        try:
            frame = recording.frame(k)
        except FusionLabelError as exc:
            failed.append(f"frame {k + 1} (index {k}): {exc}")
            per_frame.append(FrameDetections(Boxes.empty(), np.zeros(0), ()))
            if progress:
                progress(k + 1, n + 1)
            continue
        gaps = [s for s, c in frame.lidar.items() if c.frame_id != "ego" and s not in recording.rig.lidars]
        if gaps and "lidar" in runner.info.sensors and (err := _no_calibration(recording, gaps)) is not None:
            raise err
        res = runner.detect_many([frame], recording.rig)[0]
        if res.error is not None:
            failed.append(f"frame {k + 1} (index {k}): {res.error}")
            dets = None
        else:
            dets = res.detections
        pose = recording.ego_pose_at(frame.timestamp_ns) if use_ego_poses else None
        radar = None
        if use_radar and frame.radar:
            parts = [
                RadarMeasurements.from_detections(rd, recording.rig.T_ego_sensor(rname))
                for rname, rd in frame.radar.items()
                if rname in recording.rig.radars and len(rd)
            ]
            if parts:  # each point keeps its own radar's origin (several radars per frame)
                radar = RadarMeasurements.merge(parts)
        if dets is None or len(dets) == 0:
            per_frame.append(FrameDetections(Boxes.empty(), np.zeros(0), (), radar, pose))
        else:
            if nms_iou is not None:
                keep = nms_bev(dets.boxes, dets.scores, nms_iou)
                if not keep.all():
                    dets = dets.select(keep)
            n_det += len(dets)
            per_frame.append(FrameDetections(dets.boxes, dets.scores, tuple(dets.classes), radar, pose))
        if progress:
            progress(k + 1, n + 1)
    if runner.disabled is not None:  # it hung on the last frame
        raise runner.disabled
    t_det = time.perf_counter() - t0

    t0 = time.perf_counter()
    have_poses = use_ego_poses and all(fd.T_world_ego is not None for fd in per_frame) and n > 0
    configs = tracker_configs(classes, tracker_config)
    results: list[tuple[str, TrackingResult]] = []
    failed_classes: list[str] = []
    dt = frame_interval_s(recording)
    used: dict[str, TrackerConfig] = {}
    for c in classes:
        cfg = configs[c].for_length(n).for_interval(dt)
        cfg = cfg if camera is None else replace(cfg, view=camera)
        used[c] = cfg
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
    refine_cfg = (RefineConfig() if refine is True else refine) if refine else None
    refine_report = None
    if refine_cfg is not None and len(labels):
        min_vis = min((cfg.min_visible for cfg in configs.values()), default=0.3)
        labels, refine_report = refine_tracks(recording, labels, refine_cfg, cancel, camera, min_vis)
    labels = mark_proposed(labels)
    stitched = dict(refine_report.stitched) if refine_report is not None else {}
    first = _first_frames(labels)
    queues = [
        review_queue_from_rows(
            realigned_rows(r.rows, remap, stitched, first, used[c].ambiguity),
            n,
            used[c].review_fraction,
            used[c].review_min_score,
            r.review.score_threshold,
        )
        for (c, r), remap in zip(results, remaps)
    ]
    budget = max(
        (configs[c].review_fraction for c, _ in results),
        default=max((cfg.review_fraction for cfg in configs.values()), default=0.1),
    )
    review = merge_reviews(queues, n, budget).with_digests(labels)
    t_trk = time.perf_counter() - t0
    if progress:
        progress(n + 1, n + 1)
    config = prelabel_config(
        runner.info.to_dict(), classes, view, configs, use_ego_poses, use_radar, refine_cfg, nms_iou
    )
    report = PrelabelReport(
        recording=str(recording.path),
        detector=name,
        frames=n,
        detections=n_det,
        tracks=len(labels.track_ids),
        boxes=labels.num_boxes,
        failed_frames=tuple(failed),
        seconds_detect=t_det,
        seconds_track=t_trk,
        failed_classes=tuple(failed_classes),
        config=config,
        refine=None if refine_report is None else refine_report.to_dict(),
        frame_interval_s=dt,
    )
    return PrelabelResult(labels, review, report, ambiguity)


def _first_frames(labels: LabelSet) -> dict[int, int]:
    """Each track's first frame."""
    first: dict[int, int] = {}
    for k in sorted(labels.frames):
        for t in labels.get(k).track_ids.tolist():
            first.setdefault(int(t), int(k))
    return first


def realigned_rows(
    rows: AmbiguityRows,
    remap: Mapping[int, int],
    stitched: Mapping[int, int],
    first: Mapping[int, int],
    cfg: AmbiguityConfig,
) -> AmbiguityRows:
    """A class tracker's per-box reasons on the final tracks, for the review queue.

    ``rows`` carry the tracker's ids: ``remap`` renames them to the merged labels' ids, and
    refinement's ``stitched`` (later id -> earlier id) to the final ones; ``first`` is each final
    track's first frame. Rows of tracks refinement dropped go. A track refinement extended
    backwards starts earlier than where the tracker flagged its birth (``fragment``,
    ``interior_birth`` on its first box): that box's reasons move to the track's new first frame,
    where the object now changes identity (before this, the queue pointed one or more frames
    after the ID error on synthetic recordings: 6 of 30 errors on a queued frame against 17 of
    44 without refinement). A track extended back to the recording's first frame was there from
    the start: its birth reasons go (``cfg`` gives the box's error probability without them). A
    track stitched onto an earlier one keeps its frames.
    """
    if not len(rows.frame):
        return rows
    merged = np.array([remap.get(int(t), int(t)) for t in rows.track_id.tolist()], dtype=np.int64)
    final = np.array([stitched.get(int(u), int(u)) for u in merged.tolist()], dtype=np.int64)
    keep = np.array([int(t) in first for t in final.tolist()], dtype=bool)
    frame, sev, prob = rows.frame.copy(), rows.severity.copy(), rows.prob.copy()
    birth = [REASONS.index("fragment"), REASONS.index("interior_birth")]
    for u in np.unique(merged[keep]).tolist():
        if u in stitched:
            continue
        sel = np.flatnonzero(merged == u)
        r0 = int(sel[np.argmin(rows.frame[sel])])
        start = first[int(final[r0])]
        if start < frame[r0] and (sev[r0, birth] > 0).any():
            frame[r0] = start
            if start == 0:
                sev[r0, birth] = 0.0
                prob[r0] = error_probability(sev[r0 : r0 + 1], cfg)[0]
    return AmbiguityRows(frame[keep], final[keep], sev[keep], prob[keep])


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
        ids = res.labels.track_ids
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
