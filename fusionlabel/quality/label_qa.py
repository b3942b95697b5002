"""Label QA: rank the labels that are statistically unlikely.

Each check turns the labels into one number per box (or per transition between two boxes of a
track), then scores it against the **robust statistics of that number over all boxes of the
same class** (median, MAD and a high quantile, pooled over all classes where a class has fewer than
``min_class_samples`` values)::

    z = (x - median_c(x)) / s_c,   s_c = max(1.4826 MAD_c(x), (Q_c(q) - median_c(x)) / Phi^-1(q), floor)
    score = z / z_flag                                            (score >= 1: a finding)

(one-sided: large x is unlikely; ``Q_c(q)`` is the ``q`` quantile, ``q = 0.9`` for the label-only
checks and ``0.75`` for the LiDAR checks, where a whole lifted track is many outliers at once).
The quantile term matters where most values are identical
(KITTI boxes are interpolated between key frames, so most accelerations are exactly 0 and the
MAD is 0). The floors are measurement resolutions (2 cm, 0.3 m/s ...), not thresholds fitted to a data set:
they stop a class whose labels are all exactly alike (synthetic ground truth) from turning
millimetre differences into findings. Checks (``kind``):

``size``
    ``x = max_d |log(size_d / median_track(size_d))|``: a box whose l, w or h differs from the
    rest of its track.
``speed``
    per transition ``i -> i+1`` of a track, ``x = | |v_i| - median_track(|v|) |`` with
    ``v_i = (c_{i+1} - c_i) / dt`` (BEV, m/s): a jump in position.
``acceleration``
    per interior box, ``x = |v_i - v_{i-1}| / ((t_{i+1} - t_{i-1}) / 2)`` (m/s^2, BEV).
``yaw_rate``
    per transition, ``x = |omega_i - median_track(omega)|`` with ``omega_i = wrap(yaw_{i+1} - yaw_i) / dt``.
``overlap``
    per box, the largest 3D IoU with another box of the same frame (objects do not interpenetrate).
``few_points`` (needs the recording)
    LiDAR evidence of a box: ``x = n_through / (n_through + n_inside + 10)``, where ``n_through``
    counts the LiDAR rays that pass through the (slightly shrunk) box and end behind it, i.e. rays
    that saw empty space where the box claims an object. An occluded object has no such rays;
    a box in empty space has many. The finding also reports the points inside.
``off_ground`` (needs the recording)
    ``x = |gap - median_c(gap)|`` with ``gap = box bottom - ground height`` under the box centre,
    from the LiDAR points around the box (5th percentile of the z of the points within 3 m of its
    footprint that lie in no labelled box; boxes with fewer than 10 such points are not scored).
``id_reuse``
    across a gap of ``g >= 2`` frames in a track: ``x`` = the speed deviation check's value for
    the implied speed across the gap, ``| |c_after - c_before| / dt - median_track(|v|) |``,
    scored against the ``speed`` statistics; a category change across the gap scores ``z_flag``.

Motion is measured in the world frame when ego poses are given (else in the ego frame, where
the ego's own motion adds to every track but cancels in the track-relative statistics). Findings
of one track whose frames touch are merged into one, keeping the highest score and all reasons.

:func:`plant_errors` plants known errors into labels for tests and the benchmark.

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> from fusionlabel.core.labels import FrameLabels, LabelSet
>>> frames = {k: FrameLabels(np.array([1]), ("Car",), Boxes.from_array([[k * 1.0, 0, 0.8, 4, 1.8, 1.5, 0]]))
...           for k in range(30)}
>>> frames[15] = FrameLabels(np.array([1]), ("Car",), Boxes.from_array([[15.0, 0, 0.8, 6.5, 1.8, 1.5, 0]]))
>>> rep = check_labels(LabelSet(frames))
>>> [(f.kinds, f.track_id, f.frames) for f in rep.findings]
[(('size',), 1, (15,))]
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np
from numpy.typing import NDArray
from scipy.special import ndtri

from fusionlabel.core.boxes import Boxes, iou_3d, wrap_angle
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.core.transforms import Transform

KINDS = ("size", "speed", "acceleration", "yaw_rate", "overlap", "few_points", "off_ground", "id_reuse")
_MAD_TO_SIGMA = 1.4826
_PSEUDO_RAYS = 10.0  # a few rays are no evidence: x = n_through / (n_through + n_inside + 10)


@dataclass(frozen=True)
class QAConfig:
    """Parameters of :func:`check_labels` (see the module docstring).

    z_flag : robust z at which a value becomes a finding
    min_class_samples : fewer values than this in a class: use all classes' statistics
    floors : per check, the smallest scale ``1.4826 MAD`` may take (the check's unit)
    frame_period_s : seconds per frame when no timestamps are given
    shrink : the ``few_points`` check shrinks each box by this fraction per side and lifts its
        bottom by ``0.3 h`` (labels are drawn with margins; rays pass under car bodies)
    """

    z_flag: float = 5.0
    min_class_samples: int = 30
    floors: Mapping[str, float] = field(
        default_factory=lambda: {
            "size": 0.03,  # log ratio: 3 %
            "speed": 0.3,  # m/s
            "acceleration": 1.0,  # m/s^2
            "yaw_rate": 0.1,  # rad/s
            "overlap": 0.02,  # IoU
            "few_points": 0.05,  # fraction of rays
            "off_ground": 0.1,  # m
        }
    )
    frame_period_s: float = 0.1
    shrink: float = 0.1


@dataclass(frozen=True)
class Finding:
    """One unlikely label.

    track_id : the track the finding is about
    frames : the frames involved, ascending
    kinds : the checks that fired, highest score first
    score : ``z / z_flag`` of the strongest check (>= 1)
    reason : one line per check, for a human
    other_track_ids : the other track(s) involved (``overlap``)
    """

    track_id: int
    frames: tuple[int, ...]
    kinds: tuple[str, ...]
    score: float
    reason: str
    other_track_ids: tuple[int, ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "track_id": self.track_id,
            "frames": list(self.frames),
            "kinds": list(self.kinds),
            "score": round(self.score, 4),
            "reason": self.reason,
            "other_track_ids": list(self.other_track_ids),
        }


@dataclass(frozen=True)
class QAReport:
    """Findings ranked by score (highest first), and what was checked."""

    findings: tuple[Finding, ...]
    checks: tuple[str, ...]
    num_boxes: int
    num_tracks: int
    stats: Mapping[str, Mapping[str, tuple[float, float]]]  # check -> class -> (median, scale)

    def to_dict(self) -> dict[str, Any]:
        return {
            "num_boxes": self.num_boxes,
            "num_tracks": self.num_tracks,
            "checks": list(self.checks),
            "num_findings": len(self.findings),
            "findings": [f.to_dict() for f in self.findings],
            "stats": {k: {c: [round(m, 6), round(s, 6)] for c, (m, s) in v.items()} for k, v in self.stats.items()},
        }


# -- track tables ---------------------------------------------------------------------------------
@dataclass
class _Track:
    tid: int
    frames: NDArray[np.int64]
    t: NDArray[np.float64]  # seconds
    center: NDArray[np.float64]  # (F, 3) world (or ego) frame
    size: NDArray[np.float64]
    yaw: NDArray[np.float64]
    cats: list[str]

    @property
    def cls(self) -> str:
        vals, counts = np.unique(np.asarray(self.cats), return_counts=True)
        return str(vals[np.argmax(counts)])


def _tracks(labels: LabelSet, times: Mapping[int, float], poses: Mapping[int, Transform]) -> dict[int, _Track]:
    acc: dict[int, dict[str, list[Any]]] = {}
    for k, fl in labels.frames.items():
        b = fl.boxes.transformed(poses[k]) if k in poses else fl.boxes
        for j in range(len(fl)):
            d = acc.setdefault(int(fl.track_ids[j]), {"f": [], "c": [], "s": [], "y": [], "k": []})
            d["f"].append(k)
            d["c"].append(b.center[j])
            d["s"].append(b.size[j])
            d["y"].append(b.yaw[j])
            d["k"].append(fl.categories[j])
    out = {}
    for tid, d in acc.items():
        f = np.asarray(d["f"], np.int64)
        out[tid] = _Track(
            tid, f, np.array([times[k] for k in d["f"]]), np.array(d["c"]), np.array(d["s"]), np.array(d["y"]), d["k"]
        )
    return out


@dataclass
class _Values:
    """Per-check samples: value, class, track, frames, reason template."""

    x: list[float] = field(default_factory=list)
    cls: list[str] = field(default_factory=list)
    tid: list[int] = field(default_factory=list)
    frames: list[tuple[int, ...]] = field(default_factory=list)
    why: list[str] = field(default_factory=list)
    other: list[tuple[int, ...]] = field(default_factory=list)

    def add(self, x: float, cls: str, tid: int, frames: tuple[int, ...], why: str, other: tuple[int, ...] = ()) -> None:
        self.x.append(float(x))
        self.cls.append(cls)
        self.tid.append(tid)
        self.frames.append(frames)
        self.why.append(why)
        self.other.append(other)


def robust_z(
    x: NDArray[np.float64], cls: Sequence[str], floor: float, min_samples: int, quantile: float = 0.9
) -> tuple[NDArray[np.float64], dict[str, tuple[float, float]]]:
    """One-sided robust z of each value against its class: ``(x - med_c) / s_c`` with
    ``s_c = max(1.4826 MAD_c, (Q_c(quantile) - med_c) / Phi^-1(quantile), floor)``.

    Classes with fewer than ``min_samples`` values use the statistics of all values.
    Returns the z values and ``{class: (median, scale)}`` (``"*"`` for the pooled statistics).
    """
    x = np.asarray(x, dtype=np.float64)
    cl = np.asarray(cls, dtype=object)
    z = np.zeros(len(x))
    stats: dict[str, tuple[float, float]] = {}
    if len(x) == 0:
        return z, stats

    def ms(v: NDArray[np.float64]) -> tuple[float, float]:
        med = float(np.median(v))
        mad = _MAD_TO_SIGMA * float(np.median(np.abs(v - med)))
        # labels interpolated between key frames make most values identical (MAD = 0): a high
        # quantile then still measures the spread (and tolerates 1 - quantile outliers)
        qs = (float(np.quantile(v, quantile)) - med) / float(ndtri(quantile))
        return med, max(mad, qs, floor)

    stats["*"] = ms(x)
    for c in np.unique(cl):
        m = cl == c
        med, sc = ms(x[m]) if m.sum() >= min_samples else stats["*"]
        if m.sum() >= min_samples:
            stats[str(c)] = (med, sc)
        z[m] = (x[m] - med) / sc
    return z, stats


# -- checks ----------------------------------------------------------------------------------------
def _kinematics(tracks: Mapping[int, _Track], out: dict[str, _Values], reuse: list[tuple[_Track, int]]) -> None:
    for tr in tracks.values():
        n = len(tr.frames)
        cls = tr.cls
        if n >= 3:
            med = np.median(tr.size, axis=0)
            r = np.max(np.abs(np.log(tr.size / med)), axis=1)
            for i in range(n):
                out["size"].add(
                    r[i],
                    cls,
                    tr.tid,
                    (int(tr.frames[i]),),
                    f"size l w h {tr.size[i].round(2).tolist()} m against the track's median {med.round(2).tolist()} m",
                )
        if n < 2:
            continue
        gap = np.diff(tr.frames)
        dt = np.maximum(np.diff(tr.t), 1e-6)
        v = np.diff(tr.center[:, :2], axis=0) / dt[:, None]
        speed = np.linalg.norm(v, axis=1)
        omega = wrap_angle(np.diff(tr.yaw)) / dt
        cont = gap == 1
        med_s = float(np.median(speed[cont])) if cont.any() else float(np.median(speed))
        med_w = float(np.median(omega[cont])) if cont.any() else 0.0
        for i in range(n - 1):
            fr = (int(tr.frames[i]), int(tr.frames[i + 1]))
            if not cont[i]:
                reuse.append((tr, i))
                continue
            out["speed"].add(
                abs(speed[i] - med_s), cls, tr.tid, fr, f"speed {speed[i]:.1f} m/s against the track's {med_s:.1f} m/s"
            )
            out["yaw_rate"].add(
                abs(omega[i] - med_w),
                cls,
                tr.tid,
                fr,
                f"yaw rate {np.degrees(omega[i]):.0f} deg/s against the track's {np.degrees(med_w):.0f} deg/s",
            )
        for i in range(1, n - 1):
            if not (cont[i - 1] and cont[i]):
                continue
            a = np.linalg.norm(v[i] - v[i - 1]) / ((dt[i] + dt[i - 1]) / 2.0)
            fr3 = (int(tr.frames[i - 1]), int(tr.frames[i]), int(tr.frames[i + 1]))
            out["acceleration"].add(a, cls, tr.tid, fr3, f"acceleration {a:.1f} m/s^2 at frame {fr3[1]}")


def _id_reuse(
    reuse: list[tuple[_Track, int]], stats: Mapping[str, tuple[float, float]], cfg: QAConfig
) -> list[tuple[str, int, tuple[int, ...], float, str, tuple[int, ...]]]:
    hits: list[tuple[str, int, tuple[int, ...], float, str, tuple[int, ...]]] = []
    for tr, i in reuse:
        dt = max(float(tr.t[i + 1] - tr.t[i]), 1e-6)
        cont = np.diff(tr.frames) == 1
        sp = np.linalg.norm(np.diff(tr.center[:, :2], axis=0), axis=1) / np.maximum(np.diff(tr.t), 1e-6)
        med_s = float(np.median(sp[cont])) if cont.any() else 0.0
        implied = float(np.linalg.norm(tr.center[i + 1, :2] - tr.center[i, :2]) / dt)
        med, sc = stats.get(tr.cls, stats.get("*", (0.0, cfg.floors["speed"])))
        z = (abs(implied - med_s) - med) / sc
        why = (
            f"gap of {int(tr.frames[i + 1] - tr.frames[i]) - 1} frames, then {implied:.1f} m/s implied "
            f"against the track's {med_s:.1f} m/s"
        )
        if tr.cats[i] != tr.cats[i + 1]:
            z = max(z, cfg.z_flag)
            why += f"; category {tr.cats[i]} -> {tr.cats[i + 1]}"
        fr = (int(tr.frames[i]), int(tr.frames[i + 1]))
        hits.append(("id_reuse", tr.tid, fr, z, "ID reused? " + why, ()))
    return hits


def _overlaps(labels: LabelSet, out: _Values) -> None:
    for k, fl in labels.frames.items():
        n = len(fl)
        if n < 2:
            continue
        iou = iou_3d(fl.boxes, fl.boxes)
        np.fill_diagonal(iou, 0.0)
        for j in range(n):
            o = int(np.argmax(iou[j]))
            if iou[j, o] <= 0 or (iou[o, j] == iou[j, o] and o < j):
                out.add(0.0, fl.categories[j], int(fl.track_ids[j]), (k,), "")
                continue
            out.add(
                iou[j, o],
                fl.categories[j],
                int(fl.track_ids[j]),
                (k,),
                f"3D IoU {iou[j, o]:.2f} with track {int(fl.track_ids[o])}",
                (int(fl.track_ids[o]),),
            )


def _frame_points(rec: Recording, k: int) -> tuple[NDArray[np.float64], NDArray[np.float64]] | None:
    """(N, 3) ego-frame LiDAR points of frame k and (S, 3) sensor origins per point, or None."""
    if not 0 <= k < len(rec):
        return None
    fr = rec.frame(k)
    if not fr.lidar:
        return None
    pts, orig = [], []
    for name, pc in fr.lidar.items():
        T = rec.rig.T_ego_sensor(name) if name in rec.rig.lidars else Transform.identity()
        p = T.apply(pc.finite().xyz.astype(np.float64))
        pts.append(p)
        orig.append(np.broadcast_to(np.asarray(T.translation, dtype=np.float64), p.shape))
    return np.vstack(pts), np.vstack(orig)


def _rays_through(
    pts: NDArray[np.float64], orig: NDArray[np.float64], boxes: Boxes, shrink: float
) -> tuple[NDArray[np.int64], NDArray[np.int64]]:
    """Per box: points inside, and rays ``orig -> pts`` that cross the shrunk box and end beyond it.

    Slab test in each box's frame: the segment ``o + s (p - o)``, ``s in [0, 1]``, enters the box
    at ``s_in = max_d min(s_lo, s_hi)`` and leaves at ``s_out = min_d max(s_lo, s_hi)``; it crosses
    when ``s_in <= s_out`` and ``s_out < 1`` (the return lies beyond the box).
    """
    from fusionlabel.core.boxes import points_in_boxes

    inside = points_in_boxes(pts, boxes).sum(axis=0).astype(np.int64)
    through = np.zeros(len(boxes), np.int64)
    az = np.arctan2(pts[:, 1] - orig[:, 1], pts[:, 0] - orig[:, 0])
    rng = np.linalg.norm(pts[:, :2] - orig[:, :2], axis=1)
    for j in range(len(boxes)):
        c, s, yaw = boxes.center[j], boxes.size[j], boxes.yaw[j]
        half = s / 2.0 * (1.0 - 2.0 * shrink)
        lo = np.array([-half[0], -half[1], -s[2] / 2.0 + 0.3 * s[2]])
        hi = np.array([half[0], half[1], s[2] / 2.0 - shrink * s[2]])
        d = float(np.hypot(c[0], c[1]))
        r = float(np.hypot(s[0], s[1])) / 2.0
        if d <= r:
            continue  # the sensor is inside or next to the box
        span = np.arcsin(min(1.0, r / d))
        daz = np.abs(wrap_angle(az - np.arctan2(c[1], c[0])))
        cand = np.flatnonzero((daz <= span) & (rng >= d - r))
        if len(cand) == 0:
            continue
        cy, sy = np.cos(yaw), np.sin(yaw)
        R = np.array([[cy, sy, 0.0], [-sy, cy, 0.0], [0.0, 0.0, 1.0]])  # ego -> box
        o = (orig[cand] - c) @ R.T
        p = (pts[cand] - c) @ R.T
        dd = p - o
        with np.errstate(divide="ignore", invalid="ignore"):
            t1 = (lo - o) / dd
            t2 = (hi - o) / dd
        tmin = np.where(np.isnan(t1), -np.inf, np.minimum(t1, t2))
        tmax = np.where(np.isnan(t2), np.inf, np.maximum(t1, t2))
        # a zero direction component: inside the slab -> (-inf, inf), outside -> empty
        par = dd == 0
        ok_par = (o >= lo) & (o <= hi)
        tmin = np.where(par, np.where(ok_par, -np.inf, np.inf), tmin)
        tmax = np.where(par, np.where(ok_par, np.inf, -np.inf), tmax)
        s_in = np.max(tmin, axis=1)
        s_out = np.min(tmax, axis=1)
        through[j] = int(np.sum((s_in <= s_out) & (s_in > 0) & (s_out < 1.0)))
    return inside, through


def _local_ground(
    pts: NDArray[np.float64], in_any: NDArray[np.bool_], boxes: Boxes, radius: float = 3.0, min_points: int = 10
) -> NDArray[np.float64]:
    """(N,) ground z around each box: the 5th percentile of z of the points within ``radius`` m of
    the box footprint (bounding circle) that lie in no labelled box; NaN with fewer than ``min_points``."""
    free = pts[~in_any]
    out = np.full(len(boxes), np.nan)
    for j in range(len(boxes)):
        r = float(np.hypot(boxes.size[j, 0], boxes.size[j, 1])) / 2.0 + radius
        d = np.hypot(free[:, 0] - boxes.center[j, 0], free[:, 1] - boxes.center[j, 1])
        z = free[d <= r, 2]
        if len(z) >= min_points:
            out[j] = float(np.quantile(z, 0.05))
    return out


def _lidar_checks(labels: LabelSet, rec: Recording, cfg: QAConfig, pts_out: _Values, gnd_out: _Values) -> int:
    from fusionlabel.core.boxes import points_in_boxes

    used = 0
    for k, fl in labels.frames.items():
        got = _frame_points(rec, k)
        if got is None or len(fl) == 0:
            continue
        used += 1
        pts, orig = got
        inside, through = _rays_through(pts, orig, fl.boxes, cfg.shrink)
        in_any = np.asarray(points_in_boxes(pts, fl.boxes, margin=0.3).any(axis=1), dtype=bool)
        gz = _local_ground(pts, in_any, fl.boxes)
        for j in range(len(fl)):
            tid, cat = int(fl.track_ids[j]), fl.categories[j]
            frac = through[j] / (through[j] + inside[j] + _PSEUDO_RAYS)
            pts_out.add(
                frac,
                cat,
                tid,
                (k,),
                f"{inside[j]} LiDAR points inside, {through[j]} rays pass through it (empty space)",
            )
            if np.isfinite(gz[j]):
                gap = float(fl.boxes.bottom_z[j] - gz[j])
                gnd_out.add(gap, cat, tid, (k,), f"bottom {gap:+.2f} m from the LiDAR ground around it")
    return used


# -- main entry -----------------------------------------------------------------------------------
def check_labels(
    labels: LabelSet,
    timestamps_ns: Mapping[int, int] | None = None,
    ego_poses: Mapping[int, Transform] | None = None,
    recording: Recording | None = None,
    config: QAConfig | None = None,
) -> QAReport:
    """Run every check that the inputs allow and rank the findings.

    Parameters
    ----------
    labels : the labels (ego frame)
    timestamps_ns : frame -> ns; frames without one use ``frame * frame_period_s``
    ego_poses : frame -> ``T_world_ego``: motion is measured in the world frame where given
    recording : enables ``few_points`` and ``off_ground`` (its frames' LiDAR points)
    config : :class:`QAConfig`

    Returns
    -------
    QAReport with findings of score >= 1, highest first
    """
    cfg = config or QAConfig()
    ts = dict(timestamps_ns or {})
    times = {k: (ts[k] / 1e9 if k in ts else k * cfg.frame_period_s) for k in labels.frames}
    poses = dict(ego_poses or {})
    tracks = _tracks(labels, times, poses)
    vals: dict[str, _Values] = {k: _Values() for k in KINDS if k != "id_reuse"}
    reuse: list[tuple[_Track, int]] = []
    _kinematics(tracks, vals, reuse)
    _overlaps(labels, vals["overlap"])
    checks = ["size", "speed", "acceleration", "yaw_rate", "overlap", "id_reuse"]
    if recording is not None and _lidar_checks(labels, recording, cfg, vals["few_points"], vals["off_ground"]):
        checks[5:5] = ["few_points", "off_ground"]
    hits: list[tuple[str, int, tuple[int, ...], float, str, tuple[int, ...]]] = []
    stats: dict[str, dict[str, tuple[float, float]]] = {}
    for kind, v in vals.items():
        if not v.x:
            continue
        x = np.asarray(v.x)
        if kind == "off_ground":
            # two-sided: |gap - median_c(gap)|, scored like the one-sided checks
            _, st = robust_z(x, v.cls, cfg.floors[kind], cfg.min_class_samples, 0.75)
            med = np.array([st.get(c, st["*"])[0] for c in v.cls])
            z, stats[kind] = robust_z(np.abs(x - med), v.cls, cfg.floors[kind], cfg.min_class_samples, 0.75)
        else:
            q = 0.75 if kind == "few_points" else 0.9
            z, stats[kind] = robust_z(x, v.cls, cfg.floors[kind], cfg.min_class_samples, q)
        for i in np.flatnonzero(z >= cfg.z_flag):
            hits.append((kind, v.tid[i], v.frames[i], float(z[i]), v.why[i], v.other[i]))
    if reuse:
        for h in _id_reuse(reuse, stats.get("speed", {}), cfg):
            if h[3] >= cfg.z_flag:
                hits.append(h)
    findings = _merge(hits, cfg.z_flag)
    return QAReport(tuple(findings), tuple(checks), labels.num_boxes(), len(tracks), stats)


def _merge(hits: list[tuple[str, int, tuple[int, ...], float, str, tuple[int, ...]]], z_flag: float) -> list[Finding]:
    """One finding per track and run of touching frames; highest score first."""
    by_track: dict[int, list[tuple[str, int, tuple[int, ...], float, str, tuple[int, ...]]]] = {}
    for h in hits:
        by_track.setdefault(h[1], []).append(h)
    out: list[Finding] = []
    for tid, hs in by_track.items():
        hs.sort(key=lambda h: min(h[2]))
        groups: list[list[tuple[str, int, tuple[int, ...], float, str, tuple[int, ...]]]] = []
        for h in hs:
            if groups and min(h[2]) <= max(max(g[2]) for g in groups[-1]) + 1:
                groups[-1].append(h)
            else:
                groups.append([h])
        for g in groups:
            g.sort(key=lambda h: -h[3])
            kinds: list[str] = []
            reasons: list[str] = []
            for h in g:
                if h[0] not in kinds:
                    kinds.append(h[0])
                    reasons.append(f"{h[0]}: {h[4]} (z {h[3]:.1f})")
            frames = tuple(sorted({f for h in g for f in h[2]}))
            others = tuple(sorted({o for h in g for o in h[5]}))
            out.append(Finding(tid, frames, tuple(kinds), g[0][3] / z_flag, "; ".join(reasons), others))
    out.sort(key=lambda f: (-f.score, f.track_id, f.frames))
    return out


# -- planting errors ------------------------------------------------------------------------------
@dataclass(frozen=True)
class PlantedError:
    """A known error put into labels by :func:`plant_errors`: kind, track and the frames it touches."""

    kind: str
    track_id: int
    frames: tuple[int, ...]


#: planted kind -> the check meant to find it
PLANT_KINDS = {
    "size": "size",
    "jump": "speed/acceleration",
    "yaw": "yaw_rate",
    "duplicate": "overlap",
    "id_reuse": "id_reuse",
    "ghost": "few_points",
    "lift": "off_ground",
}


def _set_box(labels: dict[int, FrameLabels], k: int, tid: int, arr: NDArray[np.float64]) -> None:
    fl = labels[k]
    j = int(np.flatnonzero(fl.track_ids == tid)[0])
    a = fl.boxes.to_array()
    a[j] = arr
    labels[k] = replace(fl, boxes=Boxes.from_array(a))


def plant_errors(
    labels: LabelSet,
    kinds: Sequence[str] = ("size", "jump", "yaw", "duplicate", "id_reuse"),
    per_kind: int = 3,
    seed: int = 0,
) -> tuple[LabelSet, list[PlantedError]]:
    """Plant ``per_kind`` errors of each kind into a copy of ``labels`` (each on its own track).

    size: one box's l and w scaled by 1.6 (or 0.6); jump: one box moved 2.5 m sideways;
    yaw: one box turned by 90 degrees; duplicate: a new one-frame track overlapping a box (shifted
    0.25 l along it); id_reuse: a track that starts >= 2 frames after another one ends takes its
    id; ghost: a new one-frame car in empty space (>= 6 m from every box, 8-35 m ahead, same
    bottom height as the frame's boxes); lift: a whole track raised by 1.2 m.
    Interior frames only (a box with labelled neighbours), tracks of >= 5 boxes.
    """
    rng = np.random.default_rng(seed)
    fr: dict[int, FrameLabels] = dict(labels.frames)
    planted: list[PlantedError] = []
    used: set[int] = set()
    next_id = int(labels.track_ids().max()) + 1 if labels.num_boxes() else 1
    tracks = {int(t): labels.track(int(t))[0] for t in labels.track_ids()}
    long = [t for t, f in tracks.items() if len(f) >= 5 and np.all(np.diff(f) == 1)]

    def pick_track() -> int | None:
        free = [t for t in long if t not in used]
        if not free:
            return None
        t = int(rng.choice(free))
        used.add(t)
        return t

    for kind in kinds:
        for _ in range(per_kind):
            if kind in ("size", "jump", "yaw", "duplicate", "lift"):
                t = pick_track()
                if t is None:
                    break
                f = tracks[t]
                k = int(rng.choice(f[1:-1]))
                fl = fr[k]
                j = int(np.flatnonzero(fl.track_ids == t)[0])
                a = fl.boxes.to_array()[j].copy()
                if kind == "size":
                    s = 1.6 if rng.random() < 0.5 else 0.6
                    a[3:5] *= s
                    _set_box(fr, k, t, a)
                elif kind == "jump":
                    ang = a[6] + np.pi / 2 * (1 if rng.random() < 0.5 else -1)
                    a[0:2] += 2.5 * np.array([np.cos(ang), np.sin(ang)])
                    _set_box(fr, k, t, a)
                elif kind == "yaw":
                    a[6] += np.pi / 2
                    _set_box(fr, k, t, a)
                elif kind == "duplicate":
                    a[0:2] += 0.25 * a[3] * np.array([np.cos(a[6]), np.sin(a[6])])
                    fr[k] = _append(fl, next_id, fl.categories[j], a)
                    planted.append(PlantedError(kind, next_id, (k,)))
                    next_id += 1
                    continue
                elif kind == "lift":
                    for kk in f:
                        b = fr[int(kk)].boxes.to_array()[np.flatnonzero(fr[int(kk)].track_ids == t)[0]].copy()
                        b[2] += 1.2
                        _set_box(fr, int(kk), t, b)
                    planted.append(PlantedError(kind, t, tuple(int(x) for x in f)))
                    continue
                planted.append(PlantedError(kind, t, (k,)))
            elif kind == "id_reuse":
                ends = {t: (int(f[0]), int(f[-1])) for t, f in tracks.items() if t not in used and len(f) >= 3}
                pairs = [
                    (a_, b_)
                    for a_, (s_a, e_a) in ends.items()
                    for b_, (s_b, e_b) in ends.items()
                    if s_b >= e_a + 3
                ]
                if not pairs:
                    break
                a_, b_ = pairs[int(rng.integers(len(pairs)))]
                used.update((a_, b_))
                for kk in tracks[b_]:
                    fl = fr[int(kk)]
                    ids = fl.track_ids.copy()
                    ids[ids == b_] = a_
                    fr[int(kk)] = replace(fl, track_ids=ids)
                planted.append(PlantedError(kind, a_, (ends[a_][1], ends[b_][0])))
                tracks[a_] = np.concatenate([tracks[a_], tracks[b_]])
            elif kind == "ghost":
                ks = [k for k in fr if len(fr[k])]
                for _try in range(200):
                    k = int(rng.choice(ks))
                    fl = fr[k]
                    xy = np.array([rng.uniform(8, 35), rng.uniform(-12, 12)])
                    if np.min(np.linalg.norm(fl.boxes.center[:, :2] - xy, axis=1)) < 6.0:
                        continue
                    h = 1.5
                    zb = float(np.median(fl.boxes.bottom_z))
                    a = np.array([xy[0], xy[1], zb + h / 2, 4.2, 1.8, h, rng.uniform(-np.pi, np.pi)])
                    fr[k] = _append(fl, next_id, "Car", a)
                    planted.append(PlantedError(kind, next_id, (k,)))
                    next_id += 1
                    break
            else:
                raise ValueError(f"unknown error kind {kind!r}; known: {', '.join(PLANT_KINDS)}")
    return LabelSet(fr), planted


def _append(fl: FrameLabels, tid: int, cat: str, box: NDArray[np.float64]) -> FrameLabels:
    return FrameLabels(
        np.append(fl.track_ids, tid),
        (*fl.categories, cat),
        fl.boxes.concat(Boxes.from_array(box[None, :])),
        np.append(fl.scores, 1.0),
        (*fl.attributes, {}),
    )


@dataclass(frozen=True)
class Detection:
    """Recall and precision of findings against planted errors."""

    recall: float
    precision: float
    found: tuple[PlantedError, ...]
    missed: tuple[PlantedError, ...]
    true_findings: int
    false_findings: int
    preexisting: int = 0  # false findings that the clean labels have too (same track, a shared frame)

    @property
    def precision_new(self) -> float:
        """Precision counting as false only the findings the clean labels did not already have."""
        fp = self.false_findings - self.preexisting
        return self.true_findings / (self.true_findings + fp) if self.true_findings + fp else 1.0

    def by_kind(self) -> dict[str, tuple[int, int]]:
        """planted kind -> (found, planted)."""
        out: dict[str, tuple[int, int]] = {}
        for p in self.found:
            f, n = out.get(p.kind, (0, 0))
            out[p.kind] = (f + 1, n + 1)
        for p in self.missed:
            f, n = out.get(p.kind, (0, 0))
            out[p.kind] = (f, n + 1)
        return out


def _hit(f: Finding, p: PlantedError, tol: int) -> bool:
    if p.track_id != f.track_id and p.track_id not in f.other_track_ids:
        return False
    return any(abs(a - b) <= tol for a in f.frames for b in p.frames)


def score_findings(
    findings: Sequence[Finding],
    planted: Sequence[PlantedError],
    tol: int = 1,
    baseline: Sequence[Finding] = (),
) -> Detection:
    """Match findings to planted errors: same track (or the other track of an overlap) and a frame
    within ``tol``. recall = found / planted; precision = findings matching a planted error / findings.
    ``baseline``: the findings on the clean labels; unmatched findings that repeat one of them
    (same track, a shared frame) are counted in ``preexisting`` (see :attr:`Detection.precision_new`)."""
    found = tuple(p for p in planted if any(_hit(f, p, tol) for f in findings))
    missed = tuple(p for p in planted if p not in found)
    hit = [any(_hit(f, p, tol) for p in planted) for f in findings]
    tp = sum(hit)
    n = len(findings)
    pre = sum(
        1
        for f, h in zip(findings, hit)
        if not h and any(b.track_id == f.track_id and set(b.frames) & set(f.frames) for b in baseline)
    )
    return Detection(
        recall=len(found) / len(planted) if planted else 1.0,
        precision=tp / n if n else 1.0,
        found=found,
        missed=missed,
        true_findings=tp,
        false_findings=n - tp,
        preexisting=pre,
    )
