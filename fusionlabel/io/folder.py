"""A folder of point clouds (PCD, PLY, KITTI ``.bin``) as a recording, and SUSTechPOINTS scenes.

Two layouts open (:func:`open_folder`), both read lazily (only names and headers at open)::

    plain folder                          SUSTechPOINTS scene (its doc/install_from_source.md)
    DIR/000000.pcd, 000001.pcd, ...       DIR/lidar/000000.pcd, ...
    DIR/<camera>/000000.jpg  (optional)   DIR/camera/<camera>/000000.jpg
    DIR/calib.yaml           (optional)   DIR/calib/camera/<camera>.json
    DIR/timestamps.csv       (optional)   DIR/label/000000.json   (labels: ``rec.labels``)

Rules
-----
* **Clouds**: files ending ``.pcd``, ``.ply``, ``.bin`` (KITTI ``x y z reflectance`` float32),
  ``.pcd.bin`` (nuScenes) or ``.npy`` directly in ``DIR`` or, for a scene, in ``DIR/lidar``.
  Files named ``<sensor>_<stamp>`` (nebula: ``velodyne_vlp16_1673400472138016708.pcd``) form one
  LiDAR stream per sensor; others form the stream ``lidar``. The stream with the most files is the
  reference (its files are the frames); the **ego frame is the reference LiDAR's frame** unless
  ``calib.yaml`` places the LiDARs.
* **Times**, per stream, in this order: a ``timestamps.csv`` beside the clouds (header
  ``name,timestamp_ns``; ``name`` a file name or stem), else the number a file name ends with when
  every file of the stream has one of at least 9 digits, read by magnitude: ``>= 1e17``
  nanoseconds, ``>= 1e14`` microseconds, ``>= 1e11`` milliseconds, else seconds (a decimal
  ``1673400472.138016`` too), else a fixed **10 Hz** (:data:`DEFAULT_RATE_HZ`): frame ``k`` of the
  natural name order at ``k * 100 ms``. ``open_recording(path)`` takes no options: write a
  ``timestamps.csv`` to give other times.
* **Images**: ``*.jpg``, ``*.jpeg``, ``*.png`` in a sub-folder (``DIR/<camera>/`` or
  ``DIR/camera/<camera>/``); an image named like a reference cloud belongs to that frame, any other
  takes the time in its name; images without either are reported in ``problems``. A camera shows
  only with a calibration: ``calib.yaml`` (``calib/README.md``), or SUSTechPOINTS'
  ``calib/camera/<camera>.json`` (also ``calib/<camera>.json``): ``extrinsic`` the 4x4 row-major
  LiDAR -> camera transform (``T_cam_lidar``, OpenCV optical frame), ``intrinsic`` the 3x3 row-major
  ``K``; the image size comes from the first image's header. An uncalibrated camera is reported.
* **Labels**: a scene's ``label/*.json`` (SUSTechPOINTS, :mod:`fusionlabel.io.tools.sustechpoints`),
  read when ``rec.labels`` is first used, frames matched by name.

Example
-------
>>> from fusionlabel.io.open import open_recording
>>> rec = open_recording("/work/shared/real_data/pcd/pcl")          # doctest: +SKIP
>>> rec.format, rec.reference, len(rec)                              # doctest: +SKIP
('folder', 'lidar', 5)
"""

from __future__ import annotations

import csv
import re
import struct
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Camera, Lidar, Rig, load_rig
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.frames import Frame, ImageRef, PointCloud
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Recording, Stream
from fusionlabel.core.textfile import read_json, read_text
from fusionlabel.core.transforms import Transform
from fusionlabel.io.pointcloud import SUFFIXES, read_point_cloud, sensor_and_timestamp_from_name
from fusionlabel.io.tools.common import ToolContext, natural_key

DEFAULT_RATE_HZ = 10.0
IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png")
TIMESTAMPS_CSV = "timestamps.csv"
#: sub-folders of a scene that hold no camera images
NOT_CAMERAS = {"lidar", "label", "calib", "camera", "aux_lidar", "radar", "result", "annotations"}


def _stem(p: Path) -> str:
    name = p.name
    low = name.lower()
    s = next((s for s in (*SUFFIXES, *IMAGE_SUFFIXES) if low.endswith(s)), p.suffix)
    return name[: len(name) - len(s)] if s else name


def _clouds_in(folder: Path) -> list[Path]:
    if not folder.is_dir():
        return []
    return [p for p in folder.iterdir() if p.is_file() and any(p.name.lower().endswith(s) for s in SUFFIXES)]


def cloud_folder(path: Path) -> Path | None:
    """Where the clouds are: ``path/lidar`` (a scene) or ``path``; None when neither has any."""
    for folder in (path / "lidar", path):
        if _clouds_in(folder):
            return folder
    return None


def sniff_folder(path: Path) -> bool:
    """A folder with point-cloud files in it or in its ``lidar/`` (tried after every dataset reader)."""
    return path.is_dir() and cloud_folder(path) is not None


sniff = sniff_folder


def time_from_name(stem: str) -> int | None:
    """Nanoseconds from the number a name ends with, by magnitude (module docstring); None for a
    frame number (fewer than 9 digits) or no number.

    >>> time_from_name("1673400472138016708"), time_from_name("lidar_1673400472138016"), time_from_name("1673400472.5")
    (1673400472138016708, 1673400472138016000, 1673400472500000000)
    >>> time_from_name("000965") is None
    True
    """
    m = re.search(r"(\d+)(?:\.(\d+))?$", stem)
    if m is None or len(m.group(1)) < 9:
        return None
    if m.group(2):
        return int(m.group(1)) * 1_000_000_000 + int((m.group(2) + "0" * 9)[:9])
    v = int(m.group(1))
    if v >= 10**17:
        return v
    if v >= 10**14:
        return v * 1_000
    if v >= 10**11:
        return v * 1_000_000
    return v * 1_000_000_000


def _read_timestamps_csv(path: Path) -> dict[str, int]:
    text = read_text(path, "timestamps file")
    rows = list(csv.reader(text.splitlines()))
    if not rows or [c.strip() for c in rows[0][:2]] != ["name", "timestamp_ns"]:
        raise CorruptFileError(path, "expected the header 'name,timestamp_ns'")
    out = {}
    for n, row in enumerate(rows[1:], 2):
        if not row or not "".join(row).strip():
            continue
        if len(row) < 2 or not row[1].strip().lstrip("-").isdigit():
            raise CorruptFileError(
                path, f"line {n}: expected '<file name>,<integer nanoseconds>', got {','.join(row)!r}"
            )
        t = int(row[1])
        if not -(2**63) <= t < 2**63:
            raise CorruptFileError(path, f"line {n}: timestamp {t} does not fit 64 bits")
        out[_stem(Path(row[0].strip()))] = t
    return out


def _times(files: list[Path], csv_times: dict[str, int], where: Path) -> tuple[NDArray[np.int64], list[Path]]:
    """Files sorted by time and their times (module docstring's rules)."""
    stems = [_stem(p) for p in files]
    if csv_times:
        missing = [s for s in stems if s not in csv_times]
        if missing:
            raise CorruptFileError(
                where / TIMESTAMPS_CSV, f"no time for {missing[0]!r} ({len(missing)} files lack one)"
            )
        t = [csv_times[s] for s in stems]
    else:
        named = [time_from_name(s) for s in stems]
        if all(v is not None for v in named):
            t = [int(v) for v in named if v is not None]
        else:
            order = sorted(range(len(files)), key=lambda i: natural_key(stems[i]))
            period = round(1e9 / DEFAULT_RATE_HZ)
            t = [0] * len(files)
            for k, i in enumerate(order):
                t[i] = k * period
    bad = [i for i, v in enumerate(t) if not -(2**63) <= v < 2**63]
    if bad:
        raise CorruptFileError(files[bad[0]], f"its time {t[bad[0]]} ns does not fit 64 bits")
    order = sorted(range(len(files)), key=lambda i: (t[i], natural_key(stems[i])))
    return np.array([t[i] for i in order], dtype=np.int64), [files[i] for i in order]


def _image_size(p: Path) -> tuple[int, int] | None:
    """(width, height) from a PNG or JPEG header, None when it cannot be read."""
    try:
        data = p.read_bytes()[:65536]
    except OSError:
        return None
    if data[:8] == b"\x89PNG\r\n\x1a\n" and len(data) >= 24:
        return struct.unpack(">II", data[16:24])
    i = 2
    while data[:2] == b"\xff\xd8" and i + 9 < len(data):
        if data[i] != 0xFF:
            return None
        marker, seg = data[i + 1], struct.unpack(">H", data[i + 2 : i + 4])[0]
        if 0xC0 <= marker <= 0xCF and marker not in (0xC4, 0xC8, 0xCC):
            h, w = struct.unpack(">HH", data[i + 5 : i + 9])
            return int(w), int(h)
        i += 2 + seg
    return None


def _sustech_camera(name: str, calib: Path, first_image: Path) -> Camera:
    d = read_json(calib, "camera calibration", CalibrationError)
    try:
        T_cam_lidar = np.asarray(d["extrinsic"], dtype=np.float64).reshape(4, 4)
        K = np.asarray(d["intrinsic"], dtype=np.float64).reshape(3, 3)
    except (KeyError, TypeError, ValueError):
        raise CalibrationError(
            calib, "expected 'extrinsic' (16 numbers, LiDAR -> camera) and 'intrinsic' (9 numbers)"
        ) from None
    size = _image_size(first_image)
    if size is None:
        raise CalibrationError(first_image, "cannot read the image size (not a PNG or JPEG)")
    try:
        T = Transform(T_cam_lidar).inverse()
        return Camera(name, K, size[0], size[1], T)
    except ValueError as exc:
        raise CalibrationError(calib, str(exc)) from None


@dataclass
class FolderRecording(Recording):
    """A folder of point clouds or a SUSTechPOINTS scene (module docstring).

    files : stream -> files aligned with its timestamps;  frame_names : frame -> reference file stem
    """

    files: dict[str, list[Path]] = field(default_factory=dict, repr=False)
    frame_names: dict[int, str] = field(default_factory=dict, repr=False)
    _label_dir: Path | None = field(default=None, repr=False)
    _labels_cache: LabelSet | None = field(default=None, init=False, repr=False)

    def _load_frame(self, index: int) -> Frame:
        t_ref = int(self.timestamps_ns[index])
        lidar: dict[str, PointCloud] = {}
        images: dict[str, ImageRef] = {}
        stamps: dict[str, int] = {}
        for name, s, i, t in self.matched_samples(index):
            if s.kind == "camera":
                images[name] = ImageRef.from_file(self.files[name][i], t)
            else:
                lidar[name] = read_point_cloud(self.files[name][i], frame_id=name, timestamp_ns=t)
            stamps[name] = t
        return Frame(index, t_ref, lidar, {}, images, None, stamps)

    @property
    def labels(self) -> LabelSet | None:
        """The scene's SUSTechPOINTS labels (``label/``), read on first use; None without them."""
        if self._label_dir is None:
            return None
        if self._labels_cache is None:
            from fusionlabel.io.tools.sustechpoints import read_sustechpoints

            T = self.rig.T_ego_sensor(self.reference) if self.reference in self.rig.lidars else Transform.identity()
            ctx = ToolContext(
                T, self.frame_names, {k: int(t) for k, t in enumerate(self.timestamps_ns)}, self.path.name
            )
            self._labels_cache = read_sustechpoints(self._label_dir, ctx)
        return self._labels_cache


def open_folder(path: str | Path) -> FolderRecording:
    """Open a folder of point clouds or a SUSTechPOINTS scene (module docstring for the rules).

    Raises
    ------
    UnsupportedFormatError : no point-cloud files in the folder or its ``lidar/``
    DataError : a ``timestamps.csv`` or ``calib.yaml`` that cannot be used (naming it)
    """
    root = Path(path)
    clouds_dir = cloud_folder(root) if root.is_dir() else None
    if clouds_dir is None:
        raise UnsupportedFormatError(root, "not a folder of point clouds (.pcd, .ply, .bin) nor a scene with lidar/")
    problems: list[DataError] = []
    csv_path = clouds_dir / TIMESTAMPS_CSV if (clouds_dir / TIMESTAMPS_CSV).is_file() else root / TIMESTAMPS_CSV
    csv_times = _read_timestamps_csv(csv_path) if csv_path.is_file() else {}
    groups: dict[str, list[Path]] = {}
    for p in _clouds_in(clouds_dir):
        sensor, _t = sensor_and_timestamp_from_name(p)
        groups.setdefault(sensor or "lidar", []).append(p)
    streams: dict[str, Stream] = {}
    files: dict[str, list[Path]] = {}
    for name in sorted(groups):
        t, fs = _times(groups[name], csv_times, clouds_dir)
        streams[name] = Stream(name, "lidar", t)
        files[name] = fs
    reference = max(sorted(streams), key=lambda n: len(streams[n]))
    frame_names = {k: _stem(p) for k, p in enumerate(files[reference])}
    time_of = {frame_names[k]: int(t) for k, t in enumerate(streams[reference].timestamps_ns)}
    rig = Rig(lidars={n: Lidar(n) for n in streams})
    if (root / "calib.yaml").is_file():
        try:
            loaded = load_rig(root / "calib.yaml")
            rig = Rig(dict(loaded.cameras), {**rig.lidars, **loaded.lidars}, dict(loaded.radars))
        except CalibrationError as exc:
            problems.append(exc)
    cam_root = root / "camera" if (root / "camera").is_dir() else root
    cam_dirs = [d for d in sorted(cam_root.iterdir()) if d.is_dir() and (cam_root != root or d.name not in NOT_CAMERAS)]
    cameras = dict(rig.cameras)
    for d in cam_dirs:
        imgs = [p for p in d.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES]
        if not imgs:
            continue
        stamped: list[tuple[int, Path]] = []
        for p in imgs:
            t_img = time_of.get(_stem(p))
            if t_img is None:
                t_img = time_from_name(_stem(p))
            if t_img is None:
                problems.append(DataError(p, "image named like no point cloud and without a time in its name; skipped"))
                continue
            stamped.append((t_img, p))
        if not stamped:
            continue
        stamped.sort(key=lambda tp: (tp[0], natural_key(tp[1].name)))
        if d.name not in cameras:
            calib = next(
                (
                    c
                    for c in (root / "calib" / "camera" / f"{d.name}.json", root / "calib" / f"{d.name}.json")
                    if c.is_file()
                ),
                None,
            )
            if calib is None:
                problems.append(
                    CalibrationError(
                        d,
                        f"images of camera {d.name!r} but no calibration (calib.yaml or calib/camera/{d.name}.json); not shown",
                    )
                )
                continue
            try:
                cam = _sustech_camera(d.name, calib, stamped[0][1])
            except CalibrationError as exc:
                problems.append(exc)
                continue
            T_ego_ref = rig.T_ego_sensor(reference)
            cameras[d.name] = Camera(
                cam.name, cam.K, cam.width, cam.height, T_ego_ref @ cam.T_ego_cam, cam.D, cam.model
            )
        streams[d.name] = Stream(d.name, "camera", np.array([t for t, _ in stamped], dtype=np.int64))
        files[d.name] = [p for _, p in stamped]
    rig = Rig(cameras, dict(rig.lidars), dict(rig.radars))
    label_dir = root / "label" if clouds_dir == root / "lidar" and (root / "label").is_dir() else None
    return FolderRecording(
        path=root,
        format="folder",
        rig=rig,
        streams=streams,
        reference=reference,
        problems=problems,
        files=files,
        frame_names=frame_names,
        _label_dir=label_dir,
    )
