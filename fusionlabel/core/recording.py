"""The Recording interface every reader implements.

A recording is a set of sensor streams with their own timestamps, a calibration :class:`Rig`,
optionally ego poses and ground-truth labels. Frames are defined by the reference sensor's
timestamps and built lazily by :meth:`Recording.frame`, so opening a 10,000-frame recording
reads only its index (manifest, timestamps), never the sensor data.

Readers subclass :class:`Recording` and implement ``_load_frame``. Problems that do not stop
the recording from being used (a calibration file missing a key, one stream's timestamps
unreadable) are collected in ``problems`` instead of being raised, so ``fusionlabel info`` can
report the rest; problems with one frame's data surface when that frame is loaded, as a
:class:`~fusionlabel.core.errors.DataError` naming the file.
"""

from __future__ import annotations

import abc
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.calibration import Rig
from fusionlabel.core.errors import CalibrationError, DataError, TimeOrderError
from fusionlabel.core.frames import Frame
from fusionlabel.core.labels import LabelSet
from fusionlabel.core.sync import PoseTrack, StreamSync, match_nearest
from fusionlabel.core.transforms import Transform

SensorKind = Literal["lidar", "camera", "radar"]

#: default matching tolerance: half a 10 Hz LiDAR period
DEFAULT_TOLERANCE_NS = 50_000_000


def time_order_defects(name: str, timestamps_ns: NDArray[np.int64]) -> list[str]:
    """Why ``timestamps_ns`` is not strictly increasing: samples earlier than the one before,
    duplicate timestamps (each a reason naming the stream and the first case); [] when it is.

    >>> time_order_defects("lidar", np.array([0, 200, 100, 100]))  # doctest: +NORMALIZE_WHITESPACE
    ["stream 'lidar': 1 sample(s) earlier than the one before (first: sample 2 at 100 ns after sample 1 at 200 ns)",
     "stream 'lidar': 1 duplicate timestamp(s) (first: samples 2 and 3 at 100 ns)"]
    """
    t = np.asarray(timestamps_ns, dtype=np.int64).reshape(-1)
    out: list[str] = []
    back = np.flatnonzero(t[1:] < t[:-1])
    if len(back):
        i = int(back[0]) + 1
        out.append(
            f"stream {name!r}: {len(back)} sample(s) earlier than the one before "
            f"(first: sample {i} at {int(t[i])} ns after sample {i - 1} at {int(t[i - 1])} ns)"
        )
    s = np.sort(t)
    dup = np.flatnonzero(s[1:] == s[:-1])
    if len(dup):
        tt = s[dup[0]]
        a, b = np.flatnonzero(t == tt)[:2]
        out.append(f"stream {name!r}: {len(dup)} duplicate timestamp(s) (first: samples {a} and {b} at {int(tt)} ns)")
    return out


@dataclass(frozen=True)
class Stream:
    """One sensor's sample times.

    name : sensor name (key in the rig)
    kind : ``"lidar"``, ``"camera"`` or ``"radar"``
    timestamps_ns : (K,) int64 sample times, nanoseconds
    """

    name: str
    kind: SensorKind
    timestamps_ns: NDArray[np.int64]

    def __post_init__(self) -> None:
        t = np.asarray(self.timestamps_ns, dtype=np.int64).reshape(-1)
        t.setflags(write=False)
        object.__setattr__(self, "timestamps_ns", t)

    def __len__(self) -> int:
        return len(self.timestamps_ns)

    @property
    def rate_hz(self) -> float:
        """Median sample rate (0 when fewer than two samples)."""
        if len(self.timestamps_ns) < 2:
            return 0.0
        t = np.sort(self.timestamps_ns)
        dt = t[1:] - t[:-1]  # np.diff, spelled so that numpy's stubs keep the int64 dtype
        dt = dt[dt > 0]
        return float(1e9 / np.median(dt)) if len(dt) else 0.0


@dataclass
class Recording(abc.ABC):
    """Base class of all recordings (see the module docstring)."""

    path: Path
    format: str
    rig: Rig
    streams: dict[str, Stream]
    reference: str
    tolerance_ns: int = DEFAULT_TOLERANCE_NS
    ego_poses: PoseTrack | None = None
    problems: list[DataError] = field(default_factory=list)
    _sync: dict[str, StreamSync] | None = field(default=None, init=False, repr=False)

    # -- required -----------------------------------------------------------------------------
    @abc.abstractmethod
    def _load_frame(self, index: int) -> Frame:
        """Build frame ``index`` (0 <= index < len(self)); raise DataError naming the file on bad data."""

    # -- optional -----------------------------------------------------------------------------
    @property
    def labels(self) -> LabelSet | None:
        """Ground-truth / stored labels carried by the recording, in the ego frame, or None."""
        return None

    @property
    def editable_labels_path(self) -> Path | None:
        """The native label file this recording owns and an editor may write, or None.

        Only FusionLabel's own format owns one; dataset formats (KITTI, nuScenes, bags, ...) are
        read-only: their label files are never a place to save edits.
        """
        return None

    # -- provided -----------------------------------------------------------------------------
    @property
    def timestamps_ns(self) -> NDArray[np.int64]:
        """(M,) int64 reference timestamps: one per frame."""
        s = self.streams.get(self.reference)
        return s.timestamps_ns if s is not None else np.zeros(0, dtype=np.int64)

    def __len__(self) -> int:
        return len(self.timestamps_ns)

    def frame(self, index: int) -> Frame:
        n = len(self)
        if index < 0:
            index += n
        if not 0 <= index < n:
            raise IndexError(f"frame {index} out of range: {self.path} has {n} frames")
        return self._load_frame(index)

    def __iter__(self) -> Iterator[Frame]:
        for i in range(len(self)):
            yield self.frame(i)

    @property
    def sync(self) -> dict[str, StreamSync]:
        """Each non-reference stream matched to the reference timestamps (computed once)."""
        if self._sync is None:
            ref = self.timestamps_ns
            self._sync = {
                name: match_nearest(ref, s.timestamps_ns, self.tolerance_ns)
                for name, s in self.streams.items()
                if name != self.reference
            }
        return self._sync

    def matched_samples(self, index: int) -> Iterator[tuple[str, Stream, int, int]]:
        """``(name, stream, sample index, sample time ns)`` of every stream with a sample in frame ``index``.

        The reference stream's sample is the frame itself; other streams' come from :attr:`sync`
        (streams without a sample within the tolerance are skipped).
        """
        for name, s in self.streams.items():
            i = index if name == self.reference else int(self.sync[name].index[index])
            if i >= 0:
                yield name, s, i, int(s.timestamps_ns[i])

    def ego_pose_at(self, t_ns: int) -> Transform | None:
        """``T_world_ego`` interpolated at ``t_ns``; None without poses or outside their span."""
        if self.ego_poses is None:
            return None
        try:
            return self.ego_poses.at(int(t_ns), max_extrapolation_ns=self.tolerance_ns)
        except ValueError:
            return None

    def time_order_problems(self) -> list[DataError]:
        """Every stream whose timestamps are not strictly increasing (what ``fusionlabel info``
        reports). Readers that sort a stream by time report that in :attr:`problems` instead."""
        out: list[DataError] = []
        for name, s in self.streams.items():
            why = time_order_defects(name, s.timestamps_ns)
            tail = " (the reference stream: its order is the order of the frames)" if name == self.reference else ""
            out += [TimeOrderError(self.path, w + tail) for w in why]
        return out

    def lidar_calibration_problem(self, names: Sequence[str] | None = None) -> CalibrationError | None:
        """Why LiDARs have no calibration in the rig (the reader's own calibration problem when it
        had one), or None: for ``names``, or, by default, the LiDAR streams when the rig has no
        LiDAR at all. What ``prelabel``, ``train`` and ``adapt`` refuse before reading a cloud."""
        if names is None:
            names = [] if self.rig.lidars else [n for n, s in self.streams.items() if s.kind == "lidar"]
        if not names:
            return None
        what = f"LiDAR {', '.join(repr(n) for n in names)}"
        cause = next((p for p in self.problems if isinstance(p, CalibrationError)), None)
        if cause is not None:
            return CalibrationError(cause.path, f"{cause.reason}; so {what} has no calibration")
        have = ", ".join(self.rig.lidars) or "none"
        return CalibrationError(self.path, f"{what} has no calibration in the rig (LiDARs: {have})")

    def check_time_order(self) -> None:
        """Raise :class:`TimeOrderError` unless the frames are in strictly increasing time order.

        Called by what follows the order of frames (tracking in ``prelabel``): frames out of
        order would be tracked backwards in time, two frames at one time have no order at all.
        """
        why = time_order_defects(self.reference, self.timestamps_ns)
        if why:
            raise TimeOrderError(
                self.path,
                "; ".join(why) + ": the frames are not in time order, so they cannot be tracked "
                "(fix the recording's timestamps; `fusionlabel info` lists them)",
            )

    @property
    def duration_s(self) -> float:
        t = self.timestamps_ns
        return float((t.max() - t.min()) / 1e9) if len(t) > 1 else 0.0
