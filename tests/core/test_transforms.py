"""Tests for :mod:`fusionlabel.core.transforms` against hand-computed values and pyquaternion."""

from __future__ import annotations

import numpy as np
import pytest
from pyquaternion import Quaternion

from fusionlabel.core.transforms import Transform, interpolate


def _random_transform(rng: np.random.Generator) -> Transform:
    q = Quaternion(rng.normal(size=4)).normalised
    return Transform.from_quaternion(q, rng.uniform(-10, 10, 3))


def test_apply_hand_computed() -> None:
    # 90 degrees about z, then +1 m in x: (1, 0, 0) -> (0, 1, 0) + (1, 0, 0)
    T = Transform.from_yaw(np.pi / 2, [1.0, 0.0, 0.0])
    out = T.apply(np.array([[1.0, 0.0, 0.0], [0.0, 2.0, 3.0]]))
    np.testing.assert_allclose(out, [[1.0, 1.0, 0.0], [-1.0, 0.0, 3.0]], atol=1e-12)
    assert out.shape == (2, 3) and out.dtype == np.float64


def test_apply_matches_homogeneous_matrix_product() -> None:
    rng = np.random.default_rng(1)
    T = _random_transform(rng)
    p = rng.normal(size=(50, 3))
    homog = np.hstack([p, np.ones((50, 1))]) @ T.matrix.T
    np.testing.assert_allclose(T.apply(p), homog[:, :3], atol=1e-12)


def test_apply_does_not_mutate_input() -> None:
    p = np.array([[1.0, 2.0, 3.0]])
    Transform.from_rt(np.eye(3), [1.0, 1.0, 1.0]).apply(p)
    assert p.tolist() == [[1.0, 2.0, 3.0]]


def test_composition_chains_frames() -> None:
    rng = np.random.default_rng(2)
    T_b_a, T_c_b = _random_transform(rng), _random_transform(rng)
    T_c_a = T_c_b @ T_b_a
    p_a = rng.normal(size=(20, 3))
    np.testing.assert_allclose(T_c_a.apply(p_a), T_c_b.apply(T_b_a.apply(p_a)), atol=1e-10)


def test_composition_is_associative() -> None:
    rng = np.random.default_rng(3)
    A, B, C = (_random_transform(rng) for _ in range(3))
    assert ((A @ B) @ C).allclose(A @ (B @ C), atol=1e-10)


def test_inverse_identities() -> None:
    rng = np.random.default_rng(4)
    for _ in range(10):
        T = _random_transform(rng)
        assert (T @ T.inverse()).allclose(Transform.identity(), atol=1e-10)
        assert (T.inverse() @ T).allclose(Transform.identity(), atol=1e-10)
        np.testing.assert_allclose(T.inverse().matrix, np.linalg.inv(T.matrix), atol=1e-10)
        p = rng.normal(size=(5, 3))
        np.testing.assert_allclose(T.inverse().apply(T.apply(p)), p, atol=1e-10)


def test_inverse_of_composition() -> None:
    rng = np.random.default_rng(5)
    A, B = _random_transform(rng), _random_transform(rng)
    assert (A @ B).inverse().allclose(B.inverse() @ A.inverse(), atol=1e-10)


def test_inverse_of_non_rigid_matrix_uses_general_inverse() -> None:
    # KITTI-style near-rigid matrices (a scale here) must still invert exactly
    m = np.diag([2.0, 1.0, 0.5, 1.0])
    m[:3, 3] = [1.0, 2.0, 3.0]
    T = Transform(m)
    np.testing.assert_allclose((T @ T.inverse()).matrix, np.eye(4), atol=1e-12)


def test_from_quaternion_matches_pyquaternion_rotation() -> None:
    rng = np.random.default_rng(6)
    for _ in range(20):
        q = Quaternion(rng.normal(size=4)).normalised
        t = rng.normal(size=3)
        T = Transform.from_quaternion(list(q.elements), t)
        v = rng.normal(size=3)
        np.testing.assert_allclose(T.apply(v[None])[0], q.rotate(v) + t, atol=1e-12)
        np.testing.assert_allclose(T.translation, t)
        # and back: the quaternion property describes the same rotation (q and -q are equal)
        assert Quaternion.absolute_distance(T.quaternion, q) < 1e-9


def test_from_quaternion_is_w_first() -> None:
    # (w, x, y, z) = (cos 45deg, 0, 0, sin 45deg) is +90 degrees about z
    h = np.sqrt(0.5)
    T = Transform.from_quaternion([h, 0.0, 0.0, h], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(T.apply(np.array([[1.0, 0.0, 0.0]])), [[0.0, 1.0, 0.0]], atol=1e-12)
    assert T.yaw == pytest.approx(np.pi / 2)


def test_from_quaternion_normalises() -> None:
    T = Transform.from_quaternion([2.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0])
    np.testing.assert_allclose(T.rotation, np.eye(3), atol=1e-12)


def test_yaw_property() -> None:
    for yaw in (-3.0, -1.0, 0.0, 0.5, 2.5, np.pi):
        assert Transform.from_yaw(yaw).yaw == pytest.approx(yaw)


def test_interpolate_ends_and_halfway_between_yaws() -> None:
    T0 = Transform.from_yaw(0.2, [0.0, 0.0, 0.0])
    T1 = Transform.from_yaw(1.0, [2.0, -4.0, 6.0])
    assert interpolate(T0, T1, 0.0).allclose(T0, atol=1e-12)
    assert interpolate(T0, T1, 1.0).allclose(T1, atol=1e-12)
    mid = interpolate(T0, T1, 0.5)
    assert mid.yaw == pytest.approx(0.6, abs=1e-12)
    np.testing.assert_allclose(mid.translation, [1.0, -2.0, 3.0])
    quarter = interpolate(T0, T1, 0.25)
    assert quarter.yaw == pytest.approx(0.4, abs=1e-12)
    # still a rotation
    np.testing.assert_allclose(mid.rotation @ mid.rotation.T, np.eye(3), atol=1e-12)


def test_interpolate_takes_the_short_way_across_pi() -> None:
    # 3.0 rad and -3.0 rad are 0.283 rad apart through pi, not 6 rad apart through 0
    mid = interpolate(Transform.from_yaw(3.0), Transform.from_yaw(-3.0), 0.5)
    assert abs(abs(mid.yaw) - np.pi) < 1e-9


def test_interpolate_matches_pyquaternion_slerp_for_3d_rotations() -> None:
    rng = np.random.default_rng(7)
    T0, T1 = _random_transform(rng), _random_transform(rng)
    ref = Quaternion.slerp(T0.quaternion, T1.quaternion, 0.3)
    np.testing.assert_allclose(interpolate(T0, T1, 0.3).rotation, ref.rotation_matrix, atol=1e-9)


@pytest.mark.parametrize("shape", [(3,), (4, 4), (2, 3, 3), (5, 2)])
def test_apply_rejects_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="shape"):
        Transform.identity().apply(np.zeros(shape))


@pytest.mark.parametrize("shape", [(3, 3), (4, 3), (16,), (2, 4, 4)])
def test_matrix_rejects_bad_shapes(shape: tuple[int, ...]) -> None:
    with pytest.raises(ValueError, match="4x4 or 3x4"):
        Transform(np.zeros(shape))


def test_3x4_matrix_is_completed() -> None:
    m = np.hstack([np.eye(3), [[1.0], [2.0], [3.0]]])
    T = Transform(m)
    assert T.matrix.shape == (4, 4)
    np.testing.assert_array_equal(T.matrix[3], [0, 0, 0, 1])


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_matrix_rejects_non_finite(bad: float) -> None:
    m = np.eye(4)
    m[1, 3] = bad
    with pytest.raises(ValueError, match="NaN or infinity"):
        Transform(m)
    with pytest.raises(ValueError):
        Transform.from_rt(np.eye(3), [0.0, bad, 0.0])


def test_from_quaternion_rejects_zero_quaternion() -> None:
    with pytest.raises(ValueError):
        Transform.from_quaternion([0.0, 0.0, 0.0, 0.0], [0.0, 0.0, 0.0])


def test_transform_is_immutable() -> None:
    T = Transform.identity()
    with pytest.raises(ValueError):
        T.matrix[0, 3] = 5.0
    src = np.eye(4)
    T2 = Transform(src)
    src[0, 3] = 7.0  # the transform keeps its own copy
    assert T2.matrix[0, 3] == 0.0


def test_to_list_round_trip() -> None:
    rng = np.random.default_rng(8)
    T = _random_transform(rng)
    assert Transform(np.array(T.to_list())).allclose(T, atol=0.0)


def test_apply_vectors_ignores_translation() -> None:
    T = Transform.from_yaw(np.pi / 2, [10.0, 20.0, 30.0])
    np.testing.assert_allclose(T.apply_vectors(np.array([[1.0, 0.0, 0.0]])), [[0.0, 1.0, 0.0]], atol=1e-12)
