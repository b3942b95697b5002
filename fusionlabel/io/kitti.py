"""KITTI readers: raw drives, tracking sequences and object frames.

In every KITTI recording the **ego frame is the Velodyne frame** (x forward, y left, z up): the
LiDAR is the sensor ``"velodyne"`` with ``T_ego_lidar = I``, and the cameras ``image_00`` ..
``image_03`` are the *rectified* cameras placed by the calibration chain documented in
:mod:`fusionlabel.io.kitti_calib`. :mod:`fusionlabel.io.kitti_files` reads and writes the single
files (calibration, timestamps, oxts packets, label rows and the tracking label writer); its public
names are re-exported here. Labels (tracking, object) are boxes in the rectified camera-0 frame,
converted to ego-frame :class:`~fusionlabel.core.boxes.Boxes` (see ``docs/conventions.md``).

Layouts, one module each (their recordings and openers re-exported here):

* raw drives (:func:`open_kitti_raw`, :mod:`fusionlabel.io.kitti_raw`):
  ``<date>/<date>_drive_XXXX_sync`` with ``timestamps.txt`` per sensor and oxts ego poses;
* tracking sequences (:func:`open_kitti_tracking`, :mod:`fusionlabel.io.kitti_tracking`):
  ``training/{calib,label_02,image_02,velodyne,oxts}/<seq>``, nominal 10 Hz times;
* object frames (:func:`open_kitti_object`, :mod:`fusionlabel.io.kitti_object`):
  ``training/{calib,velodyne,image_2,label_2}/<index>``, each file index one frame with its own
  calibration.

What they share (frames by file index, nominal times, image sizes) is
:mod:`fusionlabel.io.kitti_recording`.
"""

from __future__ import annotations

from fusionlabel.io.kitti_files import (
    CAMERAS,
    DEFAULT_IMAGE_SIZE,
    EARTH_RADIUS_M,
    KEY_ALIASES,
    LIDAR,
    OBJECT_FIELDS,
    TRACKING_FIELDS,
    KittiLabels,
    format_kitti_tracking_labels,
    frame_labels_from_kitti,
    kitti_camera,
    kitti_labels_to_labelset,
    kitti_T_rect_velo,
    kitti_T_velo_imu,
    labelset_to_kitti_labels,
    oxts_pose_track,
    oxts_to_poses,
    parse_kitti_timestamp,
    parse_oxts_packet,
    read_kitti_calib,
    read_kitti_labels,
    read_kitti_raw_calib,
    read_kitti_timestamps,
    rig_from_kitti_calib,
    write_kitti_tracking_labels,
)
from fusionlabel.io.kitti_object import KittiObjectRecording, open_kitti_object, sniff_kitti_object
from fusionlabel.io.kitti_raw import KittiRawRecording, open_kitti_raw, sniff_kitti_raw
from fusionlabel.io.kitti_recording import NOMINAL_PERIOD_NS
from fusionlabel.io.kitti_tracking import KittiTrackingRecording, open_kitti_tracking, sniff_kitti_tracking

# the recordings come from one module per layout; the single-file readers and writers from kitti_files
__all__ = [
    "CAMERAS",
    "DEFAULT_IMAGE_SIZE",
    "EARTH_RADIUS_M",
    "KEY_ALIASES",
    "LIDAR",
    "NOMINAL_PERIOD_NS",
    "OBJECT_FIELDS",
    "TRACKING_FIELDS",
    "KittiLabels",
    "KittiObjectRecording",
    "KittiRawRecording",
    "KittiTrackingRecording",
    "format_kitti_tracking_labels",
    "frame_labels_from_kitti",
    "kitti_T_rect_velo",
    "kitti_T_velo_imu",
    "kitti_camera",
    "kitti_labels_to_labelset",
    "labelset_to_kitti_labels",
    "open_kitti_object",
    "open_kitti_raw",
    "open_kitti_tracking",
    "oxts_pose_track",
    "oxts_to_poses",
    "parse_kitti_timestamp",
    "parse_oxts_packet",
    "read_kitti_calib",
    "read_kitti_labels",
    "read_kitti_raw_calib",
    "read_kitti_timestamps",
    "rig_from_kitti_calib",
    "sniff_kitti_object",
    "sniff_kitti_raw",
    "sniff_kitti_tracking",
    "write_kitti_tracking_labels",
]
