"""The structure of a DGP scene: finding scene and dataset JSONs, and indexing a scene's samples.

A scene folder holds ``scene_<sha1>.json`` (the Scene message: samples + data); a dataset folder
holds ``scene_dataset*.json`` (``scene_splits``: split -> scene JSONs) beside the scene folders
(:mod:`fusionlabel.io.dgp`). :func:`sniff` recognises either, :func:`scene_files` lists a
dataset's scenes, :func:`_resolve` picks the scene JSON to open (no silent "first scene"), and
:func:`_read_scene_index` reads each sample's datums (images and point clouds) by sensor name.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from fusionlabel.core.errors import CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.recording import SensorKind
from fusionlabel.core.transforms import Transform
from fusionlabel.io.dgp_json import BOUNDING_BOX_3D, _int, _mapping, _pose, _read_json, parse_timestamp_ns

_SCENE_NAME = re.compile(r"^scene(_[0-9A-Za-z]+)?\.json$")
_DATASET_NAME = re.compile(r"^scene_dataset.*\.json$")


# -- sniffing -------------------------------------------------------------------------------


def _is_scene_json(p: Path) -> bool:
    """Cheap: ``scene.json`` / ``scene_<hash>.json`` whose first 64 KiB mention ``samples`` or ``data``."""
    if not (p.is_file() and _SCENE_NAME.match(p.name) and not _DATASET_NAME.match(p.name)):
        return False
    try:
        with p.open("rb") as fh:
            head = fh.read(65536)
    except OSError:
        return False
    return head.lstrip()[:1] == b"{" and (b'"samples"' in head or b'"data"' in head)


def _scene_jsons(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("scene*.json") if _is_scene_json(p)) if folder.is_dir() else []


def _dataset_jsons(folder: Path) -> list[Path]:
    return sorted(p for p in folder.glob("scene_dataset*.json") if p.is_file()) if folder.is_dir() else []


def sniff(path: Path) -> bool:
    """True for a DGP scene JSON, a folder holding one, or a scene dataset (its JSON or folder)."""
    path = Path(path)
    if path.is_file():
        return _is_scene_json(path) or bool(_DATASET_NAME.match(path.name))
    return bool(_scene_jsons(path)) or bool(_dataset_jsons(path))


sniff_dgp = sniff


def scene_files(path: str | Path) -> list[Path]:
    """The scene JSON files a DGP dataset lists, in split order without repeats.

    Parameters
    ----------
    path : a dataset folder (holding one ``scene_dataset*.json``) or that JSON

    Raises
    ------
    DataError : no or several dataset JSONs; a malformed one; a listed scene file missing
    """
    p = Path(path)
    if p.is_dir():
        found = _dataset_jsons(p)
        if len(found) != 1:
            raise DataError(p, f"expected one scene_dataset*.json in the folder, found {len(found)}")
        p = found[0]
    d = _mapping(_read_json(p, "DGP scene dataset"), "dataset", p)
    splits = _mapping(d.get("scene_splits"), "scene_splits", p)
    out: list[Path] = []

    def split_order(k: str) -> tuple[int, str]:
        return (int(k), k) if k.isdigit() else (1 << 30, k)

    for key in sorted(splits, key=split_order):
        names = _mapping(splits[key], f"scene_splits.{key}", p).get("filenames", [])
        if not isinstance(names, list) or not all(isinstance(n, str) for n in names):
            raise CorruptFileError(p, f"scene_splits.{key}.filenames must be a list of paths")
        for n in names:
            f = (p.parent / n).resolve()
            if not f.is_relative_to(p.parent.resolve()):
                raise CorruptFileError(p, f"scene file {n!r} is outside the dataset folder")
            if not f.is_file():
                raise DataError(p.parent / n, f"scene listed in {p.name} is missing")
            if f not in out:
                out.append(f)
    return out


_DATUM_KINDS: dict[str, SensorKind] = {"point_cloud": "lidar", "image": "camera"}


def _resolve(p: Path, scene: str | None) -> Path:
    """The scene JSON to open for ``p`` (scene file, scene folder, dataset file or folder)."""
    if p.is_file() and _is_scene_json(p):
        return p
    if p.is_dir():
        scenes = _scene_jsons(p)
        if len(scenes) == 1:
            return scenes[0]
        if len(scenes) > 1:
            raise DataError(
                p, f"{len(scenes)} scene JSONs in one folder ({', '.join(s.name for s in scenes)}): open one of them"
            )
    if (p.is_file() and _DATASET_NAME.match(p.name)) or _dataset_jsons(p):
        listed = scene_files(p)
        if scene is not None:
            hit = [s for s in listed if scene in (s.parent.name, s.name, s.stem)]
            if len(hit) != 1:
                raise DataError(
                    p, f"no scene {scene!r} in the dataset (scenes: {', '.join(s.parent.name for s in listed)})"
                )
            return hit[0]
        if len(listed) == 1:
            return listed[0]
        names = ", ".join(s.parent.name for s in listed)
        raise DataError(
            p,
            f"a DGP scene dataset with {len(listed)} scenes ({names}); open one scene folder, e.g. {listed[0].parent}"
            if listed
            else "a DGP scene dataset that lists no scenes",
        )
    raise UnsupportedFormatError(p, "not a DGP scene (needs scene_<hash>.json) or scene dataset (scene_dataset*.json)")


@dataclass(frozen=True)
class _Datum:
    """What the reader keeps of one scene ``data`` entry (an image or point-cloud datum)."""

    name: str
    kind: SensorKind
    t_abs: int  # ns since the Unix epoch (may exceed int64)
    filename: str
    pose: Transform | None  # T_world_sensor
    box3d: str | None  # bounding_box_3d annotation file, relative to the scene folder
    size: tuple[int, int]  # image (width, height)
    point_format: tuple[list[Any], list[Any]]  # (point_format, point_fields)


def _read_datum(raw: Any, where: str, sj: Path) -> tuple[str, _Datum | str]:
    """``(key, datum)`` of one ``data`` entry, or ``(key, kind)`` for a kind this reader skips."""
    d = _mapping(raw, where, sj)
    key = d.get("key")
    if not isinstance(key, str) or not key:
        raise CorruptFileError(sj, f"{where}: missing 'key'")
    ident = _mapping(d.get("id"), f"{where}.id", sj)
    sensor = ident.get("name")
    if not isinstance(sensor, str) or not sensor:
        raise CorruptFileError(sj, f"{where}.id: missing 'name'")
    if "timestamp" not in ident:
        raise CorruptFileError(sj, f"{where}.id: missing 'timestamp'")
    try:
        t_abs = parse_timestamp_ns(ident["timestamp"])
    except ValueError as exc:
        raise CorruptFileError(sj, f"{where}.id: {exc}") from None
    value = _mapping(d.get("datum"), f"{where}.datum", sj)
    kinds = [k for k in value if value[k] is not None]
    if len(kinds) != 1:
        raise CorruptFileError(sj, f"{where}.datum: expected one datum type, got {kinds or 'none'}")
    kind = kinds[0]
    if kind not in _DATUM_KINDS:
        return key, kind
    at = f"{where}.datum.{kind}"
    body = _mapping(value[kind], at, sj)
    fname = body.get("filename")
    if not isinstance(fname, str) or not fname:
        raise CorruptFileError(sj, f"{at}: missing 'filename'")
    box3d = _mapping(body.get("annotations"), f"{at}.annotations", sj, required=False).get(str(BOUNDING_BOX_3D))
    if box3d is not None and (not isinstance(box3d, str) or not box3d):
        raise CorruptFileError(sj, f"{at}.annotations: bad bounding_box_3d file {box3d!r}")
    return key, _Datum(
        name=sensor,
        kind=_DATUM_KINDS[kind],
        t_abs=t_abs,
        filename=fname,
        pose=_pose(body.get("pose"), f"{at}.pose", sj, allow_empty=True),
        box3d=box3d,
        size=(_int(body, "width", at, sj), _int(body, "height", at, sj)),
        point_format=(list(body.get("point_format") or []), list(body.get("point_fields") or [])),
    )


def _read_scene_index(
    doc: Mapping[str, Any], sj: Path, problems: list[DataError]
) -> tuple[list[dict[str, _Datum]], list[str]]:
    """Each sample's datums by sensor name, and each sample's calibration key."""
    for part in ("samples", "data"):
        if not isinstance(doc.get(part), list):
            raise CorruptFileError(sj, f"missing list '{part}' (a DGP Scene has samples and data)")
    if not doc["samples"]:
        raise CorruptFileError(sj, "the scene has no samples")
    datums: dict[str, _Datum] = {}
    skipped: dict[str, str] = {}
    for i, raw in enumerate(doc["data"]):
        key, d = _read_datum(raw, f"data[{i}]", sj)
        if key in datums or key in skipped:
            raise CorruptFileError(sj, f"data[{i}]: datum key {key} appears twice")
        if isinstance(d, str):
            skipped[key] = d
        else:
            datums[key] = d
    for kind in sorted(set(skipped.values())):
        count = sum(1 for k in skipped.values() if k == kind)
        problems.append(UnsupportedFormatError(sj, f"{count} '{kind}' datum(s) are not read by FusionLabel"))

    sample_datums: list[dict[str, _Datum]] = []
    calib_keys: list[str] = []
    for i, raw in enumerate(doc["samples"]):
        where = f"samples[{i}]"
        s = _mapping(raw, where, sj)
        keys = s.get("datum_keys")
        if not isinstance(keys, list) or not all(isinstance(k, str) for k in keys):
            raise CorruptFileError(sj, f"{where}: missing list 'datum_keys'")
        by_name: dict[str, _Datum] = {}
        for k in keys:
            if k in skipped:
                continue
            if k not in datums:
                raise CorruptFileError(sj, f"{where}: datum key {k} is not in 'data' (broken reference)")
            if datums[k].name in by_name:
                raise CorruptFileError(sj, f"{where}: two datums named {datums[k].name}")
            by_name[datums[k].name] = datums[k]
        sample_datums.append(by_name)
        ck = s.get("calibration_key")
        if not isinstance(ck, str) or not ck:
            raise CorruptFileError(sj, f"{where}: missing 'calibration_key'")
        calib_keys.append(ck)
    return sample_datums, calib_keys
