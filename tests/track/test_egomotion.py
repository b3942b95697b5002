"""Ego rotation from the tracks: the robust rigid fit and the state rotation of both backends."""

from __future__ import annotations

import numpy as np

from fusionlabel.track.egomotion import EgoRotationConfig, EgoRotationFilter, fit_rigid
from fusionlabel.track.kalman import BatchKalman, FilterpyBank, MotionModel


def _rot(phi: float, p: np.ndarray) -> np.ndarray:
    c, s = np.cos(phi), np.sin(phi)
    return p @ np.array([[c, s], [-s, c]])


def test_fit_rigid_recovers_the_turn_despite_moving_objects() -> None:
    rng = np.random.default_rng(0)
    static = np.column_stack([rng.uniform(10, 50, 8), rng.uniform(-15, 15, 8)])
    moving = np.column_stack([rng.uniform(10, 50, 3), rng.uniform(-5, 5, 3)])
    p = np.vstack([static, moving])
    phi, t = 0.04, np.array([-1.2, 0.05])  # the ego turned and drove 1.2 m forward
    z = _rot(phi, p) + t
    z[8:] += np.array([[1.5, 0.3], [-1.0, 0.8], [0.9, -1.1]])  # three cars move on their own
    z += rng.normal(0, 0.05, z.shape)
    ang, tt, info, n = fit_rigid(p, z, inlier_gate=0.8)
    assert n == 8
    assert abs(ang - phi) < 3e-3
    np.testing.assert_allclose(tt, t, atol=0.1)
    assert info > 0
    # a straight drive gives no rotation
    ang0, _, _, _ = fit_rigid(p, p + t, inlier_gate=0.8)
    assert abs(ang0) < 1e-12


def test_filter_relaxes_to_straight_without_evidence_and_needs_three_objects() -> None:
    f = EgoRotationFilter(EgoRotationConfig(enabled=True), dt=0.1)
    p = np.array([[30.0, 5.0], [40.0, -8.0], [25.0, 12.0], [45.0, 3.0]])
    f.predict()
    corr = f.measure(p, _rot(0.03, p))
    assert 0.01 < corr < 0.03 and f.rate == corr  # part of the turn at once (Kalman gain)
    assert f.measure(p[:2], _rot(0.03, p[:2])) == 0.0  # two objects: no measurement
    for _ in range(30):
        f.predict()
    assert abs(f.rate) < 0.03 * 0.1


def test_state_rotation_equals_the_filterpy_reference() -> None:
    rng = np.random.default_rng(1)
    z = np.column_stack(
        [rng.uniform(-30, 30, (5, 2)), rng.uniform(-1, 1, 5), rng.uniform(1, 5, (5, 3)), rng.uniform(-3, 3, 5)]
    )
    a, b = BatchKalman(MotionModel()), FilterpyBank(MotionModel())
    v0 = rng.normal(0, 3, (5, 3))
    a.add(z, v0)
    b.add(z, v0)
    for phi in (0.05, -0.3, 2.0):
        a.predict()
        b.predict()
        a.rotate(phi)
        b.rotate(phi)
        np.testing.assert_allclose(a.x, b.x, atol=1e-9)
        np.testing.assert_allclose(a.P, b.P, atol=1e-9)
    # positions turn about the origin, velocities are kept, covariances stay symmetric
    c = BatchKalman(MotionModel())
    c.add(z[:1], v0[:1])
    c.rotate(np.pi / 2)
    np.testing.assert_allclose(c.x[0, :2], [-z[0, 1], z[0, 0]], atol=1e-12)
    np.testing.assert_allclose(c.x[0, 7:10], v0[0], atol=1e-12)
    np.testing.assert_allclose(c.P[0], c.P[0].T, atol=1e-12)
