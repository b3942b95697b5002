"""OpenLABEL coordinate systems on import: rotations in the file's forms, and the tree walked to the ego frame.

A cuboid may be in any coordinate system of the file's tree. :class:`_CsTree` brings it into the
ego frame per frame by walking from its coordinate system up to the common ancestor with the ego
one and down again, ``T_ego_cs = inv(T_lca_ego) T_lca_cs``; each step child -> parent is the
frame's transform between the two (either direction, found by ``src``/``dst``) or else the child's
static ``pose_wrt_parent`` (:func:`_transform_data`: ``matrix4x4``, quaternion or Euler form). The
ego coordinate system is ``vehicle-iso8855``, else ``ego`` (files of FusionLabel 0.1), else the
file's only ``local_cs``. An unknown coordinate system, a parent that is not declared, a cycle, or
a step without a pose in that frame is a :class:`CorruptFileError` naming the file, the frame,
the object and the coordinate system.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
from numpy.typing import NDArray

from fusionlabel.core.errors import CorruptFileError
from fusionlabel.core.transforms import Transform
from fusionlabel.io.openlabel_schema import EGO_CS, LEGACY_EGO_CS


def _R_from_xyzw(q: Any) -> NDArray[np.float64]:
    """(3, 3) rotation of a scalar-last quaternion ``(qx, qy, qz, qw)``, normalised first.

    Raises
    ------
    ValueError : a zero or non-finite quaternion
    """
    x, y, z, w = (float(v) for v in q)
    n = math.sqrt(x * x + y * y + z * z + w * w)
    if not math.isfinite(n) or n < 1e-12:
        raise ValueError("zero quaternion")
    x, y, z, w = x / n, y / n, z / n, w / n
    return np.array(
        [
            [1 - 2 * (y * y + z * z), 2 * (x * y - w * z), 2 * (x * z + w * y)],
            [2 * (x * y + w * z), 1 - 2 * (x * x + z * z), 2 * (y * z - w * x)],
            [2 * (x * z - w * y), 2 * (y * z + w * x), 1 - 2 * (x * x + y * y)],
        ]
    )


def _R_axis(axis: str, a: float) -> NDArray[np.float64]:
    """Right-handed rotation by ``a`` radians about ``axis`` (``"X"``, ``"Y"`` or ``"Z"``)."""
    c, s = math.cos(a), math.sin(a)
    if axis == "X":
        return np.array([[1.0, 0.0, 0.0], [0.0, c, -s], [0.0, s, c]])
    if axis == "Y":
        return np.array([[c, 0.0, s], [0.0, 1.0, 0.0], [-s, 0.0, c]])
    return np.array([[c, -s, 0.0], [s, c, 0.0], [0.0, 0.0, 1.0]])


def _R_from_euler(angles: Any, sequence: str = "ZYX") -> NDArray[np.float64]:
    """OpenLABEL Euler angles: ``R = R_s0(a0) R_s1(a1) R_s2(a2)`` for ``sequence = s0 s1 s2``.

    The default ``"ZYX"`` takes ``(rz, ry, rx)``: ``R = Rz Ry Rx`` (yaw, pitch, roll), as the
    reference library ``vcd`` reads ``euler_angles``.
    """
    seq = str(sequence).upper()
    if len(seq) != 3 or any(c not in "XYZ" for c in seq):
        raise ValueError(f"Euler sequence {sequence!r} is not three of X, Y, Z")
    a0, a1, a2 = (float(v) for v in angles)
    return _R_axis(seq[0], a0) @ _R_axis(seq[1], a1) @ _R_axis(seq[2], a2)


def _transform_data(td: Mapping[str, Any]) -> Transform:
    """An OpenLABEL ``transform_data`` (``matrix4x4``, quaternion or Euler form) as ``T_dst_src``.

    Raises
    ------
    ValueError : malformed numbers (a zero quaternion, a non-finite or non-4x4 matrix)
    """
    if "matrix4x4" in td:
        m = np.asarray(td["matrix4x4"], dtype=np.float64)
        if m.size != 16:
            raise ValueError(f"matrix4x4 has {m.size} values, not 16")
        return Transform(m.reshape(4, 4))  # X_dst = M X_src, row-major
    if "quaternion" in td:
        return Transform.from_rt(_R_from_xyzw(td["quaternion"]), td["translation"])
    return Transform.from_rt(_R_from_euler(td["euler_angles"], td.get("sequence", "ZYX")), td["translation"])


def _heading_from_xyzw(q: list[float]) -> float:
    """Azimuth of the rotated x axis: ``atan2(R[1,0], R[0,0])`` with ``R`` from ``(qx, qy, qz, qw)``."""
    R = _R_from_xyzw(q)
    return math.atan2(R[1, 0], R[0, 0])


def _euler_zyx_heading(r: list[float]) -> float:
    """9-value cuboids: Euler angles ``(rx, ry, rz)`` applied ZYX, ``R = Rz Ry Rx``; heading of x axis."""
    _rx, ry, rz = r
    # R[:,0] = Rz Ry e_x = (cos rz cos ry, sin rz cos ry, -sin ry)
    return math.atan2(math.sin(rz) * math.cos(ry), math.cos(rz) * math.cos(ry))


def _cuboid_R(v: list[float]) -> NDArray[np.float64]:
    """(3, 3) rotation of a 10-value (quaternion) or 9-value (Euler ``rx, ry, rz``) cuboid."""
    if len(v) == 10:
        return _R_from_xyzw(v[3:7])
    rx, ry, rz = v[3:6]
    return _R_from_euler([rz, ry, rx], "ZYX")


# -- import: the coordinate-system tree -----------------------------------------------------------
class _CsTree:
    """The file's coordinate systems: resolves ``T_ego_cs`` per frame by walking the tree.

    Each coordinate system names its ``parent`` (``""`` at a root). A step child -> parent is
    ``T_parent_child``: the frame's transform between the two (``src``/``dst`` either way
    round) or else the child's ``pose_wrt_parent``. For coordinate systems ``a`` and ``b`` with
    lowest common ancestor ``l``: ``T_b_a = inv(T_l_b) T_l_a``.
    """

    def __init__(self, ol: Mapping[str, Any], path: Path, ego_cs: str | None) -> None:
        self.path = path
        self.cs: Mapping[str, Any] = ol.get("coordinate_systems", {})
        self.frames: Mapping[str, Any] = ol.get("frames", {})
        self._cache: dict[tuple[str, str], Transform] = {}
        if ego_cs is not None:
            if self.cs and ego_cs not in self.cs:
                raise CorruptFileError(path, f"no coordinate system {ego_cs!r} (have: {', '.join(self.cs)})")
            self.ego: str | None = ego_cs
        elif EGO_CS in self.cs:
            self.ego = EGO_CS
        elif LEGACY_EGO_CS in self.cs:
            self.ego = LEGACY_EGO_CS
        else:
            local = [n for n, c in self.cs.items() if c.get("type") == "local_cs"]
            self.ego = local[0] if len(local) == 1 else None

    def is_ego(self, name: str) -> bool:
        """Cuboids in ``name`` need no transform: the ego coordinate system, or any ego name
        in a file that declares no coordinate systems."""
        if name == self.ego:
            return True
        return not self.cs and name in (EGO_CS, LEGACY_EGO_CS)

    def T_ego(self, name: str, frame: str, where: str) -> Transform:
        """``T_ego_name`` in frame ``frame`` (a key of ``frames``); ``where`` prefixes errors.

        Raises
        ------
        CorruptFileError : unknown coordinate system, broken chain, or no pose for a step
        """
        key = (frame, name)
        if key not in self._cache:
            if name not in self.cs:
                known = ", ".join(self.cs) or "none"
                raise CorruptFileError(
                    self.path,
                    f"{where}: cuboid in coordinate system {name!r}, which the file does not declare (have: {known})",
                )
            if self.ego is None:
                raise CorruptFileError(
                    self.path,
                    f"{where}: cuboid in coordinate system {name!r}, but no coordinate system is the vehicle's "
                    f"(none is named {EGO_CS!r} or {LEGACY_EGO_CS!r}, and there is not exactly one local_cs)",
                )
            up_a = self._chain(name, where)
            up_b = self._chain(self.ego, where)
            common = next((c for c in up_a if c in up_b), None)
            if common is None:
                raise CorruptFileError(
                    self.path,
                    f"{where}: coordinate system {name!r} is not connected to {self.ego!r} "
                    f"(roots {up_a[-1]!r} and {up_b[-1]!r})",
                )
            T_l_a = self._up(up_a[: up_a.index(common) + 1], frame, where)
            T_l_b = self._up(up_b[: up_b.index(common) + 1], frame, where)
            self._cache[key] = T_l_b.inverse() @ T_l_a
        return self._cache[key]

    def _chain(self, name: str, where: str) -> list[str]:
        """``[name, parent, grandparent, ..., root]``."""
        chain = [name]
        while True:
            parent = str(self.cs[chain[-1]].get("parent", ""))
            if parent == "":
                return chain
            if parent not in self.cs:
                raise CorruptFileError(
                    self.path,
                    f"{where}: coordinate system {chain[-1]!r} names parent {parent!r}, which the file does not declare",
                )
            if parent in chain:
                raise CorruptFileError(self.path, f"{where}: coordinate systems form a cycle through {parent!r}")
            chain.append(parent)

    def _up(self, chain: list[str], frame: str, where: str) -> Transform:
        """``T_last_first`` along ``chain`` (child first): ``T_p2_p1 @ T_p1_c @ ...``."""
        T = Transform.identity()
        for child, parent in itertools.pairwise(chain):
            T = self._step(child, parent, frame, where) @ T
        return T

    def _step(self, child: str, parent: str, frame: str, where: str) -> Transform:
        """``T_parent_child``: the frame's transform, else the static pose."""
        props = self.frames.get(frame, {}).get("frame_properties", {})
        try:
            for t in props.get("transforms", {}).values():
                if t["src"] == child and t["dst"] == parent:
                    return _transform_data(t["transform_src_to_dst"])
                if t["src"] == parent and t["dst"] == child:
                    return _transform_data(t["transform_src_to_dst"]).inverse()
            pose = self.cs[child].get("pose_wrt_parent")
            if pose is not None:
                return _transform_data(pose)  # pose of the child wrt the parent = T_parent_child
        except (ValueError, TypeError, KeyError) as exc:
            raise CorruptFileError(self.path, f"{where}: pose of {child!r} with respect to {parent!r}: {exc}") from None
        raise CorruptFileError(
            self.path,
            f"{where}: no pose of coordinate system {child!r} with respect to its parent {parent!r} in frame {frame} "
            f"(neither a transform between them in the frame nor a pose_wrt_parent)",
        )
