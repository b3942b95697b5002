"""The recording of a nuScenes-schema scene or an mmdetection3d info file: frames from the sensor blobs.

:func:`fusionlabel.io.nuscenes.open_nuscenes` (tables) and
:func:`fusionlabel.io.nuscenes_mmdet3d.open_mmdet3d_info` (info files) both return a
:class:`NuScenesRecording`: streams, rig and ego poses come from the opener, and each frame's
LiDAR (``.pcd.bin`` / Lyft ``.bin``, else any point-cloud file), radar (``.pcd``) and camera files
are read when the frame is loaded. A blob the tables name but the disk lacks raises
:class:`~fusionlabel.core.errors.DataError` naming the file.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from fusionlabel.core.errors import DataError
from fusionlabel.core.frames import Frame, ImageRef, PointCloud, RadarDetections
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.core.transforms import Transform


@dataclass
class NuScenesRecording(Recording):
    """A nuScenes-schema scene (or an mmdet3d info file). See :mod:`fusionlabel.io.nuscenes`.

    Extra attributes
    ----------------
    dataroot : folder the blob paths are relative to
    scene_name : the scene's name (``""`` for info files)
    files : stream -> (K,) blob paths, index-aligned with the stream's timestamps
    keyframe_assoc : reference frame index -> {stream: sample index} from the tables
    """

    dataroot: Path = field(default_factory=Path)
    scene_name: str = ""
    files: dict[str, list[Path]] = field(default_factory=dict, repr=False)
    keyframe_assoc: dict[int, dict[str, int]] = field(default_factory=dict, repr=False)
    frame_poses: dict[int, Transform] = field(default_factory=dict, repr=False)
    _labels_fn: Any = field(default=None, repr=False)
    _labels_cache: LabelSet | None = field(default=None, init=False, repr=False)

    def _load_frame(self, index: int) -> Frame:
        from fusionlabel.io.pointcloud import NUSCENES_BIN_COLUMNS, read_bin, read_point_cloud, read_radar_pcd

        t_ref = int(self.timestamps_ns[index])
        assoc = self.keyframe_assoc.get(index, {})
        lidar: dict[str, PointCloud] = {}
        radar: dict[str, RadarDetections] = {}
        images: dict[str, ImageRef] = {}
        stamps: dict[str, int] = {}
        names = [self.reference, *(n for n in self.streams if n != self.reference)]
        for name in names:
            s = self.streams[name]
            if name == self.reference:
                i = index
            elif name in assoc:
                i = assoc[name]
            else:
                i = int(self.sync[name].index[index])
            if i < 0:
                continue
            t = int(s.timestamps_ns[i])
            p = self.files[name][i]
            if not p.is_file():
                raise DataError(
                    p,
                    f"sensor file of {name} (frame {index}) is missing: the tables reference it but it is not on disk",
                )
            stamps[name] = t
            if s.kind == "lidar" and p.name.lower().endswith(".bin"):
                # nuScenes .pcd.bin and Lyft .bin: float32 (x, y, z, intensity, ring) records
                lidar[name] = read_bin(p, NUSCENES_BIN_COLUMNS, frame_id=name, timestamp_ns=t)
            elif s.kind == "lidar":
                lidar[name] = read_point_cloud(p, frame_id=name, timestamp_ns=t)
            elif s.kind == "radar":
                radar[name] = read_radar_pcd(p, frame_id=name, timestamp_ns=t)
            else:
                images[name] = ImageRef.from_file(p, t)
        pose = self.frame_poses[index] if index in self.frame_poses else self.ego_pose_at(t_ref)
        return Frame(index, t_ref, dict(sorted(lidar.items())), radar, images, pose, stamps)

    @property
    def labels(self) -> LabelSet | None:
        if self._labels_fn is None:
            return None
        if self._labels_cache is None:
            self._labels_cache = self._labels_fn()
        return self._labels_cache
