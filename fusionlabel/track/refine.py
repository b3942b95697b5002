"""Offboard track refinement: use every frame of a track to improve each of its boxes.

After tracking, an object has been seen many times, from many sides. Following Qi et al.,
"Offboard 3D Object Detection from Point Cloud Sequences" (CVPR 2021) and Yang et al., "Auto4D"
(2021), each track is refined with what all its frames saw together, for any detector (plugins
included):

1. **aggregate**: the LiDAR points inside each of the track's boxes (grown by ``margin``, above
   the ground band) are moved into the box's own frame and stacked: the object's shape seen from
   every viewpoint the track had;
2. **one size** per rigid track (vehicles: ``rigid_classes``): the robust extent of the aggregated
   points (``[2, 98]`` percentiles), never below the median size the detector gave (a partial view
   must not shrink the object) and never more than ``max_growth`` times it (clutter must not
   inflate it), each box keeping its bottom; a person's outline changes from frame to frame, so
   non-rigid tracks keep their boxes' sizes;
3. **static or moving**: from the track's world positions (ego poses where the recording has them,
   the ego frame otherwise): a rigid track whose centre stays within ``static_radius`` metres is
   *static* and gets **one world pose** (the point-weighted mean centre and the circular mean
   heading of its boxes) in every frame; a *mover* takes its **heading from its motion** where it
   moves faster than ``min_speed`` (the detector's heading, which may be flipped by pi, is
   replaced by the direction of travel, smoothed over the track);
4. **extend**: a track is followed up to ``max_extend`` frames before its first and after its last
   box (static: the same world pose; moving: constant velocity) as long as at least
   ``extend_min_points`` points lie in the predicted box: the frames where the object is visible
   but was not detected;
5. **drop** tracks that never look like an object: no frame with ``min_points`` points in the box;
6. **stitch**: where a track's extension reaches a later track of the same class (their boxes
   overlap by ``stitch_iou`` BEV IoU or more on some frame) and the two were never detected on
   the same frame, they are one object that the tracker lost and found again: the later track
   takes the earlier one's id (one to one, best overlap first); on a frame both cover, the
   detected box stays and the extension goes.

Tried and not kept: re-anchoring each box on the faces its points show (keeping the near faces,
growing away from the sensor); on held-out synthetic seeds it cost 7 HOTA points
(``docs/evaluation.md``).

Boxes keep their track id, class and score; refined boxes carry ``attributes["refined"]``
(``"pose"``, ``"static"``, ``"extended"``). Every step is a pure function of the labels and the
recording's clouds; :func:`refine_tracks` reads the clouds it needs.

Example
-------
>>> from fusionlabel.io.open import SAMPLE, open_recording
>>> rec = open_recording(SAMPLE)
>>> refined, report = refine_tracks(rec, rec.labels)
>>> report.tracks_in == report.tracks_out + report.dropped + len(report.stitched)
True
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes, bev_iou, points_in_boxes, wrap_angle
from fusionlabel.core.calibration import Camera
from fusionlabel.core.errors import FusionLabelError
from fusionlabel.core.labels import VEHICLES, FrameLabels, LabelSet
from fusionlabel.core.points import lidar_points_ego
from fusionlabel.core.projection import visible_fraction
from fusionlabel.core.recording import Recording
from fusionlabel.core.transforms import Transform


@dataclass(frozen=True)
class RefineConfig:
    """Parameters of :func:`refine_tracks` (metres, frames).

    margin : boxes are grown by this much to gather their points
    ground_band : points lower than this above the box bottom are left out (the road)
    static_radius : a track whose world centre stays within this radius is static
    min_speed : m/s; movers faster than this take their heading from their motion
    max_growth : the refined size is at most this times the detector's median size
    max_extend : frames a track may be extended at each end
    extend_min_points : points a predicted box needs to be kept as an extension
    min_points : a track whose boxes never hold this many points is dropped
    dt : seconds between frames when the recording has no timestamps to tell
    rigid_classes : the classes whose tracks get one size and, when static, one world pose
    stitch_iou : BEV IoU at which an extension and another track's box make one object (step 6;
        None: no stitching)
    """

    margin: float = 0.3
    ground_band: float = 0.2
    static_radius: float = 1.0
    min_speed: float = 1.0
    max_growth: float = 1.3
    max_extend: int = 10
    extend_min_points: int = 8
    min_points: int = 3
    dt: float = 0.1
    rigid_classes: tuple[str, ...] = (*VEHICLES, "Tram")
    stitch_iou: float | None = 0.3


@dataclass(frozen=True)
class RefineReport:
    """What the refinement did: tracks in and out, dropped, static, boxes extended."""

    tracks_in: int
    tracks_out: int
    dropped: int
    static: int
    extended: int
    problems: tuple[str, ...] = ()
    #: later track id -> the earlier track id it was stitched to (step 6)
    stitched: Mapping[int, int] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "tracks_in": self.tracks_in,
            "tracks_out": self.tracks_out,
            "dropped": self.dropped,
            "static": self.static,
            "extended": self.extended,
            "stitched": len(self.stitched),
            "problems": list(self.problems),
        }


@dataclass
class _Track:
    """One track's boxes in frame order (ego frame of each frame) and what the frames saw."""

    track_id: int
    frames: list[int]
    boxes: list[NDArray[np.float64]]  # (7,) each
    category: str
    scores: list[float]
    attrs: list[dict[str, Any]]
    local: list[NDArray[np.float64]] = field(default_factory=list)  # (n_k, 3) points, box frame
    counts: list[int] = field(default_factory=list)


def _tracks(labels: LabelSet) -> dict[int, _Track]:
    out: dict[int, _Track] = {}
    for k, fl in labels.frames.items():
        arr = fl.boxes.to_array()
        for i, tid in enumerate(fl.track_ids.tolist()):
            t = out.get(tid)
            if t is None:
                t = out[tid] = _Track(tid, [], [], fl.categories[i], [], [])
            t.frames.append(int(k))
            t.boxes.append(arr[i].copy())
            t.scores.append(float(fl.scores[i]))
            t.attrs.append(dict(fl.attributes[i] or {}))
    return out


def _to_local(pts: NDArray[np.float64], box: NDArray[np.float64]) -> NDArray[np.float64]:
    """Points into the box's frame: ``R(-yaw) (p - c)``."""
    c, s = np.cos(box[6]), np.sin(box[6])
    d = pts - box[:3]
    return np.c_[c * d[:, 0] + s * d[:, 1], -s * d[:, 0] + c * d[:, 1], d[:, 2]]


def _gather(points: NDArray[np.float64], box: NDArray[np.float64], cfg: RefineConfig) -> NDArray[np.float64]:
    """The points inside ``box`` grown by the margin, above its ground band, in the box frame."""
    if not len(points):
        return np.zeros((0, 3))
    inside = points_in_boxes(points, Boxes.from_array(box[None]), cfg.margin)[:, 0]
    loc = _to_local(points[inside], box)
    return loc[loc[:, 2] > -box[5] / 2 + cfg.ground_band]


def _world(boxes: NDArray[np.float64], poses: list[Transform | None]) -> NDArray[np.float64]:
    """Boxes (n, 7) into the world frame where a pose is given (the ego frame otherwise)."""
    out = boxes.copy()
    for i, T in enumerate(poses):
        if T is not None:
            out[i, :3] = T.apply(boxes[i, None, :3])[0]
            out[i, 6] = float(wrap_angle(boxes[i, 6] + T.yaw))
    return out


def _to_ego(box_w: NDArray[np.float64], T: Transform | None) -> NDArray[np.float64]:
    if T is None:
        return box_w.copy()
    Ti = T.inverse()
    out = box_w.copy()
    out[:3] = Ti.apply(box_w[None, :3])[0]
    out[6] = float(wrap_angle(box_w[6] + Ti.yaw))
    return out


def _axial_mean(yaws: NDArray[np.float64], weights: NDArray[np.float64], ref: float) -> float:
    """Mean heading modulo pi (a box's front and back look alike), near ``ref``'s direction."""
    m = float(np.angle(np.sum(weights * np.exp(2j * yaws))) / 2.0)
    return m if np.cos(m - ref) >= 0 else float(wrap_angle(m + np.pi))


def _size(t: _Track, cfg: RefineConfig) -> NDArray[np.float64]:
    """One (l, w, h) for the track: the aggregated points' robust extent, within
    [median detector size, max_growth x median detector size]."""
    med = np.median(np.array(t.boxes)[:, 3:6], axis=0)
    pts = np.vstack([p for p in t.local if len(p)]) if any(len(p) for p in t.local) else np.zeros((0, 3))
    if len(pts) < 10:
        return med
    ext = np.array([np.ptp(np.percentile(pts[:, j], [2, 98])) for j in range(3)])
    ext[2] = np.percentile(pts[:, 2], 98) + med[2] / 2  # from the box bottom to the top returns
    return np.clip(np.maximum(med, ext), med, cfg.max_growth * med)


def refine_tracks(
    recording: Recording,
    labels: LabelSet,
    config: RefineConfig | None = None,
    cancel: Callable[[], bool] | None = None,
    view: Camera | None = None,
    min_visible: float = 0.3,
) -> tuple[LabelSet, RefineReport]:
    """Refine every track of ``labels`` (ego frame, the recording's frames) with all its frames.

    See the module docstring for the method. Frames whose clouds cannot be read are skipped and
    named in the report; their boxes stay as they are. With a labelled camera ``view`` (as the
    tracker's), a track is extended only into frames where at least ``min_visible`` of the box's
    image extent lies inside that camera's picture.
    """
    T_cam_ego = view.T_ego_cam.inverse() if view is not None else None
    cfg = config or RefineConfig()
    tracks = _tracks(labels)
    n = len(recording)
    problems: list[str] = []
    cache: dict[int, NDArray[np.float64] | None] = {}

    def cloud(k: int) -> NDArray[np.float64] | None:
        if k not in cache:
            if cancel is not None and cancel():
                raise FusionLabelError("refinement cancelled")
            try:
                fr = recording.frame(k)
                cache[k] = lidar_points_ego(fr, recording.rig).xyz.astype(np.float64) if fr.lidar else None
            except (FusionLabelError, KeyError) as exc:
                problems.append(f"frame {k}: {exc}")
                cache[k] = None
            if len(cache) > 64:  # keep memory bounded: the oldest clouds go first
                cache.pop(next(iter(cache)))
        return cache[k]

    def pose(k: int) -> Transform | None:
        if recording.ego_poses is None or not 0 <= k < n:
            return None
        return recording.ego_pose_at(int(recording.timestamps_ns[k]))

    stamps = np.asarray(recording.timestamps_ns, dtype=np.float64) / 1e9 if n else np.zeros(0)
    out: dict[int, list[tuple[int, NDArray[np.float64], str, float, dict[str, Any]]]] = {}
    dropped = static_n = extended = 0
    for tid in sorted(tracks):
        t = tracks[tid]
        for k, b in zip(t.frames, t.boxes):
            pts = cloud(k)
            loc = _gather(pts, b, cfg) if pts is not None else np.zeros((0, 3))
            t.local.append(loc)
            t.counts.append(len(loc))
        known = [c for k, c in zip(t.frames, t.counts) if cache.get(k) is not None or c > 0]
        if known and max(t.counts) < cfg.min_points:
            dropped += 1
            continue
        rigid = t.category in cfg.rigid_classes
        size = _size(t, cfg) if rigid else None
        poses = [pose(k) for k in t.frames]
        boxes = np.array(t.boxes)
        world = _world(boxes, poses)
        centers = world[:, :2]
        spread = float(np.max(np.hypot(*(centers - centers.mean(axis=0)).T))) if len(centers) else 0.0
        weights = np.maximum(np.array(t.counts, dtype=np.float64), 1.0)
        is_static = rigid and len(t.frames) >= 2 and spread <= cfg.static_radius
        new_world = world.copy()
        if is_static:
            static_n += 1
            c = (centers * weights[:, None]).sum(axis=0) / weights.sum()
            yaw = _axial_mean(world[:, 6], weights, float(world[0, 6]))
            new_world[:, 0], new_world[:, 1], new_world[:, 6] = c[0], c[1], yaw
        elif len(t.frames) >= 3:
            times = stamps[t.frames] if len(stamps) else np.array(t.frames, dtype=np.float64) * cfg.dt
            vel = np.gradient(centers, times, axis=0) if len(np.unique(times)) == len(times) else np.zeros_like(centers)
            speed = np.hypot(vel[:, 0], vel[:, 1])
            moving = speed > cfg.min_speed
            heading = np.arctan2(vel[:, 1], vel[:, 0])
            new_world[moving, 6] = heading[moving]
        rows = []
        for i, k in enumerate(t.frames):
            b = _to_ego(new_world[i], poses[i])
            b[3:6] = boxes[i, 3:6]
            if size is not None:  # the track's size, standing on the same bottom
                b[2] += (size[2] - b[5]) / 2
                b[3:6] = size
            a = {**t.attrs[i], "refined": "static" if is_static else "pose"}
            rows.append((k, b, t.category, t.scores[i], a))
        # extensions at both ends
        for direction in (-1, 1):
            k_end = t.frames[0] if direction < 0 else t.frames[-1]
            i_end = 0 if direction < 0 else len(t.frames) - 1
            step_w = np.zeros(7)
            if not is_static and len(t.frames) >= 2:
                j = 1 if direction < 0 else len(t.frames) - 2
                dk = t.frames[i_end] - t.frames[j]
                step_w[:2] = (new_world[i_end, :2] - new_world[j, :2]) / dk if dk else 0.0
            taken = set(t.frames)
            for m in range(1, cfg.max_extend + 1):
                k = k_end + direction * m
                if not 0 <= k < n or k in taken:
                    break
                pts = cloud(k)
                if pts is None:
                    break
                bw = new_world[i_end].copy()
                bw[:2] += step_w[:2] * (direction * m)
                b = _to_ego(bw, pose(k))
                b[3:6] = size if size is not None else boxes[i_end, 3:6]
                n_in = len(_gather(pts, b, cfg))
                if n_in < cfg.extend_min_points:
                    break
                if view is not None and T_cam_ego is not None:
                    if float(visible_fraction(Boxes.from_array(b[None]), view, T_cam_ego)[0]) < min_visible:
                        break
                a = {**t.attrs[i_end], "refined": "extended", "interpolated": False, "num_points": n_in}
                rows.append((k, b, t.category, 0.8 * t.scores[i_end], a))
                extended += 1
        for k, b, cat, sc, a in rows:
            out.setdefault(k, []).append((tid, b, cat, sc, a))
    stitched = _stitch(out, tracks, cfg) if cfg.stitch_iou is not None else {}
    frames: dict[int, FrameLabels] = {}
    for k, items in out.items():
        items.sort(key=lambda r: r[0])
        frames[k] = FrameLabels(
            [r[0] for r in items],
            [r[2] for r in items],
            Boxes.from_array(np.array([r[1] for r in items])),
            [r[3] for r in items],
            [r[4] for r in items],
        )
    result = LabelSet(frames)
    report = RefineReport(len(tracks), len(result.track_ids), dropped, static_n, extended, tuple(problems), stitched)
    return result, report


def _stitch(
    out: dict[int, list[tuple[int, NDArray[np.float64], str, float, dict[str, Any]]]],
    tracks: dict[int, _Track],
    cfg: RefineConfig,
) -> dict[int, int]:
    """Step 6 on the refined rows ``out`` (frame -> rows), in place: returns later id -> earlier id."""
    assert cfg.stitch_iou is not None
    span = {tid: (t.frames[0], t.frames[-1]) for tid, t in tracks.items()}
    best: dict[tuple[int, int], float] = {}
    for rows in out.values():
        ext = [r for r in rows if r[4].get("refined") == "extended"]
        if not ext or len(rows) < 2:
            continue
        a = Boxes.from_array(np.array([r[1] for r in ext]))
        b = Boxes.from_array(np.array([r[1] for r in rows]))
        m = bev_iou(a, b)
        for i, re in enumerate(ext):
            for j, ro in enumerate(rows):
                t1, t2 = re[0], ro[0]
                if t1 == t2 or re[2] != ro[2] or m[i, j] < cfg.stitch_iou:
                    continue
                (f1, l1), (f2, l2) = span[t1], span[t2]
                if not (l1 < f2 or l2 < f1):  # detected on a common frame: two objects
                    continue
                pair = (t1, t2) if l1 < f2 else (t2, t1)  # (earlier, later)
                best[pair] = max(best.get(pair, 0.0), float(m[i, j]))
    nxt: dict[int, int] = {}
    prv: dict[int, int] = {}
    for (e, later), _iou in sorted(best.items(), key=lambda kv: (-kv[1], kv[0])):
        if e in nxt or later in prv:
            continue
        nxt[e], prv[later] = later, e
    if not prv:
        return {}

    def root(t: int) -> int:
        while t in prv:
            t = prv[t]
        return t

    remap = {t: root(t) for t in prv}
    for k, rows in out.items():
        keep: dict[int, tuple[int, NDArray[np.float64], str, float, dict[str, Any]]] = {}
        for r in rows:
            tid = remap.get(r[0], r[0])
            r = (tid, *r[1:])
            have = keep.get(tid)
            # a detected (refined) box beats an extension; between equals the higher score
            rank = (r[4].get("refined") != "extended", r[3])
            if have is None or rank > (have[4].get("refined") != "extended", have[3]):
                keep[tid] = r
        out[k] = list(keep.values())
    return remap


def refine_config_dict(cfg: RefineConfig) -> Mapping[str, Any]:
    """The configuration as plain data (for the pre-label report's fingerprint)."""
    return {f: getattr(cfg, f) for f in cfg.__dataclass_fields__}
