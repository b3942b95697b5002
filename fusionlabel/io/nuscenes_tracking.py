"""nuScenes tracking results: pre-labels as the JSON the devkit's ``TrackingEval`` accepts, and back.

:func:`labels_to_nuscenes_tracking` turns labels into ``{"meta": ..., "results": {sample_token:
[sample_result, ...]}}`` with the sample tokens, global boxes and velocities of the tables export
(:mod:`fusionlabel.io.nuscenes_scene`), so the results of a recording evaluate against its exported
tables; :func:`write_nuscenes_tracking` writes it, :func:`read_nuscenes_tracking` reads it back into
ego-frame labels of the same recording, and :func:`sniff_nuscenes_tracking` recognises the file.

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> from fusionlabel.core.labels import FrameLabels, LabelSet
>>> fl = FrameLabels(np.array([7]), ("Car",), Boxes.from_array([[5, 0, 0.8, 4, 1.8, 1.6, 0.3]]))
>>> doc, left_out = labels_to_nuscenes_tracking(LabelSet({0: fl}), {0: 1_000_000_000}, {0: Transform.identity()})
>>> [r["tracking_name"] for rows in doc["results"].values() for r in rows], left_out
(['car'], 0)
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel.core.atomic import atomic_write_text
from fusionlabel.core.conventions import nuscenes_global_to_boxes
from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.transforms import Transform
from fusionlabel.io.nuscenes_scene import _json, _scene, _token
from fusionlabel.io.nuscenes_schema import _is_int, _number
from fusionlabel.io.nuscenes_taxonomy import canonical_category, tracking_name


def labels_to_nuscenes_tracking(
    labels: LabelSet,
    timestamps_ns: Mapping[int, int],
    ego_poses: Mapping[int, Transform],
    scene_name: str = "fusionlabel-scene",
    *,
    identity_pose: bool = False,
    meta: Mapping[str, Any] | None = None,
) -> tuple[dict[str, Any], int]:
    """Labels (pre-labels) as a nuScenes tracking-results document.

    ``{"meta": {...}, "results": {sample_token: [sample_result, ...]}}`` with every sample of the
    scene (empty lists included, as the devkit requires) and the sample tokens of
    :func:`write_nuscenes_tables` for the same ``scene_name`` and frames. Each ``sample_result``:
    ``translation``, ``size`` (w, l, h), ``rotation`` (w, x, y, z) in the global frame as in the
    tables; ``velocity`` ``(vx, vy)`` m/s by the devkit's ``box_velocity`` rule (``[0, 0]`` where a
    track has one box); ``tracking_id`` the instance token of the tables; ``tracking_name`` the
    tracking class of the track's nuScenes category (one per track, from its first box); and
    ``tracking_score`` the box score. Tracks whose category has no tracking class are left out.
    Extension keys (the devkit ignores them) keep our track id and category:
    ``fusionlabel_track_id``, ``fusionlabel_category``; ``meta.fusionlabel`` names the scene.

    Parameters
    ----------
    meta : the ``meta`` block (default: ``use_lidar`` True, the other ``use_*`` False); extra keys pass

    Returns
    -------
    the document; the number of boxes left out (no tracking class)

    Raises
    ------
    ValueError : as :func:`build_nuscenes_tables`; a score outside [0, 1]
    """
    scene = _scene(labels, timestamps_ns, ego_poses, scene_name, identity_pose)
    results: dict[str, list[dict[str, Any]]] = {scene.sample_token[k]: [] for k in scene.frames}
    left_out = 0
    for tid, track in scene.tracks.items():
        tname = tracking_name(scene.instance_category[tid])
        if tname is None:
            left_out += len(track)
            continue
        for a in track:
            if not 0.0 <= a.score <= 1.0:
                raise ValueError(
                    f"frame {a.frame}, track {tid}: score {a.score} is outside [0, 1] (nuScenes tracking_score)"
                )
            v = scene.velocity[a.token][:2]
            v = v if np.all(np.isfinite(v)) else np.zeros(2)
            results[scene.sample_token[a.frame]].append(
                {
                    "sample_token": scene.sample_token[a.frame],
                    "translation": [float(x) for x in a.center],
                    "size": [float(x) for x in a.wlh],
                    "rotation": a.rotation,
                    "velocity": [float(x) for x in v],
                    "tracking_id": a.instance,
                    "tracking_name": tname,
                    "tracking_score": float(a.score),
                    "fusionlabel_track_id": tid,
                    "fusionlabel_category": a.category,
                }
            )
    m: dict[str, Any] = {
        "use_camera": False,
        "use_lidar": True,
        "use_radar": False,
        "use_map": False,
        "use_external": False,
    }
    m.update(dict(meta or {}))
    m.setdefault("fusionlabel", {"scene": scene_name, "frames": len(scene.frames)})
    return {"meta": m, "results": results}, left_out


def write_nuscenes_tracking(
    path: str | Path,
    labels: LabelSet,
    timestamps_ns: Mapping[int, int],
    ego_poses: Mapping[int, Transform],
    scene_name: str = "fusionlabel-scene",
    *,
    identity_pose: bool = False,
    meta: Mapping[str, Any] | None = None,
) -> int:
    """Write :func:`labels_to_nuscenes_tracking` to ``path`` atomically; returns the boxes left out."""
    doc, left_out = labels_to_nuscenes_tracking(
        labels, timestamps_ns, ego_poses, scene_name, identity_pose=identity_pose, meta=meta
    )
    atomic_write_text(Path(path), json.dumps(doc, allow_nan=False, default=_json))
    return left_out


def sniff_nuscenes_tracking(path: Path) -> bool:
    """A JSON file whose first 4 KiB hold ``"results"`` and ``"meta"`` or ``"tracking_name"``."""
    if not (path.is_file() and path.suffix.lower() == ".json"):
        return False
    try:
        with open(path, "rb") as f:
            head = f.read(4096)
    except OSError:
        return False
    return b'"results"' in head and (b'"tracking_name"' in head or b'"use_lidar"' in head)


def read_nuscenes_tracking(
    path: str | Path,
    timestamps_ns: Mapping[int, int],
    ego_poses: Mapping[int, Transform],
    scene_name: str,
) -> tuple[LabelSet, dict[int, int]]:
    """Read a tracking-results JSON back into labels (ego frame) of the recording it was written for.

    Sample tokens are placed by recomputing the tokens of ``scene_name``'s frames; track ids and categories are our extension
    keys where present, else tracking ids are numbered 1, 2, ... by first appearance and
    categories map back from ``tracking_name``; ``attributes["tracking_id"]`` keeps the id as
    written; scores are ``tracking_score``.

    Raises
    ------
    DataError / CorruptFileError : naming the file (not JSON, a sample token of another scene, no pose)
    """
    path = Path(path)
    try:
        doc = json.loads(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise DataError(path, f"cannot read: {exc.strerror or exc}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as exc:
        raise CorruptFileError(path, f"not valid JSON: {exc}") from None
    if not isinstance(doc, dict) or not isinstance(doc.get("results"), dict):
        raise CorruptFileError(path, "a nuScenes results file needs a 'results' object (sample_token -> list)")
    frame_of = {_token(scene_name, "sample", k): k for k in timestamps_ns}
    fl_meta = (doc.get("meta") or {}).get("fusionlabel") if isinstance(doc.get("meta"), dict) else None
    written_for = fl_meta.get("scene") if isinstance(fl_meta, dict) else None
    if isinstance(written_for, str) and written_for != scene_name:
        raise DataError(
            path, f"written for recording {written_for!r}, not {scene_name!r}: its sample tokens are that scene's"
        )
    ids: dict[str, int] = {}
    per_frame: dict[int, list[dict[str, Any]]] = {}
    for tok, rows in doc["results"].items():
        if tok not in frame_of:
            raise DataError(
                path, f"sample token {tok!r} is not a sample of {scene_name!r}: give the recording it was written for"
            )
        if not isinstance(rows, list):
            raise CorruptFileError(path, f"results[{tok!r}] is not a list")
        per_frame.setdefault(frame_of[tok], []).extend(rows)
    own = all(_is_int(r.get("fusionlabel_track_id")) for rows in per_frame.values() for r in rows)
    for k in sorted(per_frame):
        for r in per_frame[k]:
            tid = str(r.get("tracking_id", ""))
            if own:
                ids[tid] = int(r["fusionlabel_track_id"])
            else:
                ids.setdefault(tid, len(ids) + 1)
    out: dict[int, FrameLabels] = {}
    for k, rows in sorted(per_frame.items()):
        if not rows:
            continue
        if k not in ego_poses:
            raise DataError(path, f"frame {k}: no ego pose to bring the global boxes into the ego frame")
        try:
            c = np.array([_number(path, r, "translation", (3,)) for r in rows]).reshape(-1, 3)
            wlh = np.array([_number(path, r, "size", (3,)) for r in rows]).reshape(-1, 3)
            q = np.array([_number(path, r, "rotation", (4,)) for r in rows]).reshape(-1, 4)
            names = [str(r["tracking_name"]) for r in rows]
            out[k] = FrameLabels(
                np.array([ids[str(r.get("tracking_id", ""))] for r in rows], np.int64),
                tuple(str(r.get("fusionlabel_category") or canonical_category(n)) for r, n in zip(rows, names)),
                nuscenes_global_to_boxes(c, wlh, q, ego_poses[k]),
                np.array([float(r["tracking_score"]) for r in rows]),
                tuple({"tracking_id": str(r.get("tracking_id", "")), "tracking_name": n} for r, n in zip(rows, names)),
            )
        except (KeyError, ValueError, TypeError) as exc:
            raise CorruptFileError(path, f"frame {k}: bad sample_result ({type(exc).__name__}: {exc})") from None
    times = {k: int(timestamps_ns[k]) for k in out if k in timestamps_ns}
    return LabelSet(out), times
