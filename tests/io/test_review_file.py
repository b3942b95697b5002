"""The one review file: round trip, both older formats migrate on read, bad files are refused."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.review import Resolution, Review, ReviewItem, ReviewQueue, SignOff, frame_level, sign_off
from fusionlabel.io.review_file import find_review, read_review, review_path, write_review

REASON = {"track_id": 3, "reason": "crossing", "severity": 0.8}


def test_round_trip_keeps_everything(tmp_path: Path) -> None:
    q = ReviewQueue((ReviewItem(7, 0.9, (REASON,), "abcd"), ReviewItem(2, 0.4, ())), 50, 0.1, 2.5)
    r = Review(q, {7: Resolution(7, "ann", "2026-12-07T10:00:00+00:00", "ok")}, {"detector": {"name": "geometric"}})
    p = tmp_path / "labels.review.json"
    write_review(p, r)
    d = json.loads(p.read_text())
    assert d["format"] == "fusionlabel.review" and d["version"] == 3
    assert [e["frame"] for e in d["frames"]] == [7, 2]  # most suspicious first
    back = read_review(p)
    assert back == r


def test_version_2_migrates_to_3_with_its_resolutions_as_the_annotator_level(tmp_path: Path) -> None:
    p = tmp_path / "labels.review.json"
    p.write_text(
        json.dumps(
            {
                "format": "fusionlabel.review",
                "version": 2,
                "num_frames": 10,
                "max_fraction": 0.1,
                "score_threshold": None,
                "provenance": {},
                "frames": [
                    {"frame": 3, "score": 0.5, "reasons": [], "resolution": {"user": "ann", "time": "T1", "note": ""}},
                    {"frame": 5, "score": 0.4, "reasons": [], "resolution": None},
                ],
            }
        )
    )
    r = read_review(p)
    assert r.signoffs == () and frame_level(r, 3) == "annotator" and frame_level(r, 5) is None
    r = sign_off(r, 3, "reviewer", "rev", "T2")
    write_review(p, r)
    d = json.loads(p.read_text())
    assert d["version"] == 3 and [e["level"] for e in d["frames"]] == ["reviewer", None]
    assert read_review(p).signoffs == (SignOff(3, "reviewer", "rev", "T2"),)


def test_review_queue_v1_migrates(tmp_path: Path) -> None:
    """What `prelabel` (review.json) and `track` (<seq>.review.json) wrote before version 2."""
    p = tmp_path / "0001.review.json"
    p.write_text(
        json.dumps(
            {
                "format": "fusionlabel.review_queue/1",
                "num_frames": 447,
                "max_fraction": 0.1,
                "score_threshold": 3.0,
                "frames": [{"frame": 12, "score": 0.8, "reasons": [REASON]}],
            }
        )
    )
    r = read_review(p)
    assert r.queue.frames == [12] and r.queue.num_frames == 447 and r.queue.score_threshold == 3.0
    assert r.queue.items[0].digest is None and not r.resolutions


def test_review_state_v1_migrates_with_resolutions(tmp_path: Path) -> None:
    """What the app saved as labels.review.json before version 2."""
    p = tmp_path / "labels.review.json"
    queue = {
        "format": "fusionlabel.review_queue/1",
        "num_frames": 20,
        "max_fraction": 0.1,
        "score_threshold": None,
        "frames": [{"frame": 4, "score": 0.5, "reasons": []}, {"frame": 9, "score": 0.3, "reasons": []}],
    }
    p.write_text(
        json.dumps(
            {
                "format": "fusionlabel.review_state",
                "version": 1,
                "queue": queue,
                "resolutions": [{"frame": 9, "user": "bo", "time": "t", "note": ""}],
            }
        )
    )
    r = read_review(p)
    assert r.queue.frames == [4, 9] and r.resolutions == {9: Resolution(9, "bo", "t", "")}
    assert r.open_frames() == [4]
    # a session that had no queue yet
    p.write_text(json.dumps({"format": "fusionlabel.review_state", "version": 1, "queue": None, "resolutions": []}))
    assert read_review(p).queue is None


@pytest.mark.parametrize(
    "text, match",
    [
        ('{"format": "fusionlabel.review", "version": 4, "frames": []}', "newer FusionLabel"),
        ('{"format": "fusionlabel.review_state", "version": 2}', "newer"),
        ('{"format": "fusionlabel.labels", "version": 1, "frames": []}', "not a review file"),
        ('{"format": "fusionlabel.review", "frames": []}', "no integer 'version'"),
        ('{"format": "fusionlabel.review", "version": 2, "num_frames": 5}', "KeyError"),
        (
            '{"format": "fusionlabel.review", "version": 2, "num_frames": 5, "frames": [{"frame": 1, "score": NaN}]}',
            "outside",
        ),
        (
            '{"format": "fusionlabel.review", "version": 2, "num_frames": 5, "frames": '
            '[{"frame": 1, "score": 0.5}, {"frame": 1, "score": 0.4}]}',
            "twice",
        ),
        ("{broken", "invalid JSON"),
        ("[1, 2]", "JSON object"),
        (
            '{"format": "fusionlabel.review", "version": 3, "num_frames": 5, "frames": [{"frame": -4, "score": 0.5}]}',
            "frame -4 is not a frame number",
        ),
        (
            '{"format": "fusionlabel.review", "version": 3, "num_frames": 5, "frames": [], "signoffs": '
            '[{"frame": 1, "level": "god", "user": "u", "time": "t"}]}',
            "unknown review level",
        ),
    ],
)
def test_bad_review_files_are_refused_naming_the_file(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "labels.review.json"
    p.write_text(text)
    with pytest.raises(CorruptFileError, match=match) as exc:
        read_review(p)
    assert str(p) in str(exc.value)


def test_paths_and_the_legacy_prelabel_name(tmp_path: Path) -> None:
    assert review_path(tmp_path / "labels.json") == tmp_path / "labels.review.json"
    assert review_path(tmp_path / "0001.txt") == tmp_path / "0001.review.json"
    lp = tmp_path / "labels.json"
    assert find_review(lp) is None
    (tmp_path / "review.json").write_text("{}")  # an older prelabel's name, beside labels.json only
    assert find_review(lp) == tmp_path / "review.json"
    assert find_review(tmp_path / "mine.json") is None
    write_review(review_path(lp), Review(ReviewQueue((), 3)))
    assert find_review(lp) == tmp_path / "labels.review.json"  # the current name wins
