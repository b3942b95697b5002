"""What label QA reports: a check's hit, a finding (hits merged), and the report.

A check that fires yields a :class:`Hit` (one value of one box or transition, with its robust z);
:func:`fusionlabel.quality.qa.ranking.rank_findings` merges the hits of a track whose frames touch
into one :class:`Finding`; :class:`QAReport` holds the findings, highest score first.

Example
-------
>>> f = Finding(track_id=3, frames=(14, 15), kinds=("speed",), score=1.8, reason="speed: ...")
>>> f.to_dict()["frames"]
[14, 15]
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, NamedTuple

#: the checks, in the order of the module docstring of :mod:`fusionlabel.quality.label_qa`
KINDS = ("size", "speed", "acceleration", "yaw_rate", "overlap", "few_points", "off_ground", "id_reuse")


class Hit(NamedTuple):
    """One value that a check scored at or above the flag (before merging into findings).

    kind : the check (one of :data:`KINDS`)
    track_id : the track the value belongs to
    frames : the frames the value is measured on (one box, or a transition)
    z : the value's robust z (a finding when ``z >= z_flag``)
    why : one line for a human
    other : the other track(s) involved (``overlap``)
    """

    kind: str
    track_id: int
    frames: tuple[int, ...]
    z: float
    why: str
    other: tuple[int, ...]


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
