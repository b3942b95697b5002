"""The native FusionLabel recording: a folder with a JSON manifest and per-sensor files.

Layout (documented in ``docs/native_format.md``)::

    my_recording/
      recording.json          manifest (this module's schema, version 1)
      calib.yaml              the rig (``calib/README.md``)
      lidar/<sensor>/000000.bin   float32 (N, 4) x y z intensity, sensor frame (any point-cloud
                                  file the point-cloud reader supports: .bin .pcd .ply)
      camera/<camera>/000000.jpg  PNG or JPEG
      radar/<sensor>/000000.csv   header "x,y,z,radial_velocity,rcs", radar frame
      ego_poses.csv           t_ns,x,y,z,qw,qx,qy,qz  (T_world_ego)
      labels.json             optional ground truth, native label format

Manifest::

    {"format": "fusionlabel.recording", "version": 1, "name": "...",
     "calibration": "calib.yaml", "reference": "lidar_top", "tolerance_ns": 50000000,
     "streams": {"lidar_top": {"kind": "lidar", "timestamps_ns": [...],
                               "pattern": "lidar/lidar_top/{index:06d}.bin"},
                 "cam_front": {"kind": "camera", "timestamps_ns": [...], "files": ["..."]}},
     "ego_poses": "ego_poses.csv", "labels": "labels.json"}

Each stream gives either ``pattern`` (formatted with the sample index) or an explicit ``files``
list. Every path is relative and must stay inside the recording folder: a manifest pointing
outside it is refused (:class:`ManifestError`), so opening a recording never reads elsewhere.
"""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.atomic import atomic_write_text
from fusionlabel.core.calibration import Rig, load_rig, save_rig
from fusionlabel.core.errors import CalibrationError, CorruptFileError, DataError, ManifestError
from fusionlabel.core.frames import Frame, ImageRef, PointCloud, RadarDetections
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.recording import DEFAULT_TOLERANCE_NS, Recording, Stream
from fusionlabel.core.sync import PoseTrack
from fusionlabel.core.transforms import Transform
from fusionlabel.io.versioned import VersionedFormat, read_versioned

MANIFEST = "recording.json"
FORMAT = "fusionlabel.recording"
VERSION = 1
RADAR_HEADER = "x,y,z,radial_velocity,rcs"
#: the manifest as a versioned file (:mod:`fusionlabel.io.versioned`)
MANIFEST_FORMAT = VersionedFormat(FORMAT, VERSION, what="manifest")
#: a synthetic recording (:func:`fusionlabel.synth.generate.generate`) carries this file beside
#: its manifest: seed, scenario and generator settings
SYNTH_INFO = "synth.json"


def sniff(path: Path) -> bool:
    return (path.is_dir() and (path / MANIFEST).is_file()) or (path.is_file() and path.name == MANIFEST)


def _inside(root: Path, rel: str, manifest: Path) -> Path:
    """Resolve ``rel`` under ``root``; refuse absolute paths and any escape (``..``, symlinks)."""
    if not isinstance(rel, str) or not rel:
        raise ManifestError(manifest, f"expected a relative path, got {rel!r}")
    p = Path(rel)
    if p.is_absolute():
        raise ManifestError(manifest, f"path {rel!r} is absolute; paths must be relative to the recording")
    full = (root / p).resolve()
    if not full.is_relative_to(root.resolve()):
        raise ManifestError(manifest, f"path {rel!r} points outside the recording folder")
    return full


@dataclass
class _StreamFiles:
    kind: str
    files: list[str] | None
    pattern: str | None

    def rel(self, i: int) -> str:
        if self.files is not None:
            return self.files[i]
        assert self.pattern is not None
        return self.pattern.format(index=i)


@dataclass
class NativeRecording(Recording):
    _files: dict[str, _StreamFiles] = field(default_factory=dict, repr=False)
    _labels_path: Path | None = None

    def _path_of(self, stream: str, i: int) -> Path:
        return _inside(self.path, self._files[stream].rel(i), self.path / MANIFEST)

    def _load_frame(self, index: int) -> Frame:
        from fusionlabel.io.pointcloud import read_point_cloud

        t_ref = int(self.timestamps_ns[index])
        lidar: dict[str, PointCloud] = {}
        radar: dict[str, RadarDetections] = {}
        images: dict[str, ImageRef] = {}
        stamps: dict[str, int] = {}
        for name, s, i, t in self.matched_samples(index):
            stamps[name] = t
            p = self._path_of(name, i)
            if s.kind == "lidar":
                lidar[name] = read_point_cloud(p, frame_id=name, timestamp_ns=t)
            elif s.kind == "radar":
                radar[name] = read_radar_csv(p, frame_id=name, timestamp_ns=t)
            else:
                images[name] = ImageRef.from_file(p, t)
        return Frame(index, t_ref, lidar, radar, images, self.ego_pose_at(t_ref), stamps)

    @property
    def editable_labels_path(self) -> Path | None:
        """The label file the manifest names (None when it names none)."""
        return self._labels_path

    @property
    def labels(self) -> LabelSet | None:
        if self._labels_path is None:
            return None
        from fusionlabel.io.native_labels import align_to_timestamps, read_native_labels

        labels, times = read_native_labels(self._labels_path)
        return align_to_timestamps(labels, times, self.timestamps_ns)  # frames the manifest had out of order


def read_radar_csv(path: Path, frame_id: str = "radar", timestamp_ns: int | None = None) -> RadarDetections:
    """Read a native radar file (CSV with header ``x,y,z,radial_velocity,rcs``)."""
    try:
        text = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise CorruptFileError(path, f"cannot read radar file: {exc}") from None
    lines = text.strip().splitlines()
    if not lines or lines[0].strip() != RADAR_HEADER:
        raise CorruptFileError(path, f"radar CSV must start with the header '{RADAR_HEADER}'")
    rows = [ln.split(",") for ln in lines[1:] if ln.strip()]
    try:
        a = np.array(rows, dtype=np.float64).reshape(-1, 5)
    except ValueError:
        raise CorruptFileError(path, "radar CSV rows must have 5 numeric columns") from None
    return RadarDetections(a[:, :3], a[:, 3], a[:, 4], frame_id, timestamp_ns)


def write_radar_csv(path: Path, det: RadarDetections) -> None:
    a = np.hstack([det.xyz, det.radial_velocity[:, None], det.rcs[:, None]])
    body = "\n".join(",".join(f"{v:.4f}" for v in row) for row in a)
    Path(path).write_text(RADAR_HEADER + "\n" + body + ("\n" if body else ""), encoding="utf-8")


def _read_poses(path: Path) -> PoseTrack:
    try:
        with warnings.catch_warnings():  # an empty file: said below, not as numpy's UserWarning
            warnings.simplefilter("ignore", UserWarning)
            a = np.loadtxt(path, delimiter=",", skiprows=1, ndmin=2)
    except (OSError, ValueError) as exc:
        raise CorruptFileError(path, f"cannot parse ego poses: {exc}") from None
    if a.shape[1] != 8 or len(a) == 0:
        raise CorruptFileError(path, "ego poses need rows t_ns,x,y,z,qw,qx,qy,qz")
    try:
        # timestamps as int64 read separately to keep nanosecond precision
        t = np.array([int(ln.split(",")[0]) for ln in path.read_text().strip().splitlines()[1:]], dtype=np.int64)
        return PoseTrack(t, tuple(Transform.from_quaternion(r[4:8], r[1:4]) for r in a))
    except (OSError, UnicodeDecodeError, ValueError, OverflowError) as exc:
        # duplicate times, a zero quaternion, NaN, a time too big for int64, ...
        raise CorruptFileError(path, f"bad ego poses: {exc}") from None


def write_poses(path: Path, t_ns: NDArray[np.int64], poses: list[Transform]) -> None:
    rows = ["t_ns,x,y,z,qw,qx,qy,qz"]
    for t, T in zip(t_ns, poses):
        q = T.quaternion
        x, y, z = T.translation
        rows.append(f"{int(t)},{x:.6f},{y:.6f},{z:.6f},{q.w:.9f},{q.x:.9f},{q.y:.9f},{q.z:.9f}")
    Path(path).write_text("\n".join(rows) + "\n", encoding="utf-8")


def _tolerance(m: dict[str, Any], mpath: Path) -> int:
    v = m.get("tolerance_ns", DEFAULT_TOLERANCE_NS)
    try:
        t = int(v)
    except (TypeError, ValueError, OverflowError):
        t = -1
    if isinstance(v, bool) or t < 0:
        raise ManifestError(mpath, f"'tolerance_ns' must be a non-negative integer, got {v!r}")
    return t


def open_native(path: str | Path) -> NativeRecording:
    """Open a native recording folder (or its ``recording.json``). Reads only the index."""
    path = Path(path)
    root = path.parent if path.is_file() else path
    mpath = root / MANIFEST
    try:  # the one versioned-JSON reader: unreadable, not JSON, another format or a newer version
        m = read_versioned(mpath, MANIFEST_FORMAT)
    except CorruptFileError as exc:
        raise ManifestError(mpath, exc.reason) from None
    streams: dict[str, Stream] = {}
    files: dict[str, _StreamFiles] = {}
    problems: list[DataError] = []
    if not isinstance(m.get("streams") or {}, dict):
        raise ManifestError(mpath, "'streams' must be a mapping from sensor name to stream")
    ref_name = m.get("reference") or next(iter(m.get("streams") or {}), None)
    for name, s in (m.get("streams") or {}).items():
        if not isinstance(s, dict) or s.get("kind") not in ("lidar", "camera", "radar"):
            raise ManifestError(mpath, f"stream {name!r}: 'kind' must be lidar, camera or radar")
        try:
            ts = np.asarray(s["timestamps_ns"], dtype=np.int64).reshape(-1)
        except (KeyError, ValueError, TypeError, OverflowError):
            raise ManifestError(mpath, f"stream {name!r}: missing or non-integer 'timestamps_ns'") from None
        fl = s.get("files")
        pat = s.get("pattern")
        if (fl is None) == (pat is None):
            raise ManifestError(mpath, f"stream {name!r}: give exactly one of 'files' or 'pattern'")
        if fl is not None and len(fl) != len(ts):
            raise ManifestError(mpath, f"stream {name!r}: {len(fl)} files for {len(ts)} timestamps")
        if not isinstance(pat, (str, type(None))) or not isinstance(fl, (list, type(None))):
            raise ManifestError(mpath, f"stream {name!r}: 'pattern' must be a string, 'files' a list of paths")
        sf = _StreamFiles(s["kind"], list(fl) if fl is not None else None, pat)
        # validate every explicit path, and the pattern on its first and last index
        for i in range(len(ts)) if fl is not None else [0, len(ts) - 1] if len(ts) else []:
            try:
                _inside(root, sf.rel(i), mpath)
            except (KeyError, IndexError, ValueError, AttributeError, TypeError) as exc:
                raise ManifestError(mpath, f"stream {name!r}: bad pattern: {exc}") from None
        order = np.argsort(ts, kind="stable")  # ties keep the manifest's order (reported by info)
        if np.any(order != np.arange(len(ts))):
            back = int(np.count_nonzero(ts[1:] < ts[:-1]))
            problems.append(
                DataError(
                    mpath,
                    f"stream {name!r}: {back} sample(s) listed earlier than the one before; "
                    "sorted by time" + (" (the frames follow the sorted order)" if name == ref_name else ""),
                )
            )
            ts = ts[order]
            sf = _StreamFiles(sf.kind, [sf.rel(int(i)) for i in order], None)
        streams[name] = Stream(name, s["kind"], ts)
        files[name] = sf
    if not streams:
        raise ManifestError(mpath, "manifest lists no streams")
    reference = m.get("reference") or next(iter(streams))
    if not isinstance(reference, str) or reference not in streams:
        raise ManifestError(mpath, f"reference stream {reference!r} is not among the streams")
    rig = Rig()
    if m.get("calibration"):
        try:
            rig = load_rig(_inside(root, m["calibration"], mpath))
        except CalibrationError as exc:
            problems.append(exc)
    else:
        problems.append(CalibrationError(mpath, "manifest names no calibration"))
    poses = None
    if m.get("ego_poses"):
        try:
            poses = _read_poses(_inside(root, m["ego_poses"], mpath))
        except DataError as exc:
            problems.append(exc)
    labels_path = _inside(root, m["labels"], mpath) if m.get("labels") else None
    return NativeRecording(
        path=root,
        format="native",
        rig=rig,
        streams=streams,
        reference=reference,
        tolerance_ns=_tolerance(m, mpath),
        ego_poses=poses,
        problems=problems,
        _files=files,
        _labels_path=labels_path,
    )


@dataclass
class NativeWriter:
    """Write a native recording frame by frame (used by the synthesiser and converters).

    >>> import tempfile
    >>> import numpy as np
    >>> from fusionlabel.core.calibration import Lidar, Rig
    >>> from fusionlabel.core.frames import PointCloud
    >>> from fusionlabel.core.transforms import Transform
    >>> rig = Rig({}, {"lidar_top": Lidar("lidar_top", Transform.identity())}, {})
    >>> w = NativeWriter(Path(tempfile.mkdtemp()) / "rec", rig, reference="lidar_top")
    >>> for k in range(2):
    ...     w.add_lidar("lidar_top", 1_000_000_000 + k * 100_000_000, PointCloud(np.zeros((5, 3), np.float32)))
    >>> len(open_native(w.finish()))
    2
    """

    root: Path
    rig: Rig
    reference: str
    name: str = ""
    tolerance_ns: int = DEFAULT_TOLERANCE_NS
    _streams: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.root = Path(self.root)
        self.root.mkdir(parents=True, exist_ok=True)

    def _add(self, name: str, kind: str, t_ns: int, ext: str) -> Path:
        s = self._streams.setdefault(name, {"kind": kind, "timestamps_ns": [], "files": []})
        i = len(s["timestamps_ns"])
        rel = f"{kind}/{name}/{i:06d}{ext}"
        s["timestamps_ns"].append(int(t_ns))
        s["files"].append(rel)
        out = self.root / rel
        out.parent.mkdir(parents=True, exist_ok=True)
        return out

    def add_lidar(self, name: str, t_ns: int, cloud: PointCloud) -> None:
        """Store as float32 (N, 4) x y z intensity."""
        inten = cloud.intensity if cloud.intensity is not None else np.zeros(len(cloud), np.float32)
        a = np.hstack([cloud.xyz, inten[:, None]]).astype("<f4")
        self._add(name, "lidar", t_ns, ".bin").write_bytes(a.tobytes())

    def add_image(self, name: str, t_ns: int, encoded: bytes, ext: str = ".jpg") -> None:
        self._add(name, "camera", t_ns, ext).write_bytes(encoded)

    def add_radar(self, name: str, t_ns: int, det: RadarDetections) -> None:
        write_radar_csv(self._add(name, "radar", t_ns, ".csv"), det)

    def finish(
        self,
        ego_poses: tuple[NDArray[np.int64], list[Transform]] | None = None,
        labels: LabelSet | None = None,
    ) -> Path:
        """Write calibration, poses, labels and finally the manifest (atomically). Returns the folder."""
        from fusionlabel.io.native_labels import write_labels

        save_rig(self.rig, self.root / "calib.yaml")
        manifest: dict[str, Any] = {
            "format": FORMAT,
            "version": VERSION,
            "name": self.name or self.root.name,
            "calibration": "calib.yaml",
            "reference": self.reference,
            "tolerance_ns": self.tolerance_ns,
            "streams": {},
        }
        for name, s in self._streams.items():
            files = s["files"]
            pattern = f"{s['kind']}/{name}/{{index:06d}}{Path(files[0]).suffix}" if files else None
            same = pattern is not None and all(f == pattern.format(index=i) for i, f in enumerate(files))
            entry: dict[str, Any] = {"kind": s["kind"], "timestamps_ns": s["timestamps_ns"]}
            entry["pattern" if same else "files"] = pattern if same else files
            manifest["streams"][name] = entry
        if ego_poses is not None:
            write_poses(self.root / "ego_poses.csv", *ego_poses)
            manifest["ego_poses"] = "ego_poses.csv"
        if labels is not None:
            ref_ts = self._streams[self.reference]["timestamps_ns"]
            write_labels(labels, self.root / "labels.json", dict(enumerate(ref_ts)))
            manifest["labels"] = "labels.json"
        atomic_write_text(self.root / MANIFEST, json.dumps(manifest, separators=(",", ":")))
        return self.root
