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
   fused by an EKF update (:meth:`BatchKalman.update_radial_velocity`), along the ray from the
   radar that measured them (with several radars, those of the one with most points there).
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
>>> from fusionlabel.track.types import FrameDetections, TrackerConfig
>>> trk = Tracker(TrackerConfig(min_hits=2))
>>> for k in range(5):
...     _ = trk.step(FrameDetections(Boxes.from_array([[10 + k, 0, 1, 4, 1.8, 1.5, 0]]), np.ones(1), ("Car",)))
>>> res = trk.finish()
>>> res.labels.track_ids.tolist(), len(res.labels)
([1], 5)
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any, NamedTuple

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes, wrap_angle
from fusionlabel.core.labels import FrameLabels
from fusionlabel.core.projection import visible_fraction
from fusionlabel.core.transforms import Transform
from fusionlabel.track._fast import young_hypotheses
from fusionlabel.track.ambiguity import REASONS, AmbiguityRows, TrackHistory, score_rows
from fusionlabel.track.association import METRICS, Assignment, affinity_matrix, associate
from fusionlabel.track.birth_prior import SceneMotionFilter
from fusionlabel.track.egomotion import EgoRotationFilter
from fusionlabel.track.kalman import POS, VEL, YAW, BatchKalman, FilterpyBank
from fusionlabel.track.review import review_queue_from_rows
from fusionlabel.track.smoother import smooth_tracks
from fusionlabel.track.types import (
    OUTPUT_BOXES,
    FrameDetections,
    RadarMeasurements,
    TrackerConfig,
    TrackingResult,
    TrackRows,
    TrackTable,
)

#: Kalman backends of :class:`Tracker`
BACKENDS = ("batch", "filterpy")


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
        self.scene: SceneMotionFilter | None = (
            SceneMotionFilter(self.config.birth_prior) if self.config.birth_prior.enabled else None
        )
        self.ego_rotation: EgoRotationFilter | None = (
            EgoRotationFilter(self.config.ego_rotation, self.config.motion.dt)
            if self.config.ego_rotation.enabled
            else None
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
            boxes[:, YAW] = wrap_angle(boxes[:, YAW] + T.yaw)
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
            self.ids[ok],
            tuple(cats[int(c)] for c in self.cat[ok]),
            Boxes.from_array(out),
            self.score_sum[ok] / self.hits[ok],
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
        origins = np.array(radar.origins(), dtype=np.float64)  # (M, 3) ego frame
        s_pos = origins
        s_vel = np.zeros_like(origins)
        if T_world_ego is not None:
            pts = T_world_ego.apply(pts)
            s_pos = T_world_ego.apply(origins) if len(origins) else origins
            prev = self._prev_sensor.get("pose")
            if prev is not None and len(origins):
                dt = self.config.motion.dt * (self.frame - self._prev_sensor["frame"])
                s_vel = (s_pos - prev.apply(origins)) / dt
            self._prev_sensor = {"pose": T_world_ego, "frame": self.frame}
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
        radar : optional ``(points (M, 3), range rates (M,), radar positions, radar velocities)``,
            tracking frame; positions and velocities (3,) for one radar or (M, 3) per point

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
                    if (
                        abs(corr) * float(np.sqrt(np.max(kf.x[:, 0] ** 2 + kf.x[:, 1] ** 2)))
                        > cfg.ego_rotation.reassociate
                    ):
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
                    f,
                    self.ids,
                    kf.x[:, :9].copy(),
                    self.cat,
                    mt,
                    md,
                    a,
                    flipped,
                    n_trk,
                    born,
                    boxes,
                    scores,
                    cat_codes,
                    extras,
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
            self.kf.x,
            young,
            self.misses[young] + 1,
            th[0],
            th[1],
            th[2],
            cfg.motion.dt,
            np.ascontiguousarray(boxes, dtype=np.float64),
            METRICS[cfg.metric],
            float(cfg.gate_distance),
            aff,
            mt,
            md,
            float(cfg.threshold),
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
        self,
        pts: NDArray[np.float64],
        vr_all: NDArray[np.float64],
        s_pos: NDArray[np.float64],
        s_vel: NDArray[np.float64],
    ) -> None:
        """Fuse the median range rate of the radar points inside each track's (grown) box (EKF);
        ``s_pos`` and ``s_vel`` (M, 3) are each point's radar position and velocity. Where the
        points of several radars fall in one box, those of the radar with the most points there."""
        cfg = self.config
        x = self.kf.x
        s_pos = np.broadcast_to(np.asarray(s_pos, np.float64).reshape(-1, 3), pts.shape)
        s_vel = np.broadcast_to(np.asarray(s_vel, np.float64).reshape(-1, 3), pts.shape)
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
        vr, pos, vel = np.zeros(len(rows)), np.zeros((len(rows), 3)), np.zeros((len(rows), 3))
        for k, r in enumerate(rows):
            idx = np.flatnonzero(inside[r])
            # one radar per update (a range rate is along its own ray): the one with most points here
            _, first, counts = np.unique(s_pos[idx], axis=0, return_index=True, return_counts=True)
            one = idx[np.all(s_pos[idx] == s_pos[idx[first[int(np.argmax(counts))]]], axis=1)]
            vr[k] = np.median(vr_all[one])
            pos[k], vel[k] = s_pos[one[0]], s_vel[one[0]]
        self.kf.update_radial_velocity(rows, vr, pos, vel, cfg.radar_sigma)

    # -- the offline result -----------------------------------------------------------------------
    def _rows(self) -> TrackRows:
        """One row per live track per frame (:class:`TrackRows`; NaN where not applicable:
        unmatched rows have no detection)."""
        parts = []
        has_extras = any(r.extras is not None for r in self._rec)
        n_ex = next((r.extras.shape[1] for r in self._rec if r.extras is not None), 0)
        for f, ids, x, cat, mt, md, a, flipped, n_trk, born, boxes, scores, codes, extras in self._rec:
            n = len(ids)
            nan = np.full(n, np.nan)
            det_index, affinity, margin, flip = nan.copy(), nan.copy(), nan.copy(), nan.copy()
            detection = np.full((n, 7), np.nan)
            score, det_category = nan.copy(), nan.copy()
            rows = np.concatenate([mt, np.arange(n_trk, n)])
            dets = np.concatenate([md, born])
            if len(rows):
                det_index[rows] = dets
                detection[rows] = boxes[dets]
                score[rows] = scores[dets]
                det_category[rows] = codes[dets]
                margin[n_trk:] = np.inf  # births: no competitor
                flip[n_trk:] = 0.0
                if len(mt):
                    assert a is not None  # matches come from an association
                    affinity[mt] = a.affinity
                    margin[mt] = a.margin
                    flip[mt] = flipped
            e = None
            if has_extras:
                e = np.full((n, n_ex), np.nan)
                if extras is not None and len(rows):
                    e[rows] = extras[dets]
            parts.append(
                TrackRows(
                    frame=np.full(n, f, np.int64),
                    track_id=np.asarray(ids, np.int64),
                    det_index=det_index,
                    affinity=affinity,
                    margin=margin,
                    flipped=flip,
                    posterior=x[:, :7].copy(),
                    detection=detection,
                    score=score,
                    velocity=x[:, 7:9].copy(),
                    category=np.asarray(cat, np.int64),
                    det_category=det_category,
                    extras=e,
                )
            )
        return TrackRows.concat(parts)

    def finish(self) -> TrackingResult:
        """Tracks, ambiguity and review queue of everything stepped so far (see the module docstring)."""
        cfg = self.config
        nf = self.frame
        names = np.array(sorted(self._cat_code, key=self._cat_code.__getitem__) or [""])
        if not self._rec:
            return self._empty_result(nf)
        rows = self._rows()
        rows = rows.take(np.lexsort((rows.frame, rows.track_id)))
        matched = rows.matched
        tid = rows.track_id
        # per-track hit count and span of matched frames (rows are sorted by track, frame)
        starts = np.r_[0, np.flatnonzero(np.diff(tid)) + 1]
        ti = np.repeat(np.arange(len(starts)), np.diff(np.r_[starts, len(tid)]))
        hits = np.add.reduceat(matched.astype(np.int64), starts)
        first = np.minimum.reduceat(np.where(matched, rows.frame, np.inf), starts)
        last = np.maximum.reduceat(np.where(matched, rows.frame, -np.inf), starts)
        keep = (hits[ti] >= cfg.min_hits) & (rows.frame >= first[ti]) & (rows.frame <= last[ti])
        if not keep.any():  # no track reached min_hits (a short recording, a rare class)
            return self._empty_result(nf)
        rows = rows.take(keep)
        matched = rows.matched
        tid = rows.track_id
        frames = rows.frame
        t_starts = np.r_[0, np.flatnonzero(np.diff(tid)) + 1]  # first row of each track
        # box: RTS-smoothed state (every row, gaps included), or the online posterior / the
        # detection at matched frames with linear interpolation across coasted gaps
        velocity = rows.velocity
        if cfg.output_box == "smoothed":
            steps = np.r_[1, np.diff(frames)].astype(np.int64)
            xs = smooth_tracks(np.r_[t_starts, len(tid)], steps, rows.detection, cfg.motion)
            box, velocity = xs[:, :7], xs[:, 7:9]
        else:
            box = (rows.posterior if cfg.output_box == "filtered" else rows.detection).copy()
        score = rows.score.copy()
        gap = ~matched
        if gap.any():
            mi = np.flatnonzero(matched)
            gi = np.flatnonzero(gap)
            pos = np.searchsorted(mi, gi)
            prev, nxt = mi[pos - 1], mi[pos]  # previous and next matched row of the same track
            if cfg.output_box != "smoothed":
                w = ((frames[gi] - frames[prev]) / (frames[nxt] - frames[prev]))[:, None]
                b0, b1 = box[prev], box[nxt]
                dyaw = wrap_angle(b1[:, YAW] - b0[:, YAW])
                dyaw = np.where(np.abs(dyaw) > np.pi / 2, dyaw - np.pi * np.sign(dyaw), dyaw)
                box[gi] = b0 + w * (b1 - b0)
                box[gi, YAW] = wrap_angle(b0[:, YAW] + w[:, 0] * dyaw)
            score[gi] = np.minimum(score[prev], score[nxt])
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
            todo = np.flatnonzero(work[t_of])
            vis[todo] = visible_fraction(Boxes.from_array(ego[todo]), cfg.view, T_cam_ego)
            ok = matched & (vis >= cfg.min_visible)
            lo = np.minimum.reduceat(np.where(ok, frames, np.iinfo(np.int64).max), t_starts)[t_of]
            hi = np.maximum.reduceat(np.where(ok, frames, -1), t_starts)[t_of]
            inside = (frames >= lo) & (frames <= hi)
            n_ok = np.add.reduceat((matched & inside).astype(np.int64), t_starts)[t_of]
            sel = inside & (n_ok >= cfg.min_hits)
            rows, box, velocity, score, ego = rows.take(sel), box[sel], velocity[sel], score[sel], ego[sel]
            matched, tid, frames = rows.matched, rows.track_id, rows.frame
            if not len(rows):
                return self._empty_result(nf)
        # reported score: mix of the box's and the track's mean detection score
        _, inv, cnt = np.unique(tid, return_inverse=True, return_counts=True)
        msum = np.bincount(inv, weights=np.where(matched, rows.score, 0.0))
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
            margin=rows.margin[d],
            affinity=rows.affinity[d],
            flipped=rows.flipped[d] == 1.0,
            det_box=rows.detection[d],
            velocity=velocity[d],
            category=rows.category[d],
            det_category=np.where(np.isnan(rows.det_category[d]), -1, rows.det_category[d]).astype(np.int64),
            first_frame=0,
            dt=cfg.motion.dt,
        )
        amb = score_rows(hist, cfg.ambiguity)
        review = review_queue_from_rows(
            amb, nf, cfg.review_fraction, cfg.review_min_score, _finite(cfg.output_threshold)
        )
        # the table, sorted by frame then id
        o = np.lexsort((new_id, frames))
        table = TrackTable(
            frame=frames[o],
            track_id=new_id[o].astype(np.int64),
            category=names[rows.category[o]],
            box=ego[o],
            score=score[o],
            track_score=tconf[o],
            matched=matched[o],
            delivered=delivered[o],
            extras=None if rows.extras is None else rows.extras[o],
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
        out[:, YAW] = wrap_angle(box[:, YAW] + yaw)
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
    >>> track_sequence(seq).labels.num_boxes
    6
    """
    trk = Tracker(config, backend)
    for fd in frames:
        trk.step(fd)
    return trk.finish()


__all__ = ["BACKENDS", "POS", "VEL", "Tracker", "track_sequence"]
