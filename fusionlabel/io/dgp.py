"""TRI's DGP format (Dataset Governance Policy, TRI-ML/dgp): one scene as a recording.

A scene folder holds ``scene_<sha1>.json`` (the Scene message: samples + data), ``calibration/``,
``ontology/``, ``point_cloud/<SENSOR>/*.npz``, ``rgb/<CAMERA>/*.jpg`` and ``bounding_box_3d/<SENSOR>/*.json``;
a dataset folder holds ``scene_dataset*.json`` (``scene_splits``: split -> scene JSONs) beside them.
A scene folder or scene JSON opens as one recording; a dataset opens its only scene, and with
several a :class:`DataError` lists them (no silent "first scene": pass ``scene=`` to
:func:`open_dgp`); :func:`scene_files` lists a dataset's scenes.

Conventions (``docs/conventions.md``; sources: ``dgp/proto/*.proto`` and
``dgp/datasets/base_dataset.py`` of TRI-ML/dgp)
---------------------------------------------------------------------------
* ``Pose`` (geometry.proto): ``translation {x, y, z}`` + ``rotation {qw, qx, qy, qz}``, the
  transform from a frame into its parent. A datum's ``pose`` is the **sensor's** world pose
  ``T_world_sensor`` (``pose_WS`` in base_dataset.py); calibration ``extrinsics[i]`` is sensor
  ``names[i]`` in the **vehicle** frame (``pose_VS``), our ego frame: ``T_ego_sensor``. Ego pose:
  ``T_world_ego = T_world_lidar @ inv(T_ego_lidar)``.
* Cameras: ``K = [[fx, skew, cx], [0, fy, cy], [0, 0, 1]]``, OpenCV optical frame; Brown-Conrady
  ``k1 k2 p1 p2 k3 [k4 k5 k6]`` become ``D``. Other lens models are not read: such a camera is
  left out and reported in ``problems``. Image sizes: the image datum's ``width``/``height``.
* LiDAR ``.npz``: key ``data``, (N, C) columns named by ``point_format`` (X, Y, Z, INTENSITY ...)
  or a structured array; an empty format is ``X Y Z [INTENSITY]`` (``BaseDataset.load_datum``).
  Points stay in the LiDAR's frame; ``INTENSITY`` -> ``intensity`` (float32, 0..1 on the real
  scenes), ``RING`` -> ``ring``, ``TIMESTAMP`` (UTC us) -> ``time`` (s after the sweep).
* 3D boxes (``BoundingBox3D``, annotation type 1): ``pose`` in the annotated datum's (LiDAR)
  frame, translation = box **centre**, full quaternion (roll/pitch up to 5 degrees on the real
  scenes), ``width`` x ``length`` x ``height`` with **length along the box's +x**
  (``BoundingBox3D.corners``). :func:`dgp_boxes_to_ego` keeps the heading of the box +x axis in
  the ego frame and drops roll and pitch.
* ``class_id`` is the ontology's item ``id`` (``ontology/<scene.ontologies["1"]>.json``), mapped
  by :data:`CATEGORY_MAP`. Track ids are ``1, 2, ...`` by first appearance (frame, then
  ``instance_id``); attributes keep ``instance_id``, ``source_category``, ``class_id``,
  ``num_points``, ``occlusion`` (0..3), ``truncation`` (0..1) and DGP's string ``attributes``.
* protobuf's JSON mapping: scalars equal to their default (0) may be absent (a box turned by
  180 degrees may read ``{"qz": 1.0}``), numbers may be strings; ``NaN`` in any form is refused.
  ``samples``, ``data``, a datum's ``filename`` and ``id.timestamp`` and a box's ``box`` are required.

Time: ``id.timestamp`` (RFC 3339, read to the ns). The public scenes' times are obfuscated into
the 25th century, beyond int64 ns since the Unix epoch, so times here are **ns since the scene's
earliest datum**, :attr:`DGPRecording.time_origin_utc`.

Frames: every sample with a reference datum (``LIDAR``, else the first point-cloud datum by name);
the other streams come from the **same sample** (the real cameras are 90-210 ms off the LiDAR);
the sync tolerance is half the reference period so :attr:`Recording.sync` agrees. Labels: the
reference datums' ``bounding_box_3d``; per-camera copies, 2D boxes and agent files are not read.

The parts, one module each, their public names re-exported here: :mod:`fusionlabel.io.dgp_json`
(protobuf JSON fields, poses, timestamps), :mod:`fusionlabel.io.dgp_files` (calibration,
ontology, point clouds, boxes), :mod:`fusionlabel.io.dgp_scene` (scene and dataset JSONs, the
samples' datums); the recording is defined here.

Example
-------
>>> rec = open_dgp("real_data/tri_dgp/test_scene/scene_01")                 # doctest: +SKIP
>>> len(rec), rec.reference, sorted(rec.rig.cameras)                          # doctest: +SKIP
(3, 'LIDAR', ['CAMERA_01', 'CAMERA_05', 'CAMERA_06'])
>>> rec.labels.num_boxes                                                  # doctest: +SKIP
286
"""

from __future__ import annotations

import datetime as _dt
import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from fusionlabel.core.calibration import Camera, Lidar, Rig
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError
from fusionlabel.core.frames import Frame, ImageRef, PointCloud
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import DEFAULT_TOLERANCE_NS, Recording, Stream
from fusionlabel.core.sync import PoseTrack
from fusionlabel.core.transforms import Transform
from fusionlabel.io.dgp_files import (
    CATEGORY_MAP,
    CHANNEL_TYPES,
    Calibration,
    DGPBoxes,
    _camera,
    canonical_category,
    dgp_boxes_to_ego,
    read_boxes,
    read_calibration,
    read_ontology,
    read_point_cloud_npz,
)
from fusionlabel.io.dgp_json import BOUNDING_BOX_2D, BOUNDING_BOX_3D, _mapping, _read_json, parse_timestamp_ns
from fusionlabel.io.dgp_scene import _Datum, _read_scene_index, _resolve, scene_files, sniff, sniff_dgp

__all__ = [
    "BOUNDING_BOX_2D",
    "BOUNDING_BOX_3D",
    "CATEGORY_MAP",
    "CHANNEL_TYPES",
    "Calibration",
    "DGPBoxes",
    "DGPRecording",
    "canonical_category",
    "dgp_boxes_to_ego",
    "open_dgp",
    "parse_timestamp_ns",
    "read_boxes",
    "read_calibration",
    "read_ontology",
    "read_point_cloud_npz",
    "scene_files",
    "sniff",
    "sniff_dgp",
]

# -- the recording --------------------------------------------------------------------------


@dataclass
class DGPRecording(Recording):
    """One DGP scene (see the module docstring).

    Extra attributes
    ----------------
    scene_json : the scene file
    scene_name : the scene's ``name`` (the folder name where that is empty)
    time_origin_utc : the absolute time (RFC 3339) that timestamp 0 stands for
    files : stream -> (K,) datum files, index-aligned with the stream's timestamps
    keyframe_assoc : frame index -> {stream: sample index} from the scene's samples
    frame_poses : frame index -> ``T_world_ego`` of the frame's reference datum
    """

    scene_json: Path = field(default_factory=Path)
    scene_name: str = ""
    time_origin_utc: str = ""
    files: dict[str, list[Path]] = field(default_factory=dict, repr=False)
    point_formats: dict[str, tuple[list[Any], list[Any]]] = field(default_factory=dict, repr=False)
    keyframe_assoc: dict[int, dict[str, int]] = field(default_factory=dict, repr=False)
    frame_poses: dict[int, Transform] = field(default_factory=dict, repr=False)
    box_files: dict[int, Path] = field(default_factory=dict, repr=False)
    ontology_path: Path | None = field(default=None, repr=False)
    _origin_ns: int = field(default=0, repr=False)
    _labels_cache: LabelSet | None = field(default=None, init=False, repr=False)

    def _load_frame(self, index: int) -> Frame:
        t_ref = int(self.timestamps_ns[index])
        lidar: dict[str, PointCloud] = {}
        images: dict[str, ImageRef] = {}
        stamps: dict[str, int] = {}
        for name, i in self.keyframe_assoc.get(index, {}).items():
            s = self.streams[name]
            t = int(s.timestamps_ns[i])
            p = self.files[name][i]
            if not p.is_file():
                raise DataError(p, f"{name} file of frame {index} is missing: {self.scene_json.name} references it")
            stamps[name] = t
            if s.kind == "lidar":
                fmt, fields = self.point_formats.get(name, ([], []))
                lidar[name] = read_point_cloud_npz(p, fmt, fields, name, t, self._origin_ns + t)
            else:
                images[name] = ImageRef.from_file(p, t)
        return Frame(index, t_ref, dict(sorted(lidar.items())), {}, images, self.frame_poses.get(index), stamps)

    @property
    def labels(self) -> LabelSet | None:
        """The reference datums' ``bounding_box_3d`` boxes as tracks (ego frame), or None without any."""
        if not self.box_files:
            return None
        if self._labels_cache is None:
            self._labels_cache = self._read_labels()
        return self._labels_cache

    def _read_labels(self) -> LabelSet:
        if self.ontology_path is None:
            raise CorruptFileError(self.scene_json, "3D boxes but no bounding_box_3d ontology in 'ontologies'")
        ontology = read_ontology(self.ontology_path)
        T = self.rig.T_ego_sensor(self.reference)
        per_frame = {f: read_boxes(p, ontology, T) for f, p in sorted(self.box_files.items())}
        first: dict[int, tuple[int, int]] = {}
        for f, b in per_frame.items():
            for iid in b.instance_ids.tolist():
                first.setdefault(iid, (f, iid))
        track_of = {iid: k + 1 for k, iid in enumerate(sorted(first, key=lambda i: first[i]))}
        frames: dict[int, FrameLabels] = {}
        for f, b in per_frame.items():
            if not len(b.instance_ids):
                continue
            order = np.argsort([track_of[i] for i in b.instance_ids.tolist()], kind="stable")
            frames[f] = FrameLabels(
                np.array([track_of[int(b.instance_ids[k])] for k in order], dtype=np.int64),
                tuple(canonical_category(b.class_names[k]) for k in order),
                b.boxes[order],
                None,
                tuple(
                    {"source_category": b.class_names[k], "instance_id": int(b.instance_ids[k]), **b.attributes[k]}
                    for k in order
                ),
            )
        return LabelSet(frames)


def open_dgp(path: str | Path, scene: str | None = None) -> DGPRecording:
    """Open one DGP scene as a recording. Reads the scene and calibration JSONs; data load per frame.

    Parameters
    ----------
    path : a scene folder, a scene JSON, or a dataset folder / ``scene_dataset*.json``
    scene : with a dataset, the scene to open (its folder name or JSON name); a dataset of
        several scenes without it raises a DataError listing them

    Raises
    ------
    UnsupportedFormatError : not DGP
    DataError : naming the file: a malformed scene JSON (missing ``samples``/``data``, a sample
        naming a datum that is not there, a datum without timestamp or file, reference times
        that do not increase), a missing or malformed calibration, several scenes
    """
    sj = _resolve(Path(path), scene)
    root = sj.parent
    doc = _mapping(_read_json(sj, "DGP scene"), "scene", sj)
    problems: list[DataError] = []
    sample_datums, calib_keys = _read_scene_index(doc, sj, problems)

    # calibration: the first sample's; others must agree
    calib = read_calibration(root / "calibration" / f"{calib_keys[0]}.json")
    for ck in sorted(set(calib_keys) - {calib_keys[0]}):
        try:
            other = read_calibration(root / "calibration" / f"{ck}.json")
        except DataError as exc:
            problems.append(exc)
            continue
        same = set(other.extrinsics) == set(calib.extrinsics) and all(
            other.extrinsics[n].allclose(calib.extrinsics[n], atol=1e-6) and other.intrinsics[n] == calib.intrinsics[n]
            for n in calib.extrinsics
        )
        if not same:
            problems.append(CalibrationError(other.path, f"differs from {calib.path.name}, used for the whole scene"))

    kind_of = {d.name: d.kind for sd in sample_datums for d in sd.values()}
    lidar_names = sorted(n for n, k in kind_of.items() if k == "lidar")
    if not lidar_names:
        raise CorruptFileError(sj, "the samples hold no point_cloud datum to use as the reference")
    reference = "LIDAR" if "LIDAR" in lidar_names else lidar_names[0]
    rig = _rig(calib, reference, sample_datums, problems)
    # the reference first, then the other sensors by name
    used = [reference, *sorted(n for n in kind_of if n != reference and n in rig.sensor_names)]

    # frames: the samples with a reference datum; the other streams come from the same sample
    frame_samples = [i for i, sd in enumerate(sample_datums) if reference in sd]
    if len(frame_samples) < len(sample_datums):
        missing = len(sample_datums) - len(frame_samples)
        problems.append(CorruptFileError(sj, f"{missing} sample(s) have no {reference} datum; not shown"))
    ref = [sample_datums[i][reference] for i in frame_samples]
    if any(b.t_abs <= a.t_abs for a, b in itertools.pairwise(ref)):
        raise CorruptFileError(sj, f"{reference} timestamps do not increase from sample to sample")
    origin = min(sample_datums[i][n].t_abs for i in frame_samples for n in sample_datums[i] if n in used)

    streams: dict[str, Stream] = {}
    files: dict[str, list[Path]] = {}
    formats: dict[str, tuple[list[Any], list[Any]]] = {}
    assoc: dict[int, dict[str, int]] = {f: {} for f in range(len(frame_samples))}
    for n in used:
        ts: list[int] = []
        for f, i in enumerate(frame_samples):
            d = sample_datums[i].get(n)
            if d is not None:
                assoc[f][n] = len(ts)
                ts.append(d.t_abs - origin)
                files.setdefault(n, []).append(root / d.filename)
                formats.setdefault(n, d.point_format)
        streams[n] = Stream(n, kind_of[n], np.array(ts, dtype=np.int64))

    # ego poses: T_world_ego = T_world_sensor @ inv(T_ego_sensor) of the reference datums
    T_sensor_ego = rig.T_ego_sensor(reference).inverse()
    frame_poses = {f: d.pose @ T_sensor_ego for f, d in enumerate(ref) if d.pose is not None}
    ego_poses: PoseTrack | None = None
    if len(frame_poses) == len(ref):
        ego_poses = PoseTrack(streams[reference].timestamps_ns, tuple(frame_poses[f] for f in range(len(ref))))
    elif frame_poses:
        problems.append(CorruptFileError(sj, f"only some {reference} datums have a pose; ego poses not used"))
        frame_poses = {}

    # labels: the reference datums' bounding_box_3d files
    box_files = {f: root / d.box3d for f, d in enumerate(ref) if d.box3d}
    onto = _mapping(doc.get("ontologies"), "ontologies", sj, required=False).get(str(BOUNDING_BOX_3D))
    ontology_path = root / "ontology" / f"{onto}.json" if isinstance(onto, str) and onto else None
    if box_files and ontology_path is not None and not ontology_path.is_file():
        problems.append(DataError(ontology_path, "bounding_box_3d ontology is missing; labels cannot be read"))

    rate = streams[reference].rate_hz
    origin_s, origin_frac = divmod(origin, 1_000_000_000)
    origin_day = _dt.datetime(1970, 1, 1) + _dt.timedelta(seconds=origin_s)
    scene_name = doc.get("name")
    return DGPRecording(
        path=root,
        format="dgp",
        rig=rig,
        streams=streams,
        reference=reference,
        tolerance_ns=max(DEFAULT_TOLERANCE_NS, int(0.5e9 / rate) if rate > 0 else 0),
        ego_poses=ego_poses,
        problems=problems,
        scene_json=sj,
        scene_name=scene_name if isinstance(scene_name, str) and scene_name else root.name,
        time_origin_utc=f"{origin_day:%Y-%m-%dT%H:%M:%S}.{origin_frac:09d}Z",
        files=files,
        point_formats=formats,
        keyframe_assoc=assoc,
        frame_poses=frame_poses,
        box_files=box_files,
        ontology_path=ontology_path,
        _origin_ns=origin,
    )


def _rig(calib: Calibration, reference: str, sample_datums: list[dict[str, _Datum]], problems: list[DataError]) -> Rig:
    """Cameras and LiDARs of the sensors the samples use; an uncalibrated sensor is reported, not shown."""
    cameras: dict[str, Camera] = {}
    lidars: dict[str, Lidar] = {}
    first: dict[str, _Datum] = {}
    for sd in sample_datums:
        for n, d in sd.items():
            first.setdefault(n, d)
    for n, d in sorted(first.items()):
        hit = [c for c in calib.extrinsics if c == n] or [c for c in calib.extrinsics if c.lower() == n.lower()]
        if len(hit) != 1:
            err = CalibrationError(calib.path, f"sensor {n} has no calibration entry; its datums are not shown")
            if n == reference:
                raise err
            problems.append(err)
        elif d.kind == "lidar":
            lidars[n] = Lidar(n, calib.extrinsics[hit[0]])
        else:
            try:
                cameras[n] = _camera(
                    n, calib.intrinsics[hit[0]], calib.extrinsics[hit[0]], d.size, f"intrinsics of {hit[0]}", calib.path
                )
            except CalibrationError as exc:
                problems.append(CalibrationError(exc.path, f"{exc.reason}; camera {n} not shown"))
    return Rig(cameras, lidars, {})
