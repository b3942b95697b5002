"""Which frames (and recordings) to label next: model uncertainty (``fusionlabel rank``).

Per frame ``k`` of each recording, three signals, each in [0, inf):

``entropy``
    the detector's own doubt: ``E_k = sum_i H(s_i)`` over its detections (scores ``s_i`` down to
    ``min_score``), ``H(s) = -s log2 s - (1 - s) log2 (1 - s)`` (1 at s = 0.5, 0 at 0 and 1);
``disagreement``
    an ensemble's: the detector runs ``passes`` times on views of the frame rotated about the
    ego z axis by ``2 pi j / passes`` (test-time augmentation; a detector that takes the
    ``mc_dropout`` option, such as ``pillars``, also drops features at random on each pass: Monte
    Carlo dropout). Each pass's boxes, rotated back, are matched one to one to the first pass's
    (same class, BEV IoU >= 0.1, best first); ``D_k`` is the mean over the passes of
    ``sum_unmatched s + sum_matched (|s_a - s_b| + (1 - IoU) max(s_a, s_b))``;
``ambiguity``
    the tracker's: the probability that the frame holds an ID error from the pre-labels of the
    first pass (:mod:`fusionlabel.track.ambiguity`; ``1 - prod_classes (1 - score)``).

Each signal is divided by its largest value over all frames ranked (so each spans [0, 1]) and
the frame's score is their weighted sum (``weights``, default 1 each). The selection takes the
highest scores first, skipping a frame closer than ``min_gap`` frames to one already taken in
the same recording (neighbouring frames teach the same thing). A recording's score is the mean
of its frames' scores: which recording to label next.

The benchmark (``benchmarks/bench_adapt.py``) compares the selection with uniform keyframes
(:func:`uniform_frames`) and random frames (:func:`random_frames`): seed frames needed by
``fusionlabel adapt`` to reach a given AP.

Example
-------
>>> round(binary_entropy(0.5), 3), round(binary_entropy(0.99), 3)
(1.0, 0.081)
>>> uniform_frames(50, 5)
[0, 10, 20, 30, 40]
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel.core.boxes import Boxes, bev_iou, greedy_pairs
from fusionlabel.core.calibration import Lidar, Rig
from fusionlabel.core.errors import DataError
from fusionlabel.core.transforms import Transform

#: ``progress(done, total)`` over all frames of all recordings
RankProgress = Callable[[int, int], None]


@dataclass(frozen=True)
class FrameScore:
    """One frame's uncertainty: the raw signals, and the combined ``score`` once normalised."""

    recording: str
    frame: int
    entropy: float
    disagreement: float
    ambiguity: float
    detections: int
    score: float = 0.0

    def to_dict(self) -> dict[str, Any]:
        return {
            "recording": self.recording,
            "frame": self.frame,
            "score": round(self.score, 6),
            "entropy": round(self.entropy, 6),
            "disagreement": round(self.disagreement, 6),
            "ambiguity": round(self.ambiguity, 6),
            "detections": self.detections,
        }


@dataclass(frozen=True)
class RankResult:
    """The frames to label next (``selected``, best first), every frame's score, and the
    recordings ranked by their mean frame score."""

    selected: tuple[FrameScore, ...]
    frames: tuple[FrameScore, ...]
    recordings: tuple[Mapping[str, Any], ...]
    config: Mapping[str, Any] = field(default_factory=dict)
    #: the recordings that could not be ranked, each ``{"recording", "error"}`` (the others are)
    skipped: tuple[Mapping[str, str], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        return {
            "selected": [f.to_dict() for f in self.selected],
            "recordings": [dict(r) for r in self.recordings],
            "frames": [f.to_dict() for f in self.frames],
            "config": dict(self.config),
            "skipped": [dict(s) for s in self.skipped],
        }


def binary_entropy(s: float) -> float:
    """``H(s) = -s log2 s - (1 - s) log2 (1 - s)`` (0 at s = 0 or 1)."""
    s = min(max(float(s), 1e-12), 1 - 1e-12)
    return float(-s * math.log2(s) - (1 - s) * math.log2(1 - s))


def uniform_frames(num_frames: int, budget: int) -> list[int]:
    """``budget`` keyframes spread evenly over ``num_frames``, the first at frame 0 (the baseline
    of keyframing: every ``num_frames / budget``-th frame)."""
    if budget <= 0 or num_frames <= 0:
        return []
    n = min(budget, num_frames)
    return [(i * num_frames) // n for i in range(n)]


def random_frames(num_frames: int, budget: int, seed: int = 0) -> list[int]:
    """``budget`` distinct frames drawn at random (the other baseline)."""
    rng = np.random.default_rng(seed)
    return sorted(int(k) for k in rng.choice(num_frames, size=min(budget, num_frames), replace=False))


def _rotated_rig(rig: Rig, angle: float) -> Rig:
    """``rig`` seen from an ego frame rotated by ``-angle`` about z: the points turn by ``angle``."""
    c, s = math.cos(angle), math.sin(angle)
    R = Transform.from_rt(np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]]), (0.0, 0.0, 0.0))
    return replace(rig, lidars={n: Lidar(n, R @ li.T_ego_lidar) for n, li in rig.lidars.items()})


def _unrotate(boxes: Boxes, angle: float) -> Boxes:
    a = boxes.to_array().copy()
    c, s = math.cos(-angle), math.sin(-angle)
    xy = a[:, :2].copy()
    a[:, 0] = c * xy[:, 0] - s * xy[:, 1]
    a[:, 1] = s * xy[:, 0] + c * xy[:, 1]
    a[:, 6] = np.arctan2(np.sin(a[:, 6] - angle), np.cos(a[:, 6] - angle))
    return Boxes.from_array(a)


def disagreement(a: Any, b: Any, iou: float = 0.1) -> float:
    """Disagreement of two detection sets of one frame (module docstring)."""
    if len(a) == 0 and len(b) == 0:
        return 0.0
    if len(a) == 0 or len(b) == 0:
        return float(np.sum(a.scores) + np.sum(b.scores))
    m = bev_iou(a.boxes, b.boxes)
    same = np.asarray(a.classes, dtype=object)[:, None] == np.asarray(b.classes, dtype=object)[None, :]
    m = np.where(same, m, 0.0)
    total = 0.0
    pairs = greedy_pairs(m, iou)
    used_a, used_b = {i for i, _ in pairs}, {j for _, j in pairs}
    for i, j in pairs:
        sa, sb = float(a.scores[i]), float(b.scores[j])
        total += abs(sa - sb) + (1.0 - float(m[i, j])) * max(sa, sb)
    total += sum(float(a.scores[i]) for i in range(len(a)) if i not in used_a)
    total += sum(float(b.scores[j]) for j in range(len(b)) if j not in used_b)
    return total


class _Recorder:
    """A detector that remembers its detections per frame (the first pass feeds the tracker too)."""

    def __init__(self, det: Any) -> None:
        self.det = det
        self.info = det.info
        self.seen: dict[int, Any] = {}

    def detect(self, frame: Any, rig: Rig) -> Any:
        d = self.det.detect(frame, rig)
        self.seen[int(frame.index)] = d
        return d


def frame_uncertainty(
    recording: Any,
    detector: str = "pillars",
    detector_options: Mapping[str, Any] | None = None,
    passes: int = 4,
    mc_dropout: float = 0.1,
    min_score: float = 0.05,
    progress: Callable[[int], None] | None = None,
) -> list[FrameScore]:
    """The raw signals of every frame of one opened recording (module docstring)."""
    from fusionlabel.detect.api import Detections
    from fusionlabel.detect.registry import create_detector, factory_accepts
    from fusionlabel.pipeline.prelabel import prelabel

    opts = dict(detector_options or {})
    if "score_threshold" not in opts and factory_accepts(detector, "score_threshold"):
        opts["score_threshold"] = min_score
    base = create_detector(detector, opts)
    rec = _Recorder(base)
    res = prelabel(recording, rec, refine=False, timeout_s=None)
    failed = res.report.failed_frames
    if len(recording) and len(failed) == len(recording):  # nothing was seen: a score of 0 would mislead
        raise DataError(Path(str(recording.path)), f"every frame failed, first: {failed[0]}: cannot rank it")
    stochastic = None
    if passes > 1:
        mc = dict(opts)
        if mc_dropout > 0 and factory_accepts(detector, "mc_dropout"):
            mc["mc_dropout"] = mc_dropout
        stochastic = create_detector(detector, mc) if mc != opts else base
    name = str(recording.path)
    out = []
    for k in range(len(recording)):
        d0 = rec.seen.get(k, Detections.empty())
        ent = float(sum(binary_entropy(s) for s in d0.scores))
        dis = 0.0
        if stochastic is not None:
            frame = recording.frame(k)
            vals = []
            for j in range(1, passes):
                angle = 2 * math.pi * j / passes
                dj = stochastic.detect(frame, _rotated_rig(recording.rig, angle))
                dj = Detections(_unrotate(dj.boxes, angle), dj.scores, dj.classes) if len(dj) else dj
                vals.append(disagreement(d0, dj))
            dis = float(np.mean(vals))
        amb = res.ambiguity.get(k, [])
        p_ok = float(np.prod([1.0 - float(a.score) for a in amb])) if amb else 1.0
        out.append(FrameScore(name, k, ent, dis, 1.0 - p_ok, len(d0)))
        if progress is not None:
            progress(k + 1)
    return out


def combine(scores: Sequence[FrameScore], weights: tuple[float, float, float] = (1.0, 1.0, 1.0)) -> list[FrameScore]:
    """Each signal divided by its maximum over ``scores``, then the weighted sum as ``score``."""
    if not scores:
        return []
    m = [max((getattr(s, k) for s in scores), default=0.0) or 1.0 for k in ("entropy", "disagreement", "ambiguity")]
    return [
        replace(
            s,
            score=weights[0] * s.entropy / m[0] + weights[1] * s.disagreement / m[1] + weights[2] * s.ambiguity / m[2],
        )
        for s in scores
    ]


def select(scores: Sequence[FrameScore], budget: int, min_gap: int = 0) -> list[FrameScore]:
    """The ``budget`` best frames, best first, no two of one recording within ``min_gap`` frames."""
    out: list[FrameScore] = []
    for s in sorted(scores, key=lambda s: (-s.score, s.recording, s.frame)):
        if len(out) >= budget:
            break
        if any(o.recording == s.recording and abs(o.frame - s.frame) < min_gap for o in out):
            continue
        out.append(s)
    return out


def rank(
    recordings: Sequence[str | Path],
    budget: int = 10,
    *,
    detector: str = "pillars",
    detector_options: Mapping[str, Any] | None = None,
    passes: int = 4,
    mc_dropout: float = 0.1,
    weights: tuple[float, float, float] = (1.0, 1.0, 1.0),
    min_gap: int | None = None,
    progress: RankProgress | None = None,
) -> RankResult:
    """Rank the frames of ``recordings`` by uncertainty and select ``budget`` to label next.

    ``min_gap`` defaults to a tenth of the shortest recording (at least 1): frames are spread.

    A recording that cannot be opened or scored (every frame failed) is left out and listed in
    ``skipped``; the others are ranked.

    Raises
    ------
    DataError : no recording could be ranked (the first one's error); PluginError : the detector
    cannot be built
    """
    from fusionlabel.io.open import open_recording

    skipped: list[dict[str, str]] = []
    errors: list[DataError] = []
    recs = []
    for path in recordings:
        try:
            recs.append(open_recording(path))
        except DataError as exc:
            skipped.append({"recording": str(path), "error": str(exc)})
            errors.append(exc)
    total = sum(len(r) for r in recs)
    done = 0
    raw: list[FrameScore] = []
    ranked = []
    for r in recs:
        base = done

        def tick(k: int, base: int = base) -> None:
            if progress is not None:
                progress(base + k, total)

        try:
            raw.extend(frame_uncertainty(r, detector, detector_options, passes, mc_dropout, progress=tick))
            ranked.append(r)
        except DataError as exc:
            skipped.append({"recording": str(r.path), "error": str(exc)})
            errors.append(exc)
        done += len(r)
    if not ranked and errors:
        raise errors[0]
    recs = ranked
    scored = combine(raw, weights)
    gap = min_gap if min_gap is not None else max(1, min((len(r) for r in recs), default=10) // 10)
    chosen = select(scored, budget, gap)
    per_rec: list[dict[str, Any]] = []
    for r in recs:
        mine = [s for s in scored if s.recording == str(r.path)]
        per_rec.append(
            {
                "recording": str(r.path),
                "frames": len(mine),
                "score": round(float(np.mean([s.score for s in mine])) if mine else 0.0, 6),
                "selected": sum(1 for s in chosen if s.recording == str(r.path)),
            }
        )
    per_rec.sort(key=lambda d: -float(d["score"]))
    config = {
        "detector": detector,
        "detector_options": {k: str(v) for k, v in (detector_options or {}).items()},
        "passes": passes,
        "mc_dropout": mc_dropout,
        "weights": list(weights),
        "min_gap": gap,
        "budget": budget,
    }
    return RankResult(tuple(chosen), tuple(scored), tuple(per_rec), config, tuple(skipped))
