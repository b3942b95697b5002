"""OpenLABEL 1.0 import: a validated document's cuboid tracks as ego-frame labels and frame times.

:func:`openlabel_to_labels` reads a parsed document, :func:`read_openlabel` a file; the document is
validated against the schema first, and cuboids in any coordinate system of the file's tree are
brought into the ego frame (:mod:`fusionlabel.io.openlabel_coords`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel.core.boxes import Boxes
from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.io.openlabel_coords import _CsTree, _cuboid_R, _euler_zyx_heading, _heading_from_xyzw
from fusionlabel.io.openlabel_schema import CUBOID_NAME, decode_attributes, validate_openlabel


def openlabel_to_labels(
    d: Any, path: str | Path = "<openlabel>", ego_cs: str | None = None
) -> tuple[LabelSet, dict[int, int]]:
    """Read an OpenLABEL document into ego-frame labels and frame times.

    The document is validated first. Cuboids may be in any coordinate system of the file's
    tree: they are brought into the ego frame per frame (:mod:`fusionlabel.io.openlabel`, "Import"). Objects
    need integer UIDs (our track ids) or UUIDs, which are numbered ``1, 2, ...`` in order of
    first appearance.

    Parameters
    ----------
    d : the parsed JSON document
    path : the file, for error messages
    ego_cs : the coordinate system that is the ego frame (default: ``vehicle-iso8855``, else
        ``ego``, else the only ``local_cs``)

    Returns
    -------
    labels : LabelSet; timestamps_ns : frame -> int ns (``timestamp_ns`` or ``round(timestamp 1e9)``)

    Raises
    ------
    CorruptFileError : schema-invalid, or content we cannot interpret (naming frame, object and
        coordinate system)
    """
    path = Path(path)
    validate_openlabel(d, path)
    ol = d["openlabel"]
    tree = _CsTree(ol, path, ego_cs)
    objects = ol.get("objects", {})
    uid_to_tid: dict[str, int] = {}
    next_id = 1 + max([int(u) for u in objects if _int_uid(u)] + [0])
    for uid in objects:
        if _int_uid(uid):
            uid_to_tid[uid] = int(uid)
    frames_out: dict[int, FrameLabels] = {}
    times: dict[int, int] = {}
    for key in sorted(ol.get("frames", {}), key=int):
        fr = ol["frames"][key]
        k = int(key)
        props = fr.get("frame_properties", {})
        if "timestamp_ns" in props:
            times[k] = int(props["timestamp_ns"])
        elif isinstance(props.get("timestamp"), (int, float)):
            times[k] = round(float(props["timestamp"]) * 1e9)
        ids, cats, rows, scores, attrs = [], [], [], [], []
        for uid, fo in fr.get("objects", {}).items():
            where = f"frames/{key}/objects/{uid}"
            if uid not in objects:
                raise CorruptFileError(path, f"{where}: object {uid} is not declared in openlabel/objects")
            if uid not in uid_to_tid:
                uid_to_tid[uid] = next_id
                next_id += 1
            od = fo.get("object_data", {})
            cubs = od.get("cuboid", [])
            if not cubs:
                continue  # another kind of object data (a 2D box...): not a cuboid track
            cub = next((c for c in cubs if c.get("name") == CUBOID_NAME), cubs[0])
            v = cub["val"]
            if v is None:
                continue
            csys = cub.get("coordinate_system", objects[uid].get("coordinate_system"))
            try:
                if csys is None or tree.is_ego(csys):
                    # exact: no arithmetic on the centre, the heading straight from the rotation
                    yaw = _heading_from_xyzw(v[3:7]) if len(v) == 10 else _euler_zyx_heading(v[3:6])
                    center = [float(c) for c in v[0:3]]
                else:
                    T = tree.T_ego(csys, key, where)  # T_ego_cs
                    center = T.apply(np.asarray([v[0:3]], dtype=np.float64))[0].tolist()
                    R = T.rotation @ _cuboid_R(v)  # R_ego_obj = R_ego_cs R_cs_obj
                    yaw = math.atan2(R[1, 0], R[0, 0])
            except ValueError as exc:
                raise CorruptFileError(path, f"{where}: {exc}") from None
            size = v[7:10] if len(v) == 10 else v[6:9]
            rows.append([*center, *size, yaw])
            ids.append(uid_to_tid[uid])
            text = {e.get("name"): e["val"] for e in od.get("text", [])}
            nums = {e.get("name"): e["val"] for e in od.get("num", [])}
            cats.append(str(text.get("category", objects[uid]["type"])))
            scores.append(float(nums.get("score", 1.0)))
            attrs.append(decode_attributes(cub.get("attributes", {})))
        if rows:
            try:
                frames_out[k] = FrameLabels(
                    np.asarray(ids, np.int64), tuple(cats), Boxes.from_array(rows), np.asarray(scores), tuple(attrs)
                )
            except ValueError as exc:
                raise CorruptFileError(path, f"frames/{key}: {exc}") from None
    return LabelSet(frames_out), times


def _int_uid(uid: str) -> bool:
    try:
        int(uid)
        return True
    except ValueError:
        return False


def read_openlabel(path: str | Path, ego_cs: str | None = None) -> tuple[LabelSet, dict[int, int]]:
    """Read and validate an OpenLABEL 1.0 file; :class:`CorruptFileError` naming the file on any defect.

    ``ego_cs`` names the ego coordinate system where the file's names do not tell
    (:func:`openlabel_to_labels`).
    """
    from fusionlabel.core.textfile import read_json

    path = Path(path)
    d = read_json(path, "OpenLABEL file")
    try:
        return openlabel_to_labels(d, path, ego_cs)
    except (KeyError, TypeError, ValueError, OverflowError, AttributeError, IndexError) as exc:
        # schema-valid but not what a value means (a null timestamp, a huge number, ...)
        raise CorruptFileError(path, f"cannot interpret the content: {type(exc).__name__}: {exc}") from None
