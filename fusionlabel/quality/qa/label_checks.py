"""The checks on the labels alone: size, speed, acceleration, yaw rate, overlap and ID reuse.

The labels are first regrouped per track (:class:`TrackSeries`, in the world frame where ego
poses are given); each check then adds one value per box or per transition to its
:class:`~fusionlabel.quality.qa.stats.Samples`. The definitions of the values are in the module
docstring of :mod:`fusionlabel.quality.label_qa`. Transitions across a gap in a track are not
scored as motion: they are the candidates of the ``id_reuse`` check, scored by :func:`id_reuse`
against the ``speed`` statistics.

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> from fusionlabel.core.labels import FrameLabels, LabelSet
>>> labels = LabelSet({k: FrameLabels(np.array([4]), ("Car",), Boxes.from_array([[k * 1.0, 0, 0.8, 4, 1.8, 1.5, 0]]))
...                    for k in range(5)})
>>> tracks = track_series(labels, {k: k * 0.1 for k in range(5)}, {})
>>> out = {kind: Samples() for kind in ("size", "speed", "acceleration", "yaw_rate")}
>>> reuse: list[tuple[TrackSeries, int]] = []
>>> kinematics(tracks, out, reuse)
>>> [round(v, 6) for v in out["speed"].x], reuse
([0.0, 0.0, 0.0, 0.0], [])
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import iou_3d, wrap_angle
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.transforms import Transform
from fusionlabel.quality.qa.findings import Hit
from fusionlabel.quality.qa.stats import Samples


@dataclass(frozen=True)
class TrackSeries:
    """One track's boxes in the order of the labels' frames.

    tid : the track id; frames : (F,) int64 frame indices; t : (F,) seconds;
    center : (F, 3) metres, world frame (ego frame without a pose); size : (F, 3) l, w, h metres;
    yaw : (F,) radians; cats : the category of each box
    """

    tid: int
    frames: NDArray[np.int64]
    t: NDArray[np.float64]  # seconds
    center: NDArray[np.float64]  # (F, 3) world (or ego) frame
    size: NDArray[np.float64]
    yaw: NDArray[np.float64]
    cats: list[str]

    @property
    def cls(self) -> str:
        """The track's class: its most frequent category (the first in sort order on a tie)."""
        vals, counts = np.unique(np.asarray(self.cats), return_counts=True)
        return str(vals[np.argmax(counts)])


def track_series(
    labels: LabelSet, times: Mapping[int, float], poses: Mapping[int, Transform]
) -> dict[int, TrackSeries]:
    """Group the labels by track; boxes moved by ``poses[k]`` (``T_world_ego``) where frame k has one.

    times : frame -> seconds, for every labelled frame
    """
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
        out[tid] = TrackSeries(
            tid, f, np.array([times[k] for k in d["f"]]), np.array(d["c"]), np.array(d["s"]), np.array(d["y"]), d["k"]
        )
    return out


def kinematics(
    tracks: Mapping[int, TrackSeries], out: dict[str, Samples], reuse: list[tuple[TrackSeries, int]]
) -> None:
    """Add the ``size``, ``speed``, ``yaw_rate`` and ``acceleration`` values of every track to ``out``.

    Transitions across a gap (``frames[i + 1] - frames[i] >= 2``) are appended to ``reuse`` as
    ``(track, i)`` instead: the candidates of :func:`id_reuse`.
    """
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


def id_reuse(
    reuse: list[tuple[TrackSeries, int]], stats: Mapping[str, tuple[float, float]], z_flag: float, speed_floor: float
) -> list[Hit]:
    """Score each gap ``(track, i)`` of ``reuse``: the implied speed across the gap against the
    track's median speed, with the ``speed`` check's ``stats`` (``{class: (median, scale)}``;
    ``speed_floor`` m/s as the scale without any); a category change scores ``z_flag``.

    Returns one :class:`~fusionlabel.quality.qa.findings.Hit` per gap, of any z.
    """
    hits: list[Hit] = []
    for tr, i in reuse:
        dt = max(float(tr.t[i + 1] - tr.t[i]), 1e-6)
        cont = np.diff(tr.frames) == 1
        sp = np.linalg.norm(np.diff(tr.center[:, :2], axis=0), axis=1) / np.maximum(np.diff(tr.t), 1e-6)
        med_s = float(np.median(sp[cont])) if cont.any() else 0.0
        implied = float(np.linalg.norm(tr.center[i + 1, :2] - tr.center[i, :2]) / dt)
        med, sc = stats.get(tr.cls, stats.get("*", (0.0, speed_floor)))
        z = (abs(implied - med_s) - med) / sc
        why = (
            f"gap of {int(tr.frames[i + 1] - tr.frames[i]) - 1} frames, then {implied:.1f} m/s implied "
            f"against the track's {med_s:.1f} m/s"
        )
        if tr.cats[i] != tr.cats[i + 1]:
            z = max(z, z_flag)
            why += f"; category {tr.cats[i]} -> {tr.cats[i + 1]}"
        fr = (int(tr.frames[i]), int(tr.frames[i + 1]))
        hits.append(Hit("id_reuse", tr.tid, fr, z, "ID reused? " + why, ()))
    return hits


def overlaps(labels: LabelSet, out: Samples) -> None:
    """Add each box's largest 3D IoU with another box of its frame to ``out`` (the ``overlap`` check).

    A box whose largest overlap is with an earlier box of the frame gets 0 instead, so that two
    boxes that overlap only each other give one value (on the earlier box).
    """
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
