"""Label edit operations: pure functions from a :class:`LabelSet` to a new :class:`LabelSet`.

Every operation the app offers (and every scripted fix) is one function here. None mutates its
input: each returns a new ``LabelSet`` that shares the untouched :class:`FrameLabels` with the
old one, so keeping the old value is all an undo needs. Every result keeps the invariant of
:class:`FrameLabels`: **a track id appears at most once per frame**; an edit that would break it
raises :class:`EditError` (a ``ValueError``) and changes nothing.

Conventions: boxes are in the ego frame of their frame (x forward, y left, z up; gravity
centre; ``(l, w, h)`` metres; yaw radians). Per-box attributes used by the editor:

``state``
    ``"proposed"`` (made by a detector or tracker, not yet looked at), ``"accepted"`` (a
    person confirmed the proposal unchanged) or ``"edited"`` (a person made or changed it).
``keyframe``
    ``True`` on boxes a person placed (added, moved, resized, rotated, accepted, numeric
    entry); :func:`interpolate` fills the frames between keyframes and marks its boxes
    ``keyframe: False``, ``interpolated: True``.

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> ls, tid = add_box(LabelSet(), 0, Boxes.from_array([[10, 0, 0.8, 4, 1.8, 1.5, 0]]), "Car")
>>> ls = copy_forward(ls, 0, [tid], count=2)
>>> sorted(ls.frames), int(tid)
([0, 1, 2], 1)
>>> ls = split_track(ls, tid, 2)
>>> [int(t) for t in ls.track_ids]
[1, 2]
"""

from __future__ import annotations

import itertools
from collections.abc import Iterable, Mapping, Sequence
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.boxes import Boxes, wrap_angle
from fusionlabel.core.labels import FrameLabels, LabelSet

#: box states (attribute ``state``)
STATES = ("proposed", "accepted", "edited")


class EditError(ValueError):
    """An edit that cannot be applied (unknown track, id clash, bad argument); nothing changed."""


# -- helpers ------------------------------------------------------------------------------------
def box_state(attrs: Mapping[str, Any] | None) -> str:
    """The ``state`` of a box from its attributes; boxes without one count as ``"accepted"``
    (ground truth and hand-made files)."""
    s = (attrs or {}).get("state")
    return s if s in STATES else "accepted"


def new_track_id(labels: LabelSet) -> int:
    """An unused track id: one more than the largest in use (1 for an empty set)."""
    ids = labels.track_ids
    return int(ids.max()) + 1 if len(ids) else 1


def _replace(labels: LabelSet, changes: Mapping[int, FrameLabels | None]) -> LabelSet:
    """A new set with frames replaced (None or empty -> frame removed)."""
    frames = dict(labels.frames)
    for k, fl in changes.items():
        if fl is None or len(fl) == 0:
            frames.pop(int(k), None)
        else:
            frames[int(k)] = fl
    return LabelSet(frames)


def _row(fl: FrameLabels, track_id: int) -> int:
    hit = np.flatnonzero(fl.track_ids == int(track_id))
    return int(hit[0]) if len(hit) else -1


def _require(labels: LabelSet, frame: int, track_id: int) -> tuple[FrameLabels, int]:
    fl = labels.get(frame)
    i = _row(fl, track_id)
    if i < 0:
        raise EditError(f"track {int(track_id)} has no box in frame {int(frame)}")
    return fl, i


def _with_row(
    fl: FrameLabels,
    i: int,
    *,
    box: Boxes | None = None,
    track_id: int | None = None,
    category: str | None = None,
    attrs: Mapping[str, Any] | None = None,
) -> FrameLabels:
    """``fl`` with row ``i`` changed (anything not given stays)."""
    arr = fl.boxes.to_array()
    if box is not None:
        arr[i] = box.to_array()[0]
    ids = fl.track_ids.copy()
    if track_id is not None:
        ids[i] = track_id
    cats = list(fl.categories)
    if category is not None:
        cats[i] = category
    at = list(fl.attributes)
    if attrs is not None:
        at[i] = dict(attrs)
    try:
        return FrameLabels(ids, tuple(cats), Boxes.from_array(arr), fl.scores.copy(), tuple(at))
    except ValueError as exc:
        raise EditError(str(exc)) from None


def _append(
    fl: FrameLabels, track_id: int, category: str, box: Boxes, score: float, attrs: Mapping[str, Any]
) -> FrameLabels:
    if _row(fl, track_id) >= 0:
        raise EditError(f"track {int(track_id)} already has a box in this frame")
    return FrameLabels(
        np.append(fl.track_ids, np.int64(track_id)),
        fl.categories + (category,),
        fl.boxes.concat(box),
        np.append(fl.scores, score),
        fl.attributes + (dict(attrs),),
    )


def _edited(attrs: Mapping[str, Any] | None) -> dict[str, Any]:
    a = dict(attrs or {})
    a["state"] = "edited"
    a["keyframe"] = True
    a.pop("interpolated", None)
    return a


def _one_box(box: Boxes) -> Boxes:
    if len(box) != 1:
        raise EditError(f"expected one box, got {len(box)}")
    if not np.all(np.isfinite(box.to_array())) or np.any(box.size <= 0):
        raise EditError("box values must be finite with positive size")
    return box


# -- boxes --------------------------------------------------------------------------------------
def add_box(
    labels: LabelSet,
    frame: int,
    box: Boxes,
    category: str,
    track_id: int | None = None,
    attributes: Mapping[str, Any] | None = None,
) -> tuple[LabelSet, int]:
    """Add one box (a person's: ``state="edited"``, keyframe) to ``frame``.

    ``track_id`` None starts a new track (:func:`new_track_id`); an id already present in the
    frame raises :class:`EditError`. Returns the new set and the track id used.
    """
    box = _one_box(box)
    tid = new_track_id(labels) if track_id is None else int(track_id)
    fl = _append(labels.get(frame), tid, str(category), box, 1.0, _edited(attributes))
    return _replace(labels, {frame: fl}), tid


def set_box(labels: LabelSet, frame: int, track_id: int, box: Boxes) -> LabelSet:
    """Replace the box of ``track_id`` in ``frame`` (move / resize / rotate / numeric entry).

    The box becomes ``state="edited"`` and a keyframe; score and category are kept.
    """
    box = _one_box(box)
    fl, i = _require(labels, frame, track_id)
    b = box.to_array()[0]
    b[6] = float(wrap_angle(b[6]))
    return _replace(labels, {frame: _with_row(fl, i, box=Boxes.from_array(b[None]), attrs=_edited(fl.attributes[i]))})


def move_box(labels: LabelSet, frame: int, track_id: int, delta_xyz: Sequence[float], local: bool = False) -> LabelSet:
    """Translate a box by ``delta_xyz`` metres (ego axes, or the box's own axes when ``local``:
    x along its heading, y to its left)."""
    fl, i = _require(labels, frame, track_id)
    a = fl.boxes.to_array()[i]
    d = np.asarray(delta_xyz, dtype=np.float64).reshape(3)
    if local:
        c, s = np.cos(a[6]), np.sin(a[6])
        d = np.array([c * d[0] - s * d[1], s * d[0] + c * d[1], d[2]])  # R(yaw) d
    a[:3] += d
    return set_box(labels, frame, track_id, Boxes.from_array(a[None]))


def rotate_box(labels: LabelSet, frame: int, track_id: int, delta_yaw: float) -> LabelSet:
    """Turn a box about its vertical axis by ``delta_yaw`` radians (counter-clockwise from above)."""
    fl, i = _require(labels, frame, track_id)
    a = fl.boxes.to_array()[i]
    a[6] = float(wrap_angle(a[6] + delta_yaw))
    return set_box(labels, frame, track_id, Boxes.from_array(a[None]))


def resize_box(
    labels: LabelSet, frame: int, track_id: int, delta_lwh: Sequence[float], anchor: Sequence[float] = (0, 0, 0)
) -> LabelSet:
    """Grow (or shrink) a box by ``delta_lwh`` metres, keeping the face given by ``anchor`` fixed.

    ``anchor`` is per axis in {-1, 0, +1} in the box's own frame: 0 grows symmetrically about
    the centre; -1 keeps the back/right/bottom face, +1 the front/left/top face. Sizes are
    clamped to at least 5 cm.
    """
    fl, i = _require(labels, frame, track_id)
    a = fl.boxes.to_array()[i]
    old = a[3:6].copy()
    new = np.maximum(old + np.asarray(delta_lwh, dtype=np.float64), 0.05)
    anc = np.asarray(anchor, dtype=np.float64)
    shift_local = -anc * (new - old) / 2.0  # the anchored face stays: centre moves away from it
    c, s = np.cos(a[6]), np.sin(a[6])
    a[0] += c * shift_local[0] - s * shift_local[1]
    a[1] += s * shift_local[0] + c * shift_local[1]
    a[2] += shift_local[2]
    a[3:6] = new
    return set_box(labels, frame, track_id, Boxes.from_array(a[None]))


def delete_box(labels: LabelSet, frame: int, track_id: int) -> LabelSet:
    """Remove the box of ``track_id`` from ``frame``."""
    fl, i = _require(labels, frame, track_id)
    return _replace(labels, {frame: fl.select(np.arange(len(fl)) != i)})


def delete_track(labels: LabelSet, track_id: int, from_frame: int | None = None) -> LabelSet:
    """Remove every box of ``track_id`` (only frames >= ``from_frame`` when given)."""
    ch: dict[int, FrameLabels | None] = {}
    for k, fl in labels.frames.items():
        if (from_frame is None or k >= from_frame) and _row(fl, track_id) >= 0:
            ch[k] = fl.select(fl.track_ids != int(track_id))
    return _replace(labels, ch)


def set_category(labels: LabelSet, track_id: int, category: str) -> LabelSet:
    """Give every box of ``track_id`` the class ``category`` (a class is per track)."""
    ch = {}
    for k, fl in labels.frames.items():
        i = _row(fl, track_id)
        if i >= 0:
            ch[k] = _with_row(fl, i, category=str(category))
    if not ch:
        raise EditError(f"no track {int(track_id)}")
    return _replace(labels, ch)


def _touched(attrs: Mapping[str, Any] | None) -> dict[str, Any]:
    """A person changed something other than the geometry: ``state="edited"``, keyframe flags kept."""
    a = dict(attrs or {})
    a["state"] = "edited"
    return a


def set_attribute(labels: LabelSet, frame: int, track_id: int, name: str, value: Any) -> LabelSet:
    """Set (``value`` None: remove) the attribute ``name`` of one box; the box becomes edited.

    Example
    -------
    >>> ls, t = add_box(LabelSet(), 0, Boxes.from_array([[5, 0, 0.8, 4, 1.8, 1.5, 0]]), "Car")
    >>> set_attribute(ls, 0, t, "motion", "parked").get(0).attributes[0]["motion"]
    'parked'
    """
    fl, i = _require(labels, frame, track_id)
    a = _touched(fl.attributes[i])
    if value is None:
        a.pop(str(name), None)
    else:
        a[str(name)] = value
    return _replace(labels, {frame: _with_row(fl, i, attrs=a)})


def set_track_attribute(labels: LabelSet, track_id: int, name: str, value: Any) -> LabelSet:
    """Set (``value`` None: remove) the attribute ``name`` on every box of ``track_id`` (a
    per-track attribute of the label schema); the boxes become edited."""
    ch = {}
    for k, fl in labels.frames.items():
        i = _row(fl, track_id)
        if i >= 0:
            a = _touched(fl.attributes[i])
            if value is None:
                a.pop(str(name), None)
            else:
                a[str(name)] = value
            ch[k] = _with_row(fl, i, attrs=a)
    if not ch:
        raise EditError(f"no track {int(track_id)}")
    return _replace(labels, ch)


def set_track_size(labels: LabelSet, track_id: int, size: Sequence[float]) -> LabelSet:
    """Give every box of ``track_id`` the size ``(l, w, h)`` metres ("one size for the track").

    Each box keeps its centre in x, y, its heading and its bottom (it stands on the same
    ground: ``z`` moves by half the height change); the boxes become edited, keyframe flags kept.
    """
    lwh = np.asarray(size, dtype=np.float64).reshape(3)
    if not np.all(np.isfinite(lwh)) or np.any(lwh <= 0):
        raise EditError("size values must be finite and positive")
    ch = {}
    for k, fl in labels.frames.items():
        i = _row(fl, track_id)
        if i < 0:
            continue
        a = fl.boxes.to_array()[i]
        a[2] += (lwh[2] - a[5]) / 2.0  # bottom z = z - h / 2 stays
        a[3:6] = lwh
        ch[k] = _with_row(fl, i, box=Boxes.from_array(a[None]), attrs=_touched(fl.attributes[i]))
    if not ch:
        raise EditError(f"no track {int(track_id)}")
    return _replace(labels, ch)


# -- review of proposals ------------------------------------------------------------------------
def accept(labels: LabelSet, frame: int, track_ids: Iterable[int] | None = None) -> LabelSet:
    """Mark proposals in ``frame`` accepted (all boxes when ``track_ids`` is None).

    Only ``"proposed"`` boxes change (to ``"accepted"``, keyframe); edited boxes stay edited.
    """
    fl = labels.get(frame)
    want = None if track_ids is None else {int(t) for t in track_ids}
    out = fl
    for i, tid in enumerate(fl.track_ids):
        if want is not None and int(tid) not in want:
            continue
        if (fl.attributes[i] or {}).get("state") == "proposed":
            a = dict(fl.attributes[i])
            a.update(state="accepted", keyframe=True)
            out = _with_row(out, i, attrs=a)
    if want is not None:
        missing = want - {int(t) for t in fl.track_ids}
        if missing:
            raise EditError(f"tracks {sorted(missing)} have no box in frame {int(frame)}")
    return _replace(labels, {frame: out}) if out is not fl else labels


def accept_track(labels: LabelSet, track_id: int) -> LabelSet:
    """Accept every proposal of one track in every frame."""
    out = labels
    for k in track_frames(labels, track_id):
        out = accept(out, int(k), [track_id])
    return out


def reject(labels: LabelSet, frame: int, track_id: int) -> LabelSet:
    """Reject a box: remove it from ``frame`` (the detector's proposal was wrong)."""
    return delete_box(labels, frame, track_id)


# -- temporal -----------------------------------------------------------------------------------
def track_frames(labels: LabelSet, track_id: int) -> NDArray[np.int64]:
    """(K,) int64 sorted frames in which ``track_id`` has a box."""
    return np.array([k for k, fl in labels.frames.items() if _row(fl, track_id) >= 0], dtype=np.int64)


def keyframes(labels: LabelSet, track_id: int) -> NDArray[np.int64]:
    """(K,) int64 frames where ``track_id``'s box is a keyframe (placed or confirmed by a person)."""
    out = []
    for k, fl in labels.frames.items():
        i = _row(fl, track_id)
        if i >= 0:
            a = fl.attributes[i] or {}
            if a.get("keyframe", box_state(a) != "proposed" and not a.get("interpolated", False)):
                out.append(k)
    return np.array(out, dtype=np.int64)


def interpolate_boxes(a: Boxes, b: Boxes, t: NDArray[np.floating]) -> Boxes:
    """Boxes between ``a`` (t=0) and ``b`` (t=1), one per ``t``.

    Centre and size linearly, yaw along the shorter arc:
    ``yaw(t) = yaw_a + t * wrap(yaw_b - yaw_a)``.
    """
    A, B = a.to_array()[0], b.to_array()[0]
    t = np.asarray(t, dtype=np.float64).reshape(-1, 1)
    out = A + t * (B - A)
    out[:, 6] = wrap_angle(A[6] + t[:, 0] * wrap_angle(B[6] - A[6]))
    return Boxes.from_array(out)


def interpolate(labels: LabelSet, track_id: int, start: int | None = None, end: int | None = None) -> LabelSet:
    """Fill the frames strictly between consecutive keyframes of ``track_id`` by interpolation.

    Only gaps between keyframes within ``[start, end]`` are filled. Boxes of the track already in
    those frames that are not keyframes are replaced; keyframes are never touched. A frame where
    the track is absent gets a new box (the track's class, ``state="edited"``,
    ``interpolated: True``, ``keyframe: False``).
    """
    kf = keyframes(labels, track_id)
    if start is not None:
        kf = kf[kf >= start]
    if end is not None:
        kf = kf[kf <= end]
    if len(kf) < 2:
        raise EditError(f"track {int(track_id)} needs two keyframes to interpolate (has {len(kf)})")
    ch: dict[int, FrameLabels | None] = {}
    for f0, f1 in itertools.pairwise(kf):
        if f1 - f0 < 2:
            continue
        fl0, i0 = _require(labels, int(f0), track_id)
        fl1, i1 = _require(labels, int(f1), track_id)
        ts = (np.arange(f0 + 1, f1) - f0) / float(f1 - f0)
        boxes = interpolate_boxes(fl0.boxes[i0 : i0 + 1], fl1.boxes[i1 : i1 + 1], ts)
        for j, k in enumerate(range(int(f0) + 1, int(f1))):
            fl = labels.get(k)
            i = _row(fl, track_id)
            attrs = {"state": "edited", "keyframe": False, "interpolated": True}
            if i >= 0:
                ch[k] = _with_row(fl, i, box=boxes[j : j + 1], attrs=attrs)
            else:
                ch[k] = _append(fl, int(track_id), fl0.categories[i0], boxes[j : j + 1], float(fl0.scores[i0]), attrs)
    return _replace(labels, ch)


def copy_forward(labels: LabelSet, frame: int, track_ids: Iterable[int] | None = None, count: int = 1) -> LabelSet:
    """Copy boxes of ``frame`` to the next ``count`` frames (all boxes when ``track_ids`` None).

    A copied box replaces that track's box in the target frame (so a person can carry a fixed
    box over a detector's poorer ones); copies are ``state="edited"`` keyframes.
    """
    if count < 1:
        raise EditError("count must be >= 1")
    src = labels.get(frame)
    ids = [int(t) for t in src.track_ids] if track_ids is None else [int(t) for t in track_ids]
    out = labels
    for tid in ids:
        i = _row(src, tid)
        if i < 0:
            raise EditError(f"track {tid} has no box in frame {int(frame)}")
        for k in range(int(frame) + 1, int(frame) + 1 + count):
            fl = out.get(k)
            j = _row(fl, tid)
            attrs = _edited(src.attributes[i])
            if j >= 0:
                new = _with_row(fl, j, box=src.boxes[i : i + 1], category=src.categories[i], attrs=attrs)
            else:
                new = _append(fl, tid, src.categories[i], src.boxes[i : i + 1], float(src.scores[i]), attrs)
            out = _replace(out, {k: new})
    return out


# -- identity fixes ------------------------------------------------------------------------------
def _map_ids(labels: LabelSet, mapping: Mapping[int, int], from_frame: int | None, what: str) -> LabelSet:
    ch: dict[int, FrameLabels | None] = {}
    for k, fl in labels.frames.items():
        if from_frame is not None and k < from_frame:
            continue
        if not np.any(np.isin(fl.track_ids, list(mapping))):
            continue
        ids = np.array([mapping.get(int(t), int(t)) for t in fl.track_ids], dtype=np.int64)
        if len(np.unique(ids)) != len(ids):
            raise EditError(f"{what}: frame {k} would hold track {int(_dup(ids))} twice")
        ch[k] = FrameLabels(ids, fl.categories, fl.boxes, fl.scores, fl.attributes)
    return _replace(labels, ch)


def _dup(ids: NDArray[np.int64]) -> int:
    u, c = np.unique(ids, return_counts=True)
    return int(u[c > 1][0])


def reassign_id(labels: LabelSet, track_id: int, new_id: int, from_frame: int = 0) -> LabelSet:
    """From ``from_frame`` on, boxes of ``track_id`` take the id ``new_id``.

    Raises :class:`EditError` when ``new_id`` already has a box in one of those frames (use
    :func:`swap_tracks` or :func:`merge_tracks` then).
    """
    if int(track_id) == int(new_id):
        return labels
    return _map_ids(labels, {int(track_id): int(new_id)}, from_frame, f"reassign {int(track_id)} -> {int(new_id)}")


def swap_tracks(labels: LabelSet, a: int, b: int, from_frame: int = 0) -> LabelSet:
    """From ``from_frame`` on, exchange the ids ``a`` and ``b`` (fixes an ID switch at a crossing)."""
    if int(a) == int(b):
        raise EditError("cannot swap a track with itself")
    return _map_ids(labels, {int(a): int(b), int(b): int(a)}, from_frame, f"swap {int(a)} <-> {int(b)}")


def merge_tracks(
    labels: LabelSet, keep: int, absorb: int, conflict: Literal["error", "keep", "absorb"] = "error"
) -> LabelSet:
    """Make every box of ``absorb`` part of ``keep`` (fixes a fragmented track).

    Where both have a box in the same frame, ``conflict`` decides: ``"error"`` raises
    :class:`EditError` naming the frames, ``"keep"`` drops ``absorb``'s box, ``"absorb"``
    drops ``keep``'s. Boxes of ``absorb`` take ``keep``'s class (that of its first box).
    """
    keep, absorb = int(keep), int(absorb)
    if keep == absorb:
        raise EditError("cannot merge a track with itself")
    fk, fa = track_frames(labels, keep), track_frames(labels, absorb)
    if not len(fk) or not len(fa):
        raise EditError(f"track {keep if not len(fk) else absorb} does not exist")
    both = np.intersect1d(fk, fa)
    if len(both) and conflict == "error":
        raise EditError(f"tracks {keep} and {absorb} both have boxes in frames {both.tolist()[:10]}")
    cat = labels.get(int(fk[0])).categories[_row(labels.get(int(fk[0])), keep)]
    ch: dict[int, FrameLabels | None] = {}
    for k in fa:
        fl = labels.get(int(k))
        ia, ik = _row(fl, absorb), _row(fl, keep)
        if ik >= 0:
            drop = ia if conflict == "keep" else ik
            fl = fl.select(np.arange(len(fl)) != drop)
            if conflict == "keep":
                ch[int(k)] = fl
                continue
            ia = _row(fl, absorb)
        ch[int(k)] = _with_row(fl, ia, track_id=keep, category=cat)
    return _replace(labels, ch)


def split_track(labels: LabelSet, track_id: int, frame: int, new_id: int | None = None) -> LabelSet:
    """From ``frame`` on, ``track_id`` continues as a new track (``new_id`` or a fresh id)."""
    tf = track_frames(labels, track_id)
    if not len(tf):
        raise EditError(f"no track {int(track_id)}")
    if not np.any(tf >= frame):
        raise EditError(f"track {int(track_id)} has no box at or after frame {int(frame)}")
    nid = new_track_id(labels) if new_id is None else int(new_id)
    return reassign_id(labels, track_id, nid, frame)


def mark_proposed(labels: LabelSet) -> LabelSet:
    """Every box without a ``state`` becomes ``"proposed"`` (detector / tracker output)."""
    ch = {}
    for k, fl in labels.frames.items():
        if all("state" in (a or {}) for a in fl.attributes):
            continue
        attrs = tuple({**dict(a or {}), "state": (a or {}).get("state", "proposed")} for a in fl.attributes)
        ch[k] = FrameLabels(fl.track_ids, fl.categories, fl.boxes, fl.scores, attrs)
    return _replace(labels, ch)


def track_summary(labels: LabelSet) -> list[dict[str, Any]]:
    """One row per track: ``id``, ``category``, ``frames`` (count), ``first``, ``last``, ``state``.

    ``state`` is ``"proposed"`` while any box is proposed, else ``"edited"`` when any box is
    edited, else ``"accepted"``.
    """
    rows: dict[int, dict[str, Any]] = {}
    for k, fl in labels.frames.items():
        for i, tid in enumerate(fl.track_ids):
            r = rows.setdefault(
                int(tid),
                {"id": int(tid), "category": fl.categories[i], "frames": 0, "first": k, "last": k, "states": set()},
            )
            r["frames"] += 1
            r["last"] = k
            r["states"].add(box_state(fl.attributes[i]))
    out = []
    for tid in sorted(rows):
        r = rows[tid]
        st = r.pop("states")
        r["state"] = "proposed" if "proposed" in st else "edited" if "edited" in st else "accepted"
        out.append(r)
    return out
