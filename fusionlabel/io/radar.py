"""Continental ARS548 / SRR520 radar dumps: YAML renderings of nebula's ``continental_msgs``.

Detection dumps (``*_detection.yaml``; ROS 2 ``ContinentalArs548DetectionList`` or
``ContinentalSrr520DetectionList`` printed as YAML)::

    header: {stamp: {sec: 1708578204, nanosec: 202447652}, frame_id: some_sensor_frame}
    origin_pos: {x: 3.872, y: 0.0, z: 0.641}     # ARS548 only: mounting position, vehicle frame
    origin_yaw: 0.0                              # ARS548 only, radians
    origin_pitch: 0.0                            # ARS548 only, radians
    detections:
      - range: 3.37381                 # metres
        azimuth_angle: -0.918583       # radians, from the boresight (+x) towards +y (left)
        elevation_angle: 0.184710      # radians, up (ARS548 only; SRR520 is 2D: 0)
        range_rate: -3.64937           # m/s, positive = moving away
        rcs: -10                       # dBsm
        invalid_distance: false ...    # ARS548 validity flags

Object dumps (``*_object.yaml``) list tracked objects in the vehicle base frame: ARS548
``position {x, y, z}``, ``absolute_velocity``, ``orientation``, ``shape_length_edge_mean`` /
``shape_width_edge_mean``, ``raw_existence_probability``; SRR520 ``dist_x/dist_y``,
``v_abs_x/v_abs_y``, ``box_length/box_width`` (valid where ``box_valid``), ``score``.

Conventions
-----------
* Timestamps: ``header.stamp.sec * 10**9 + header.stamp.nanosec``, exact int nanoseconds.
* Detections are in the radar frame (x boresight, y left, z up): ``RadarDetections.from_polar``.
  ARS548 detections flagged ``invalid_distance`` or ``invalid_azimuth`` cannot be placed and are
  dropped; ``invalid_elevation`` puts them at elevation 0; ``invalid_range_rate`` gives NaN.
* The rig: an ARS548 dump carries its mounting pose, ``T_ego_radar = [R_z(yaw) R_y(pitch) |
  origin_pos]``; an SRR520 dump carries none, so its radar sits at the ego origin and
  :func:`open_continental` says so in ``problems``.
* The stream (and radar) is named after the sensor and dump kind: ``ars548``, ``srr520_near``,
  ``srr520_hrr`` (from the file name) or ``srr520``.

Example
-------
>>> det = read_continental_detections("continental_ars548_..._detection.yaml")   # doctest: +SKIP
>>> len(det), float(det.range.min()) > 0                                         # doctest: +SKIP
(308, True)
"""

from __future__ import annotations

import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Radar, Rig
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.frames import Frame, RadarDetections
from fusionlabel.core.recording import Recording, Stream
from fusionlabel.core.transforms import Transform

SensorModel = Literal["ARS548", "SRR520"]
DumpKind = Literal["detections", "objects"]

#: dumps larger than this are not sniffed as radar dumps (the real ones are ~10-300 KB)
MAX_DUMP_BYTES = 50 * 1024 * 1024
_SNIFF_BYTES = 8192
_TOP_KEY = re.compile(rb"^([a-z_]+):", re.MULTILINE)


def _load_yaml(path: Path) -> Any:
    import yaml

    loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
    try:
        with path.open("rb") as fh:
            return yaml.load(fh, Loader=loader)
    except OSError as exc:
        raise DataError(path, f"cannot read radar dump: {exc.strerror or exc}") from None
    except yaml.YAMLError as exc:
        raise CorruptFileError(path, f"invalid YAML: {str(exc).splitlines()[0]}") from None


def _kind_of(doc: Any) -> tuple[DumpKind, SensorModel] | None:
    """What a parsed document is, or None when it is not a Continental dump."""
    if not isinstance(doc, Mapping) or not isinstance(doc.get("header"), Mapping):
        return None
    stamp = doc["header"].get("stamp")
    if not isinstance(stamp, Mapping) or "sec" not in stamp or "nanosec" not in stamp:
        return None
    model: SensorModel = "SRR520" if "internal_time_stamp_usec" in doc else "ARS548"
    if isinstance(doc.get("detections"), list):
        return "detections", model
    if isinstance(doc.get("objects"), list):
        return "objects", model
    return None


def sniff_continental_radar(path: Path) -> bool:
    """Cheap check: a ``.yaml`` whose first 8 KiB have top-level ``header:`` and ``detections:``/``objects:``."""
    path = Path(path)
    if not (path.is_file() and path.suffix.lower() in (".yaml", ".yml")):
        return False
    try:
        if path.stat().st_size > MAX_DUMP_BYTES:
            return False
        with path.open("rb") as fh:
            head = fh.read(_SNIFF_BYTES)
    except OSError:
        return False
    keys = set(_TOP_KEY.findall(head))
    return b"header" in keys and bool(keys & {b"detections", b"objects"}) and b"nanosec:" in head


sniff = sniff_continental_radar


def _stamp_ns(doc: Mapping[str, Any], path: Path) -> int:
    stamp = doc["header"]["stamp"]
    sec, nsec = stamp.get("sec"), stamp.get("nanosec")
    if not all(isinstance(v, int) and not isinstance(v, bool) for v in (sec, nsec)) or not 0 <= nsec < 10**9:
        raise CorruptFileError(
            path, f"header.stamp must hold integer sec and nanosec (0 <= nanosec < 1e9), got {sec!r}, {nsec!r}"
        )
    return int(sec) * 1_000_000_000 + int(nsec)


def _parse(path: Path, want: DumpKind) -> tuple[Mapping[str, Any], SensorModel]:
    doc = _load_yaml(path)
    kind = _kind_of(doc)
    if kind is None:
        raise UnsupportedFormatError(
            path, "not a Continental radar dump (expects header.stamp and a 'detections' or 'objects' list)"
        )
    if kind[0] != want:
        other = "read_continental_objects" if kind[0] == "objects" else "read_continental_detections"
        raise UnsupportedFormatError(
            path, f"this is a Continental {kind[1]} {kind[0]} dump, not {want}: read it with {other}"
        )
    return doc, kind[1]


def _num(path: Path, what: str, i: int, d: Mapping[str, Any], key: str, required: bool = True) -> float:
    if key not in d:
        if required:
            raise CorruptFileError(path, f"{what} {i}: missing '{key}'")
        return math.nan
    v = d[key]
    if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v):
        raise CorruptFileError(path, f"{what} {i}: '{key}' must be a finite number, got {v!r}")
    return float(v)


def sensor_name(path: str | Path, model: SensorModel) -> str:
    """``ars548``, ``srr520_near``, ``srr520_hrr`` or ``srr520`` (the SRR520 scan from the file name)."""
    name = Path(path).name.lower()
    if model == "SRR520":
        for scan in ("near", "hrr"):
            if f"_{scan}_" in name:
                return f"srr520_{scan}"
        return "srr520"
    return "ars548"


def read_continental_detections(path: str | Path, frame_id: str | None = None) -> RadarDetections:
    """Read a Continental ARS548/SRR520 detection dump into radar-frame detections.

    Parameters
    ----------
    path : the YAML dump
    frame_id : radar name to store; default :func:`sensor_name`

    Returns
    -------
    RadarDetections : xyz (N, 3) metres radar frame, radial_velocity (N,) m/s, rcs (N,) dBsm,
    ``timestamp_ns`` from the header (exact).

    Raises
    ------
    UnsupportedFormatError : the YAML is not a detection dump
    CorruptFileError : a malformed header or detection (names the detection index)
    """
    path = Path(path)
    doc, model = _parse(path, "detections")
    return _detections(doc, model, path, frame_id or sensor_name(path, model))


def _detections(doc: Mapping[str, Any], model: SensorModel, path: Path, frame_id: str) -> RadarDetections:
    t = _stamp_ns(doc, path)
    rows = doc["detections"]
    r = np.empty(len(rows))
    az = np.empty(len(rows))
    el = np.zeros(len(rows))
    vr = np.empty(len(rows))
    rcs = np.empty(len(rows))
    keep = np.ones(len(rows), dtype=bool)
    for i, d in enumerate(rows):
        if not isinstance(d, Mapping):
            raise CorruptFileError(path, f"detection {i}: expected a mapping, got {type(d).__name__}")
        r[i] = _num(path, "detection", i, d, "range")
        az[i] = _num(path, "detection", i, d, "azimuth_angle")
        vr[i] = _num(path, "detection", i, d, "range_rate")
        rcs[i] = _num(path, "detection", i, d, "rcs", required=False)
        if "elevation_angle" in d and not d.get("invalid_elevation", False):
            el[i] = _num(path, "detection", i, d, "elevation_angle")
        if d.get("invalid_range_rate", False):
            vr[i] = math.nan
        if d.get("invalid_distance", False) or d.get("invalid_azimuth", False):
            keep[i] = False
        elif r[i] < 0 or abs(az[i]) > math.pi or abs(el[i]) > math.pi / 2:
            raise CorruptFileError(
                path, f"detection {i}: out of range (range {r[i]} m, azimuth {az[i]} rad, elevation {el[i]} rad)"
            )
    return RadarDetections.from_polar(r[keep], az[keep], el[keep], vr[keep], rcs[keep], frame_id, t)


@dataclass(frozen=True)
class ContinentalObjects:
    """Objects tracked by a Continental radar, in the vehicle base frame (x forward, y left, z up).

    Attributes
    ----------
    object_ids : (N,) int64, the radar's track ids (persistent across cycles while tracked)
    position : (N, 3) float64 metres, base frame; ARS548: the point named by
        ``position_reference`` (a corner or edge middle of the object), SRR520: the object's
        distance (dist_x, dist_y, z = 0)
    velocity : (N, 3) float64 m/s, absolute (over ground) velocity, base frame (z = 0 on SRR520)
    orientation : (N,) float64 radians, heading about +z
    length, width : (N,) float64 metres; NaN where the radar gives no valid size
    existence : (N,) float64 in [0, 1]: ARS548 existence probability, SRR520 score, / 100
    position_reference : (N,) int64, ARS548 reference-point code (-1 on SRR520)
    model : ``"ARS548"`` or ``"SRR520"``
    frame_id : the header's frame id; timestamp_ns : header stamp, nanoseconds
    """

    object_ids: NDArray[np.int64]
    position: NDArray[np.float64]
    velocity: NDArray[np.float64]
    orientation: NDArray[np.float64]
    length: NDArray[np.float64]
    width: NDArray[np.float64]
    existence: NDArray[np.float64]
    position_reference: NDArray[np.int64]
    model: SensorModel
    frame_id: str
    timestamp_ns: int

    def __post_init__(self) -> None:
        n = len(self.object_ids)
        for name in (
            "object_ids",
            "position",
            "velocity",
            "orientation",
            "length",
            "width",
            "existence",
            "position_reference",
        ):
            a = np.array(getattr(self, name))
            if len(a) != n:
                raise ValueError(f"{name} has {len(a)} rows for {n} objects")
            a.setflags(write=False)
            object.__setattr__(self, name, a)

    def __len__(self) -> int:
        return len(self.object_ids)


def _vec(path: Path, i: int, d: Mapping[str, Any], key: str) -> list[float]:
    v = d.get(key)
    if not isinstance(v, Mapping):
        raise CorruptFileError(path, f"object {i}: missing '{key}' {{x, y, z}}")
    return [_num(path, f"object {i} {key}", i, v, k, required=(k != "z")) for k in ("x", "y", "z")]


def read_continental_objects(path: str | Path) -> ContinentalObjects:
    """Read a Continental ARS548/SRR520 object-list dump (see :class:`ContinentalObjects`).

    Raises
    ------
    UnsupportedFormatError : the YAML is not an object dump
    CorruptFileError : a malformed header or object (names the object index)
    """
    path = Path(path)
    doc, model = _parse(path, "objects")
    t = _stamp_ns(doc, path)
    rows = doc["objects"]
    n = len(rows)
    ids = np.empty(n, np.int64)
    pos = np.zeros((n, 3))
    vel = np.zeros((n, 3))
    ori = np.empty(n)
    length = np.full(n, np.nan)
    width = np.full(n, np.nan)
    ex = np.empty(n)
    ref = np.full(n, -1, np.int64)
    for i, d in enumerate(rows):
        if not isinstance(d, Mapping):
            raise CorruptFileError(path, f"object {i}: expected a mapping, got {type(d).__name__}")
        ids[i] = int(_num(path, "object", i, d, "object_id"))
        ori[i] = _num(path, "object", i, d, "orientation")
        if model == "ARS548":
            pos[i] = np.nan_to_num(_vec(path, i, d, "position"))
            vel[i] = np.nan_to_num(_vec(path, i, d, "absolute_velocity"))
            ex[i] = _num(path, "object", i, d, "raw_existence_probability") / 100.0
            ref[i] = int(_num(path, "object", i, d, "position_reference"))
            lv, wv = (
                _num(path, "object", i, d, "shape_length_edge_mean", False),
                _num(path, "object", i, d, "shape_width_edge_mean", False),
            )
            valid = True
        else:
            pos[i, :2] = [_num(path, "object", i, d, "dist_x"), _num(path, "object", i, d, "dist_y")]
            vel[i, :2] = [_num(path, "object", i, d, "v_abs_x"), _num(path, "object", i, d, "v_abs_y")]
            ex[i] = _num(path, "object", i, d, "score") / 100.0
            lv, wv = _num(path, "object", i, d, "box_length", False), _num(path, "object", i, d, "box_width", False)
            valid = bool(d.get("box_valid", 0))
        if valid and lv > 0 and wv > 0:
            length[i], width[i] = lv, wv
    frame_id = str(doc["header"].get("frame_id", "base_link"))
    return ContinentalObjects(ids, pos, vel, ori, length, width, ex, ref, model, frame_id, t)


def mounting_transform(doc: Mapping[str, Any], path: Path) -> Transform | None:
    """``T_ego_radar`` from an ARS548 dump's ``origin_pos`` / ``origin_yaw`` / ``origin_pitch``; None if absent.

    ``R = R_z(yaw) R_y(pitch)`` (right-handed about +z, then +y), ``t = origin_pos``.
    """
    if "origin_pos" not in doc:
        return None
    o = doc["origin_pos"]
    if not isinstance(o, Mapping):
        raise CalibrationError(path, "origin_pos must be a mapping {x, y, z}")
    t = [_num(path, "origin_pos", 0, o, k) for k in ("x", "y", "z")]
    yaw = _num(path, "header", 0, doc, "origin_yaw", required=False)
    pitch = _num(path, "header", 0, doc, "origin_pitch", required=False)
    yaw, pitch = (0.0 if math.isnan(yaw) else yaw), (0.0 if math.isnan(pitch) else pitch)
    cy, sy, cp, sp = math.cos(yaw), math.sin(yaw), math.cos(pitch), math.sin(pitch)
    Rz = np.array([[cy, -sy, 0.0], [sy, cy, 0.0], [0.0, 0.0, 1.0]])
    Ry = np.array([[cp, 0.0, sp], [0.0, 1.0, 0.0], [-sp, 0.0, cp]])
    return Transform.from_rt(Rz @ Ry, t)


@dataclass
class ContinentalRecording(Recording):
    """One detection dump as a one-frame recording with one radar stream."""

    detections: RadarDetections | None = field(default=None, repr=False)

    def _load_frame(self, index: int) -> Frame:
        assert self.detections is not None
        t = int(self.timestamps_ns[index])
        return Frame(index, t, radar={self.reference: self.detections}, sensor_timestamps={self.reference: t})


def open_continental(path: str | Path) -> ContinentalRecording:
    """Open a Continental detection dump as a one-frame :class:`Recording` (stream = :func:`sensor_name`).

    The file is small, so it is parsed here once. An object dump is refused with a message
    pointing to :func:`read_continental_objects` (objects are not sensor samples).
    """
    path = Path(path)
    doc, model = _parse(path, "detections")
    name = sensor_name(path, model)
    det = _detections(doc, model, path, name)
    assert det.timestamp_ns is not None
    problems: list[DataError] = []
    T = mounting_transform(doc, path)
    if T is None:
        problems.append(
            CalibrationError(path, f"{model} dump carries no mounting pose: radar {name} placed at the ego origin")
        )
        T = Transform.identity()
    return ContinentalRecording(
        path=path,
        format="continental-radar",
        rig=Rig(radars={name: Radar(name, T)}),
        streams={name: Stream(name, "radar", np.array([det.timestamp_ns], dtype=np.int64))},
        reference=name,
        problems=problems,
        detections=det,
    )
