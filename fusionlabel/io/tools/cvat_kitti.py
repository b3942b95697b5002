"""CVAT 3D labels exported as "Kitti Raw Format": ``tracklet_labels.xml`` (+ ``frame_list.txt``).

Followed: openvinotoolkit/datumaro ``src/datumaro/plugins/data_formats/kitti_raw/base.py``
(reader), ``exporter.py`` (writer) and ``format.py`` (state enums), which CVAT uses for this
export. The file is KITTI's Boost-serialised tracklet list::

    <boost_serialization signature="serialization::archive" version="9">
    <tracklets class_id="0" tracking_level="0" version="0"><count>1</count><item_version>1</item_version>
      <item class_id="1" tracking_level="0" version="1">
        <objectType>Car</objectType><h>1.8</h><w>4.0</w><l>1.6</l><first_frame>0</first_frame>
        <poses class_id="2" tracking_level="0" version="0"><count>1</count><item_version>2</item_version>
          <item class_id="3" tracking_level="0" version="2">
            <tx>5.0</tx><ty>0.0</ty><tz>0.8</tz><rx>0</rx><ry>0</ry><rz>0.3</rz><state>2</state>
            <occlusion>0</occlusion><occlusion_kf>1</occlusion_kf><truncation>0</truncation>
            <amt_occlusion>-1</amt_occlusion><amt_border_l>-1</amt_border_l><amt_border_r>-1</amt_border_r>
            <amt_occlusion_kf>-1</amt_occlusion_kf><amt_border_kf>-1</amt_border_kf>
            <attributes><attribute><name>color</name><value>red</value></attribute></attributes>
          </item></poses><finished>1</finished></item></tracklets></boost_serialization>

Conventions, **as CVAT and Datumaro write them** (not as the KITTI dataset's own tracklets):
Datumaro stores a CVAT cuboid's scale ``(sx, sy, sz)`` as ``w = sx``, ``h = sy``, ``l = sz`` and
its centre and three.js ``XYZ`` rotation as ``tx ty tz`` / ``rx ry rz``, in the point cloud's
frame; we read it back the same way (our ``l, w, h = w, h, l`` of the file, centre ``t``), so a
CVAT box arrives unchanged. A tracklet has one size and consecutive frames from ``first_frame``;
poses truncated ``OUT_IMAGE`` (2) or ``BEHIND_IMAGE`` (99) are gaps, not boxes (as in Datumaro).
Tracklet ``i`` (0-based) is track ``i + 1``, as Datumaro numbers it, unless its poses carry a
``fusionlabel_track_id`` attribute (our export splits a track whose size changes or that has a gap
into several tracklets and keeps its id there). ``occlusion`` 1 or 2 becomes the attribute ``occluded = true``
(``OCCLUSION_UNSET`` takes the last key frame's; visible boxes get none), other pose attributes are kept (``true``,
``false`` and numbers parsed, as Datumaro does; our export writes list and mapping values as JSON
text, read back as such). ``frame_list.txt`` (``<frame> <name>`` lines)
names the frames; without it the frame numbers are the frame indices.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any
from xml.sax.saxutils import escape

from fusionlabel.core.atomic import atomic_write_text
from fusionlabel.core.errors import CorruptFileError, DataError
from fusionlabel.core.labels import LabelSet
from fusionlabel.io.tools.common import (
    ToolBox,
    ToolContext,
    boxes_in_sensor,
    build_labelset,
    extra_attributes,
    fail,
    heading_xyz,
    json_head,
    tilt_attributes,
    tilt_of,
    z_for_heading_xyz,
)

ANNO_FILE = "tracklet_labels.xml"
NAME_MAPPING_FILE = "frame_list.txt"
SKIPPED_TRUNCATION = (2, 99)  # OUT_IMAGE, BEHIND_IMAGE


def _xml_file(path: Path) -> Path:
    return path / ANNO_FILE if path.is_dir() else path


def sniff(path: Path) -> bool:
    f = _xml_file(path)
    return f.is_file() and f.suffix == ".xml" and b"<tracklets" in json_head(f)


def _parse_value(v: str) -> Any:
    if v[:1] in ("[", "{"):
        try:
            return json.loads(v)
        except ValueError:
            return v
    if v in ("true", "false"):
        return v == "true"
    for cast in (int, float):
        try:
            if str(cast(v)) == v:
                return cast(v)
        except ValueError:
            pass
    return v


def _num(el: ET.Element, tag: str, f: Path, where: str, kind: type = float) -> Any:
    node = el.find(tag)
    if node is None or node.text is None:
        raise fail(f, where, f"missing <{tag}>")
    try:
        v = kind(node.text.strip())
    except ValueError:
        raise fail(
            f, where, f"<{tag}> must be a{'n integer' if kind is int else ' number'}, got {node.text.strip()!r}"
        ) from None
    if kind is float and v != v:  # NaN
        raise fail(f, where, f"<{tag}> is NaN")
    return v


def _frame_names(folder: Path) -> dict[int, str]:
    p = folder / NAME_MAPPING_FILE
    out: dict[int, str] = {}
    if not p.is_file():
        return out
    for n, line in enumerate(p.read_text(encoding="utf-8").splitlines(), 1):
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split(maxsplit=1)
        if len(parts) != 2 or not parts[0].isdigit():
            raise CorruptFileError(p, f"line {n}: expected '<frame> <name>', got {line!r}")
        out[int(parts[0])] = Path(parts[1]).stem
    return out


def read_cvat_kitti(path: str | Path, ctx: ToolContext | None = None) -> LabelSet:
    """Read ``tracklet_labels.xml`` (or the folder holding it); see the module docstring."""
    path = Path(path)
    ctx = ctx or ToolContext()
    f = _xml_file(path)
    if not f.is_file():
        raise DataError(path, f"no {ANNO_FILE}")
    data = f.read_bytes().replace(b'standalone="true"', b'standalone="yes"')
    try:
        root = ET.fromstring(data)
    except ET.ParseError as exc:
        raise CorruptFileError(f, f"invalid XML: {exc}") from None
    tracklets = root.find("tracklets") if root.tag != "tracklets" else root
    if tracklets is None:
        raise CorruptFileError(f, "no <tracklets> element")
    names = _frame_names(f.parent)
    boxes: list[ToolBox] = []
    for t_i, tr in enumerate(tracklets.findall("item")):
        where = f"tracklet {t_i}"
        cat = (tr.findtext("objectType") or "").strip()
        if not cat:
            raise fail(f, where, "missing <objectType>")
        w, h, l = (_num(tr, tag, f, where) for tag in ("w", "h", "l"))
        if min(w, h, l) <= 0:
            raise fail(f, where, f"sizes must be positive, got w={w} h={h} l={l}")
        first = _num(tr, "first_frame", f, where, int)
        poses = tr.find("poses")
        pose_items = poses.findall("item") if poses is not None else []
        kf_occluded = False
        for p_i, pose in enumerate(pose_items):
            frame_no = first + p_i
            pw = f"{where}, frame {frame_no}"
            t = [_num(pose, tag, f, pw) for tag in ("tx", "ty", "tz")]
            r = [_num(pose, tag, f, pw) for tag in ("rx", "ry", "rz")]
            occ = int(_num(pose, "occlusion", f, pw)) if pose.find("occlusion") is not None else 0
            occ_kf = (pose.findtext("occlusion_kf") or "0").strip() == "1"
            trunc = int(_num(pose, "truncation", f, pw)) if pose.find("truncation") is not None else 0
            occluded = occ in (1, 2)
            if occ_kf:
                kf_occluded = occluded
            elif occ == -1:
                occluded = kf_occluded
            if trunc in SKIPPED_TRUNCATION:
                continue
            attrs: dict[str, Any] = {}
            for a in pose.findall("attributes/attribute"):
                name = (a.findtext("name") or "").strip()
                if not name:
                    raise fail(f, pw, "an attribute without a <name>")
                attrs[name] = _parse_value(a.findtext("value") or "")
            key = attrs.pop("fusionlabel_track_id", t_i + 1)
            if isinstance(key, bool) or not isinstance(key, int) or key < 0:
                raise fail(f, pw, f"'fusionlabel_track_id' must be a non-negative integer, got {key!r}")
            if occluded:
                attrs["occluded"] = True
            attrs.update(tilt_attributes(r[0], r[1]))
            if names:
                if frame_no not in names:
                    raise fail(f, pw, f"frame {frame_no} is not listed in {NAME_MAPPING_FILE}")
                frame_name = names[frame_no]
            else:
                frame_name = ctx.name_of(frame_no) if ctx.frame_names else str(frame_no)
            boxes.append(
                ToolBox(frame_no, str(key), cat, [*t, w, h, l, heading_xyz(*r)], attrs, 1.0, pw + f" ({frame_name})")
            )
    if ctx.frame_names and names:
        index = ctx.indices(sorted({names[b.frame] for b in boxes}), f)
        for b in boxes:
            b.frame = index[names[b.frame]]
    return build_labelset(boxes, ctx.T_ego_sensor, f)


def write_cvat_kitti(path: str | Path, labels: LabelSet, ctx: ToolContext | None = None) -> None:
    """Write ``path/tracklet_labels.xml`` and ``path/frame_list.txt`` as CVAT's Datumaro export does.

    A track becomes one tracklet per run of consecutive frames with one size and class (the format
    has one size per tracklet); every pose carries ``fusionlabel_track_id`` so the runs join again.
    """
    path = Path(path)
    ctx = ctx or ToolContext()
    rows = boxes_in_sensor(labels, ctx.T_ego_sensor)
    runs: list[tuple[int, str, tuple[float, ...], list[tuple[int, Any]]]] = []
    open_run: dict[int, int] = {}
    for k in sorted(rows):
        for b in rows[k]:
            size = b.box[3:6]
            i = open_run.get(b.track_id)
            if i is not None:
                tid, cat, sz, poses = runs[i]
                if poses[-1][0] == k - 1 and cat == b.category and sz == size:
                    poses.append((k, b))
                    continue
            open_run[b.track_id] = len(runs)
            runs.append((b.track_id, b.category, size, [(k, b)]))
    out = ['<?xml version="1.0" encoding="UTF-8" standalone="yes"?>', "<!DOCTYPE boost_serialization>"]
    out.append('<boost_serialization signature="serialization::archive" version="9">')
    out.append(
        f'<tracklets class_id="0" tracking_level="0" version="0"><count>{len(runs)}</count><item_version>1</item_version>'
    )
    for n, (tid, cat, (l, w, h), poses) in enumerate(runs):
        head = ' class_id="1" tracking_level="0" version="1"' if n == 0 else ""
        out.append(f"<item{head}><objectType>{escape(cat)}</objectType><h>{w!r}</h><w>{l!r}</w><l>{h!r}</l>")
        out.append(f"<first_frame>{poses[0][0]}</first_frame>")
        poses_head = ' class_id="2" tracking_level="0" version="0"' if n == 0 else ""
        out.append(f"<poses{poses_head}><count>{len(poses)}</count><item_version>2</item_version>")
        for p_i, (_k, b) in enumerate(poses):
            rx, ry = tilt_of(b.attributes)
            x, y, z, *_rest, yaw = b.box
            phead = ' class_id="3" tracking_level="0" version="2"' if n == 0 and p_i == 0 else ""
            occluded = b.attributes.get("occluded")
            occ = 1 if occluded is True else 0  # a non-boolean "occluded" (KITTI's levels) stays an attribute
            out.append(
                f"<item{phead}><tx>{x!r}</tx><ty>{y!r}</ty><tz>{z!r}</tz><rx>{rx!r}</rx><ry>{ry!r}</ry>"
                f"<rz>{z_for_heading_xyz(rx, ry, yaw)!r}</rz><state>2</state><occlusion>{occ}</occlusion>"
                "<occlusion_kf>1</occlusion_kf><truncation>0</truncation><amt_occlusion>-1</amt_occlusion>"
                "<amt_border_l>-1</amt_border_l><amt_border_r>-1</amt_border_r><amt_occlusion_kf>-1</amt_occlusion_kf>"
                "<amt_border_kf>-1</amt_border_kf><attributes>"
            )
            drop = ("occluded",) if isinstance(occluded, bool) else ()
            attrs = {**extra_attributes(b.attributes, drop=drop), "fusionlabel_track_id": tid}
            for name, v in attrs.items():
                val = (
                    "true"
                    if v is True
                    else "false"
                    if v is False
                    else json.dumps(v)
                    if isinstance(v, (list, dict))
                    else str(v)
                )
                out.append(f"<attribute><name>{escape(str(name))}</name><value>{escape(val)}</value></attribute>")
            out.append("</attributes></item>")
        out.append("</poses><finished>1</finished></item>")
    out.append("</tracklets></boost_serialization>")
    atomic_write_text(path / ANNO_FILE, "\n".join(out) + "\n")
    atomic_write_text(path / NAME_MAPPING_FILE, "".join(f"{k} {ctx.name_of(k)}\n" for k in sorted(rows)))
