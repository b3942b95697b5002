"""Tests for :mod:`fusionlabel.core.labels` and the native label file (:mod:`fusionlabel.io.native_labels`)."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.io.native_labels import VERSION, labels_to_dict, read_labels, write_labels


def _frame(ids: list[int], cats: list[str], rng: np.random.Generator) -> FrameLabels:
    n = len(ids)
    boxes = Boxes(rng.uniform(-40, 40, (n, 3)), rng.uniform(0.4, 12.0, (n, 3)), rng.uniform(-np.pi, np.pi, n))
    return FrameLabels(
        np.array(ids, dtype=np.int64),
        tuple(cats),
        boxes,
        rng.uniform(0, 1, n),
        tuple({"occluded": int(i % 3), "source": "test", "note": f"obj {i} \u00e9"} for i in ids),
    )


def _label_set() -> LabelSet:
    rng = np.random.default_rng(0)
    return LabelSet(
        {
            3: _frame([7, 2, 11], ["Car", "Pedestrian", "Cyclist"], rng),
            0: _frame([7, 2], ["Car", "Pedestrian"], rng),
            1: _frame([7], ["Van"], rng),  # the same track relabelled: counts under its first category
            5: FrameLabels.empty(),
        }
    )


# -- FrameLabels -------------------------------------------------------------------------------


def test_frame_labels_defaults() -> None:
    fl = FrameLabels(np.array([4, 9]), ("Car", "Truck"), Boxes.from_array(np.tile([0, 0, 0, 1, 1, 1, 0], (2, 1))))
    assert fl.scores is not None and fl.scores.tolist() == [1.0, 1.0]
    assert fl.attributes == ({}, {})
    assert fl.track_ids.dtype == np.int64 and len(fl) == 2


def test_duplicate_track_ids_refused() -> None:
    boxes = Boxes.from_array(np.tile([0, 0, 0, 1, 1, 1, 0], (3, 1)))
    with pytest.raises(ValueError, match="twice"):
        FrameLabels(np.array([1, 2, 1]), ("Car", "Car", "Car"), boxes)


@pytest.mark.parametrize(
    "kwargs",
    [
        {"categories": ("Car",)},
        {"scores": np.ones(3)},
        {"attributes": ({},)},
        {"track_ids": np.array([1, 2, 3])},
    ],
)
def test_length_mismatch_refused(kwargs: dict[str, Any]) -> None:
    args: dict[str, Any] = {
        "track_ids": np.array([1, 2]),
        "categories": ("Car", "Van"),
        "boxes": Boxes.from_array(np.tile([0, 0, 0, 1, 1, 1, 0], (2, 1))),
    }
    args.update(kwargs)
    with pytest.raises(ValueError, match="lengths differ"):
        FrameLabels(**args)


def test_select() -> None:
    fl = _label_set().get(3)
    sub = fl.select(np.array([True, False, True]))
    assert sub.track_ids.tolist() == [7, 11]
    assert sub.categories == ("Car", "Cyclist")
    np.testing.assert_array_equal(sub.boxes.to_array(), fl.boxes.to_array()[[0, 2]])
    assert sub.attributes == (fl.attributes[0], fl.attributes[2])


def test_frame_labels_are_immutable() -> None:
    fl = _label_set().get(0)
    with pytest.raises(ValueError):
        fl.track_ids[0] = 99


# -- LabelSet -------------------------------------------------------------------------------------


def test_label_set_is_sorted_by_frame() -> None:
    ls = _label_set()
    assert list(ls) == [0, 1, 3, 5]
    assert len(ls) == 4
    assert ls.num_boxes == 2 + 1 + 3
    assert ls.track_ids.tolist() == [2, 7, 11]
    assert len(ls.get(2)) == 0  # a frame without labels


def test_track() -> None:
    ls = _label_set()
    frames, boxes, cats = ls.track(7)
    assert frames.tolist() == [0, 1, 3]
    assert cats == ("Car", "Van", "Car")
    expected = np.vstack([ls.get(k).boxes.to_array()[ls.get(k).track_ids == 7] for k in (0, 1, 3)])
    np.testing.assert_array_equal(boxes.to_array(), expected)
    frames, boxes, cats = ls.track(11)
    assert frames.tolist() == [3] and len(boxes) == 1 and cats == ("Cyclist",)
    frames, boxes, cats = ls.track(12345)
    assert len(frames) == 0 and len(boxes) == 0 and cats == ()


def test_category_counts_counts_tracks_not_boxes() -> None:
    # track 7: Car (first seen as Car in frame 0), 2: Pedestrian, 11: Cyclist
    assert _label_set().category_counts() == {"Car": 1, "Pedestrian": 1, "Cyclist": 1}
    assert LabelSet().category_counts() == {}


# -- native label file ---------------------------------------------------------------------------


def _assert_same(a: LabelSet, b: LabelSet, atol: float = 1e-9) -> None:
    assert list(a) == list(b)
    for k in a:
        fa, fb = a.get(k), b.get(k)
        assert fa.track_ids.tolist() == fb.track_ids.tolist()
        assert fa.categories == fb.categories
        np.testing.assert_allclose(fa.boxes.to_array(), fb.boxes.to_array(), atol=atol, rtol=0)
        np.testing.assert_allclose(fa.scores, fb.scores, atol=atol, rtol=0)
        assert fa.attributes == fb.attributes


def test_round_trip(tmp_path: Path) -> None:
    ls = _label_set()
    p = tmp_path / "labels.json"
    write_labels(ls, p, timestamps_ns={0: 1_700_000_000_000_000_001, 3: 1_700_000_000_300_000_000})
    back = read_labels(p)
    _assert_same(ls, back)
    d = json.loads(p.read_text())
    assert d["format"] == "fusionlabel.labels" and d["version"] == VERSION
    assert d["coordinate_frame"] == "ego"
    assert [f.get("timestamp_ns") for f in d["frames"]] == [
        1_700_000_000_000_000_001,
        None,
        1_700_000_000_300_000_000,
        None,
    ]
    # the empty frame survives as an empty frame
    assert 5 in back and len(back.get(5)) == 0


def test_round_trip_is_exact_for_awkward_floats(tmp_path: Path) -> None:
    vals = [0.1, 1 / 3, 1e-300, 123456.789012345678, np.nextafter(np.pi, 4.0), -2.5e-7]
    boxes = Boxes.from_array([[vals[0], vals[1], vals[5], vals[3], vals[2] + 1.0, vals[4], 0.7]])
    ls = LabelSet({0: FrameLabels(np.array([2**62]), ("Misc",), boxes, np.array([1 / 7]))})
    write_labels(ls, tmp_path / "l.json")
    back = read_labels(tmp_path / "l.json")
    np.testing.assert_array_equal(back.get(0).boxes.to_array(), boxes.to_array())
    assert back.get(0).track_ids.tolist() == [2**62]
    assert back.get(0).scores.tolist() == [1 / 7]


def test_overwrite_own_file_and_no_temp_file_left(tmp_path: Path) -> None:
    p = tmp_path / "labels.json"
    write_labels(_label_set(), p)
    smaller = LabelSet({0: _label_set().get(0)})
    write_labels(smaller, p)
    _assert_same(read_labels(p), smaller)
    assert sorted(os.listdir(tmp_path)) == ["labels.json"]


def test_failed_write_leaves_no_temp_file(tmp_path: Path) -> None:
    p = tmp_path / "labels.json"
    bad = LabelSet({0: FrameLabels(np.array([1]), ("Car",), Boxes.from_array([[0, 0, 0, 1, 1, 1, 0]]))})
    object.__setattr__(bad.get(0), "scores", np.array([np.nan]))  # not serialisable (allow_nan=False)
    with pytest.raises(CorruptFileError, match="frame 0, track 1: score is not a finite number"):
        write_labels(bad, p)
    assert os.listdir(tmp_path) == []


def test_newer_version_refused_and_not_overwritten(tmp_path: Path) -> None:
    p = tmp_path / "labels.json"
    d = labels_to_dict(_label_set())
    d["version"] = VERSION + 1
    d["new_feature"] = {"x": 1}
    raw = json.dumps(d).encode()
    p.write_bytes(raw)
    with pytest.raises(CorruptFileError, match="newer") as e:
        read_labels(p)
    assert e.value.path == p
    with pytest.raises(CorruptFileError) as e:
        write_labels(_label_set(), p)
    assert e.value.path == p
    assert p.read_bytes() == raw
    assert os.listdir(tmp_path) == ["labels.json"]


@pytest.mark.parametrize(
    "content",
    [
        b'{"format": "fusionlabel.labels", "version": 1, "frames": [{"index": 0, "obj',  # truncated
        b"",
        pytest.param(
            b"\xff\xfe\x00garbage",
            id="not-utf8",
        ),
        b'{"format": "something.else", "version": 1}',
        b'{"format": "fusionlabel.labels"}',
        b"[1, 2, 3]",
    ],
)
def test_corrupt_file_refused_and_not_overwritten(tmp_path: Path, content: bytes) -> None:
    p = tmp_path / "labels.json"
    p.write_bytes(content)
    with pytest.raises(CorruptFileError) as e:
        read_labels(p)
    assert e.value.path == p
    with pytest.raises(CorruptFileError):
        write_labels(_label_set(), p)
    assert p.read_bytes() == content
    assert os.listdir(tmp_path) == ["labels.json"]


@pytest.mark.parametrize(
    ("obj", "match"),
    [
        ({"track_id": 1, "category": "Car", "box": [0, 0, 0, 1, 1, 1]}, "frames\\[0\\]"),
        ({"track_id": 1, "category": "Car", "box": [0, 0, 0, -1, 1, 1, 0]}, "positive"),
        ({"track_id": 1, "category": "Car", "box": [0, 0, 0, 1, 1, 1, "NaN"]}, "frames\\[0\\]"),
        ({"category": "Car", "box": [0, 0, 0, 1, 1, 1, 0]}, "track_id"),
        ({"track_id": "seven", "category": "Car", "box": [0, 0, 0, 1, 1, 1, 0]}, "frames\\[0\\]"),
    ],
)
def test_bad_objects_refused(tmp_path: Path, obj: dict[str, Any], match: str) -> None:
    p = tmp_path / "labels.json"
    p.write_text(json.dumps({"format": "fusionlabel.labels", "version": 1, "frames": [{"index": 0, "objects": [obj]}]}))
    with pytest.raises(CorruptFileError, match=match):
        read_labels(p)


@pytest.mark.parametrize(
    ("frames", "match"),
    [
        ([{"index": -3, "objects": []}], "frame index -3 is not a frame number"),
        ([{"index": 10**12, "objects": []}], "is not a frame number"),
        ([{"index": 1.5, "objects": []}], "frame index 1.5 is not a frame number"),
        ([{"index": 0, "objects": [{"track_id": 1, "category": None, "box": [0, 0, 0, 1, 1, 1, 0]}]}], "category None"),
        ([{"index": 0, "objects": [{"track_id": 1, "category": "Car", "box": [0, 0, 0]}]}], "is not 7 numbers"),
        (None, "'frames' must be a list"),
    ],
)
def test_impossible_frames_refused(tmp_path: Path, frames: Any, match: str) -> None:
    """Accepted before (a bad-input sweep): a negative or huge frame index, a null category,
    ``"frames": null``; a 1.5 index said "appears twice", a 3-number box gave numpy's message."""
    p = tmp_path / "labels.json"
    p.write_text(json.dumps({"format": "fusionlabel.labels", "version": 1, "frames": frames}))
    with pytest.raises(CorruptFileError, match=match):
        read_labels(p)


def test_non_finite_box_refused(tmp_path: Path) -> None:
    p = tmp_path / "labels.json"
    p.write_text(
        '{"format": "fusionlabel.labels", "version": 1, "frames": [{"index": 0, "objects": '
        '[{"track_id": 1, "category": "Car", "box": [NaN, 0, 0, 1, 1, 1, 0]}]}]}'
    )
    with pytest.raises(CorruptFileError, match="non-finite"):
        read_labels(p)


def test_duplicate_track_in_a_frame_refused(tmp_path: Path) -> None:
    o = {"track_id": 1, "category": "Car", "box": [0, 0, 0, 1, 1, 1, 0]}
    p = tmp_path / "labels.json"
    p.write_text(
        json.dumps({"format": "fusionlabel.labels", "version": 1, "frames": [{"index": 0, "objects": [o, o]}]})
    )
    with pytest.raises(CorruptFileError, match="twice"):
        read_labels(p)


def test_duplicate_frame_index_refused(tmp_path: Path) -> None:
    o1 = {"track_id": 1, "category": "Car", "box": [0, 0, 0, 1, 1, 1, 0]}
    o2 = {"track_id": 2, "category": "Van", "box": [5, 0, 0, 1, 1, 1, 0]}
    p = tmp_path / "labels.json"
    frames = [{"index": 0, "objects": [o1]}, {"index": 0, "objects": [o2]}]
    p.write_text(json.dumps({"format": "fusionlabel.labels", "version": 1, "frames": frames}))
    with pytest.raises(CorruptFileError):
        read_labels(p)


def test_missing_file(tmp_path: Path) -> None:
    with pytest.raises(CorruptFileError) as e:
        read_labels(tmp_path / "none.json")
    assert e.value.path == tmp_path / "none.json"
