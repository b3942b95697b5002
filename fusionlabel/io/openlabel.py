"""ASAM OpenLABEL 1.0 JSON: export and import of cuboid tracks.

Every file written here validates against the OpenLABEL 1.0.0 JSON schema vendored in
``fusionlabel/io/schemas`` (see its README for source and licence), and every file read is
validated before it is interpreted: a schema-invalid file is refused with the path and the
first error, never half-read. The files are written for the consumer's own tool: ASAM's
reference library ``vcd`` (``vcd.scl.Scene``) builds every camera from them and projects our
cuboids to our pixels (``tests/io/test_openlabel_vcd.py``).

What we write (``docs/label_formats.md`` has a full example)::

    {"openlabel": {
      "metadata": {"schema_version": "1.0.0", "annotator": "fusionlabel 0.1.0", "name": "...",
                   "fusionlabel_box_convention": "..."},
      "coordinate_systems": {                                  (a tree: parent <-> children)
         "odom": {"type": "scene_cs", "parent": "", "children": ["vehicle-iso8855"]},  (with poses)
         "vehicle-iso8855": {"type": "local_cs", "parent": "odom" | "", "children": [sensors]},
         "<sensor>": {"type": "sensor_cs", "parent": "vehicle-iso8855", "children": [],
                      "pose_wrt_parent": {"matrix4x4": T_ego_sensor, row-major 16 values}}},
      "streams": {"<sensor>": {"type": "camera" | "lidar" | "radar", "uri": "<sensor>",
                               "description": "...",
                               "stream_properties": {"intrinsics_pinhole": {...}}}},  (cameras)
      "objects": {"<track id>": {"name": "Car 7", "type": "Car", "coordinate_system": "vehicle-iso8855",
                                 "frame_intervals": [...], "object_data_pointers": {...}}},
      "frames": {"<index>": {
         "frame_properties": {"timestamp": seconds, "timestamp_ns": int,
                              "transforms": {"vehicle-iso8855_to_odom": {
                                  "src": "vehicle-iso8855", "dst": "odom",
                                  "transform_src_to_dst": {"matrix4x4": T_world_ego}}}},
         "objects": {"<track id>": {"object_data": {
              "cuboid": [{"name": "box", "coordinate_system": "vehicle-iso8855",
                          "val": [x, y, z, qx, qy, qz, qw, sx, sy, sz],
                          "attributes": {"num": [...], "text": [...], "boolean": [...], "vec": [...]}}],
              "num": [{"name": "score", "val": 1.0}],
              "text": [{"name": "category", "val": "Van"}]}}}}},           (only where it differs)
      "frame_intervals": [{"frame_start": 0, "frame_end": 19}]}}

Coordinate systems
------------------
* ``vehicle-iso8855`` is our ego frame (x forward, y left, z up: ISO 8855), the name OpenLABEL
  and ``vcd`` give the vehicle's ``local_cs``. ``odom`` is the world frame of the ego poses; it is written
  only when poses are given, and the vehicle moves in it: its pose is per frame, as the
  frame's ``vehicle-iso8855_to_odom`` transform (``X_odom = T_world_ego X_ego``), and the
  vehicle carries no static ``pose_wrt_parent`` (a frame without a pose has no world pose).
* Every sensor is a ``sensor_cs`` child of the vehicle with ``pose_wrt_parent = T_ego_sensor``
  (OpenLABEL's pose of the child with respect to its parent, which is the transform of points
  from the child to the parent, ``X_parent = M X_child``). A camera's coordinate system is
  its optical frame (x right, y down, z forward), as OpenLABEL's camera model expects; its
  stream has the same name, which is how ``vcd`` pairs intrinsics with extrinsics.

Intrinsics
----------
A camera stream's ``stream_properties`` carry both spellings of the intrinsics: the 1.0 JSON
schema's (``camera_matrix``, ``distortion_coeffs``, ``center_x_px``, ``lens_coeffs``) and the
reference library's (``camera_matrix_3x4``, ``distortion_coeffs_1xN``, ``center_x``,
``lens_coeffs_1xN``, ``model``), which ``vcd`` reads and writes; the schema allows extra keys.

* pinhole (OpenCV radial-tangential): ``camera_matrix_3x4 = [K | 0]`` (skew kept), distortion
  ``(k1, k2, p1, p2, k3[, k4, k5, k6])``, padded with zeros to 5 values.
* fisheye (OpenCV equidistant, ``theta_d = theta (1 + k1 theta^2 + ... + k4 theta^8)``):
  ``intrinsics_fisheye`` with ``model: "kannala"`` and ``lens_coeffs_1xN = (1, k1, k2, k3, k4)``
  (``r = 1 theta + k1 theta^3 + ... + k4 theta^9``, the same polynomial). A fisheye camera with
  skew cannot be written (``ValueError``). One without distortion coefficients is written as a
  pinhole camera, because that is how :mod:`fusionlabel.core.projection` projects it.

Conventions
-----------
* Object UIDs are the track ids written as decimal strings (the schema's ``-?[0-9]+`` UID form),
  so an object keeps its UID across frames and across exports of the same labels.
* Cuboids use the 10-value form of the standard, ``(x, y, z, qx, qy, qz, qw, sx, sy, sz)``: the
  position of the box **centre**, a **scalar-last** quaternion, and the dimensions "in its
  object coordinate system", whose x axis is the box's forward axis: ``sx = length``,
  ``sy = width``, ``sz = height``. We write upright boxes,
  ``q = (0, 0, sin(yaw / 2), cos(yaw / 2))``, in ``vehicle-iso8855``.
* Frame keys are our frame indices. ``timestamp`` is seconds (a float, as OpenLABEL tools
  expect); the exact integer nanoseconds ride along in ``timestamp_ns`` (``frame_properties``
  allows extra keys), and reading prefers them.
* Attributes: per-box attributes go into the cuboid's ``attributes``: ``bool`` -> ``boolean``,
  numbers -> ``num`` (integers stay integers), strings -> ``text``, flat lists of numbers or
  strings -> ``vec``; anything else (dicts, ``None``, nested lists) -> ``text`` with
  ``"encoding": "json"`` holding its JSON text. ``score`` is the object's ``num`` "score"; a
  frame's category is written as ``text`` "category" only where it differs from the object's
  ``type``.

Import
------
Cuboids may be in any coordinate system of the file's tree: each is brought into the ego frame
by walking the tree from its coordinate system up to the common ancestor with the ego one and
down again, ``T_ego_cs = inv(T_lca_ego) T_lca_cs``, where each step child -> parent is the
frame's transform between the two (either direction, found by ``src``/``dst``) or else the
child's static ``pose_wrt_parent`` (``matrix4x4``, quaternion or Euler form). The ego
coordinate system is ``vehicle-iso8855``, else ``ego`` (files of FusionLabel 0.1), else the
file's only ``local_cs``; cuboids without a coordinate system (and files without any) are in
the ego frame. An unknown coordinate system, a parent that is not declared, a cycle, or a step
without a pose in that frame is a :class:`CorruptFileError` naming the file, the frame, the
object and the coordinate system. A tilted coordinate system yields the heading of each box's
rotated x axis (our boxes are upright).

The parts, one module each, their public names re-exported here:
:mod:`fusionlabel.io.openlabel_schema` (the schema, our fixed names, attribute values),
:mod:`fusionlabel.io.openlabel_write` (export), :mod:`fusionlabel.io.openlabel_coords` (the
coordinate-system tree on import) and :mod:`fusionlabel.io.openlabel_read` (import).

Example
-------
>>> import numpy as np
>>> from fusionlabel.core.boxes import Boxes
>>> from fusionlabel.core.labels import FrameLabels, LabelSet
>>> fl = FrameLabels(np.array([7]), ("Car",), Boxes.from_array([[5, 0, 0.8, 4, 1.8, 1.6, 0.3]]))
>>> d = labels_to_openlabel(LabelSet({0: fl}), {0: 1_000_000_000})
>>> validate_openlabel(d)
>>> labels, t = openlabel_to_labels(d)
>>> labels.get(0).track_ids.tolist(), t
([7], {0: 1000000000})
"""

from __future__ import annotations

from fusionlabel.io.openlabel_read import openlabel_to_labels, read_openlabel
from fusionlabel.io.openlabel_schema import (
    BOX_CONVENTION,
    CUBOID_NAME,
    EGO_CS,
    LEGACY_EGO_CS,
    RESERVED_CS,
    SCHEMA_FILE,
    SCHEMA_VERSION,
    WORLD_CS,
    decode_attributes,
    encode_attributes,
    openlabel_schema,
    schema_error,
    validate_openlabel,
)
from fusionlabel.io.openlabel_write import labels_to_openlabel, write_openlabel

__all__ = [
    "BOX_CONVENTION",
    "CUBOID_NAME",
    "EGO_CS",
    "LEGACY_EGO_CS",
    "RESERVED_CS",
    "SCHEMA_FILE",
    "SCHEMA_VERSION",
    "WORLD_CS",
    "decode_attributes",
    "encode_attributes",
    "labels_to_openlabel",
    "openlabel_schema",
    "openlabel_to_labels",
    "read_openlabel",
    "schema_error",
    "validate_openlabel",
    "write_openlabel",
]
