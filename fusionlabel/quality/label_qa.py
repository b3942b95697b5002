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

This module is the entry point (:func:`check_labels`, :class:`QAConfig`); the parts live in
:mod:`fusionlabel.quality.qa`: the label-only checks (:mod:`~fusionlabel.quality.qa.label_checks`),
the LiDAR checks (:mod:`~fusionlabel.quality.qa.lidar_checks`), the robust statistics
(:mod:`~fusionlabel.quality.qa.stats`), findings and report (:mod:`~fusionlabel.quality.qa.findings`),
their ranking (:mod:`~fusionlabel.quality.qa.ranking`), and :func:`plant_errors` /
:func:`score_findings`, which plant known errors into labels for tests and the benchmark
(:mod:`~fusionlabel.quality.qa.planting`). Their public names are importable from here.

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

from collections.abc import Mapping
from dataclasses import dataclass, field

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.core.transforms import Transform
from fusionlabel.quality.qa.findings import KINDS, Finding, Hit, QAReport
from fusionlabel.quality.qa.label_checks import TrackSeries, id_reuse, kinematics, overlaps, track_series
from fusionlabel.quality.qa.lidar_checks import lidar_checks
from fusionlabel.quality.qa.planting import PLANT_KINDS, Detection, PlantedError, plant_errors, score_findings
from fusionlabel.quality.qa.ranking import rank_findings
from fusionlabel.quality.qa.stats import Samples, robust_z

__all__ = [
    "KINDS",
    "PLANT_KINDS",
    "Detection",
    "Finding",
    "PlantedError",
    "QAConfig",
    "QAReport",
    "check_labels",
    "plant_errors",
    "robust_z",
    "score_findings",
]


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
    tracks = track_series(labels, times, poses)
    vals: dict[str, Samples] = {k: Samples() for k in KINDS if k != "id_reuse"}
    reuse: list[tuple[TrackSeries, int]] = []
    kinematics(tracks, vals, reuse)
    overlaps(labels, vals["overlap"])
    checks = ["size", "speed", "acceleration", "yaw_rate", "overlap", "id_reuse"]
    if recording is not None and lidar_checks(labels, recording, cfg.shrink, vals["few_points"], vals["off_ground"]):
        checks[5:5] = ["few_points", "off_ground"]
    hits: list[Hit] = []
    stats: dict[str, dict[str, tuple[float, float]]] = {}
    for kind, v in vals.items():
        if not v.x:
            continue
        z, stats[kind] = _z_scores(kind, v, cfg)
        for i in np.flatnonzero(z >= cfg.z_flag):
            hits.append(Hit(kind, v.tid[i], v.frames[i], float(z[i]), v.why[i], v.other[i]))
    if reuse:
        for h in id_reuse(reuse, stats.get("speed", {}), cfg.z_flag, cfg.floors["speed"]):
            if h.z >= cfg.z_flag:
                hits.append(h)
    findings = rank_findings(hits, cfg.z_flag)
    return QAReport(tuple(findings), tuple(checks), labels.num_boxes, len(tracks), stats)


def _z_scores(kind: str, v: Samples, cfg: QAConfig) -> tuple[NDArray[np.float64], dict[str, tuple[float, float]]]:
    """Robust z of one check's values, and the check's statistics ``{class: (median, scale)}``.

    ``q = 0.75`` for the LiDAR checks (a whole lifted track is many outliers at once), else 0.9.
    """
    x = np.asarray(v.x)
    if kind == "off_ground":
        # two-sided: |gap - median_c(gap)|, scored like the one-sided checks
        _, st = robust_z(x, v.cls, cfg.floors[kind], cfg.min_class_samples, 0.75)
        med = np.array([st.get(c, st["*"])[0] for c in v.cls])
        return robust_z(np.abs(x - med), v.cls, cfg.floors[kind], cfg.min_class_samples, 0.75)
    q = 0.75 if kind == "few_points" else 0.9
    return robust_z(x, v.cls, cfg.floors[kind], cfg.min_class_samples, q)
