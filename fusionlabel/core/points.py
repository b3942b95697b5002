"""A frame's LiDAR points in the ego frame: what detectors, the evaluation and QA read.

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.calibration import Lidar, Rig
>>> from fusionlabel.core.frames import Frame, PointCloud
>>> from fusionlabel.core.transforms import Transform
>>> rig = Rig({}, {"top": Lidar("top", Transform.from_rt(np.eye(3), [0, 0, 1.8]))}, {})
>>> frame = Frame(0, 0, {"top": PointCloud(np.zeros((2, 3), np.float32))})
>>> lidar_points_ego(frame, rig).xyz[:, 2].tolist()
[1.7999999523162842, 1.7999999523162842]
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Rig
from fusionlabel.core.frames import Frame, PointCloud


def lidar_points_ego(frame: Frame, rig: Rig, sensors: Sequence[str] | None = None) -> PointCloud:
    """All LiDAR clouds of ``frame`` merged in the ego frame.

    ``p_ego = T_ego_lidar p_lidar`` per cloud, with ``T_ego_lidar`` from ``rig.lidars``; a cloud
    already in the ego frame (``frame_id == "ego"``) is taken as is.

    Parameters
    ----------
    frame : the frame
    rig : its calibration
    sensors : LiDAR names to merge (default: all of the frame's)

    Returns
    -------
    PointCloud with ``xyz`` (M, 3) float32 metres in the ego frame (``frame_id == "ego"``), NaN
    returns dropped, and ``intensity`` (M,) float32 when every merged cloud has it.

    Raises
    ------
    KeyError
        a cloud's sensor is not in ``rig.lidars``.
    """
    names = list(frame.lidar) if sensors is None else list(sensors)
    xyz: list[NDArray[np.float32]] = []
    inten: list[NDArray[np.float32]] = []
    all_int = True
    for n in names:
        cloud = frame.lidar[n].finite()
        if cloud.frame_id == "ego":
            p = np.asarray(cloud.xyz, dtype=np.float32)
        else:
            if n not in rig.lidars:
                raise KeyError(f"LiDAR {n!r} of frame {frame.index} is not in the rig (have: {list(rig.lidars)})")
            T = rig.lidars[n].T_ego_lidar
            p = cloud.xyz if np.allclose(T.matrix, np.eye(4)) else T.apply(cloud.xyz).astype(np.float32)
        xyz.append(np.asarray(p, dtype=np.float32))
        it = cloud.intensity
        if it is None:
            all_int = False
        else:
            inten.append(it)
    if not xyz:
        return PointCloud(np.zeros((0, 3), np.float32), {}, "ego", frame.timestamp_ns)
    pts = np.concatenate(xyz) if len(xyz) > 1 else xyz[0]
    fields = {"intensity": np.concatenate(inten)} if all_int and inten else {}
    return PointCloud(pts, fields, "ego", frame.timestamp_ns)
