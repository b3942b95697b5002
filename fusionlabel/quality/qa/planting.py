"""Known errors planted into labels, and how many of them label QA finds.

:func:`plant_errors` puts errors of the kinds in :data:`PLANT_KINDS` into a copy of some labels
(each on its own track) and says where; :func:`score_findings` matches a QA report's findings
to them (recall, precision). The tests and ``benchmarks/bench_label_qa.py`` measure the checks of
:func:`fusionlabel.quality.label_qa.check_labels` this way.

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> from fusionlabel.core.labels import FrameLabels, LabelSet
>>> clean = LabelSet({k: FrameLabels(np.array([1, 2]), ("Car", "Car"),
...                   Boxes.from_array([[k * 1.0, 0, 0.8, 4, 1.8, 1.5, 0], [k * 1.0, 6, 0.8, 4, 1.8, 1.5, 0]]))
...                   for k in range(10)})
>>> bad, planted = plant_errors(clean, ("size",), per_kind=1, seed=0)
>>> len(planted), planted[0].kind, bad.num_boxes == clean.num_boxes
(1, 'size', True)
>>> score_findings([], planted).recall
0.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, replace

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.quality.qa.findings import Finding


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
    next_id = int(labels.track_ids.max()) + 1 if labels.num_boxes else 1
    tracks = {int(t): labels.track(int(t))[0] for t in labels.track_ids}
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
                    (a_, b_) for a_, (s_a, e_a) in ends.items() for b_, (s_b, e_b) in ends.items() if s_b >= e_a + 3
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
