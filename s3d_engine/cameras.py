"""Cameras in EG3D conventions.

* World: y up, the head looks toward +z, everything lives in the box [-box/2, box/2]^3.
* cam2world is OpenCV style: camera x = right, y = down, z = forward (look direction).
* Intrinsics are normalised by the image size: fx = fy = focal, cx = cy = 0.5.
* The 25-float camera label is [cam2world (16, row-major), intrinsics (9, row-major)].
* `look_at_pose(yaw, pitch, ...)` is EG3D's `LookAtPoseSampler`: yaw = pitch = pi/2 is frontal,
  and the camera sits on a sphere of `radius` around the *origin* while looking at `pivot`.
"""
from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CameraDefaults:
    """Per-domain rendering defaults from pix2pix3D's training configs."""

    radius: float
    pivot: tuple[float, float, float]
    focal: float  # normalised focal length (EG3D FFHQ/AFHQ: 4.2647, about 18.837 degrees)
    ray_start: float
    ray_end: float
    box_warp: float
    yaw_range: float = 0.35  # +- radians around frontal, as in pix2pix3D's videos
    pitch_range: float = 0.25

    @property
    def fov_degrees(self) -> float:
        return intrinsics_to_fov(self.focal)


CAMERA_DEFAULTS: dict[str, CameraDefaults] = {
    "face": CameraDefaults(radius=2.7, pivot=(0.0, 0.0, 0.2), focal=4.2647, ray_start=2.25, ray_end=3.3, box_warp=1.0),
    "cat": CameraDefaults(radius=2.7, pivot=(0.0, 0.0, -0.06), focal=4.2647, ray_start=2.25, ray_end=3.3, box_warp=1.0),
}


def fov_to_intrinsics(fov_degrees: float) -> np.ndarray:
    """EG3D's `FOV_to_intrinsics`, including its rounded constants (pi = 3.14159, sqrt 2 = 1.414)."""
    focal = 1.0 / (math.tan(fov_degrees * 3.14159 / 360.0) * 1.414)
    return intrinsics_matrix(focal)


def intrinsics_to_fov(focal: float) -> float:
    """Inverse of `fov_to_intrinsics` (same rounded constants)."""
    return math.atan(1.0 / (focal * 1.414)) * 360.0 / 3.14159


def intrinsics_matrix(focal: float, cx: float = 0.5, cy: float = 0.5) -> np.ndarray:
    return np.array([[focal, 0.0, cx], [0.0, focal, cy], [0.0, 0.0, 1.0]], dtype=np.float64)


def _normalize(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v, axis=-1, keepdims=True)


def cam2world_look_at(origin: np.ndarray, target: np.ndarray) -> np.ndarray:
    """EG3D's `create_cam2world_matrix`: columns (right, up', forward), y-up world, no roll.

    Batched: origin and target are (..., 3); returns (..., 4, 4)."""
    origin = np.asarray(origin, dtype=np.float64)
    forward = _normalize(np.asarray(target, dtype=np.float64) - origin)
    up = np.broadcast_to(np.array([0.0, 1.0, 0.0]), forward.shape)
    right = -_normalize(np.cross(up, forward))
    up = _normalize(np.cross(forward, right))
    pose = np.zeros(forward.shape[:-1] + (4, 4))
    pose[..., :3, 0] = right
    pose[..., :3, 1] = up
    pose[..., :3, 2] = forward
    pose[..., :3, 3] = origin
    pose[..., 3, 3] = 1.0
    return pose


def look_at_pose(yaw: float | np.ndarray, pitch: float | np.ndarray, pivot=(0.0, 0.0, 0.0), radius: float = 2.7) -> np.ndarray:
    """EG3D `LookAtPoseSampler.sample` without noise: h = yaw, v = pitch (pi/2, pi/2 = frontal)."""
    yaw = np.asarray(yaw, dtype=np.float64)
    v = np.clip(np.asarray(pitch, dtype=np.float64), 1e-5, math.pi - 1e-5) / math.pi
    phi = np.arccos(1.0 - 2.0 * v)
    origin = np.stack(
        [radius * np.sin(phi) * np.cos(math.pi - yaw), radius * np.cos(phi), radius * np.sin(phi) * np.sin(math.pi - yaw)],
        axis=-1,
    )
    return cam2world_look_at(origin, np.broadcast_to(np.asarray(pivot, dtype=np.float64), origin.shape))


def camera_label(cam2world: np.ndarray, intrinsics: np.ndarray) -> np.ndarray:
    """The 25-float pix2pix3D/EG3D label: (..., 25) float32."""
    cam2world = np.asarray(cam2world)
    intrinsics = np.broadcast_to(np.asarray(intrinsics), cam2world.shape[:-2] + (3, 3))
    flat = np.concatenate([cam2world.reshape(cam2world.shape[:-2] + (16,)), intrinsics.reshape(intrinsics.shape[:-2] + (9,))], -1)
    return flat.astype(np.float32)


def split_camera_label(label: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    label = np.asarray(label)
    if label.shape[-1] != 25:
        raise ValueError(f"a camera label has 25 values, got {label.shape[-1]}")
    return label[..., :16].reshape(label.shape[:-1] + (4, 4)), label[..., 16:].reshape(label.shape[:-1] + (3, 3))


def domain_camera(domain: str, yaw_offset: float = 0.0, pitch_offset: float = 0.0) -> np.ndarray:
    """Camera label for a domain's default orbit, offset (radians) from the frontal view."""
    d = CAMERA_DEFAULTS[domain]
    pose = look_at_pose(math.pi / 2 + yaw_offset, math.pi / 2 + pitch_offset, d.pivot, d.radius)
    return camera_label(pose, intrinsics_matrix(d.focal))


def sample_poses(rng: np.random.Generator, count: int, domain: str, yaw_range: float | None = None,
                 pitch_range: float | None = None, yaw_std: float = 0.3, pitch_std: float = 0.15) -> np.ndarray:
    """FFHQ-like pose draws: Gaussian yaw/pitch around frontal, clipped to +-range. Returns (count, 25)."""
    d = CAMERA_DEFAULTS[domain]
    yr = d.yaw_range * 2 if yaw_range is None else yaw_range
    pr = d.pitch_range if pitch_range is None else pitch_range
    yaw = np.clip(rng.normal(0.0, yaw_std, count), -yr, yr)
    pitch = np.clip(rng.normal(0.0, pitch_std, count), -pr, pr)
    pose = look_at_pose(math.pi / 2 + yaw, math.pi / 2 + pitch, d.pivot, d.radius)
    return camera_label(pose, intrinsics_matrix(d.focal))


def orbit_cameras(domain: str, frames: int) -> np.ndarray:
    """pix2pix3D's video orbit: sinusoidal yaw +-yaw_range and pitch +-pitch_range. Returns (frames, 25)."""
    d = CAMERA_DEFAULTS[domain]
    t = np.arange(frames) / max(frames, 1)
    yaw = d.yaw_range * np.sin(2 * math.pi * t)
    pitch = d.pitch_range * np.cos(2 * math.pi * t)
    pose = look_at_pose(math.pi / 2 + yaw, math.pi / 2 - 0.05 + pitch, d.pivot, d.radius)
    return camera_label(pose, intrinsics_matrix(d.focal))


def project_points(points: np.ndarray, label: np.ndarray, resolution: int) -> tuple[np.ndarray, np.ndarray]:
    """Project world points (N, 3) through a camera label to pixel coordinates (N, 2) (x=col, y=row,
    pixel centres at +0.5, matching EG3D's ray sampler) and camera-space depth (N,)."""
    cam2world, K = split_camera_label(label)
    world2cam = np.linalg.inv(cam2world)
    p = np.asarray(points, dtype=np.float64) @ world2cam[:3, :3].T + world2cam[:3, 3]
    z = p[:, 2]
    uv = (p[:, :2] / z[:, None]) * np.array([K[0, 0], K[1, 1]]) + np.array([K[0, 2], K[1, 2]])
    return uv * resolution, z


def frame_extent(domain: str) -> float:
    """World width (EG3D units) that the domain's front view covers at the pivot: a front end
    scales the mesh by drawing extent / frame extent so that it matches the sketch's size.

    The pivot lies `radius - pivot_z` in front of the camera, and a pinhole of field of view
    `fov` sees a width of 2 * distance * tan(fov / 2) at that depth.
    """
    d = CAMERA_DEFAULTS[domain]
    distance = d.radius - d.pivot[2]
    return float(2.0 * distance * math.tan(math.radians(d.fov_degrees) / 2.0))
