"""The multi-object cuboid tracker: Kalman prediction, Hungarian association, birth and death.

Method (per frame ``k``)
------------------------
1. Detections (ego frame) are moved into the tracking frame: the world frame when an ego pose
   ``T_world_ego`` is given (ego-motion compensation: objects move with constant velocity in the
   world, not relative to a turning car), else the ego frame itself.
2. Every track is predicted one step, ``x = F x``, ``P = F P F' + Q`` (:class:`BatchKalman`).
3. The affinity of each (track, detection) pair (3D GIoU, 3D IoU or negative centre distance,
   gated by centre distance) is maximised by the Hungarian method; pairs below the class
   threshold are refused (:func:`~fusionlabel.track.association.associate`).
   Young tracks (one detection so far) have no measured velocity: they are associated under two
   hypotheses, at rest in the tracking frame and moving with the scene's majority motion, taking
   the better affinity per pair, and adopt the hypothesis they matched by
   (:mod:`~fusionlabel.track.birth_prior`).
4. Matched tracks are updated with their detection (heading flips resolved by
   :func:`~fusionlabel.track.kalman.align_yaw`); radar range rates inside a track's box are
   fused by an EKF update (:meth:`BatchKalman.update_radial_velocity`).
5. Unmatched detections with a score at least ``birth_score`` start tracks; tracks unmatched
   for more than ``max_age`` frames die.

Output: online, :meth:`Tracker.step` returns the confirmed tracks of the frame (at least
``min_hits`` hits). :meth:`Tracker.finish` returns the offline result that labelling wants:
every track with at least ``min_hits`` hits is reported from its first to its last detection,
each box the RTS-smoothed estimate from all of the track's detections, before and after it
(:mod:`.smoother`), frames it coasted through included; with a labelled camera ``view``, from
its first to its last detection in that camera's picture. Each box is scored (``score_mix`` of
the detection score and the track's mean detection score) and each track gets a confidence,
the mean of its boxes' scores (the quantity the KITTI score sweep thresholds). The *pre-labels* handed to an annotator
(:attr:`TrackingResult.labels`) are the tracks whose confidence reaches the class's operating
point ``output_threshold``; every scored track stays available for score sweeps
(:attr:`TrackingResult.scored_labels`). The per-box ambiguity, the error probabilities and the
review queue are computed on the pre-labels (:mod:`.ambiguity`, :mod:`.review`).

Backends: ``backend="batch"`` (default) filters all tracks at once with compiled kernels
(:class:`~fusionlabel.track.kalman.BatchKalman`); ``backend="filterpy"`` runs the same tracker
with one ``filterpy.kalman.KalmanFilter`` per track (:class:`~fusionlabel.track.kalman.FilterpyBank`),
the reference for equality tests and speed comparisons.

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> trk = Tracker(TrackerConfig(min_hits=2))
>>> for k in range(5):
...     _ = trk.step(FrameDetections(Boxes.from_array([[10 + k, 0, 1, 4, 1.8, 1.5, 0]]), np.ones(1), ("Car",)))
>>> res = trk.finish()
>>> res.labels.track_ids().tolist(), len(res.labels)
([1], 5)
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, Iterable, NamedTuple, Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.calibration import Camera
from fusionlabel.core.frames import RadarDetections
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.projection import visible_fraction
from fusionlabel.core.transforms import Transform
from fusionlabel.track._fast import young_hypotheses
from fusionlabel.track.ambiguity import (
    REASONS,
    AmbiguityConfig,
    AmbiguityRows,
    FrameAmbiguity,
    TrackHistory,
    score_rows,
)
from fusionlabel.track.association import METRICS, Assignment, affinity_matrix, associate
from fusionlabel.track.birth_prior import BirthPriorConfig, SceneMotionFilter
from fusionlabel.track.egomotion import EgoRotationConfig, EgoRotationFilter
from fusionlabel.track.kalman import POS, VEL, YAW, BatchKalman, FilterpyBank, MotionModel, wrap_pi
from fusionlabel.core.review import ReviewQueue
from fusionlabel.track.review import review_queue_from_rows
from fusionlabel.track.smoother import smooth_tracks

#: Kalman backends of :class:`Tracker`
BACKENDS = ("batch", "filterpy")
#: what :meth:`Tracker.finish` reports as each box (see :attr:`TrackerConfig.output_box`)
OUTPUT_BOXES = ("smoothed", "filtered", "detection")


class _FrameRecord(NamedTuple):
    """What :meth:`Tracker.step_arrays` keeps of one frame for :meth:`Tracker._rows` (T live tracks, N detections)."""

    frame: int
    ids: NDArray[np.int64]  # (T,) track ids after births
    x: NDArray[np.float64]  # (T, 9) posterior states
    cat: NDArray[np.int64]  # (T,) category codes
    mt: NDArray[np.int64]  # (K,) matched track rows
    md: NDArray[np.int64]  # (K,) matched detection indices
    assignment: Assignment | None  # None when there was nothing to associate (then K = 0)
    flipped: NDArray[np.bool_]  # (K,) heading flips resolved by the update
    n_trk: int  # tracks alive before the births
    born: NDArray[np.int64]  # (B,) detection indices that started tracks
    boxes: NDArray[np.float64]  # (N, 7) detections, tracking frame
    scores: NDArray[np.float64]  # (N,)
    cat_codes: NDArray[np.int64]  # (N,)
    extras: NDArray[np.float64] | None  # (N, E) or None


@dataclass(frozen=True)
class RadarMeasurements:
    """Radar detections of one frame, ready for fusion.

    Attributes
    ----------
    xyz : (M, 3) float64, metres, ego frame
    radial_velocity : (M,) float64, m/s, range rate relative to the sensor (positive = away)
    sensor_xyz : (3,) float64, metres, radar origin in the ego frame
    """

    xyz: NDArray[np.float64]
    radial_velocity: NDArray[np.float64]
    sensor_xyz: NDArray[np.float64]

    @classmethod
    def from_detections(cls, radar: RadarDetections, T_ego_radar: Transform) -> RadarMeasurements:
        """From radar-frame detections and the radar's mounting ``T_ego_radar``."""
        return cls(T_ego_radar.apply(radar.xyz), np.asarray(radar.radial_velocity, float), T_ego_radar.translation.copy())


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
        points chosen by cross-validation (``fusionlabel.commands.track.POINTRCNN_OPERATING_POINTS``)
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

    def for_length(self, num_frames: int) -> TrackerConfig:
        """This config for a recording of ``num_frames`` frames: ``min_hits`` is capped at the
        length, so a 1- or 2-frame recording still gets pre-labels (every other setting as is)."""
        n = max(1, int(num_frames))
        return self if self.min_hits <= n else replace(self, min_hits=n)

    @classmethod
    def for_class(cls, name: str, **overrides: Any) -> TrackerConfig:
        """Defaults for ``Car``, ``Pedestrian`` or ``Cyclist`` (other names get the Car set)."""
        # no operating point here: it is in the detector's score units (see
        # fusionlabel.commands.track.POINTRCNN_OPERATING_POINTS for the KITTI PointRCNN ones)
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
        return cls(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros(0, str), np.zeros((0, 7)), z, z,
                   np.zeros(0, bool), np.zeros(0, bool), None)

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
                self.track_id[grp], tuple(self.category[grp].tolist()), Boxes.from_array(self.box[grp]),
                self.score[grp], tuple(attrs),
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


class Tracker:
    """Online multi-object tracker; see the module docstring for the method.

    Call :meth:`step` once per frame (also for frames without detections), then :meth:`finish`.

    Parameters
    ----------
    config : tracker parameters
    backend : ``"batch"`` (compiled, all tracks at once) or ``"filterpy"`` (one filterpy
        KalmanFilter per track, the reference); both give the same tracks
    """

    def __init__(self, config: TrackerConfig | None = None, backend: str = "batch") -> None:
        if backend not in BACKENDS:
            raise ValueError(f"unknown backend {backend!r} ({', '.join(BACKENDS)})")
        self.config = config or TrackerConfig()
        if self.config.output_box not in OUTPUT_BOXES:
            raise ValueError(f"unknown output_box {self.config.output_box!r} ({', '.join(OUTPUT_BOXES)})")
        self.backend = backend
        self.kf: BatchKalman | FilterpyBank = (
            BatchKalman(self.config.motion) if backend == "batch" else FilterpyBank(self.config.motion)
        )
        self.frame = 0
        self._next_id = 1
        self._cat_code: dict[str, int] = {}
        # per live track (aligned with kf rows)
        self.ids = np.zeros(0, np.int64)
        self.hits = np.zeros(0, np.int64)
        self.misses = np.zeros(0, np.int64)  # frames since the last match
        self.cat = np.zeros(0, np.int64)
        self.score_sum = np.zeros(0)
        # per-frame records (concatenated by finish)
        self._rec: list[_FrameRecord] = []
        self._extras: list[NDArray[np.float64]] = []
        self._poses: dict[int, Transform] = {}
        self._world: bool | None = None
        self._prev_sensor: dict[str, Any] = {}
        self.scene: SceneMotionFilter | None = SceneMotionFilter(self.config.birth_prior) if self.config.birth_prior.enabled else None
        self.ego_rotation: EgoRotationFilter | None = (
            EgoRotationFilter(self.config.ego_rotation, self.config.motion.dt) if self.config.ego_rotation.enabled else None
        )

    # -- helpers ----------------------------------------------------------------------------------
    def category_codes(self, categories: Sequence[str]) -> NDArray[np.int64]:
        """(N,) int64 codes of category names for :meth:`step_arrays` (new names get new codes)."""
        cc = self._cat_code
        return np.fromiter((cc.setdefault(c, len(cc)) for c in categories), dtype=np.int64, count=len(categories))

    # -- the online step --------------------------------------------------------------------------
    def step(self, det: FrameDetections) -> FrameLabels:
        """Track one frame; returns the confirmed tracks of this frame (online view, ego frame)."""
        boxes = det.boxes.to_array()
        world = det.T_world_ego is not None
        if self._world is None:
            self._world = world
        elif self._world != world:
            raise ValueError("give T_world_ego for every frame or for none")
        if world:
            assert det.T_world_ego is not None
            T = det.T_world_ego
            self._poses[self.frame] = T
            boxes[:, :3] = T.apply(boxes[:, :3])
            boxes[:, YAW] = wrap_pi(boxes[:, YAW] + T.yaw)
        extras = None if det.extras is None else np.asarray(det.extras, dtype=np.float64).reshape(len(boxes), -1)
        radar = self._radar_arrays(det.radar, det.T_world_ego) if det.radar is not None else None
        self.step_arrays(boxes, np.asarray(det.scores, np.float64), self.category_codes(det.categories), extras, radar)
        cats = {v: k for k, v in self._cat_code.items()}
        ok = (self.hits >= self.config.min_hits) & (self.misses == 0)
        out = self.kf.x[ok, :7].copy()
        if world:
            assert det.T_world_ego is not None
            Ti = det.T_world_ego.inverse()
            out[:, :3] = Ti.apply(out[:, :3])
            out[:, YAW] = out[:, YAW] + Ti.yaw
        return FrameLabels(
            self.ids[ok], tuple(cats[int(c)] for c in self.cat[ok]), Boxes.from_array(out), self.score_sum[ok] / self.hits[ok]
        )

    def _radar_arrays(
        self, radar: RadarMeasurements, T_world_ego: Transform | None
    ) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
        """Radar points, range rates, sensor position and velocity in the tracking frame.

        In the world frame the sensor velocity is the finite difference of its world positions
        between frames, ``v_s = (s_k - s_k-1) / dt`` (the lever arm of a turning ego included);
        in the ego frame the sensor is at rest and all velocities are relative to the ego.
        """
        pts = np.asarray(radar.xyz, dtype=np.float64).reshape(-1, 3)
        s_pos = np.asarray(radar.sensor_xyz, dtype=np.float64).reshape(3)
        s_vel = np.zeros(3)
        if T_world_ego is not None:
            pts = T_world_ego.apply(pts)
            s_pos = T_world_ego.apply(s_pos[None])[0]
            prev = self._prev_sensor.get("pos")
            if prev is not None:
                dt = self.config.motion.dt * (self.frame - self._prev_sensor["frame"])
                s_vel = (s_pos - prev) / dt
            self._prev_sensor = {"pos": s_pos, "frame": self.frame}
        return pts, np.asarray(radar.radial_velocity, dtype=np.float64).reshape(-1), s_pos, s_vel

    def step_arrays(
        self,
        boxes: NDArray[np.float64],
        scores: NDArray[np.float64],
        cat_codes: NDArray[np.int64],
        extras: NDArray[np.float64] | None = None,
        radar: tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]] | None = None,
    ) -> int:
        """The tracking step on plain arrays, tracking frame (the fast path :meth:`step` calls).

        Parameters
        ----------
        boxes : (N, 7) float64 ``[x, y, z, l, w, h, yaw]`` in the tracking frame
        scores : (N,) float64
        cat_codes : (N,) int64 category codes
        extras : optional (N, K) float64 carried to the output
        radar : optional ``(points (M, 3), range rates (M,), sensor position (3,), sensor velocity (3,))``,
            tracking frame

        Returns
        -------
        the frame index just processed
        """
        cfg = self.config
        f = self.frame
        kf = self.kf
        n_trk = len(self.ids)
        # 2. predict: x = F x, P = F P F' + Q; without ego poses, the scene's predicted rotation
        ego = self.ego_rotation if self._world is not True else None
        bp = cfg.birth_prior
        # filtered centres at frame k-1
        prev_xy = kf.x[:, :2].copy() if (ego is not None or bp.enabled) and n_trk else None
        kf.predict()
        if self.scene is not None:
            self.scene.predict()
        if ego is not None:
            phi0 = ego.predict()
            if cfg.ego_rotation.compensate:
                kf.rotate(phi0)
        # 3. associate
        if ego is not None:
            ego.motion = None
        if n_trk and len(boxes):
            aff = affinity_matrix(kf.x[:, :7], boxes, cfg.metric, cfg.gate_distance)
            a = associate(aff, cfg.threshold)
            mt, md = a.matches[:, 0], a.matches[:, 1]
            if ego is not None and len(mt):
                # the residual rotation of the established tracks' matches corrects the scene's rotation
                # the scene's rotation between k-1 and k, from tracks matched then and now
                est = self.misses[mt] == 0
                assert prev_xy is not None
                corr = ego.measure(prev_xy[mt[est]], boxes[md[est], :2])
                if corr != 0.0 and cfg.ego_rotation.compensate:
                    kf.rotate(corr)
                    if abs(corr) * float(np.sqrt(np.max(kf.x[:, 0] ** 2 + kf.x[:, 1] ** 2))) > cfg.ego_rotation.reassociate:
                        aff = affinity_matrix(kf.x[:, :7], boxes, cfg.metric, cfg.gate_distance)
                        a = associate(aff, cfg.threshold)
                        mt, md = a.matches[:, 0], a.matches[:, 1]
            if bp.enabled:
                assert prev_xy is not None
                a = self._birth_prior(aff, a, prev_xy, boxes)
                mt, md = a.matches[:, 0], a.matches[:, 1]
        else:
            a = None
            mt = md = np.zeros(0, np.int64)
        # 4. update matched tracks
        self.misses += 1
        flipped = np.zeros(0, bool)
        if len(mt):
            flipped = kf.update(mt, boxes[md])
            self.hits[mt] += 1
            self.misses[mt] = 0
            self.score_sum[mt] += scores[md]
        if radar is not None and n_trk and len(radar[0]):
            self._fuse_radar(*radar)
        # 5. births
        unmatched = np.ones(len(boxes), bool)
        unmatched[md] = False
        born = np.flatnonzero(unmatched & (scores >= cfg.birth_score))
        if len(born):
            v0 = ego.birth_velocity(boxes[born, :2]) if ego is not None and cfg.ego_rotation.birth_velocity else None
            kf.add(boxes[born], v0)
            nb = len(born)
            self.ids = np.concatenate([self.ids, np.arange(self._next_id, self._next_id + nb)])
            self._next_id += nb
            self.hits = np.concatenate([self.hits, np.ones(nb, np.int64)])
            self.misses = np.concatenate([self.misses, np.zeros(nb, np.int64)])
            self.cat = np.concatenate([self.cat, cat_codes[born]])
            self.score_sum = np.concatenate([self.score_sum, scores[born]])
        # record this frame (assembled into rows by finish)
        if len(self.ids):
            self._rec.append(
                _FrameRecord(
                    f, self.ids, kf.x[:, :9].copy(), self.cat, mt, md, a, flipped,
                    n_trk, born, boxes, scores, cat_codes, extras,
                )
            )
        # death: tracks unmatched for more than max_age frames
        dead = self.misses > cfg.max_age
        if dead.any():
            keep = ~dead
            kf.keep(keep)
            self.ids, self.hits, self.misses = self.ids[keep], self.hits[keep], self.misses[keep]
            self.cat, self.score_sum = self.cat[keep], self.score_sum[keep]
        self.frame = f + 1
        return f

    def _birth_prior(
        self, aff: NDArray[np.float64], a: Assignment, prev_xy: NDArray[np.float64], boxes: NDArray[np.float64]
    ) -> Assignment:
        """Association with the second motion hypothesis of young tracks (:mod:`.birth_prior`).

        ``aff`` (T, D) and ``a`` are the affinities and assignment of the predictions, ``prev_xy``
        (T, 2) the filtered centres at the previous frame, ``boxes`` (D, 7) the detections. A young
        track's affinity to each detection becomes the better of its two hypotheses'; when that
        changes anything the assignment is solved again, and young tracks matched through the
        scene hypothesis take its state (position, heading, velocity) before their update.
        """
        cfg = self.config
        bp = cfg.birth_prior
        scene = self.scene
        assert scene is not None
        mt, md = a.matches[:, 0], a.matches[:, 1]
        est = (self.hits[mt] > bp.max_hits) & (self.misses[mt] == 0)  # established, matched at k-1 and k
        if est.any():
            scene.measure(prev_xy[mt[est]], boxes[md[est], :2])
        young_mask = (self.hits <= bp.max_hits) & (self.misses <= bp.max_misses)
        if scene.P is None or not young_mask.any():
            return a
        young = np.flatnonzero(young_mask)
        th = scene.theta
        # the scene hypothesis of the young tracks, its affinities and their merge (one compiled call)
        x_alt, merged, better, my, gain, again, adopt = young_hypotheses(
            self.kf.x, young, self.misses[young] + 1, th[0], th[1], th[2], cfg.motion.dt,
            np.ascontiguousarray(boxes, dtype=np.float64), METRICS[cfg.metric], float(cfg.gate_distance),
            aff, mt, md, float(cfg.threshold),
        )
        if again:
            a = associate(merged, cfg.threshold)
            mt, md = a.matches[:, 0], a.matches[:, 1]
            yi = np.full(len(aff), -1, np.int64)
            yi[young] = np.arange(len(young))
            my = yi[mt]
            rows = np.flatnonzero(my >= 0)
            adopt = rows[better[my[rows], md[rows]]]
        elif len(adopt):
            # only matched pairs improved: the assignment stays optimal; their affinity and
            # margin grow by the gain (every competitor is unchanged)
            a = Assignment(a.matches, a.unmatched_tracks, a.unmatched_dets, a.affinity + gain, a.margin + gain)
        # young tracks matched through the scene hypothesis adopt it
        if len(adopt) and bp.adopt:
            self.kf.set_states(mt[adopt], x_alt[my[adopt]])
        return a

    def _fuse_radar(
        self, pts: NDArray[np.float64], vr_all: NDArray[np.float64], s_pos: NDArray[np.float64], s_vel: NDArray[np.float64]
    ) -> None:
        """Fuse the median range rate of the radar points inside each track's (grown) box (EKF)."""
        cfg = self.config
        x = self.kf.x
        # points in boxes: p_box = R(-yaw)(p - c), |p_box| <= size/2 + margin
        d = pts[None, :, :] - x[:, None, :3]  # (T, M, 3)
        c, s = np.cos(x[:, YAW])[:, None], np.sin(x[:, YAW])[:, None]
        lx = c * d[..., 0] + s * d[..., 1]
        ly = -s * d[..., 0] + c * d[..., 1]
        half = x[:, 3:6] / 2 + cfg.radar_margin
        inside = (np.abs(lx) <= half[:, 0:1]) & (np.abs(ly) <= half[:, 1:2]) & (np.abs(d[..., 2]) <= half[:, 2:3])
        rows = np.flatnonzero(inside.any(axis=1))
        if not len(rows):
            return
        vr = np.array([np.median(vr_all[inside[r]]) for r in rows])
        self.kf.update_radial_velocity(
            rows, vr, np.broadcast_to(s_pos, (len(rows), 3)), np.broadcast_to(s_vel, (len(rows), 3)), cfg.radar_sigma
        )

    # -- the offline result -----------------------------------------------------------------------
    def _rows(self) -> tuple[NDArray[np.float64], NDArray[np.float64] | None]:
        """One row per live track per frame::

            [frame, id, det_index, affinity, margin, flipped, posterior box (7), detection box (7),
             score, -, vx, vy, category, detection category]

        (NaN where not applicable: unmatched rows have no detection), and the matching rows of
        the detections' extras (or None).
        """
        out = []
        ex_out: list[NDArray[np.float64]] = []
        has_extras = any(r.extras is not None for r in self._rec)
        n_ex = next((r.extras.shape[1] for r in self._rec if r.extras is not None), 0)
        for f, ids, x, cat, mt, md, a, flipped, n_trk, born, boxes, scores, codes, extras in self._rec:
            n = len(ids)
            rec = np.full((n, 26), np.nan)
            rec[:, 0] = f
            rec[:, 1] = ids
            rec[:, 6:13] = x[:, :7]
            rec[:, 22:24] = x[:, 7:9]
            rec[:, 24] = cat
            rows = np.concatenate([mt, np.arange(n_trk, n)])
            dets = np.concatenate([md, born])
            if len(rows):
                rec[rows, 2] = dets
                rec[rows, 13:20] = boxes[dets]
                rec[rows, 20] = scores[dets]
                rec[rows, 25] = codes[dets]
                rec[n_trk:, 4] = np.inf
                rec[n_trk:, 5] = 0.0
                if len(mt):
                    assert a is not None  # matches come from an association
                    rec[mt, 3] = a.affinity
                    rec[mt, 4] = a.margin
                    rec[mt, 5] = flipped
            out.append(rec)
            if has_extras:
                e = np.full((n, n_ex), np.nan)
                if extras is not None and len(rows):
                    e[rows] = extras[dets]
                ex_out.append(e)
        return np.concatenate(out), (np.concatenate(ex_out) if has_extras else None)

    def finish(self) -> TrackingResult:
        """Tracks, ambiguity and review queue of everything stepped so far (see the module docstring)."""
        cfg = self.config
        nf = self.frame
        names = np.array(sorted(self._cat_code, key=self._cat_code.__getitem__) or [""])
        if not self._rec:
            return self._empty_result(nf)
        rec, extras = self._rows()
        order = np.lexsort((rec[:, 0], rec[:, 1]))
        rec = rec[order]
        if extras is not None:
            extras = extras[order]
        matched = ~np.isnan(rec[:, 2])
        tid = rec[:, 1].astype(np.int64)
        # per-track hit count and span of matched frames (rows are sorted by track, frame)
        starts = np.r_[0, np.flatnonzero(np.diff(tid)) + 1]
        ti = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(tid)]))
        hits = np.add.reduceat(matched.astype(np.int64), starts)
        first = np.minimum.reduceat(np.where(matched, rec[:, 0], np.inf), starts)
        last = np.maximum.reduceat(np.where(matched, rec[:, 0], -np.inf), starts)
        keep = (hits[ti] >= cfg.min_hits) & (rec[:, 0] >= first[ti]) & (rec[:, 0] <= last[ti])
        if not keep.any():  # no track reached min_hits (a short recording, a rare class)
            return self._empty_result(nf)
        rec = rec[keep]
        if extras is not None:
            extras = extras[keep]
        matched = matched[keep]
        tid = tid[keep]
        t_starts = np.r_[0, np.flatnonzero(np.diff(tid)) + 1]  # first row of each track
        # box: RTS-smoothed state (every row, gaps included), or the online posterior / the
        # detection at matched frames with linear interpolation across coasted gaps
        velocity = rec[:, 22:24]
        if cfg.output_box == "smoothed":
            steps = np.r_[1, np.diff(rec[:, 0])].astype(np.int64)
            xs = smooth_tracks(np.r_[t_starts, len(tid)], steps, rec[:, 13:20], cfg.motion)
            box, velocity = xs[:, :7], xs[:, 7:9]
        else:
            box = rec[:, 6:13].copy() if cfg.output_box == "filtered" else rec[:, 13:20].copy()
        score = rec[:, 20].copy()
        gap = ~matched
        if gap.any():
            mi = np.flatnonzero(matched)
            gi = np.flatnonzero(gap)
            pos = np.searchsorted(mi, gi)
            prev, nxt = mi[pos - 1], mi[pos]  # previous and next matched row of the same track
            if cfg.output_box != "smoothed":
                w = ((rec[gi, 0] - rec[prev, 0]) / (rec[nxt, 0] - rec[prev, 0]))[:, None]
                b0, b1 = box[prev], box[nxt]
                dyaw = wrap_pi(b1[:, YAW] - b0[:, YAW])
                dyaw = np.where(np.abs(dyaw) > np.pi / 2, dyaw - np.pi * np.sign(dyaw), dyaw)
                box[gi] = b0 + w * (b1 - b0)
                box[gi, YAW] = wrap_pi(b0[:, YAW] + w[:, 0] * dyaw)
            score[gi] = np.minimum(score[prev], score[nxt])
        frames = rec[:, 0].astype(np.int64)
        # back to each frame's ego frame
        ego = self._to_ego(frames, box) if self._world else box.copy()
        if cfg.view is not None:
            # the labelled camera view: each track starts and ends at its first and last matched
            # box with at least min_visible of its image extent inside the picture
            T_cam_ego = cfg.view.T_ego_cam.inverse()
            t_of = np.repeat(np.arange(len(t_starts)), np.diff(np.r_[t_starts, len(tid)]))
            # tracks start and end with a matched box: only those whose ends are not in view
            # need every box projected
            ends = np.r_[t_starts, np.r_[t_starts[1:], len(tid)] - 1]
            end_in = visible_fraction(Boxes.from_array(ego[ends]), cfg.view, T_cam_ego) >= cfg.min_visible
            work = ~(end_in[: len(t_starts)] & end_in[len(t_starts) :])
            vis = np.ones(len(tid))
            rows = np.flatnonzero(work[t_of])
            vis[rows] = visible_fraction(Boxes.from_array(ego[rows]), cfg.view, T_cam_ego)
            ok = matched & (vis >= cfg.min_visible)
            lo = np.minimum.reduceat(np.where(ok, frames, np.iinfo(np.int64).max), t_starts)[t_of]
            hi = np.maximum.reduceat(np.where(ok, frames, -1), t_starts)[t_of]
            inside = (frames >= lo) & (frames <= hi)
            n_ok = np.add.reduceat((matched & inside).astype(np.int64), t_starts)[t_of]
            sel = inside & (n_ok >= cfg.min_hits)
            rec, box, velocity, score, ego = rec[sel], box[sel], velocity[sel], score[sel], ego[sel]
            matched, tid, frames = matched[sel], tid[sel], frames[sel]
            if extras is not None:
                extras = extras[sel]
            if not len(rec):
                return self._empty_result(nf)
        # reported score: mix of the box's and the track's mean detection score
        _, inv, cnt = np.unique(tid, return_inverse=True, return_counts=True)
        msum = np.bincount(inv, weights=np.where(matched, rec[:, 20], 0.0))
        mcnt = np.bincount(inv, weights=matched.astype(float))
        tmean = (msum / np.maximum(mcnt, 1))[inv]
        score = (1.0 - cfg.score_mix) * score + cfg.score_mix * tmean
        # track confidence: mean reported score; the operating point decides the pre-labels
        tconf_t = np.bincount(inv, weights=score) / cnt
        deliver_t = tconf_t >= cfg.output_threshold
        # ids 1..K: delivered tracks first, each group in birth order
        rank = np.empty(len(cnt), np.int64)
        rank[np.argsort(~deliver_t, kind="stable")] = np.arange(len(cnt))
        new_id = rank[inv] + 1
        tconf, delivered = tconf_t[inv], deliver_t[inv]
        # ambiguity and review queue on the pre-labels
        d = np.flatnonzero(delivered)
        hist = TrackHistory(
            frame=frames[d],
            track_id=new_id[d],
            box=box[d],
            ego_xy=ego[d, :2],
            matched=matched[d],
            margin=rec[d, 4],
            affinity=rec[d, 3],
            flipped=rec[d, 5] == 1.0,
            det_box=rec[d, 13:20],
            velocity=velocity[d],
            category=rec[d, 24].astype(np.int64),
            det_category=np.where(np.isnan(rec[d, 25]), -1, rec[d, 25]).astype(np.int64),
            first_frame=0,
            dt=cfg.motion.dt,
        )
        amb = score_rows(hist, cfg.ambiguity)
        review = review_queue_from_rows(amb, nf, cfg.review_fraction, cfg.review_min_score, _finite(cfg.output_threshold))
        # the table, sorted by frame then id
        o = np.lexsort((new_id, frames))
        table = TrackTable(
            frame=frames[o],
            track_id=new_id[o].astype(np.int64),
            category=names[rec[o, 24].astype(np.int64)],
            box=ego[o],
            score=score[o],
            track_score=tconf[o],
            matched=matched[o],
            delivered=delivered[o],
            extras=None if extras is None else extras[o],
        )
        return TrackingResult(table, amb, review, nf, cfg.output_threshold)

    def _empty_result(self, nf: int) -> TrackingResult:
        """The result of ``nf`` frames without a reported track."""
        cfg = self.config
        n_r = len(REASONS)
        rows = AmbiguityRows(np.zeros(0, np.int64), np.zeros(0, np.int64), np.zeros((0, n_r)), np.zeros(0))
        q = review_queue_from_rows(rows, nf, cfg.review_fraction, cfg.review_min_score, _finite(cfg.output_threshold))
        return TrackingResult(TrackTable.empty(), rows, q, nf, cfg.output_threshold)

    def _to_ego(self, frames: NDArray[np.int64], box: NDArray[np.float64]) -> NDArray[np.float64]:
        """Boxes (R, 7) from the world frame into the ego frame of their frame (R,)."""
        uf, inv = np.unique(frames, return_inverse=True)
        Ts = [self._poses[int(k)].inverse() for k in uf]
        Rm = np.array([T.rotation for T in Ts])[inv]
        tv = np.array([T.translation for T in Ts])[inv]
        yaw = np.array([T.yaw for T in Ts])[inv]
        out = box.copy()
        out[:, :3] = np.einsum("rij,rj->ri", Rm, box[:, :3]) + tv
        out[:, YAW] = wrap_pi(box[:, YAW] + yaw)
        return out


def _finite(x: float) -> float | None:
    return float(x) if np.isfinite(x) else None


def track_sequence(
    frames: Iterable[FrameDetections], config: TrackerConfig | None = None, backend: str = "batch"
) -> TrackingResult:
    """Run a :class:`Tracker` over a sequence of frames and return its offline result.

    Example
    -------
    >>> import numpy as np
    >>> from fusionlabel.core.boxes import Boxes
    >>> seq = [FrameDetections(Boxes.from_array([[5 + 0.5 * k, 2, 1, 4, 1.8, 1.5, 0]]), np.ones(1), ("Car",))
    ...        for k in range(6)]
    >>> track_sequence(seq).labels.num_boxes()
    6
    """
    trk = Tracker(config, backend)
    for fd in frames:
        trk.step(fd)
    return trk.finish()


def radar_from_arrays(xyz: ArrayLike, radial_velocity: ArrayLike, sensor_xyz: ArrayLike = (0.0, 0.0, 0.0)) -> RadarMeasurements:
    """Build :class:`RadarMeasurements` from ego-frame arrays ((M, 3) m, (M,) m/s, (3,) m)."""
    return RadarMeasurements(
        np.asarray(xyz, dtype=np.float64).reshape(-1, 3),
        np.asarray(radial_velocity, dtype=np.float64).reshape(-1),
        np.asarray(sensor_xyz, dtype=np.float64).reshape(3),
    )


__all__ = [
    "FrameDetections",
    "RadarMeasurements",
    "TrackerConfig",
    "Tracker",
    "TrackingResult",
    "TrackTable",
    "BACKENDS",
    "track_sequence",
    "radar_from_arrays",
    "POS",
    "VEL",
]
