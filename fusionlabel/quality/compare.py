"""Comparing two annotators' label sets, and their consensus.

Per frame, boxes of A and B are matched one-to-one by 3D IoU (Hungarian assignment on
``1 - IoU``, pairs below ``match_iou`` dropped: :func:`fusionlabel.quality.clear_mot.match_frame`).
Tracks are then compared by identity: each A track's partner is the B track it is matched to most
often, and a matched pair whose B id is not that partner is an ID disagreement.

Agreement figures (:class:`Agreement`):

* ``mean_iou`` over matched pairs;
* ``id_consistency`` = matched pairs whose B id is the A track's partner (and vice versa) / matched
  pairs;
* ``missing`` = A boxes with no B match (in A, missing from B); ``extra`` = B boxes with no A match;
* ``category_mismatches`` = matched pairs with different categories.

The **consensus** keeps the matched pairs that agree (IoU >= ``agree_iou``, same category, B id is
the partner of the A id): box = the mean of both (centres and sizes averaged, yaw averaged on the
circle after aligning B's heading to within 90 degrees of A's), track id and attributes from A,
score the mean, plus the attribute ``consensus_iou``. Everything else is a
:class:`Disagreement` for review.

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> from fusionlabel.core.labels import FrameLabels, LabelSet
>>> a = LabelSet({0: FrameLabels(np.array([1, 2]), ("Car", "Car"),
...               Boxes.from_array([[5, 0, 0.8, 4, 1.8, 1.6, 0], [20, 5, 0.8, 4, 1.8, 1.6, 0]]))})
>>> b = LabelSet({0: FrameLabels(np.array([9]), ("Car",), Boxes.from_array([[5.1, 0, 0.8, 4, 1.8, 1.6, 0]]))})
>>> r = compare_labels(a, b)
>>> r.agreement.matched, r.agreement.missing, r.agreement.extra, r.consensus.num_boxes
(1, 1, 0, 1)
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass
from typing import Any

import numpy as np

from fusionlabel.core.boxes import Boxes, iou_3d, wrap_angle
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.quality.clear_mot import match_frame


@dataclass(frozen=True)
class Agreement:
    """Summary of a comparison (see the module docstring)."""

    boxes_a: int
    boxes_b: int
    matched: int
    missing: int
    extra: int
    mean_iou: float
    id_consistency: float
    category_mismatches: int
    consensus_boxes: int
    tracks_a: int
    tracks_b: int

    def to_dict(self) -> dict[str, Any]:
        return {k: (round(v, 6) if isinstance(v, float) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Disagreement:
    """One thing to review.

    kind : ``missing`` (A only), ``extra`` (B only), ``low_iou``, ``category``, ``identity``
    frame : frame index
    track_a, track_b : the track ids involved (None where absent)
    detail : one line for a human
    """

    kind: str
    frame: int
    track_a: int | None
    track_b: int | None
    detail: str

    def to_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


@dataclass(frozen=True)
class Comparison:
    agreement: Agreement
    consensus: LabelSet
    disagreements: tuple[Disagreement, ...]
    partner: dict[int, int]  # A track -> B track

    def to_dict(self) -> dict[str, Any]:
        return {
            "agreement": self.agreement.to_dict(),
            "partner": {str(a): b for a, b in sorted(self.partner.items())},
            "disagreements": [d.to_dict() for d in self.disagreements],
        }


def _mean_box(a: Boxes, b: Boxes) -> Boxes:
    """Average of two single boxes; B's heading is first flipped by pi if it points > 90 deg away."""
    ya, yb = float(a.yaw[0]), float(b.yaw[0])
    if abs(float(wrap_angle(yb - ya))) > np.pi / 2:
        yb += np.pi
    yaw = ya + float(wrap_angle(yb - ya)) / 2.0
    return Boxes((a.center + b.center) / 2.0, (a.size + b.size) / 2.0, np.array([yaw]))


def compare_labels(a: LabelSet, b: LabelSet, match_iou: float = 0.3, agree_iou: float = 0.7) -> Comparison:
    """Compare label sets ``a`` and ``b`` (same recording, ego frame).

    Parameters
    ----------
    match_iou : 3D IoU a pair of boxes needs to be matched at all
    agree_iou : 3D IoU a matched pair needs to enter the consensus
    """
    pairs: list[tuple[int, int, int, float]] = []  # frame, index in a, index in b, IoU
    missing: list[tuple[int, int]] = []
    extra: list[tuple[int, int]] = []
    for k in sorted(set(a.frames) | set(b.frames)):
        fa, fb = a.get(k), b.get(k)
        iou = iou_3d(fa.boxes, fb.boxes) if len(fa) and len(fb) else np.zeros((len(fa), len(fb)))
        r, c = match_frame(iou, match_iou)
        pairs += [(k, int(i), int(j), float(iou[i, j])) for i, j in zip(r, c)]
        missing += [(k, i) for i in sorted(set(range(len(fa))) - set(r.tolist()))]
        extra += [(k, j) for j in sorted(set(range(len(fb))) - set(c.tolist()))]
    votes: dict[int, Counter[int]] = {}
    votes_b: dict[int, Counter[int]] = {}
    for k, i, j, _ in pairs:
        ta, tb = int(a.get(k).track_ids[i]), int(b.get(k).track_ids[j])
        votes.setdefault(ta, Counter())[tb] += 1
        votes_b.setdefault(tb, Counter())[ta] += 1
    partner = {ta: c.most_common(1)[0][0] for ta, c in votes.items()}
    partner_b = {tb: c.most_common(1)[0][0] for tb, c in votes_b.items()}
    dis: list[Disagreement] = []
    cons: dict[int, list[tuple[int, str, Boxes, float, dict[str, Any]]]] = {}
    consistent = cat_mis = 0
    for k, i, j, v in pairs:
        fa, fb = a.get(k), b.get(k)
        ta, tb = int(fa.track_ids[i]), int(fb.track_ids[j])
        ok_id = partner[ta] == tb and partner_b[tb] == ta
        consistent += ok_id
        same_cat = fa.categories[i] == fb.categories[j]
        cat_mis += not same_cat
        if not ok_id:
            dis.append(
                Disagreement("identity", k, ta, tb, f"A track {ta} is B track {partner[ta]} elsewhere, here B {tb}")
            )
        if not same_cat:
            dis.append(Disagreement("category", k, ta, tb, f"A says {fa.categories[i]}, B says {fb.categories[j]}"))
        if v < agree_iou:
            dis.append(Disagreement("low_iou", k, ta, tb, f"3D IoU {v:.2f} < {agree_iou}"))
        if ok_id and same_cat and v >= agree_iou:
            attrs = {**dict(fa.attributes[i]), "consensus_iou": round(v, 6)}
            score = (float(fa.scores[i]) + float(fb.scores[j])) / 2.0
            cons.setdefault(k, []).append((ta, fa.categories[i], _mean_box(fa.boxes[i], fb.boxes[j]), score, attrs))
    for k, i in missing:
        fa = a.get(k)
        dis.append(Disagreement("missing", k, int(fa.track_ids[i]), None, f"{fa.categories[i]} only in A"))
    for k, j in extra:
        fb = b.get(k)
        dis.append(Disagreement("extra", k, None, int(fb.track_ids[j]), f"{fb.categories[j]} only in B"))
    frames = {}
    for k, rows in cons.items():
        boxes = rows[0][2]
        for r_ in rows[1:]:
            boxes = boxes.concat(r_[2])
        frames[k] = FrameLabels(
            np.array([r_[0] for r_ in rows], np.int64),
            tuple(r_[1] for r_ in rows),
            boxes,
            np.array([r_[3] for r_ in rows]),
            tuple(r_[4] for r_ in rows),
        )
    consensus = LabelSet(frames)
    n = len(pairs)
    agreement = Agreement(
        boxes_a=a.num_boxes,
        boxes_b=b.num_boxes,
        matched=n,
        missing=len(missing),
        extra=len(extra),
        mean_iou=float(np.mean([p[3] for p in pairs])) if n else 0.0,
        id_consistency=consistent / n if n else 0.0,
        category_mismatches=cat_mis,
        consensus_boxes=consensus.num_boxes,
        tracks_a=len(a.track_ids),
        tracks_b=len(b.track_ids),
    )
    dis.sort(key=lambda d: (d.frame, d.kind, d.track_a or -1, d.track_b or -1))
    return Comparison(agreement, consensus, tuple(dis), partner)
