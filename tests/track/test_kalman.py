"""The batched Kalman filter equals the filterpy reference, update by update."""

from __future__ import annotations

import numpy as np
import pytest

from fusionlabel.track.kalman import YAW, BatchKalman, FilterpyTrack, MotionModel, align_yaw, radial_velocity_model


def _random_z(rng: np.random.Generator, n: int) -> np.ndarray:
    z = np.column_stack(
        [rng.uniform(-30, 30, (n, 2)), rng.uniform(-1, 1, n), rng.uniform(1, 5, (n, 3)), rng.uniform(-np.pi, np.pi, n)]
    )
    return z


def test_batch_equals_filterpy_over_a_random_sequence() -> None:
    rng = np.random.default_rng(3)
    model = MotionModel(dt=0.1)
    z0 = _random_z(rng, 6)
    ref = [FilterpyTrack(model, z) for z in z0]
    batch = BatchKalman(model)
    batch.add(z0)
    for step in range(40):
        for r in ref:
            r.predict()
        batch.predict()
        np.testing.assert_allclose(batch.x, np.stack([r.x for r in ref]), atol=1e-9, rtol=0)
        np.testing.assert_allclose(batch.P, np.stack([r.P for r in ref]), atol=1e-9, rtol=0)
        idx = np.flatnonzero(rng.random(len(ref)) < 0.7)  # some tracks coast
        z = batch.x[idx, :7] + rng.normal(0, 0.3, (len(idx), 7))
        z[: len(idx) // 2, YAW] += np.pi  # heading flips must be handled identically
        flips_b = batch.update(idx, z)
        flips_r = [ref[i].update(z[k]) for k, i in enumerate(idx)]
        assert flips_b.tolist() == flips_r
        if step % 5 == 0:  # an EKF radar update on every track
            rows = np.arange(len(ref))
            vr = rng.normal(0, 3, len(rows))
            s_pos = rng.normal(0, 1, (len(rows), 3))
            s_vel = rng.normal(0, 2, (len(rows), 3))
            batch.update_radial_velocity(rows, vr, s_pos, s_vel, 0.3)
            for i in rows:
                ref[i].update_radial_velocity(vr[i], s_pos[i], s_vel[i], 0.3)
        np.testing.assert_allclose(batch.x, np.stack([r.x for r in ref]), atol=1e-9, rtol=0)
        np.testing.assert_allclose(batch.P, np.stack([r.P for r in ref]), atol=1e-9, rtol=0)
    # removing rows keeps the others intact
    keep = np.array([True, False, True, True, False, True])
    batch.keep(keep)
    np.testing.assert_allclose(batch.x, np.stack([r.x for r, k in zip(ref, keep) if k]), atol=1e-9, rtol=0)


def test_constant_velocity_is_learned() -> None:
    model = MotionModel(dt=0.1)
    kf = BatchKalman(model)
    kf.add(np.array([[0.0, 0.0, 1.0, 4.0, 1.8, 1.5, 0.0]]))
    for k in range(1, 30):
        kf.predict()
        kf.update(np.array([0]), np.array([[1.0 * k, -0.5 * k, 1.0, 4.0, 1.8, 1.5, 0.0]]))  # 10 m/s, -5 m/s
    np.testing.assert_allclose(kf.x[0, 7:9], [10.0, -5.0], atol=0.05)


def test_align_yaw_wraps_and_flips() -> None:
    z, flipped = align_yaw(np.array([np.pi - 0.05, 0.1 + np.pi, 0.3]), np.array([-np.pi + 0.05, 0.1, 0.2]))
    np.testing.assert_allclose(z, [-np.pi - 0.05, 0.1, 0.3], atol=1e-12)
    assert flipped.tolist() == [False, True, False]


@pytest.mark.parametrize("seed", [0, 1])
def test_radial_jacobian_matches_finite_differences(seed: int) -> None:
    rng = np.random.default_rng(seed)
    x = rng.normal(0, 5, (1, 10))
    s_pos, s_vel = rng.normal(0, 1, (1, 3)), rng.normal(0, 2, (1, 3))
    _h, J = radial_velocity_model(x, s_pos, s_vel)
    eps = 1e-6
    num = np.zeros(10)
    for i in range(10):
        d = np.zeros((1, 10))
        d[0, i] = eps
        num[i] = (
            radial_velocity_model(x + d, s_pos, s_vel)[0][0] - radial_velocity_model(x - d, s_pos, s_vel)[0][0]
        ) / (2 * eps)
    np.testing.assert_allclose(J[0], num, atol=1e-6)
