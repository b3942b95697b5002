"""One recording's labels as a nuScenes scene: frames, ego poses, global boxes and their tokens.

What the tables export (:mod:`fusionlabel.io.nuscenes_export`) and the tracking results
(:mod:`fusionlabel.io.nuscenes_tracking`) share: :func:`_scene` checks the frames and poses once
and puts every box into the global frame.

**One scene, every frame a sample.** Each frame of the recording (each reference timestamp with an
ego pose) is a key-frame ``sample``; two frames in the same microsecond (nuScenes' unit,
:func:`_ns_to_us`) are refused.

**Boxes** are in the global frame through each frame's ego pose ``T_world_ego``
(:func:`fusionlabel.core.conventions.boxes_to_nuscenes_global`): ``translation = T_world_ego c``,
``size = (w, l, h)``, ``rotation`` the upright quaternion ``(cos(psi/2), 0, 0, sin(psi/2))`` of the
global heading ``psi``; the devkit's ``get_box`` returns exactly these. A frame without an ego pose
is refused (naming the frame) unless ``identity_pose=True`` says the recording has no poses at all;
then ``T_world_ego = I`` for every frame (the "global" frame is each frame's ego frame, so velocities
and attributes describe motion relative to the ego).

**Velocities** follow the devkit's ``box_velocity``: the centred difference of the neighbouring
annotations of the instance, ``v = (c_next - c_prev) / (t_next - t_prev)`` on the sample
timestamps, one-sided at the ends, none where they are more than 1.5 s apart (3 s centred).

**Tokens** are deterministic UUID5s of the scene name and the object (:func:`_token`): exporting
twice gives identical files, and the tracking results of the same recording name use the same
sample tokens.
"""

from __future__ import annotations

import math
import uuid
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.conventions import boxes_to_nuscenes_global
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.transforms import Transform
from fusionlabel.io.nuscenes_taxonomy import nuscenes_category

#: the devkit's ``box_velocity(max_time_diff)``: neighbours further apart give no velocity, seconds
MAX_VELOCITY_DT_S = 1.5

_NS = uuid.UUID("6f1c2d0e-5b7a-4c1e-9a53-0f3e8d2b7c41")  # FusionLabel's UUID5 namespace


def _token(*parts: object) -> str:
    return uuid.uuid5(_NS, "/".join(str(p) for p in parts)).hex


def _ns_to_us(t_ns: int) -> int:
    """nanoseconds -> integer microseconds (nuScenes' unit), rounded half up."""
    return (int(t_ns) + 500) // 1000


def _json(v: Any) -> Any:
    if isinstance(v, np.ndarray):
        return v.tolist()
    if isinstance(v, np.generic):
        return v.item()
    raise TypeError(f"not JSON serialisable: {type(v).__name__}")


def _quat_wxyz(R: NDArray[np.float64]) -> list[float]:
    """(3, 3) rotation -> unit quaternion ``[w, x, y, z]`` with ``w >= 0``.

    The matrix is first made orthonormal (``U V'`` of its SVD: KITTI's rectification is not
    exactly), then Shepperd's method picks the largest of ``w, x, y, z`` to divide by.
    """
    U, _, Vt = np.linalg.svd(np.asarray(R, dtype=np.float64))
    M = U @ Vt
    if np.linalg.det(M) < 0:
        M = U @ np.diag([1.0, 1.0, -1.0]) @ Vt
    t = np.trace(M)
    cands = np.array([t, M[0, 0], M[1, 1], M[2, 2]])
    i = int(np.argmax(cands))
    if i == 0:
        s = 2.0 * math.sqrt(1.0 + t)
        q = [s / 4, (M[2, 1] - M[1, 2]) / s, (M[0, 2] - M[2, 0]) / s, (M[1, 0] - M[0, 1]) / s]
    elif i == 1:
        s = 2.0 * math.sqrt(1.0 + M[0, 0] - M[1, 1] - M[2, 2])
        q = [(M[2, 1] - M[1, 2]) / s, s / 4, (M[0, 1] + M[1, 0]) / s, (M[0, 2] + M[2, 0]) / s]
    elif i == 2:
        s = 2.0 * math.sqrt(1.0 + M[1, 1] - M[0, 0] - M[2, 2])
        q = [(M[0, 2] - M[2, 0]) / s, (M[0, 1] + M[1, 0]) / s, s / 4, (M[1, 2] + M[2, 1]) / s]
    else:
        s = 2.0 * math.sqrt(1.0 + M[2, 2] - M[0, 0] - M[1, 1])
        q = [(M[1, 0] - M[0, 1]) / s, (M[0, 2] + M[2, 0]) / s, (M[1, 2] + M[2, 1]) / s, s / 4]
    qa = np.asarray(q, dtype=np.float64)
    qa /= np.linalg.norm(qa)
    if qa[0] < 0:
        qa = -qa
    return [float(v) for v in qa]


def _as_written(T: Transform) -> Transform:
    """``T`` as a reader of the tables rebuilds it from the written quaternion and translation."""
    return Transform.from_quaternion(_quat_wxyz(T.rotation), T.translation)


def _pose_row(token: str, t_ns: int, T: Transform) -> dict[str, Any]:
    return {
        "token": token,
        "timestamp": _ns_to_us(t_ns),
        "rotation": _quat_wxyz(T.rotation),
        "translation": [float(v) for v in T.translation],
    }


# -- the scene: frames, poses, global boxes --------------------------------------------------------
@dataclass(frozen=True)
class _Ann:
    """One annotation: a box of frame ``frame`` in the global frame, with its identity."""

    frame: int
    tid: int
    category: str
    attributes: Mapping[str, Any]
    score: float
    box_ego: Boxes  # one box, ego frame
    center: NDArray[np.float64]  # (3,) global, m
    wlh: NDArray[np.float64]  # (3,) m
    rotation: list[float]  # w x y z, box -> global
    psi: float  # global heading, rad
    token: str
    instance: str


@dataclass(frozen=True)
class _Scene:
    name: str
    frames: list[int]
    times_ns: dict[int, int]
    poses: dict[int, Transform]
    sample_token: dict[int, str]
    anns: dict[int, list[_Ann]]  # frame -> annotations in track-id order
    tracks: dict[int, list[_Ann]]  # track id -> annotations in frame order
    instance_category: dict[int, str]  # track id -> nuScenes category
    velocity: dict[str, NDArray[np.float64]]  # annotation token -> (3,) global m/s, NaN when unknown

    @property
    def token(self) -> str:
        return _token(self.name, "scene")


def _scene(
    labels: LabelSet,
    timestamps_ns: Mapping[int, int],
    ego_poses: Mapping[int, Transform],
    scene_name: str,
    identity_pose: bool,
) -> _Scene:
    """Validate frames and poses, and put every box into the global frame.

    Raises
    ------
    ValueError : a labelled frame has no time or no pose (naming the frame); ``identity_pose``
        with poses given; two frames in the same microsecond; a non-finite score
    """
    for k in labels.frames:
        if k not in timestamps_ns:
            raise ValueError(f"frame {k} has labels but no timestamp")
    if identity_pose:
        if ego_poses:
            raise ValueError(
                f"identity_pose is for recordings without ego poses, but {len(ego_poses)} frame(s) have one"
            )
        frames = sorted(set(labels.frames) | set(timestamps_ns))
        poses = {k: Transform.identity() for k in frames}
    else:
        for k in labels.frames:
            if k not in ego_poses:
                raise ValueError(
                    f"frame {k} has labels but no ego pose: nuScenes boxes are in the global frame "
                    "(a recording without any poses can be exported with identity_pose=True)"
                )
        frames = sorted(set(labels.frames) | (set(timestamps_ns) & set(ego_poses)))
        poses = {k: ego_poses[k] for k in frames}
    times = {k: int(timestamps_ns[k]) for k in frames}
    us = [_ns_to_us(times[k]) for k in frames]
    if len(set(us)) != len(us):
        raise ValueError("two frames fall in the same microsecond: nuScenes samples need distinct timestamps")
    sample_tok = {k: _token(scene_name, "sample", k) for k in frames}
    anns: dict[int, list[_Ann]] = {}
    tracks: dict[int, list[_Ann]] = {}
    for k, fl in labels.frames.items():
        center, wlh, q = boxes_to_nuscenes_global(fl.boxes, poses[k])
        rows = []
        for j in np.argsort(fl.track_ids, kind="stable"):
            tid = int(fl.track_ids[j])
            score = float(fl.scores[j])
            if not math.isfinite(score):
                raise ValueError(f"frame {k}, track {tid}: score {score} is not finite")
            a = _Ann(
                frame=k,
                tid=tid,
                category=fl.categories[j],
                attributes=dict(fl.attributes[j]),
                score=score,
                box_ego=fl.boxes[np.array([j])],
                center=center[j],
                wlh=wlh[j],
                rotation=[float(v) for v in q[j]],
                psi=float(2.0 * math.atan2(q[j, 3], q[j, 0])),
                token=_token(scene_name, "annotation", k, tid),
                instance=_token(scene_name, "instance", tid),
            )
            rows.append(a)
            tracks.setdefault(tid, []).append(a)
        anns[k] = rows
    # velocities: the devkit's box_velocity on the sample timestamps (microseconds):
    # v = (c_next - c_prev) / (t_next - t_prev), one-sided at the ends, none beyond 1.5 s (3 s centred)
    velocity: dict[str, NDArray[np.float64]] = {}
    for track in tracks.values():
        for i, a in enumerate(track):
            prev = track[i - 1] if i > 0 else None
            nxt = track[i + 1] if i + 1 < len(track) else None
            velocity[a.token] = np.full(3, np.nan)
            if prev is None and nxt is None:
                continue
            first, last = prev or a, nxt or a
            dt = 1e-6 * (_ns_to_us(times[last.frame]) - _ns_to_us(times[first.frame]))
            limit = MAX_VELOCITY_DT_S * (2 if prev is not None and nxt is not None else 1)
            if 0 < dt <= limit:
                velocity[a.token] = (last.center - first.center) / dt
    inst_cat = {tid: nuscenes_category(t[0].category, t[0].attributes) for tid, t in tracks.items()}
    return _Scene(scene_name, frames, times, poses, sample_tok, anns, dict(sorted(tracks.items())), inst_cat, velocity)
