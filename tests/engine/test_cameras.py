import math

import numpy as np
import pytest

from s3d_engine.cameras import (CAMERA_DEFAULTS, camera_label, domain_camera, fov_to_intrinsics, intrinsics_to_fov,
                                look_at_pose, orbit_cameras, project_points, sample_poses, split_camera_label)


def test_frontal_pose_by_hand():
    pose = look_at_pose(math.pi / 2, math.pi / 2, pivot=(0, 0, 0.2), radius=2.7)
    # camera at (0, 0, 2.7) on the sphere around the origin, looking at the pivot along -z;
    # OpenCV axes: x = world +x, y = world -y (down), z = forward = world -z.
    expected = np.array([[1, 0, 0, 0], [0, -1, 0, 0], [0, 0, -1, 2.7], [0, 0, 0, 1]], dtype=float)
    assert np.allclose(pose, expected, atol=1e-6)


def test_fov_to_intrinsics_by_hand():
    fov = 18.837
    focal = 1 / (math.tan(fov * 3.14159 / 360) * 1.414)
    K = fov_to_intrinsics(fov)
    assert K[0, 0] == pytest.approx(focal) and K[1, 1] == pytest.approx(focal)
    assert K[0, 2] == 0.5 and K[1, 2] == 0.5 and K[2, 2] == 1
    assert focal == pytest.approx(4.2647, abs=2e-3)  # EG3D's FFHQ value
    assert intrinsics_to_fov(focal) == pytest.approx(fov)


def test_camera_label_layout_and_split():
    pose = look_at_pose(1.4, 1.5, radius=2.7)
    K = fov_to_intrinsics(18.837)
    label = camera_label(pose, K)
    assert label.shape == (25,) and label.dtype == np.float32
    assert np.allclose(label[:16], pose.reshape(-1)) and np.allclose(label[16:], K.reshape(-1))
    c2w, K2 = split_camera_label(label)
    assert np.allclose(c2w, pose, atol=1e-6) and np.allclose(K2, K)
    with pytest.raises(ValueError):
        split_camera_label(np.zeros(24))


def test_yaw_moves_camera_to_the_side_and_rotation_is_orthonormal():
    pose = look_at_pose(math.pi / 2 + 0.3, math.pi / 2, radius=2.7)
    assert pose[0, 3] > 0  # yaw > pi/2 moves the camera toward +x (EG3D: x = r sin(phi) cos(pi - yaw))
    R = pose[:3, :3]
    assert np.allclose(R.T @ R, np.eye(3), atol=1e-9) and np.linalg.det(R) == pytest.approx(1.0)


def test_projection_of_pivot_hits_the_image_centre():
    label = domain_camera("face", yaw_offset=0.2, pitch_offset=-0.1)
    uv, depth = project_points(np.array([CAMERA_DEFAULTS["face"].pivot]), label, 128)
    assert np.allclose(uv, 64.0, atol=1e-4) and depth[0] > 2.0


def test_pose_sampling_is_deterministic_and_in_range():
    a = sample_poses(np.random.default_rng(3), 50, "cat")
    b = sample_poses(np.random.default_rng(3), 50, "cat")
    assert np.array_equal(a, b) and a.shape == (50, 25)
    radii = np.linalg.norm(a[:, [3, 7, 11]], axis=1)
    assert np.allclose(radii, 2.7, atol=1e-5)
    assert orbit_cameras("face", 6).shape == (6, 25)
