"""The review queue: budget, ordering, and only frames with a reason."""

from __future__ import annotations

import numpy as np

from fusionlabel.core.review import Review
from fusionlabel.io.review_file import read_queue, write_review
from fusionlabel.track.ambiguity import REASONS, AmbiguityRows
from fusionlabel.track.review import review_queue_from_rows


def _rows(frames: list[int], probs: list[float], reasons: list[str | None]) -> AmbiguityRows:
    sev = np.zeros((len(frames), len(REASONS)))
    for i, r in enumerate(reasons):
        if r is not None:
            sev[i, REASONS.index(r)] = 0.5
    return AmbiguityRows(np.array(frames), np.arange(len(frames)) + 1, sev, np.array(probs))


def test_queue_fills_the_budget_by_score_and_skips_frames_without_a_reason(tmp_path) -> None:
    # frame 3 has the highest probability but no reason (the model's floor on many boxes)
    rows = _rows(
        [0, 1, 2, 3, 3, 3, 4],
        [0.002, 0.3, 0.004, 0.2, 0.2, 0.2, 0.001],
        ["poor_fit", "fragment", "resume", None, None, None, "coasting"],
    )
    q = review_queue_from_rows(rows, num_frames=30, max_fraction=0.1, min_score=0.0)
    assert q.frames == [1, 2, 0]  # 3 = 10 % of 30 frames, by decreasing score; frame 3 never
    assert [r["reason"] for r in q.items[0].reasons] == ["fragment"]
    # a floor leaves the low-scored frames out
    assert review_queue_from_rows(rows, 30, 0.1, min_score=0.003).frames == [1, 2]
    # the budget cuts the tail
    assert review_queue_from_rows(rows, 10, 0.1, 0.0).frames == [1]
    write_review(tmp_path / "q.review.json", Review(q))
    back = read_queue(tmp_path / "q.review.json")
    assert back.frames == q.frames and back.num_frames == 30
