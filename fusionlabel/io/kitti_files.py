"""KITTI text files: calibration, timestamps, oxts packets and label rows.

The per-file readers and writers behind the KITTI recordings of :mod:`fusionlabel.io.kitti`;
everything here reads or writes one file (or one folder's calibration files) and knows nothing
about recording layouts. One module per kind of file, their public names re-exported here:

* :mod:`fusionlabel.io.kitti_calib`: calibration files and the rig they give (the ego frame is
  the Velodyne frame; the cameras are the rectified ones);
* :mod:`fusionlabel.io.kitti_oxts`: ``timestamps.txt`` (to the nanosecond, as UTC) and oxts
  packets, turned into ego poses as the KITTI devkit does;
* :mod:`fusionlabel.io.kitti_labels`: label rows (tracking: 17 fields, object: 15 fields, each
  with an optional score), boxes in the rectified camera-0 frame, to and from ego-frame labels.

Example
-------
>>> from fusionlabel.io.kitti_files import parse_kitti_timestamp
>>> parse_kitti_timestamp("1970-01-01 00:00:01.5")
1500000000
"""

from __future__ import annotations

from fusionlabel.io.kitti_calib import (
    CAMERAS,
    DEFAULT_IMAGE_SIZE,
    KEY_ALIASES,
    LIDAR,
    kitti_camera,
    kitti_T_rect_velo,
    kitti_T_velo_imu,
    read_kitti_calib,
    read_kitti_raw_calib,
    rig_from_kitti_calib,
)
from fusionlabel.io.kitti_labels import (
    OBJECT_FIELDS,
    TRACKING_FIELDS,
    KittiLabels,
    format_kitti_tracking_labels,
    frame_labels_from_kitti,
    kitti_labels_to_labelset,
    labelset_to_kitti_labels,
    read_kitti_labels,
    write_kitti_tracking_labels,
)
from fusionlabel.io.kitti_oxts import (
    EARTH_RADIUS_M,
    oxts_pose_track,
    oxts_to_poses,
    parse_kitti_timestamp,
    parse_oxts_packet,
    read_kitti_timestamps,
)

__all__ = [
    "CAMERAS",
    "DEFAULT_IMAGE_SIZE",
    "EARTH_RADIUS_M",
    "KEY_ALIASES",
    "LIDAR",
    "OBJECT_FIELDS",
    "TRACKING_FIELDS",
    "KittiLabels",
    "format_kitti_tracking_labels",
    "frame_labels_from_kitti",
    "kitti_T_rect_velo",
    "kitti_T_velo_imu",
    "kitti_camera",
    "kitti_labels_to_labelset",
    "labelset_to_kitti_labels",
    "oxts_pose_track",
    "oxts_to_poses",
    "parse_kitti_timestamp",
    "parse_oxts_packet",
    "read_kitti_calib",
    "read_kitti_labels",
    "read_kitti_raw_calib",
    "read_kitti_timestamps",
    "rig_from_kitti_calib",
    "write_kitti_tracking_labels",
]
