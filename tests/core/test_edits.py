"""Label edit operations: each op's effect, inputs untouched, and one id per frame always."""

from __future__ import annotations

import numpy as np
import pytest

from fusionlabel.core import edits as E
from fusionlabel.core.boxes import Boxes
from fusionlabel.core.labels import FrameLabels, LabelSet


def _box(x: float, y: float = 0.0, yaw: float = 0.0) -> Boxes:
    return Boxes.from_array([[x, y, 0.8, 4.0, 2.0, 1.5, yaw]])


def _two_tracks(n: int = 6) -> LabelSet:
    """Track 1 drives along +x, track 2 along -x at y=3; all proposals."""
    frames = {}
    for k in range(n):
        frames[k] = FrameLabels(
            np.array([1, 2]),
            ("Car", "Van"),
            Boxes.from_array([[10 + k, 0, 0.8, 4, 2, 1.5, 0], [30 - k, 3, 0.8, 5, 2, 2, np.pi]]),
            np.array([0.9, 0.8]),
            ({"state": "proposed"}, {"state": "proposed"}),
        )
    return LabelSet(frames)


def _ids(ls: LabelSet, k: int) -> list[int]:
    return sorted(int(t) for t in ls.get(k).track_ids)


def test_add_move_rotate_resize_delete_leave_input_untouched() -> None:
    ls0 = _two_tracks()
    ls1, tid = E.add_box(ls0, 2, _box(5, -4), "Pedestrian")
    assert tid == 3 and _ids(ls1, 2) == [1, 2, 3] and _ids(ls0, 2) == [1, 2]
    fl = ls1.get(2)
    i = int(np.flatnonzero(fl.track_ids == 3)[0])
    assert fl.attributes[i]["state"] == "edited" and fl.attributes[i]["keyframe"] is True
    with pytest.raises(E.EditError):
        E.add_box(ls1, 2, _box(1), "Car", track_id=1)

    ls2 = E.move_box(ls1, 2, 1, (1.0, 0.0, 0.0), local=False)
    assert ls2.get(2).boxes.center[0, 0] == pytest.approx(13.0)
    # local move along a box heading pi: forward is -x in the ego frame
    ls3 = E.move_box(ls2, 2, 2, (2.0, 0.0, 0.0), local=True)
    assert ls3.get(2).boxes.center[1, 0] == pytest.approx(26.0)
    ls4 = E.rotate_box(ls3, 2, 1, 0.25)
    assert ls4.get(2).boxes.yaw[0] == pytest.approx(0.25)
    assert ls4.get(2).attributes[0]["state"] == "edited"
    ls5 = E.rotate_box(ls4, 2, 2, np.pi / 2)  # pi + pi/2 wraps to -pi/2
    assert ls5.get(2).boxes.yaw[1] == pytest.approx(-np.pi / 2)
    # resize keeping the back face: length +1 moves the centre forward by 0.5 along the heading
    ls6 = E.resize_box(ls1, 0, 1, (1.0, 0.0, 0.0), anchor=(-1, 0, 0))
    b = ls6.get(0).boxes
    assert b.size[0, 0] == pytest.approx(5.0) and b.center[0, 0] == pytest.approx(10.5)
    ls7 = E.resize_box(ls1, 0, 1, (-10.0, 0.0, 0.0))
    assert ls7.get(0).boxes.size[0, 0] == pytest.approx(0.05)
    ls8 = E.delete_box(ls1, 2, 3)
    assert _ids(ls8, 2) == [1, 2]
    # deleting the last box of a frame removes the frame
    single = LabelSet({0: FrameLabels(np.array([4]), ("Car",), _box(1))})
    assert len(E.delete_box(single, 0, 4)) == 0
    with pytest.raises(E.EditError):
        E.delete_box(ls1, 2, 99)
    # the original was never changed
    assert ls0.get(2).boxes.center[0, 0] == pytest.approx(12.0)
    assert ls0.get(2).attributes[0]["state"] == "proposed"


def test_accept_reject_and_states() -> None:
    ls = _two_tracks(3)
    a = E.accept(ls, 1, [1])
    assert a.get(1).attributes[0]["state"] == "accepted" and a.get(1).attributes[1]["state"] == "proposed"
    assert a.get(0).attributes[0]["state"] == "proposed"
    assert [r["state"] for r in E.track_summary(a)] == ["proposed", "proposed"]
    all_ok = E.accept_track(E.accept_track(ls, 1), 2)
    assert {r["state"] for r in E.track_summary(all_ok)} == {"accepted"}
    r = E.reject(ls, 1, 2)
    assert _ids(r, 1) == [1] and _ids(r, 0) == [1, 2]
    # an edited box stays edited when accepted
    e = E.move_box(ls, 0, 1, (0.1, 0, 0))
    assert E.accept(e, 0).get(0).attributes[0]["state"] == "edited"
    with pytest.raises(E.EditError):
        E.accept(ls, 0, [42])
    assert E.box_state({}) == "accepted"  # ground truth without a state counts as accepted


def test_interpolate_between_keyframes_takes_the_short_arc() -> None:
    ls, tid = E.add_box(LabelSet(), 0, _box(0.0, yaw=np.pi - 0.1), "Car")
    ls, _ = E.add_box(ls, 4, Boxes.from_array([[8.0, 4.0, 0.8, 4.0, 2.0, 1.5, -np.pi + 0.1]]), "Car", track_id=tid)
    # a detector proposal in frame 2 (not a keyframe) is replaced, frame 1 and 3 are filled
    ls = LabelSet({**ls.frames, 2: FrameLabels(np.array([tid]), ("Car",), _box(50.0), None, ({"state": "proposed"},))})
    out = E.interpolate(ls, tid)
    assert sorted(out.frames) == [0, 1, 2, 3, 4]
    c = np.array([out.get(k).boxes.center[0] for k in range(5)])
    np.testing.assert_allclose(c[:, 0], [0, 2, 4, 6, 8])
    np.testing.assert_allclose(c[:, 1], [0, 1, 2, 3, 4])
    yaw2 = out.get(2).boxes.yaw[0]
    assert abs(abs(yaw2) - np.pi) < 1e-9  # through pi, not through 0
    assert out.get(2).attributes[0]["interpolated"] is True and out.get(2).attributes[0]["keyframe"] is False
    assert E.keyframes(out, tid).tolist() == [0, 4]
    with pytest.raises(E.EditError):
        E.interpolate(E.delete_box(ls, 4, tid), tid)


def test_copy_forward_overwrites_and_fills() -> None:
    ls = _two_tracks(3)
    moved = E.move_box(ls, 0, 1, (0, 5, 0))
    out = E.copy_forward(moved, 0, [1], count=4)
    assert sorted(out.frames) == [0, 1, 2, 3, 4]
    for k in range(5):
        assert out.get(k).boxes.center[_row(out, k, 1), 1] == pytest.approx(5.0)
    assert _ids(out, 4) == [1] and _ids(out, 2) == [1, 2]
    with pytest.raises(E.EditError):
        E.copy_forward(ls, 0, [7])


def _row(ls: LabelSet, k: int, tid: int) -> int:
    return int(np.flatnonzero(ls.get(k).track_ids == tid)[0])


def test_id_fixes_reassign_swap_merge_split() -> None:
    ls = _two_tracks(6)
    r = E.reassign_id(ls, 1, 9, from_frame=3)
    assert _ids(r, 2) == [1, 2] and _ids(r, 3) == [2, 9]
    with pytest.raises(E.EditError, match="twice"):
        E.reassign_id(ls, 1, 2, from_frame=3)  # 2 already present there

    s = E.swap_tracks(ls, 1, 2, from_frame=4)
    assert s.get(4).boxes.center[_row(s, 4, 2), 0] == pytest.approx(14.0)
    assert s.get(3).boxes.center[_row(s, 3, 2), 0] == pytest.approx(27.0)

    # a fragmented track: 1 in frames 0-2 and 5 in frames 3-5
    frag = E.reassign_id(E.delete_box(E.delete_box(E.delete_box(ls, 0, 2), 1, 2), 2, 2), 1, 5, from_frame=3)
    m = E.merge_tracks(frag, 1, 5)
    assert E.track_frames(m, 1).tolist() == [0, 1, 2, 3, 4, 5] and len(E.track_frames(m, 5)) == 0
    assert set(m.get(4).categories) == {"Car", "Van"}
    with pytest.raises(E.EditError, match="both have boxes"):
        E.merge_tracks(ls, 1, 2)
    keep = E.merge_tracks(ls, 1, 2, conflict="keep")
    assert keep.num_boxes == 6 and keep.get(0).boxes.center[0, 0] == pytest.approx(10.0)
    absorb = E.merge_tracks(ls, 1, 2, conflict="absorb")
    assert absorb.num_boxes == 6 and absorb.get(0).boxes.center[0, 0] == pytest.approx(30.0)
    assert absorb.get(0).categories == ("Car",)  # keep's class

    sp = E.split_track(ls, 2, 3)
    assert E.track_frames(sp, 2).tolist() == [0, 1, 2] and E.track_frames(sp, 3).tolist() == [3, 4, 5]
    with pytest.raises(E.EditError):
        E.split_track(ls, 2, 10)
    c = E.set_category(ls, 2, "Truck")
    assert all(c.get(k).categories[1] == "Truck" for k in range(6))


def test_random_edit_sequences_keep_one_id_per_frame() -> None:
    """Property test: any sequence of edits either raises EditError or yields a valid set."""
    rng = np.random.default_rng(3)
    ls = _two_tracks(8)
    ops = 0
    for _ in range(400):
        ids = ls.track_ids.tolist() or [1]
        a, b = (int(x) for x in rng.choice(ids + [50], 2))
        k = int(rng.integers(0, 10))
        op = int(rng.integers(0, 10))
        try:
            if op == 0:
                ls, _ = E.add_box(
                    ls, k, _box(float(rng.uniform(0, 40))), "Car", track_id=a if rng.random() < 0.5 else None
                )
            elif op == 1:
                ls = E.move_box(ls, k, a, rng.normal(size=3))
            elif op == 2:
                ls = E.delete_box(ls, k, a)
            elif op == 3:
                ls = E.reassign_id(ls, a, b, k)
            elif op == 4:
                ls = E.swap_tracks(ls, a, b, k)
            elif op == 5:
                ls = E.merge_tracks(ls, a, b, conflict=str(rng.choice(["error", "keep", "absorb"])))
            elif op == 6:
                ls = E.split_track(ls, a, k)
            elif op == 7:
                ls = E.copy_forward(ls, k, None, count=int(rng.integers(1, 3)))
            elif op == 8:
                ls = E.interpolate(ls, a)
            else:
                ls = E.rotate_box(ls, k, a, float(rng.normal()))
            ops += 1
        except E.EditError:
            pass
        for fl in ls.frames.values():
            assert len(np.unique(fl.track_ids)) == len(fl.track_ids)
            assert len(fl) > 0  # empty frames are dropped, not kept
            assert np.all(np.abs(fl.boxes.yaw) <= np.pi + 1e-9)
    assert ops > 100  # most edits applied, so the property was exercised
