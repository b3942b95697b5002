"""Label interchange formats: one strategy class per format, in a registry.

(Longer than a few hundred lines on purpose: the registry holds every strategy, each a thin
adapter; the formats' own code lives in its modules, the labelling tools' in :mod:`fusionlabel.io.tools`.)

Each format is a :class:`LabelFormat` with ``write(path, labels, context)`` and
``read(path, context) -> ImportedLabels``; :data:`FORMATS` maps the format's name to its class
(as labelCloud does with its label strategies). The :class:`LabelContext` carries what a format
needs beyond the boxes: frame times, ego poses (nuScenes' global frame), the rig (OpenLABEL
streams), the KITTI camera frame. :meth:`LabelContext.from_recording` fills it from a recording.

========== ================================ ===========================================================
name       file                             needs
========== ================================ ===========================================================
native     ``labels.json`` (versioned)      nothing (times optional); reads every known version
openlabel  ``labels.json`` (OpenLABEL 1.0)  nothing (times, rig and poses are written when present)
kitti      ``NNNN.txt`` or a folder         a camera frame: the rig (``image_00``/``image_02`` on
           (``label_02/``, ``calib/``)      KITTI, else the first camera); or, on import, ``calib/``
nuscenes   a folder of JSON tables          ego poses and times for every labelled frame (export)
========== ================================ ===========================================================

The labelling tools' own files (:mod:`fusionlabel.io.tools`, one module each) are formats too:
``sustechpoints``, ``labelcloud``, ``cvat-datumaro``, ``cvat-kitti``, ``supervisely``,
``segments`` and ``xtreme1``. Their boxes are in the LiDAR frame of the point clouds the tool
showed; :meth:`LabelContext.tool_context` moves them to the ego frame with the recording's
``T_ego_lidar`` (identity without a recording) and matches the tool's frame names (point-cloud
file stems) to the recording's frames (:attr:`LabelContext.frame_names`).

What survives a round trip (``docs/label_formats.md``): all formats keep track ids, categories,
boxes (KITTI: to the 1e-6 of its ``%f`` text; the others exactly) and frame indices. native,
openlabel and nuscenes keep scores, free-form attributes and nanosecond times; KITTI keeps the
KITTI attributes (``truncated``, ``occluded``, ``alpha``, ``bbox_2d``) and takes times from the
recording.

Example
-------
>>> fmt = get_format("openlabel")
>>> fmt.name, sorted(FORMATS)[:6]
('openlabel', ['cvat-datumaro', 'cvat-kitti', 'kitti', 'labelcloud', 'native', 'nuscenes'])
"""

from __future__ import annotations

import abc
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, ClassVar

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Camera, Rig
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, UnsupportedFormatError
from fusionlabel.core.labels import FrameLabels, LabelSet
from fusionlabel.core.recording import Recording
from fusionlabel.core.schema import LabelSchema
from fusionlabel.core.transforms import Transform

if TYPE_CHECKING:
    from fusionlabel.io.tools.common import ToolContext

#: attributes the KITTI writer takes as given; dropped when it must recompute them
KITTI_DERIVED = ("alpha", "bbox_2d", "truncated", "occluded")


@dataclass(frozen=True)
class ImportedLabels:
    """What a format's reader returns.

    labels : boxes in each frame's ego frame
    timestamps_ns : frame -> int nanoseconds (frames the file or context gives a time for)
    dont_care : frame -> (K, 4) float64 KITTI DontCare regions, pixels ``x1 y1 x2 y2`` (KITTI only)
    """

    labels: LabelSet
    timestamps_ns: Mapping[int, int] = field(default_factory=dict)
    dont_care: Mapping[int, NDArray[np.float64]] = field(default_factory=dict)


@dataclass(frozen=True)
class LabelContext:
    """What a format needs beyond the boxes.

    name : a name for the labels (OpenLABEL ``metadata.name``, nuScenes ``scene.name``)
    rig : the sensors (OpenLABEL streams; KITTI camera frame and 2D projection)
    timestamps_ns : frame -> int nanoseconds
    ego_poses : frame -> ``T_world_ego``
    T_rect_ego : KITTI's rectified camera-0 frame from the ego frame (default: from ``rig``)
    kitti_camera : camera whose image the KITTI 2D boxes are in (default: ``image_02`` or the first)
    source : where the context came from (the recording), for error messages
    dont_care : frame -> KITTI DontCare regions to write back
    recompute_kitti_2d : recompute ``alpha``, ``bbox_2d``, ``truncated`` and ``occluded`` from the
        geometry even where the labels carry them (after editing imported KITTI boxes)
    kitti_points : frame -> (M, 3) float64 LiDAR points in that frame's ego frame, metres, that
        occlude boxes in the KITTI camera (:mod:`fusionlabel.core.occlusion`); None: boxes alone
    kitti_scores : write KITTI's 18th (score) field: True / False force it; None writes it for
        pre-labels (any box with ``state == "proposed"`` or any score other than 1.0)
    frame_names : frame -> the frame's name (its point-cloud file stem) where the recording has
        one: how the labelling tools' files name frames
    label_sensor : the LiDAR whose frame the labelling tools' boxes are in (default: the
        recording's reference LiDAR, else the rig's first LiDAR, else the ego frame)
    schema : the project's label schema: its attributes go where a format has a place for them
        (KITTI ``occluded`` / ``truncated``, the nuScenes attribute table, OpenLABEL object data;
        :func:`fusionlabel.io.label_schema.labels_for_export`)
    """

    name: str = "labels"
    rig: Rig | None = None
    timestamps_ns: Mapping[int, int] = field(default_factory=dict)
    ego_poses: Mapping[int, Transform] = field(default_factory=dict)
    T_rect_ego: Transform | None = None
    kitti_camera: str | None = None
    source: Path | None = None
    dont_care: Mapping[int, NDArray[np.float64]] = field(default_factory=dict)
    recompute_kitti_2d: bool = False
    kitti_points: Callable[[int], NDArray[np.float64]] | None = None
    kitti_scores: bool | None = None
    frame_names: Mapping[int, str] = field(default_factory=dict)
    label_sensor: str | None = None
    schema: LabelSchema | None = None

    @classmethod
    def from_recording(cls, rec: Recording, name: str | None = None) -> LabelContext:
        """Times, poses and rig of ``rec``; KITTI recordings also give ``T_rect_velo`` and DontCare
        regions; the recording's LiDAR sweeps (read when the KITTI writer asks) occlude boxes."""
        t = rec.timestamps_ns
        times = {k: int(t[k]) for k in range(len(t))}
        frame_poses = getattr(rec, "frame_poses", None) or {}
        poses: dict[int, Transform] = {}
        for k, tk in times.items():
            T = frame_poses.get(k) if k in frame_poses else rec.ego_pose_at(tk)
            if T is not None:
                poses[k] = T
        T_rect = getattr(rec, "T_rect_velo", None)
        dont_care = getattr(rec, "dont_care", None) or {}
        names = getattr(rec, "frame_names", None) or {}
        sensor = rec.reference if rec.reference in rec.rig.lidars else next(iter(rec.rig.lidars), None)
        return cls(
            name=name or Path(rec.path).name,
            rig=rec.rig,
            timestamps_ns=times,
            ego_poses=poses,
            T_rect_ego=T_rect if isinstance(T_rect, Transform) else None,
            source=Path(rec.path),
            dont_care=dont_care,
            kitti_points=_recording_points(rec),
            frame_names=dict(names),
            label_sensor=sensor,
        )

    def tool_context(self) -> ToolContext:
        """What the labelling tools' readers and writers need (:class:`~fusionlabel.io.tools.common.ToolContext`)."""
        from fusionlabel.io.tools.common import ToolContext

        T = Transform.identity()
        if self.rig is not None:
            name = self.label_sensor or next(iter(self.rig.lidars), None)
            if name is not None and name in self.rig.lidars:
                T = self.rig.T_ego_sensor(name)
        return ToolContext(T, dict(self.frame_names), dict(self.timestamps_ns), self.name)

    # -- KITTI helpers ------------------------------------------------------------------------
    def kitti_frames(self) -> tuple[Transform, Camera | None]:
        """(``T_rect_ego``, camera for 2D boxes); :class:`CalibrationError` without a camera frame."""
        cams = dict(self.rig.cameras) if self.rig is not None else {}
        T = self.T_rect_ego
        if T is None:
            if not cams:
                raise CalibrationError(
                    self.source or Path("<context>"),
                    "KITTI labels are in a camera frame: give a recording with a calibrated camera",
                )
            ref = cams.get("image_00") or next(iter(cams.values()))
            T = ref.T_ego_cam.inverse()
        name = self.kitti_camera or ("image_02" if "image_02" in cams else next(iter(cams), None))
        if name is not None and name not in cams:
            raise CalibrationError(self.source or Path("<context>"), f"no camera {name!r} in the rig")
        return T, cams.get(name) if name is not None else None


class LabelFormat(abc.ABC):
    """A label interchange format (one subclass per format, registered in :data:`FORMATS`)."""

    name: ClassVar[str]
    summary: ClassVar[str]
    #: False for formats that keep only part of the labels by design (tracking results keep the
    #: consumer's tracking classes only): they are left out of the round-trip guarantee
    round_trip: ClassVar[bool] = True

    @abc.abstractmethod
    def write(self, path: Path, labels: LabelSet, context: LabelContext) -> None:
        """Write ``labels`` at ``path``: nothing is written unless all of it can be."""

    @abc.abstractmethod
    def read(self, path: Path, context: LabelContext) -> ImportedLabels:
        """Read ``path`` completely or raise a :class:`DataError` naming the file."""

    @abc.abstractmethod
    def sniff(self, path: Path) -> bool:
        """Cheap check: does ``path`` look like this format?"""


def _json_head(path: Path, n: int = 4096) -> bytes:
    try:
        with open(path, "rb") as f:
            return f.read(n)
    except OSError:
        return b""


class NativeFormat(LabelFormat):
    """The native label file (:mod:`fusionlabel.io.native_labels`), read through the migrations."""

    name = "native"
    summary = "FusionLabel label file (versioned JSON; older versions are migrated on read)"

    def write(self, path: Path, labels: LabelSet, context: LabelContext) -> None:
        from fusionlabel.io.native_labels import write_labels

        times = {k: int(v) for k, v in context.timestamps_ns.items() if k in labels.frames}
        write_labels(labels, path, times or None)

    def read(self, path: Path, context: LabelContext) -> ImportedLabels:
        from fusionlabel.io.native_labels import read_native_labels

        labels, times = read_native_labels(path)
        return ImportedLabels(labels, times)

    def sniff(self, path: Path) -> bool:
        return path.is_file() and b'"fusionlabel.labels"' in _json_head(path)


class OpenLabelFormat(LabelFormat):
    """ASAM OpenLABEL 1.0 JSON (:mod:`fusionlabel.io.openlabel`).

    Export writes the context's rig as camera/LiDAR/radar streams and a coordinate-system tree
    (``odom`` -> ``vehicle-iso8855`` -> sensors) that ASAM's reference library ``vcd`` builds
    its cameras from; the ego poses become per-frame transforms. Import reads cuboids in any
    coordinate system of the file's tree and brings them into the ego frame.
    """

    name = "openlabel"
    summary = "ASAM OpenLABEL 1.0 JSON (validated against the official schema)"

    def write(self, path: Path, labels: LabelSet, context: LabelContext) -> None:
        from fusionlabel.io.label_schema import track_attributes
        from fusionlabel.io.openlabel import write_openlabel

        try:
            write_openlabel(
                path,
                labels,
                context.timestamps_ns,
                context.rig,
                context.ego_poses,
                context.name,
                track_attributes(labels, context.schema),
            )
        except ValueError as exc:
            raise DataError(path, f"cannot export to OpenLABEL: {exc}") from None

    def read(self, path: Path, context: LabelContext) -> ImportedLabels:
        from fusionlabel.io.openlabel import read_openlabel

        labels, times = read_openlabel(path)
        return ImportedLabels(labels, times)

    def sniff(self, path: Path) -> bool:
        return path.is_file() and b'"openlabel"' in _json_head(path)


class KittiTrackingFormat(LabelFormat):
    """KITTI tracking labels (rectified camera-0 frame, bottom centre, ``h w l``, alpha, 2D box).

    ``path`` is a label file (``*.txt``) or a folder, which gets ``label_02/<seq>.txt`` and
    ``calib/<seq>.txt`` (``seq`` = the folder's ``kitti_sequence`` or ``0000``) so it reads back
    without the recording. Reading a label file uses the context's camera frame, else
    ``../calib/<stem>.txt`` beside ``label_02``; 17- and 18-field (scored) files both read.

    Writing computes what the boxes do not carry (``docs/label_formats.md``): ``truncated`` (the
    fraction of the silhouette outside the KITTI camera's image) and ``occluded`` (KITTI level of
    the fraction hidden by nearer boxes and the context's LiDAR points,
    :mod:`fusionlabel.core.occlusion`). Every box is written, also those wholly outside the
    image (``truncated`` 1, ``occluded`` 3, 2D box ``-1``), which KITTI evaluators ignore. Pre-labels
    (:attr:`LabelContext.kitti_scores`) get the score as the 18th field and no DontCare rows.
    """

    name = "kitti"
    summary = "KITTI tracking label_02 text (camera frame; alpha and 2D box from the calibration)"
    sequence = "0000"

    def _files(self, path: Path) -> tuple[Path, Path | None]:
        if path.suffix == ".txt":
            return path, None
        return path / "label_02" / f"{self.sequence}.txt", path / "calib" / f"{self.sequence}.txt"

    def write(self, path: Path, labels: LabelSet, context: LabelContext) -> None:
        from fusionlabel.core.atomic import atomic_write_text
        from fusionlabel.io.kitti import format_kitti_tracking_labels, labelset_to_kitti_labels

        T_rect_ego, camera = context.kitti_frames()
        for k, fl in labels.frames.items():
            if np.any(fl.track_ids < 0):
                raise DataError(path, f"frame {k}: KITTI track ids must be >= 0 (-1 means DontCare)")
            bad = [c for c in fl.categories if not c or any(ch.isspace() for ch in c)]
            if bad:
                raise DataError(path, f"frame {k}: category {bad[0]!r} cannot be written in a KITTI text field")
        if context.recompute_kitti_2d:
            labels = _drop_attributes(labels, KITTI_DERIVED)
        labels = _schema_labels(labels, context, self.name)  # the annotator's occlusion / truncation win
        scores = context.kitti_scores if context.kitti_scores is not None else _kitti_prelabels(labels)
        try:
            rows = labelset_to_kitti_labels(
                labels, T_rect_ego, context.dont_care, camera, context.kitti_points, scores=scores
            )
        except ValueError as exc:
            raise DataError(path, f"cannot export to KITTI: {exc}") from None
        # a box that does not project into the camera (behind it) has no 2D box: KITTI's filler -1
        bad = ~np.all(np.isfinite(rows.bbox), axis=1)
        if bad.any():
            bbox = rows.bbox.copy()
            bbox[bad] = -1.0
            rows = replace(rows, bbox=bbox)
        text = format_kitti_tracking_labels(rows)
        label_file, calib_file = self._files(path)
        if calib_file is not None:
            atomic_write_text(calib_file, _kitti_calib_text(T_rect_ego, context.rig))
        atomic_write_text(label_file, text)

    def read(self, path: Path, context: LabelContext) -> ImportedLabels:
        from fusionlabel.io.kitti import (
            kitti_labels_to_labelset,
            kitti_T_rect_velo,
            read_kitti_calib,
            read_kitti_labels,
        )

        label_file, calib_file = self._files(path)
        if not label_file.is_file():
            raise DataError(label_file, "no such KITTI label file")
        if calib_file is None:
            calib_file = label_file.parent.parent / "calib" / label_file.name
        if context.rig is not None or context.T_rect_ego is not None:
            T, _ = context.kitti_frames()
        elif calib_file.is_file():
            T = kitti_T_rect_velo(read_kitti_calib(calib_file), calib_file)
        else:
            raise CalibrationError(
                label_file, f"KITTI labels need a calibration: give the recording, or put it at {calib_file}"
            )
        raw = read_kitti_labels(label_file)
        if raw.kind != "tracking":
            raise DataError(label_file, "object-style KITTI labels (15 fields): expected tracking labels (17)")
        labels, dont_care = kitti_labels_to_labelset(raw, T, label_file)
        times = {k: int(v) for k, v in context.timestamps_ns.items() if k in labels.frames}
        return ImportedLabels(labels, times, dont_care)

    def sniff(self, path: Path) -> bool:
        lf, _ = self._files(path)
        if not lf.is_file():
            return False
        first = _json_head(lf, 512).split(b"\n", 1)[0].split()
        return len(first) in (17, 18)


class NuScenesTablesFormat(LabelFormat):
    """A nuScenes dataroot that ``nuscenes.NuScenes(version, dataroot)`` loads (:mod:`fusionlabel.io.nuscenes_export`).

    ``path`` is the dataroot: the export writes ``path/<version>/`` (the 13 tables and a custom
    split), ``path/maps/`` and ``path/samples/<CHANNEL>/`` (LiDAR and radar converted to nuScenes'
    files, camera images linked). Reading takes the dataroot, the version folder, or the older flat
    folder of six tables. The registry builds it with the defaults; the keywords configure it:

    version : the version folder (default ``nuscenes_export.DEFAULT_VERSION``, ``"v1.0-fusionlabel"``)
    recording : the recording for the sensor files and point counts (default: the context's
        ``source`` opened again; without a source the tables are written without sensor data)
    identity_pose : the recording has no ego poses: export with ``T_world_ego = I`` (otherwise refused)
    copy_images : copy camera images instead of linking them

    After ``write``, :attr:`report` holds the :class:`~fusionlabel.io.nuscenes_export.NuScenesExportReport`
    (its ``problems`` list what could not be exported as asked, e.g. sensor files missing on disk).
    """

    name = "nuscenes"
    summary = "nuScenes dataroot (13 tables + sensor files; loads in the nuScenes devkit)"

    def __init__(
        self,
        version: str | None = None,
        recording: Recording | None = None,
        identity_pose: bool = False,
        copy_images: bool = False,
    ) -> None:
        self.version = version
        self.recording = recording
        self.identity_pose = identity_pose
        self.copy_images = copy_images
        self.report: Any = None

    def write(self, path: Path, labels: LabelSet, context: LabelContext) -> None:
        from fusionlabel.io.nuscenes_export import DEFAULT_VERSION, write_nuscenes_tables

        labels = _schema_labels(labels, context, self.name)
        rec = self.recording
        if rec is None and context.source is not None:
            from fusionlabel.io.open import open_recording

            rec = open_recording(context.source)
        try:
            self.report = write_nuscenes_tables(
                path,
                labels,
                context.timestamps_ns,
                context.ego_poses,
                context.name,
                version=self.version or DEFAULT_VERSION,
                recording=rec,
                rig=context.rig,
                identity_pose=self.identity_pose,
                copy_images=self.copy_images,
            )
        except ValueError as exc:
            where = context.source or path
            raise DataError(where, f"cannot export to nuScenes tables: {exc}") from None

    def read(self, path: Path, context: LabelContext) -> ImportedLabels:
        from fusionlabel.io.nuscenes_export import read_nuscenes_tables

        if not path.is_dir():
            raise DataError(path, "nuScenes tables are a folder (a dataroot, a version folder or flat tables)")
        labels, times = read_nuscenes_tables(path, context.ego_poses or None, self.version)
        return ImportedLabels(labels, times)

    def sniff(self, path: Path) -> bool:
        from fusionlabel.io.nuscenes_export import sniff_nuscenes_tables

        return sniff_nuscenes_tables(path)


class NuScenesTrackingFormat(LabelFormat):
    """nuScenes tracking-results JSON (:func:`fusionlabel.io.nuscenes_export.write_nuscenes_tracking`).

    ``{"meta": {...}, "results": {sample_token: [sample_result, ...]}}``: pre-labels in the form the
    devkit's ``TrackingEval`` reads, with the sample tokens of the ``nuscenes`` export of the same
    recording (both derive them from ``context.name`` and the frames). Only the 7 nuScenes tracking
    classes are written; other tracks are left out (:attr:`left_out` counts their boxes). Reading
    needs the recording's context (name, times, poses) to place the sample tokens.

    identity_pose : as for :class:`NuScenesTablesFormat`
    meta : the ``meta`` block (default ``use_lidar`` True, the other ``use_*`` False)
    """

    name = "nuscenes-tracking"
    summary = "nuScenes tracking-results JSON (pre-labels for the devkit's tracking evaluation)"
    round_trip = False

    def __init__(self, identity_pose: bool = False, meta: Mapping[str, Any] | None = None) -> None:
        self.identity_pose = identity_pose
        self.meta = meta
        self.left_out = 0

    def write(self, path: Path, labels: LabelSet, context: LabelContext) -> None:
        from fusionlabel.io.nuscenes_export import write_nuscenes_tracking

        labels = _schema_labels(labels, context, self.name)
        try:
            self.left_out = write_nuscenes_tracking(
                path,
                labels,
                context.timestamps_ns,
                context.ego_poses,
                context.name,
                identity_pose=self.identity_pose,
                meta=self.meta,
            )
        except ValueError as exc:
            where = context.source or path
            raise DataError(where, f"cannot export nuScenes tracking results: {exc}") from None

    def read(self, path: Path, context: LabelContext) -> ImportedLabels:
        from fusionlabel.io.nuscenes_export import read_nuscenes_tracking

        if not context.timestamps_ns:
            raise DataError(path, "nuScenes tracking results name samples by token: give the recording they belong to")
        poses = context.ego_poses
        if self.identity_pose and not poses:
            poses = {k: Transform.identity() for k in context.timestamps_ns}
        labels, times = read_nuscenes_tracking(path, context.timestamps_ns, poses, context.name)
        return ImportedLabels(labels, times)

    def sniff(self, path: Path) -> bool:
        from fusionlabel.io.nuscenes_export import sniff_nuscenes_tracking

        return sniff_nuscenes_tracking(path)


class ToolFormat(LabelFormat):
    """A labelling tool's own files (:mod:`fusionlabel.io.tools`): ``module`` has ``sniff(path)``,
    ``read_<stem>(path, tool_context)`` and ``write_<stem>(path, labels, tool_context)``.

    Boxes come in the LiDAR frame of the tool's point clouds and go to the ego frame with the
    context's rig (:meth:`LabelContext.tool_context`); frames are matched by name when the context
    has the recording's frame names. Reading is all or nothing: the whole input is read and checked
    first, the first problem names file, frame and field.
    """

    module: ClassVar[str]

    def _mod(self) -> Any:
        import importlib

        return importlib.import_module(f"fusionlabel.io.tools.{self.module}")

    def write(self, path: Path, labels: LabelSet, context: LabelContext) -> None:
        getattr(self._mod(), f"write_{self.module}")(path, labels, context.tool_context())

    def read(self, path: Path, context: LabelContext) -> ImportedLabels:
        out = getattr(self._mod(), f"read_{self.module}")(path, context.tool_context())
        labels, times = out if isinstance(out, tuple) else (out, {})
        times = dict(times) or {k: int(v) for k, v in context.timestamps_ns.items() if k in labels.frames}
        return ImportedLabels(labels, times)

    def sniff(self, path: Path) -> bool:
        return bool(self._mod().sniff(path))


class SustechPointsFormat(ToolFormat):
    """SUSTechPOINTS ``label/<frame>.json`` files (:mod:`fusionlabel.io.tools.sustechpoints`)."""

    name = "sustechpoints"
    summary = "SUSTechPOINTS per-frame label JSON (psr boxes with obj_id), a scene or its label/ folder"
    module = "sustechpoints"


class LabelCloudFormat(ToolFormat):
    """labelCloud per-point-cloud JSON, centroid or vertices format (:mod:`fusionlabel.io.tools.labelcloud`).

    rotation_unit : ``"auto"`` (default: radians when an angle is negative), ``"degrees"``
        (``centroid_abs``) or ``"radians"`` (``centroid_rel``); the export writes degrees unless
        ``"radians"`` is given
    """

    name = "labelcloud"
    summary = "labelCloud label folder (centroid or vertices JSON per point cloud)"
    module = "labelcloud"

    def __init__(self, rotation_unit: str = "auto") -> None:
        self.rotation_unit = rotation_unit

    def write(self, path: Path, labels: LabelSet, context: LabelContext) -> None:
        from fusionlabel.io.tools.labelcloud import write_labelcloud

        write_labelcloud(
            path,
            labels,
            context.tool_context(),
            rotation_unit="radians" if self.rotation_unit == "radians" else "degrees",
        )

    def read(self, path: Path, context: LabelContext) -> ImportedLabels:
        from fusionlabel.io.tools.labelcloud import read_labelcloud

        labels = read_labelcloud(path, context.tool_context(), rotation_unit=self.rotation_unit)  # type: ignore[arg-type]
        return ImportedLabels(labels, {k: int(v) for k, v in context.timestamps_ns.items() if k in labels.frames})


class CvatDatumaroFormat(ToolFormat):
    """CVAT 3D export in the Datumaro format (:mod:`fusionlabel.io.tools.cvat_datumaro`)."""

    name = "cvat-datumaro"
    summary = "CVAT 3D 'Datumaro' export (annotations/default.json with cuboid_3d)"
    module = "cvat_datumaro"


class CvatKittiFormat(ToolFormat):
    """CVAT 3D export in the KITTI raw format (:mod:`fusionlabel.io.tools.cvat_kitti`)."""

    name = "cvat-kitti"
    summary = "CVAT 3D 'Kitti Raw Format' export (tracklet_labels.xml)"
    module = "cvat_kitti"


class SuperviselyFormat(ToolFormat):
    """Supervisely point-cloud episodes (:mod:`fusionlabel.io.tools.supervisely`)."""

    name = "supervisely"
    summary = "Supervisely point-cloud episode (annotation.json + frame_pointcloud_map.json)"
    module = "supervisely"


class SegmentsFormat(ToolFormat):
    """Segments.ai release file of a point-cloud cuboid sequence (:mod:`fusionlabel.io.tools.segments`)."""

    name = "segments"
    summary = "Segments.ai release JSON of a pointcloud-cuboid-sequence dataset"
    module = "segments"


class Xtreme1Format(ToolFormat):
    """Xtreme1 LiDAR export (:mod:`fusionlabel.io.tools.xtreme1`)."""

    name = "xtreme1"
    summary = "Xtreme1 export (result/<frame>.json with 3D_BOX objects)"
    module = "xtreme1"


#: the labelling tools' formats, in the order ``--format auto`` tries them
TOOL_FORMATS: tuple[type[ToolFormat], ...] = (
    SustechPointsFormat,
    LabelCloudFormat,
    CvatDatumaroFormat,
    CvatKittiFormat,
    SuperviselyFormat,
    SegmentsFormat,
    Xtreme1Format,
)

_ALL_FORMATS: tuple[type[LabelFormat], ...] = (
    NativeFormat,
    OpenLabelFormat,
    KittiTrackingFormat,
    NuScenesTablesFormat,
    NuScenesTrackingFormat,
    *TOOL_FORMATS,
)
#: format name -> strategy class
FORMATS: dict[str, type[LabelFormat]] = {c.name: c for c in _ALL_FORMATS}


def get_format(name: str) -> LabelFormat:
    """The strategy for ``name``; ``ValueError`` listing the known names otherwise (no fallback)."""
    cls = FORMATS.get(name.lower())
    if cls is None:
        raise ValueError(f"unknown label format {name!r}; known: {', '.join(sorted(FORMATS))}")
    return cls()


def sniff_label_format(path: str | Path) -> str:
    """The name of the one format whose ``sniff`` accepts ``path``.

    Raises
    ------
    UnsupportedFormatError : no format, or several, accept it (use ``--format``)
    """
    p = Path(path)
    hits = [n for n, c in FORMATS.items() if c().sniff(p)]
    if len(hits) != 1:
        why = "no label format recognises it" if not hits else f"ambiguous ({', '.join(hits)})"
        raise UnsupportedFormatError(p, f"{why}: name one with --format ({', '.join(sorted(FORMATS))})")
    return hits[0]


def write_label_file(fmt: str, path: str | Path, labels: LabelSet, context: LabelContext | None = None) -> None:
    """``get_format(fmt).write(path, labels, context)``."""
    get_format(fmt).write(Path(path), labels, context or LabelContext())


def read_label_file(fmt: str, path: str | Path, context: LabelContext | None = None) -> ImportedLabels:
    """``get_format(fmt).read(path, context)``."""
    return get_format(fmt).read(Path(path), context or LabelContext())


# -- helpers ------------------------------------------------------------------------------------
def _schema_labels(labels: LabelSet, context: LabelContext, fmt: str) -> LabelSet:
    """The labels with the context's schema attributes where ``fmt`` has a place for them."""
    if context.schema is None:
        return labels
    from fusionlabel.io.label_schema import labels_for_export

    return labels_for_export(labels, context.schema, fmt)


def _drop_attributes(labels: LabelSet, names: tuple[str, ...]) -> LabelSet:
    out = {}
    for k, fl in labels.frames.items():
        attrs = tuple({a: v for a, v in d.items() if a not in names} for d in fl.attributes)
        out[k] = replace(fl, attributes=attrs)
    return LabelSet(out)


def _kitti_prelabels(labels: LabelSet) -> bool:
    """Pre-labels (a detector's or tracker's output): some box is ``"proposed"`` or scored other than 1."""
    for fl in labels.frames.values():
        if np.any(fl.scores != 1.0) or any((a or {}).get("state") == "proposed" for a in fl.attributes):
            return True
    return False


def _recording_points(rec: Recording) -> Callable[[int], NDArray[np.float64]]:
    """frame -> (M, 3) float64 ego-frame points of all the recording's LiDARs in that frame
    (read on call; (0, 3) for a frame without LiDAR or outside the recording)."""

    def points(k: int) -> NDArray[np.float64]:
        out = [np.zeros((0, 3))]
        if 0 <= k < len(rec):
            for name, pc in rec.frame(k).lidar.items():
                T = rec.rig.T_ego_sensor(name) if name in rec.rig.lidars else Transform.identity()
                out.append(T.apply(pc.finite().xyz.astype(np.float64)))
        return np.vstack(out)

    return points


def _kitti_calib_text(T_rect_ego: Transform, rig: Rig | None) -> str:
    """A KITTI tracking calibration: ``P0..P3`` (the KITTI cameras or the rig's first camera,
    re-expressed in the reference frame), ``R_rect = I``, ``Tr_velo_cam = T_rect_ego``,
    ``Tr_imu_velo = I``."""

    def fmt(a: Any) -> str:
        return " ".join(f"{float(v):.12e}" for v in np.asarray(a).reshape(-1))

    cams = dict(rig.cameras) if rig is not None else {}
    P: list[NDArray[np.float64]] = []
    T_ego_rect = T_rect_ego.inverse()
    for i in range(4):
        cam = cams.get(f"image_0{i}") or (next(iter(cams.values())) if cams else None)
        if cam is None:
            P.append(np.hstack([np.eye(3), np.zeros((3, 1))]))
            continue
        # P_i = K_i [R | t] with T_cam_rect = inv(T_ego_cam) T_ego_rect (a rectified rig: R ~ I)
        T_cam_rect = cam.T_ego_cam.inverse() @ T_ego_rect
        P.append(cam.K @ np.asarray(T_cam_rect.matrix)[:3, :])
    lines = [f"P{i}: {fmt(p)}" for i, p in enumerate(P)]
    lines.append(f"R_rect {fmt(np.eye(3))}")
    lines.append(f"Tr_velo_cam {fmt(np.asarray(T_rect_ego.matrix)[:3, :])}")
    lines.append(f"Tr_imu_velo {fmt(np.eye(4)[:3, :])}")
    return "\n".join(lines) + "\n"


def frame_labels_equal(a: FrameLabels, b: FrameLabels, atol: float = 1e-6) -> bool:
    """Same ids, categories and boxes (to ``atol``; yaw compared modulo 2 pi)."""
    if len(a) != len(b):
        return False
    ia, ib = np.argsort(a.track_ids), np.argsort(b.track_ids)
    if not np.array_equal(a.track_ids[ia], b.track_ids[ib]):
        return False
    if [a.categories[i] for i in ia] != [b.categories[i] for i in ib]:
        return False
    da, db = a.boxes.to_array()[ia], b.boxes.to_array()[ib]
    dyaw = np.angle(np.exp(1j * (da[:, 6] - db[:, 6])))
    return bool(np.allclose(da[:, :6], db[:, :6], atol=atol) and np.all(np.abs(dyaw) <= atol))


def load_labels(path: Path, fmt: str | None, recording: Path | None) -> tuple[ImportedLabels, LabelContext]:
    """Read labels in any registered format (sniffed when ``fmt`` is None) with the context of
    ``recording`` (frame times, ego poses, rig) when one is given: what ``fusionlabel export``,
    ``import``, ``qa`` and ``compare`` read their input with.

    Raises
    ------
    DataError : the path does not exist, the format is unknown, or the file is broken (naming it)
    """
    ctx = LabelContext()
    num_frames = None
    if recording is not None:
        from fusionlabel.io.open import open_recording

        opened = open_recording(recording)
        ctx, num_frames = LabelContext.from_recording(opened), len(opened)
    if not Path(path).exists():
        raise DataError(path, "no such file or folder")
    from fusionlabel.io.native_labels import OUTPUT_LABELS, resolve_label_path

    if fmt in (None, "auto", "native") and (Path(path) / OUTPUT_LABELS).is_file():
        path = resolve_label_path(path)  # a prelabel / adapt output folder
    name = sniff_label_format(path) if fmt in (None, "auto") else fmt
    try:
        strategy = get_format(name)
    except ValueError as exc:
        raise UnsupportedFormatError(path, str(exc)) from None
    try:
        imported = strategy.read(Path(path), ctx)
    except (TypeError, AttributeError, KeyError, IndexError, ValueError, UnicodeDecodeError) as exc:
        # a reader that did not foresee this structure (a null where an object belongs, a number
        # where a list does): still one line naming the input, never a traceback
        raise CorruptFileError(
            path, f"not a valid {name} file: {type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
        ) from None
    if num_frames is not None:
        from fusionlabel.io.native_labels import check_within

        check_within(imported.labels, num_frames, path)
    if not ctx.timestamps_ns and imported.timestamps_ns:
        ctx = replace(ctx, timestamps_ns=dict(imported.timestamps_ns))
    return imported, ctx
