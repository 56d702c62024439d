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


# Literal values from ../shared/reference/s3d-pix2pix3d.md (§2.7: pix2pix3D `train.py` rendering options
# per cfg; §2.8: inference configs and video orbit) and ../shared/reference/data.md (§3.1 cameras):
# ffhq/celeba and afhq: ray 2.25-3.3, box 1, radius 2.7, pivot [0, 0, 0.2] / [0, 0, -0.06];
# normalised focal 4.2647 for seg2face and seg2cat; orbit yaw +-0.35 rad, pitch +-0.25 rad.
REFERENCE = {
    "face": dict(radius=2.7, pivot=(0.0, 0.0, 0.2), focal=4.2647, ray_start=2.25, ray_end=3.3, box_warp=1.0,
                 yaw_range=0.35, pitch_range=0.25),
    "cat": dict(radius=2.7, pivot=(0.0, 0.0, -0.06), focal=4.2647, ray_start=2.25, ray_end=3.3, box_warp=1.0,
                yaw_range=0.35, pitch_range=0.25),
}


@pytest.mark.parametrize("domain", ["face", "cat"])
def test_camera_defaults_match_pix2pix3d(domain):
    d = CAMERA_DEFAULTS[domain]
    for name, value in REFERENCE[domain].items():
        assert getattr(d, name) == pytest.approx(value, abs=1e-12), name
    assert d.fov_degrees == pytest.approx(18.837, abs=0.01)  # EG3D FFHQ's FOV


@pytest.mark.parametrize("domain, pivot_z", [("face", 0.2), ("cat", -0.06)])
def test_frontal_domain_camera_by_hand(domain, pivot_z):
    c2w, K = split_camera_label(domain_camera(domain))
    assert np.allclose(K, [[4.2647, 0, 0.5], [0, 4.2647, 0.5], [0, 0, 1]], atol=1e-6)
    assert np.allclose(c2w[:3, 3], [0.0, 0.0, 2.7], atol=1e-6)  # on the radius-2.7 sphere around the origin
    forward = np.array([0.0, 0.0, pivot_z]) - np.array([0.0, 0.0, 2.7])  # looking at the pivot
    assert np.allclose(c2w[:3, 2], forward / np.linalg.norm(forward), atol=1e-6)
