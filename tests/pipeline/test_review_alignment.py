"""The review queue follows the refined tracks (``pipeline.prelabel.realigned_rows``): a track that
refinement extended backwards is flagged where it now starts, dropped tracks leave the queue."""

from __future__ import annotations

import numpy as np
import pytest

from fusionlabel.pipeline.prelabel import realigned_rows
from fusionlabel.track.ambiguity import REASONS, AmbiguityConfig, AmbiguityRows, error_probability

CFG = AmbiguityConfig()
FRAG, BIRTH, FIT = REASONS.index("fragment"), REASONS.index("interior_birth"), REASONS.index("poor_fit")


def _rows(spec: list[tuple[int, int, dict[int, float]]]) -> AmbiguityRows:
    sev = np.zeros((len(spec), len(REASONS)))
    for i, (_, _, s) in enumerate(spec):
        for c, v in s.items():
            sev[i, c] = v
    return AmbiguityRows(
        np.array([f for f, _, _ in spec], np.int64),
        np.array([t for _, t, _ in spec], np.int64),
        sev,
        error_probability(sev, CFG),
    )


def test_births_move_to_the_refined_start_and_dropped_tracks_leave() -> None:
    rows = _rows(
        [
            (5, 1, {FRAG: 0.9, BIRTH: 1.0}),  # track 1 born at 5 (a fragment), extended back to 2
            (6, 1, {}),
            (7, 1, {FIT: 0.5}),
            (4, 2, {BIRTH: 1.0}),  # track 2: dropped by refinement
            (8, 3, {FRAG: 0.8}),  # track 3: stitched onto track 1 (keeps its frames)
            (3, 4, {BIRTH: 1.0}),  # track 4: extended back to frame 0, the recording's start
            (4, 4, {}),
        ]
    )
    remap = {1: 11, 2: 12, 3: 13, 4: 14}
    out = realigned_rows(rows, remap, {13: 11}, {11: 2, 14: 0}, CFG)
    got = {(int(f), int(t)): i for i, (f, t) in enumerate(zip(out.frame, out.track_id))}
    assert set(got) == {(2, 11), (6, 11), (7, 11), (8, 11), (0, 14), (4, 14)}
    assert out.severity[got[(2, 11)], FRAG] == pytest.approx(0.9)  # the fragment is flagged where it starts
    assert out.severity[got[(8, 11)], FRAG] == pytest.approx(0.8)  # the stitched track's flag stays put
    # from the first frame on: no birth to question, the box's probability drops to the floor
    assert not out.severity[got[(0, 14)]].any()
    assert out.prob[got[(0, 14)]] == pytest.approx(error_probability(np.zeros((1, len(REASONS))), CFG)[0])
    assert out.prob[got[(0, 14)]] < rows.prob[5]


def test_without_refinement_the_rows_only_get_their_final_ids() -> None:
    rows = _rows([(5, 1, {FRAG: 0.9}), (6, 1, {}), (3, 2, {BIRTH: 1.0})])
    out = realigned_rows(rows, {1: 7, 2: 8}, {}, {7: 5, 8: 3}, CFG)
    assert out.frame.tolist() == [5, 6, 3] and out.track_id.tolist() == [7, 7, 8]
    assert np.array_equal(out.severity, rows.severity) and np.array_equal(out.prob, rows.prob)
