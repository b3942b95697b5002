"""The pillar network's configuration: grid, classes, architecture, target settings (no torch).

One frozen dataclass, :class:`PillarsConfig`, describes everything a checkpoint needs besides its
weights; it round-trips through JSON (:meth:`PillarsConfig.to_dict` / :meth:`from_dict`) and is
stored inside every checkpoint (see :mod:`fusionlabel.detect.pillars.checkpoint`).

Grid (ego frame, metres; x forward, y left, z up)::

    pillar column i = floor((x - x_min) / pillar_size)     i in [0, nx)
    pillar row    j = floor((y - y_min) / pillar_size)     j in [0, ny)
    heatmap cell (j', i') = (j // out_stride, i // out_stride), cell size pillar_size * out_stride

Points outside ``x_range`` x ``y_range`` x ``z_range`` are ignored.

Example
-------
>>> c = PillarsConfig()
>>> c.grid_shape, c.out_shape, c.cell_size
((500, 500), (250, 250), 0.8)
>>> PillarsConfig.from_dict(c.to_dict()) == c
True
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import asdict, dataclass, fields, replace
from typing import Any

from fusionlabel.core.size_priors import DEFAULT_CLASSES as _SIZE_CLASSES

#: the classes of the default network: those with a size prior (:mod:`fusionlabel.core.size_priors`),
#: Car, Van, Truck, Bus, Pedestrian, Cyclist
DEFAULT_CLASSES: tuple[str, ...] = tuple(c.name for c in _SIZE_CLASSES)
#: bump when the architecture or the meaning of a config field changes
CONFIG_VERSION = 1


@dataclass(frozen=True)
class PillarsConfig:
    """Grid, architecture and target settings of a pillar / CenterPoint network.

    Attributes
    ----------
    classes : class names, one heatmap channel each, in channel order
    x_range, y_range, z_range : (min, max) metres in the ego frame of the region the network sees
    pillar_size : pillar edge (m) in x and y
    out_stride : heatmap cells per pillar side (the head runs at grid / out_stride)
    use_intensity : feed the LiDAR intensity to the PointNet (off by default: intensity scales
        differ between sensors and the synthetic LiDAR's intensity model is not a real one's)
    pillar_channels : PointNet output channels (the BEV pseudo-image's depth)
    channels : backbone block channels; block k runs at stride ``out_stride * 2**k``
    layers : 3x3 convolutions per backbone block (after the strided one)
    head_channels : channels of the shared 3x3 head convolution
    velocity : also regress (vx, vy) m/s (needs ``velocity`` attributes in the training labels)
    gaussian_overlap : CenterPoint's minimum IoU a corner shift may keep; sets the Gaussian radius
    min_radius : smallest Gaussian radius, heatmap cells
    """

    classes: tuple[str, ...] = DEFAULT_CLASSES
    x_range: tuple[float, float] = (-100.0, 100.0)
    y_range: tuple[float, float] = (-100.0, 100.0)
    z_range: tuple[float, float] = (-3.0, 4.0)
    pillar_size: float = 0.4
    out_stride: int = 2
    use_intensity: bool = False
    pillar_channels: int = 16
    channels: tuple[int, ...] = (32, 64)
    layers: int = 1
    head_channels: int = 32
    velocity: bool = False
    gaussian_overlap: float = 0.1
    min_radius: int = 2

    def __post_init__(self) -> None:
        for name in ("classes", "x_range", "y_range", "z_range", "channels"):
            v = getattr(self, name)
            object.__setattr__(self, name, tuple(v) if not isinstance(v, str) else (v,))
        object.__setattr__(self, "x_range", tuple(float(v) for v in self.x_range))
        object.__setattr__(self, "y_range", tuple(float(v) for v in self.y_range))
        object.__setattr__(self, "z_range", tuple(float(v) for v in self.z_range))
        object.__setattr__(self, "channels", tuple(int(v) for v in self.channels))
        if not self.classes or not all(isinstance(c, str) and c for c in self.classes):
            raise ValueError("classes must be a non-empty sequence of names")
        if len(set(self.classes)) != len(self.classes):
            raise ValueError(f"classes repeat a name: {self.classes}")
        for name in ("x_range", "y_range", "z_range"):
            lo, hi = getattr(self, name)
            if not (len(getattr(self, name)) == 2 and hi > lo):
                raise ValueError(f"{name} must be (min, max) with max > min, got {getattr(self, name)}")
        if self.pillar_size <= 0 or self.out_stride < 1:
            raise ValueError("pillar_size must be > 0 and out_stride >= 1")
        nx, ny = self.grid_shape[1], self.grid_shape[0]
        step = self.out_stride * 2 ** max(len(self.channels) - 1, 0)
        if nx % step or ny % step:
            raise ValueError(f"grid {ny}x{nx} must be divisible by {step} (out_stride * 2**(blocks-1))")
        if not self.channels or min(self.channels) < 1:
            raise ValueError("channels must be positive")

    # -- derived sizes ----------------------------------------------------------------------------
    def inside(self, xyz: Any) -> Any:
        """Which rows of the ``(N, >=3)`` array ``xyz`` (numpy or torch: the same operators, so the
        ONNX export traces it) lie in the region the network sees (half-open ranges)."""
        (x0, x1), (y0, y1), (z0, z1) = self.x_range, self.y_range, self.z_range
        return (
            (xyz[:, 0] >= x0)
            & (xyz[:, 0] < x1)
            & (xyz[:, 1] >= y0)
            & (xyz[:, 1] < y1)
            & (xyz[:, 2] >= z0)
            & (xyz[:, 2] < z1)
        )

    @property
    def grid_shape(self) -> tuple[int, int]:
        """(ny, nx) pillars."""
        nx = round((self.x_range[1] - self.x_range[0]) / self.pillar_size)
        ny = round((self.y_range[1] - self.y_range[0]) / self.pillar_size)
        return (int(ny), int(nx))

    @property
    def out_shape(self) -> tuple[int, int]:
        """(H, W) heatmap cells."""
        ny, nx = self.grid_shape
        return (ny // self.out_stride, nx // self.out_stride)

    @property
    def cell_size(self) -> float:
        """Heatmap cell edge, metres."""
        return round(self.pillar_size * self.out_stride, 9)

    @property
    def point_features(self) -> int:
        """Per-point PointNet input: x y z (+ intensity), offsets to pillar mean (3) and centre (2)."""
        return 3 + int(self.use_intensity) + 5

    @property
    def box_code_size(self) -> int:
        """Regression channels: offset 2, z 1, log size 3, sin/cos yaw 2 (+ velocity 2)."""
        return 8 + 2 * int(self.velocity)

    @property
    def lattice_step(self) -> float:
        """The coarsest feature map's cell edge (m): a window keeps the network's lattice when its
        corner is moved by a multiple of it."""
        return round(self.pillar_size * self.out_stride * 2 ** (len(self.channels) - 1), 9)

    def window(self, x0: float, y0: float, size_m: float) -> PillarsConfig:
        """The sub-grid ``[x0, x0 + size_m) x [y0, y0 + size_m)``, its corner moved onto this grid's
        lattice (:attr:`lattice_step`) and kept inside the grid, its edge a whole number of lattice
        cells: what a batch is trained on (the weights of a fully convolutional network serve
        any grid; the points keep their ego coordinates). The whole grid when ``size_m`` covers it.

        >>> PillarsConfig(x_range=(-100.0, 100.0), y_range=(-100.0, 100.0)).window(-30.0, 13.0, 80).x_range
        (-29.6, 50.4)
        """
        step = self.lattice_step
        ranges = []
        for lo, hi, start in ((*self.x_range, x0), (*self.y_range, y0)):
            edge = min(hi - lo, max(step, step * math.floor(size_m / step + 1e-9)))
            k = round((min(max(start, lo), hi - edge) - lo) / step)
            a = round(lo + k * step, 6)
            ranges.append((a, round(a + edge, 6)))
        if ranges[0] == self.x_range and ranges[1] == self.y_range:
            return self
        return replace(self, x_range=ranges[0], y_range=ranges[1])

    # -- JSON -------------------------------------------------------------------------------------
    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        return {k: list(v) if isinstance(v, tuple) else v for k, v in d.items()}

    @classmethod
    def from_dict(cls, d: Mapping[str, Any]) -> PillarsConfig:
        """From :meth:`to_dict` output; raises ``ValueError`` naming unknown or bad fields."""
        known = {f.name for f in fields(cls)}
        unknown = sorted(set(d) - known)
        if unknown:
            raise ValueError(f"unknown config field(s) {unknown}")
        return cls(**dict(d))
