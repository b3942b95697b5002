"""The tracker's data types: its input per frame, its configuration and its output.

:class:`FrameDetections` (with optional :class:`RadarMeasurements`) is what
:meth:`~fusionlabel.track.tracker.Tracker.step` takes for one frame; :class:`TrackerConfig` holds
the parameters of one class; :class:`TrackRows` is the per-frame record of every live track that
:meth:`~fusionlabel.track.tracker.Tracker.finish` works on (named fields, struct of arrays);
:class:`TrackTable` and :class:`TrackingResult` are what it returns. The algorithm is in
:mod:`fusionlabel.track.tracker`.

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> fd = FrameDetections(Boxes.from_array([[10, 0, 1, 4, 1.8, 1.5, 0]]), np.ones(1), ("Car",))
>>> TrackerConfig.for_class("Pedestrian").gate_distance, len(fd.boxes)
(3.0, 1)
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera
from fusionlabel.core.frames import RadarDetections
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.review import ReviewQueue
from fusionlabel.core.transforms import Transform
from fusionlabel.track.ambiguity import AmbiguityConfig, AmbiguityRows, FrameAmbiguity
from fusionlabel.track.birth_prior import BirthPriorConfig
from fusionlabel.track.egomotion import EgoRotationConfig
from fusionlabel.track.kalman import MotionModel

#: what :meth:`~fusionlabel.track.tracker.Tracker.finish` reports as each box (see :attr:`TrackerConfig.output_box`)
OUTPUT_BOXES = ("smoothed", "filtered", "detection")


@dataclass(frozen=True)
class RadarMeasurements:
    """Radar detections of one frame, ready for fusion.

    Attributes
    ----------
    xyz : (M, 3) float64, metres, ego frame
    radial_velocity : (M,) float64, m/s, range rate relative to the sensor (positive = away)
    sensor_xyz : (3,) float64, metres, radar origin in the ego frame; or (M, 3), each point's
        own radar origin (the detections of several radars in one frame: a range rate is along
        the ray from the radar that measured it)
    """

    xyz: NDArray[np.float64]
    radial_velocity: NDArray[np.float64]
    sensor_xyz: NDArray[np.float64]

    def origins(self) -> NDArray[np.float64]:
        """(M, 3) each point's radar origin, ego frame."""
        s = np.asarray(self.sensor_xyz, dtype=np.float64)
        if s.size == 3:
            return np.broadcast_to(s.reshape(-1, 3), (len(self.xyz), 3))
        if s.shape != (len(self.xyz), 3):
            raise ValueError(f"radar origins: {s.shape} for {len(self.xyz)} points (want (3,) or (M, 3))")
        return s

    @classmethod
    def merge(cls, parts: Sequence[RadarMeasurements]) -> RadarMeasurements:
        """The detections of several radars as one, each point keeping its radar's origin."""
        return cls(
            np.vstack([p.xyz for p in parts]),
            np.concatenate([p.radial_velocity for p in parts]),
            np.vstack([p.origins() for p in parts]),
        )

    @classmethod
    def from_detections(cls, radar: RadarDetections, T_ego_radar: Transform) -> RadarMeasurements:
        """From radar-frame detections and the radar's mounting ``T_ego_radar``."""
        return cls(
            T_ego_radar.apply(radar.xyz), np.asarray(radar.radial_velocity, float), T_ego_radar.translation.copy()
        )


@dataclass(frozen=True)
class FrameDetections:
    """The tracker's input for one frame.

    Attributes
    ----------
    boxes : N detections, ego frame
    scores : (N,) float64 detector confidence (any monotone scale; higher = surer)
    categories : N category names
    radar : optional radar range rates of the frame
    T_world_ego : optional ego pose; when given for every frame, tracking runs in the world frame
    extras : optional (N, K) float64 per-detection values carried to the output (e.g. 2D boxes),
        returned as the ``"extras"`` attribute of each output box
    """

    boxes: Boxes
    scores: NDArray[np.float64]
    categories: Sequence[str]
    radar: RadarMeasurements | None = None
    T_world_ego: Transform | None = None
    extras: NDArray[np.float64] | None = None


@dataclass(frozen=True)
class TrackerConfig:
    """Tracker parameters (one set per object class).

    Attributes
    ----------
    metric : association affinity, ``"giou"``, ``"iou"`` or ``"dist"``
    threshold : a match needs affinity > threshold (GIoU/IoU units, or minus metres for dist)
    gate_distance : m, pairs with centres farther apart are never matched
    min_hits : detections a track needs before it is reported
    max_age : frames a track may go unmatched before it dies
    birth_score : detections scoring below this update tracks but start none
    output_box : the boxes :meth:`Tracker.finish` reports: ``"smoothed"`` the RTS-smoothed state
        from all of the track's detections, before and after (:mod:`.smoother`; the offline
        estimate labelling wants), ``"filtered"`` the online Kalman posterior, ``"detection"``
        the matched detection (both linearly interpolated across coasting gaps)
    score_mix : reported score = ``(1 - score_mix) * detection score + score_mix * track mean score``
    radar_sigma : m/s, range-rate noise
    radar_margin : m, radar points within a track's box grown by this much belong to it
    motion : the Kalman model
    ego_rotation : the estimate of the ego's rotation from the tracks, used when no ego poses are
        given (:mod:`fusionlabel.track.egomotion`)
    birth_prior : the second motion hypothesis of young tracks, "moving with the scene"
        (:mod:`fusionlabel.track.birth_prior`)
    ambiguity : thresholds of the ambiguity reasons and the error model
    view : the camera whose picture the annotation guideline labels (KITTI labels what
        ``image_02`` shows), or None (everything the detector sees, the default). With a view,
        :meth:`Tracker.finish` starts and ends each track at its first and last detected box with
        at least ``min_visible`` of its image extent inside the picture
        (:func:`fusionlabel.core.projection.visible_fraction`), and drops the tracks left with
        fewer than ``min_hits`` detected boxes
    min_visible : see ``view``; 0.3 was chosen on the KITTI development split (0.2-0.5 give
        the same correction effort there; 0.6 loses boxes the labels keep)
    review_fraction : the review budget: the queue holds at most this fraction of the frames
    review_min_score : frames whose error probability is below this are never queued (0: the
        budget is filled by the frames that have a reason, most suspicious first)
    output_threshold : the pre-labels' operating point: tracks whose confidence (mean reported
        score) is below it are not delivered. It is in the detector's score units, so the
        defaults deliver everything; ``fusionlabel track --format kitti`` sets the PointRCNN
        points chosen by cross-validation (``fusionlabel.track.kitti.POINTRCNN_OPERATING_POINTS``)
    """

    metric: str = "giou"
    threshold: float = -0.2
    gate_distance: float = 6.0
    min_hits: int = 3
    max_age: int = 6
    birth_score: float = -np.inf
    output_box: str = "smoothed"
    score_mix: float = 0.5
    radar_sigma: float = 0.3
    radar_margin: float = 0.5
    motion: MotionModel = field(default_factory=MotionModel)
    ego_rotation: EgoRotationConfig = field(default_factory=EgoRotationConfig)
    birth_prior: BirthPriorConfig = field(default_factory=BirthPriorConfig)
    ambiguity: AmbiguityConfig = field(default_factory=AmbiguityConfig)
    view: Camera | None = None
    min_visible: float = 0.3
    review_fraction: float = 0.1
    review_min_score: float = 0.0
    output_threshold: float = -np.inf

    def for_interval(self, dt: float | None) -> TrackerConfig:
        """This config for frames ``dt`` seconds apart (the Kalman step, the ego-rotation filter,
        the scene-motion hypothesis and the ambiguity model all take ``motion.dt``); None or a
        non-positive ``dt`` keeps the config's own (0.1 s, KITTI's 10 Hz)."""
        if dt is None or not np.isfinite(dt) or dt <= 0 or dt == self.motion.dt:
            return self
        return replace(self, motion=replace(self.motion, dt=float(dt)))

    def for_length(self, num_frames: int) -> TrackerConfig:
        """This config for a recording of ``num_frames`` frames: ``min_hits`` is capped at the
        length, so a 1- or 2-frame recording still gets pre-labels (every other setting as is)."""
        n = max(1, int(num_frames))
        return self if self.min_hits <= n else replace(self, min_hits=n)

    @classmethod
    def for_class(cls, name: str, **overrides: Any) -> TrackerConfig:
        """Defaults for ``Car``, ``Pedestrian`` or ``Cyclist`` (other names get the Car set)."""
        # no operating point here: it is in the detector's score units (see
        # fusionlabel.track.kitti.POINTRCNN_OPERATING_POINTS for the KITTI PointRCNN ones)
        if name == "Pedestrian":
            cfg = cls(
                metric="giou",
                threshold=-0.4,
                gate_distance=3.0,
                motion=MotionModel(sigma_accel=2.0, meas_sigma_pos=0.2, init_sigma_vel=3.0),
            )
        elif name == "Cyclist":
            cfg = cls(
                metric="giou",
                threshold=-0.4,
                gate_distance=4.0,
                score_mix=0.0,  # dev split: the per-box detection score ranks Cyclist boxes best
                motion=MotionModel(sigma_accel=3.0, meas_sigma_pos=0.25, init_sigma_vel=6.0),
            )
        else:
            cfg = cls()
        return replace(cfg, **overrides)


@dataclass(frozen=True)
class TrackRows:
    """One row per live track per frame, as :meth:`Tracker.finish` works on them (R rows).

    frame, track_id : (R,) int64
    det_index : (R,) float64 index of the detection the track was matched to or born from in
        its frame (NaN: none, the track coasted)
    affinity : (R,) float64 association affinity of the match (NaN: a birth or no detection)
    margin : (R,) float64 affinity margin over the runner-up (inf for a birth, NaN: no detection)
    flipped : (R,) float64 1.0 where the update resolved a heading flip (0 for births, NaN: none)
    posterior : (R, 7) float64 Kalman posterior box ``[x, y, z, l, w, h, yaw]``, tracking frame
    detection : (R, 7) float64 the matched detection's box (NaN rows where none)
    score : (R,) float64 the matched detection's score (NaN where none)
    velocity : (R, 2) float64 posterior ``(vx, vy)``, m/s, tracking frame
    category : (R,) int64 the track's category code
    det_category : (R,) float64 the matched detection's category code (NaN where none)
    extras : (R, E) float64 the matched detection's extras (NaN where none), or None
    """

    frame: NDArray[np.int64]
    track_id: NDArray[np.int64]
    det_index: NDArray[np.float64]
    affinity: NDArray[np.float64]
    margin: NDArray[np.float64]
    flipped: NDArray[np.float64]
    posterior: NDArray[np.float64]
    detection: NDArray[np.float64]
    score: NDArray[np.float64]
    velocity: NDArray[np.float64]
    category: NDArray[np.int64]
    det_category: NDArray[np.float64]
    extras: NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return len(self.frame)

    @property
    def matched(self) -> NDArray[np.bool_]:
        """(R,) bool, the track had a detection in this frame (match or birth)."""
        return ~np.isnan(self.det_index)

    def take(self, idx: NDArray[Any]) -> TrackRows:
        """The rows ``idx`` (an index or boolean mask), every field alike."""
        return TrackRows(
            self.frame[idx],
            self.track_id[idx],
            self.det_index[idx],
            self.affinity[idx],
            self.margin[idx],
            self.flipped[idx],
            self.posterior[idx],
            self.detection[idx],
            self.score[idx],
            self.velocity[idx],
            self.category[idx],
            self.det_category[idx],
            None if self.extras is None else self.extras[idx],
        )

    @classmethod
    def concat(cls, parts: Sequence[TrackRows]) -> TrackRows:
        """The rows of ``parts`` one after the other (all with extras, or none)."""
        ex = [p.extras for p in parts]

        def cat(name: str) -> Any:
            return np.concatenate([getattr(p, name) for p in parts])

        return cls(
            frame=cat("frame"),
            track_id=cat("track_id"),
            det_index=cat("det_index"),
            affinity=cat("affinity"),
            margin=cat("margin"),
            flipped=cat("flipped"),
            posterior=cat("posterior"),
            detection=cat("detection"),
            score=cat("score"),
            velocity=cat("velocity"),
            category=cat("category"),
            det_category=cat("det_category"),
            extras=None if any(e is None for e in ex) else np.concatenate([e for e in ex if e is not None]),
        )


@dataclass(frozen=True)
class TrackTable:
    """The offline output as flat rows (R rows, sorted by frame then track id).

    frame, track_id : (R,) int64
    category : (R,) str category names
    box : (R, 7) float64 ``[x, y, z, l, w, h, yaw]``, each frame's ego frame (m, rad)
    score : (R,) float64 reported box score
    track_score : (R,) float64 the track's confidence (mean of its ``score``)
    matched : (R,) bool, False for boxes interpolated across a coasting gap
    delivered : (R,) bool, the track reaches the operating point (a pre-label)
    extras : (R, K) float64 carried detection values (NaN where unmatched) or None
    """

    frame: NDArray[np.int64]
    track_id: NDArray[np.int64]
    category: NDArray[np.str_]
    box: NDArray[np.float64]
    score: NDArray[np.float64]
    track_score: NDArray[np.float64]
    matched: NDArray[np.bool_]
    delivered: NDArray[np.bool_]
    extras: NDArray[np.float64] | None

    def __len__(self) -> int:
        return len(self.frame)

    @classmethod
    def empty(cls) -> TrackTable:
        z = np.zeros(0)
        return cls(
            np.zeros(0, np.int64),
            np.zeros(0, np.int64),
            np.zeros(0, str),
            np.zeros((0, 7)),
            z,
            z,
            np.zeros(0, bool),
            np.zeros(0, bool),
            None,
        )

    def to_labels(self, mask: NDArray[np.bool_] | None = None) -> LabelSet:
        """The rows (all, or those where ``mask``) as a :class:`LabelSet` with per-box attributes
        ``interpolated`` and, where matched, ``extras``."""
        idx = np.arange(len(self)) if mask is None else np.flatnonzero(mask)
        labels: dict[int, FrameLabels] = {}
        if not len(idx):
            return LabelSet(labels)
        fr = self.frame[idx]
        bounds = np.flatnonzero(np.diff(fr)) + 1
        ex = self.extras
        for grp in np.split(idx, bounds):
            attrs = []
            for r in grp.tolist():
                a: dict[str, Any] = {"interpolated": not bool(self.matched[r])}
                if ex is not None and self.matched[r]:
                    a["extras"] = ex[r].tolist()
                attrs.append(a)
            labels[int(self.frame[grp[0]])] = FrameLabels(
                self.track_id[grp],
                tuple(self.category[grp].tolist()),
                Boxes.from_array(self.box[grp]),
                self.score[grp],
                tuple(attrs),
            )
        return LabelSet(labels)


@dataclass(frozen=True)
class TrackingResult:
    """What :meth:`Tracker.finish` returns.

    table : every reported box as flat rows (:class:`TrackTable`)
    rows : per-box reasons and error probabilities of the pre-labels (:class:`AmbiguityRows`)
    review : frames ordered by how likely they hold an ID error (within the review budget)
    num_frames : frames processed
    output_threshold : the operating point on the track confidence

    ``labels`` (the pre-labels), ``scored_labels`` (every scored track) and ``ambiguity``
    (frame -> :class:`FrameAmbiguity`) are built on first access.
    """

    table: TrackTable
    rows: AmbiguityRows
    review: ReviewQueue
    num_frames: int
    output_threshold: float = -np.inf

    @cached_property
    def labels(self) -> LabelSet:
        """The pre-labels: tracks whose confidence reaches the operating point (ego frame)."""
        return self.table.to_labels(self.table.delivered)

    @cached_property
    def scored_labels(self) -> LabelSet:
        """Every reported track with its scores, delivered or not (for score sweeps)."""
        return self.table.to_labels()

    @cached_property
    def ambiguity(self) -> dict[int, FrameAmbiguity]:
        """Frame index -> per-track confidence and reasons (frames with pre-labels only)."""
        return self.rows.to_dict()


def radar_from_arrays(
    xyz: ArrayLike, radial_velocity: ArrayLike, sensor_xyz: ArrayLike = (0.0, 0.0, 0.0)
) -> RadarMeasurements:
    """Build :class:`RadarMeasurements` from ego-frame arrays ((M, 3) m, (M,) m/s, (3,) m or
    (M, 3) m, one origin per point)."""
    s = np.asarray(sensor_xyz, dtype=np.float64)
    return RadarMeasurements(
        np.asarray(xyz, dtype=np.float64).reshape(-1, 3),
        np.asarray(radial_velocity, dtype=np.float64).reshape(-1),
        s.reshape(3) if s.size == 3 else s.reshape(-1, 3),
    )
