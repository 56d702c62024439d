"""Naive float64 reference for EG3D's rendering: tri-plane sampling, the decoder, rays, ray
marching, stratified and importance sampling, and cameras (see reference_stylegan for the
conventions)."""
from __future__ import annotations

import math

import torch
import torch.nn.functional as F

from tests.parity.reference_stylegan import D, StateDict, f64, fully_connected


# ==============================================================================================
# Tri-plane, decoder, rays, marching (EG3D)
# ==============================================================================================


def plane_axes() -> torch.Tensor:
    """EG3D generate_planes(): the three 3x3 'axes' matrices."""
    return f64([[[1, 0, 0], [0, 1, 0], [0, 0, 1]],
                [[1, 0, 0], [0, 0, 1], [0, 1, 0]],
                [[0, 0, 1], [1, 0, 0], [0, 1, 0]]])


def project(points: torch.Tensor, box_warp: float) -> list[torch.Tensor]:
    """Scale by 2 / box_warp, then plane k gets the first two coordinates of p @ inv(axes[k]):
    (x, y), (x, z), (z, x)."""
    p = f64(points) * (2.0 / box_warp)
    return [(p @ torch.linalg.inv(axes))[..., :2] for axes in plane_axes()]


def bilinear(plane: torch.Tensor, uv: torch.Tensor) -> torch.Tensor:
    """grid_sample(bilinear, zeros, align_corners=False) for one (C, H, W) plane at (M, 2) points,
    uv[:, 0] along the width, uv[:, 1] along the height, -1/+1 at the outer pixel edges."""
    plane = f64(plane)
    c, h, w = plane.shape
    ix = ((f64(uv[:, 0]) + 1) * w - 1) / 2
    iy = ((f64(uv[:, 1]) + 1) * h - 1) / 2
    x0, y0 = torch.floor(ix), torch.floor(iy)
    out = torch.zeros(uv.shape[0], c, dtype=D)
    for dx in (0, 1):
        for dy in (0, 1):
            xx, yy = x0 + dx, y0 + dy
            weight = (1 - (ix - xx).abs()) * (1 - (iy - yy).abs())
            inside = (xx >= 0) & (xx <= w - 1) & (yy >= 0) & (yy <= h - 1)
            xi = xx.clamp(0, w - 1).long()
            yi = yy.clamp(0, h - 1).long()
            vals = plane[:, yi, xi].T
            out += torch.where(inside[:, None], vals * weight[:, None], torch.zeros_like(vals))
    return out


def sample_from_planes(planes: torch.Tensor, points: torch.Tensor, box_warp: float) -> torch.Tensor:
    """planes (N, 3, C, H, W), points (N, M, 3) -> (N, 3, M, C)."""
    n = planes.shape[0]
    out = torch.zeros(n, 3, points.shape[1], planes.shape[2], dtype=D)
    for i in range(n):
        for k, uv in enumerate(project(points[i], box_warp)):
            out[i, k] = bilinear(planes[i, k], uv)
    return out


def decoder(sd: StateDict, name: str, features: torch.Tensor) -> dict[str, torch.Tensor]:
    """OSGDecoder_semantic_lateSeparate: mean over the 3 planes; net = FC, softplus, FC; colour =
    sigmoid(net[1:]) * 1.002 - 0.001 (net[0] unused); net_semantic gives sigma = out[0] (raw)
    and the semantic features out[1:] (raw logits). rgb = [colour | semantic]."""
    x = f64(features).mean(dim=1)

    def mlp(prefix: str) -> torch.Tensor:
        h = fully_connected(sd, f"{prefix}.0", x)
        h = torch.log1p(torch.exp(-h.abs())) + h.clamp(min=0)  # softplus, beta 1 (threshold irrelevant)
        return fully_connected(sd, f"{prefix}.2", h)

    colour = mlp(f"{name}.net")
    semantic = mlp(f"{name}.net_semantic")
    colour = torch.sigmoid(colour[..., 1:]) * (1 + 2 * 0.001) - 0.001
    return {"rgb": torch.cat([colour, semantic[..., 1:]], dim=-1), "sigma": semantic[..., :1]}


def rays(cam2world: torch.Tensor, intrinsics: torch.Tensor, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Ray m = pixel (row, col) = divmod(m, res); pixel centre (u, v) = ((col + .5) / res,
    (row + .5) / res) in normalised image coordinates; direction = normalize(R @ inv(K) @ (u, v, 1));
    origin = the camera position (cam2world translation)."""
    cam2world, intrinsics = f64(cam2world), f64(intrinsics)
    n = cam2world.shape[0]
    m = resolution * resolution
    origins = torch.zeros(n, m, 3, dtype=D)
    dirs = torch.zeros(n, m, 3, dtype=D)
    for i in range(n):
        k_inv = torch.linalg.inv(intrinsics[i])
        for idx in range(m):
            row, col = divmod(idx, resolution)
            pix = f64([(col + 0.5) / resolution, (row + 0.5) / resolution, 1.0])
            d = cam2world[i, :3, :3] @ (k_inv @ pix)
            dirs[i, idx] = d / torch.linalg.norm(d)
            origins[i, idx] = cam2world[i, :3, 3]
    return origins, dirs


def stratified_depths(n: int, m: int, start: float, end: float, count: int, jitter: torch.Tensor) -> torch.Tensor:
    """linspace(start, end, count) plus jitter (uniform [0, 1)) times one cell (end - start) / (count - 1)."""
    base = f64([start + (end - start) * k / (count - 1) for k in range(count)])
    return (base.reshape(1, 1, count, 1) + f64(jitter).reshape(n, m, count, 1) * (end - start) / (count - 1))


def ray_march(colors, densities, depths, white_back: bool = False):
    """MipRayMarcher2 with a loop over intervals: midpoint colour, density and depth of each
    interval; sigma = softplus(density - 1); alpha = 1 - exp(-sigma * delta); weight = alpha * T,
    T = prod over earlier intervals of (1 - alpha + 1e-10). Composite = sum w * colour, mapped
    x * 2 - 1 (semantic channels too); depth = sum w * depth / sum w (NaN -> inf), clamped to the
    min/max of all depths; white_back adds 1 - sum w before the mapping."""
    colors, densities, depths = f64(colors), f64(densities), f64(depths)
    n, m, s, c = colors.shape
    transmittance = torch.ones(n, m, 1, dtype=D)
    composite = torch.zeros(n, m, c, dtype=D)
    depth_sum = torch.zeros(n, m, 1, dtype=D)
    weights = torch.zeros(n, m, s - 1, 1, dtype=D)
    for i in range(s - 1):
        delta = depths[:, :, i + 1] - depths[:, :, i]
        sigma = F.softplus((densities[:, :, i] + densities[:, :, i + 1]) / 2 - 1)
        alpha = 1 - torch.exp(-sigma * delta)
        w = alpha * transmittance
        weights[:, :, i] = w
        composite += w * (colors[:, :, i] + colors[:, :, i + 1]) / 2
        depth_sum += w * (depths[:, :, i] + depths[:, :, i + 1]) / 2
        transmittance = transmittance * (1 - alpha + 1e-10)
    total = weights.sum(dim=2)
    depth = torch.nan_to_num(depth_sum / total, float("inf")).clamp(depths.min(), depths.max())
    if white_back:
        composite = composite + 1 - total
    return composite * 2 - 1, depth, weights


def importance_depths(depths: torch.Tensor, weights: torch.Tensor, u: torch.Tensor) -> torch.Tensor:
    """EG3D importance sampling, one ray at a time. Smooth the S-1 marcher weights: padded max over
    neighbour pairs (S values), then mean over neighbour pairs (S-1 values), + 0.01; keep the inner
    S-3 as a piecewise-constant pdf (+1e-5, normalised) over the S-1 interval midpoints; invert the
    CDF at u (searchsorted right; the first S-2 midpoints are the reachable bin edges)."""
    depths, weights, u = f64(depths), f64(weights), f64(u)
    n, m, s, _ = depths.shape
    count = u.shape[1]
    out = torch.zeros(n * m, count, dtype=D)
    z = depths.reshape(n * m, s)
    wts = weights.reshape(n * m, s - 1)
    for r in range(n * m):
        w = wts[r].tolist()
        padded = [-math.inf] + w + [-math.inf]
        mx = [max(padded[k], padded[k + 1]) for k in range(s)]
        avg = [(mx[k] + mx[k + 1]) / 2 + 0.01 for k in range(s - 1)]
        pdf_w = [v + 1e-5 for v in avg[1:-1]]
        total = sum(pdf_w)
        cdf = [0.0]
        for v in pdf_w:
            cdf.append(cdf[-1] + v / total)
        mids = [(z[r, k].item() + z[r, k + 1].item()) / 2 for k in range(s - 1)]
        nb = len(pdf_w)
        for j in range(count):
            uj = u[r, j].item()
            ind = sum(1 for v in cdf if v <= uj)  # searchsorted(right=True)
            below, above = max(ind - 1, 0), min(ind, nb)
            denom = cdf[above] - cdf[below]
            if denom < 1e-5:
                denom = 1.0
            out[r, j] = mids[below] + (uj - cdf[below]) / denom * (mids[above] - mids[below])
    return out.reshape(n, m, count, 1)


def render_fixed_depths(sd: StateDict, planes: torch.Tensor, c: torch.Tensor, depths: torch.Tensor, resolution: int,
                        box_warp: float, white_back: bool = False):
    """Rays from the 25-float camera c, the decoder at origin + depth * direction, one march."""
    c = f64(c)
    origins, dirs = rays(c[:, :16].reshape(-1, 4, 4), c[:, 16:].reshape(-1, 3, 3), resolution)
    n, m, s, _ = depths.shape
    points = (origins[:, :, None] + f64(depths) * dirs[:, :, None]).reshape(n, m * s, 3)
    out = decoder(sd, "decoder", sample_from_planes(f64(planes), points, box_warp))
    colors = out["rgb"].reshape(n, m, s, -1)
    sigma = out["sigma"].reshape(n, m, s, 1)
    feature, depth, weights = ray_march(colors, sigma, depths, white_back)
    image = feature.permute(0, 2, 1).reshape(n, -1, resolution, resolution)
    return image, depth.permute(0, 2, 1).reshape(n, 1, resolution, resolution), weights


# ==============================================================================================
# Cameras (EG3D camera_utils)
# ==============================================================================================


def fov_to_focal(fov_degrees: float) -> float:
    """EG3D FOV_to_intrinsics, including its rounded constants 3.14159 and 1.414."""
    return 1.0 / (math.tan(fov_degrees * 3.14159 / 360) * 1.414)


def cam2world_from_forward(forward, origin) -> torch.Tensor:
    """create_cam2world_matrix: y-up world, right = -normalize(up x forward), up' = normalize(forward
    x right); columns (right, up', forward), translation = origin (OpenCV: camera y points down)."""
    fwd = f64(forward) / torch.linalg.norm(f64(forward))
    up = f64([0.0, 1.0, 0.0])
    right = -torch.linalg.cross(up, fwd)
    right = right / torch.linalg.norm(right)
    new_up = torch.linalg.cross(fwd, right)
    new_up = new_up / torch.linalg.norm(new_up)
    m = torch.eye(4, dtype=D)
    m[:3, 0], m[:3, 1], m[:3, 2], m[:3, 3] = right, new_up, fwd, f64(origin)
    return m


def look_at(h: float, v: float, lookat, radius: float) -> torch.Tensor:
    """LookAtPoseSampler.sample without noise: theta = h, phi = arccos(1 - 2 v / pi) (v clamped to
    [1e-5, pi - 1e-5]); origin = r (sin phi cos(pi - theta), cos phi, sin phi sin(pi - theta)) on a
    sphere around the world origin; looking at `lookat`."""
    v = min(max(v, 1e-5), math.pi - 1e-5)
    phi = math.acos(1 - 2 * v / math.pi)
    origin = f64([radius * math.sin(phi) * math.cos(math.pi - h), radius * math.cos(phi),
                  radius * math.sin(phi) * math.sin(math.pi - h)])
    return cam2world_from_forward(f64(lookat) - origin, origin)


def camera_label(cam2world: torch.Tensor, focal: float) -> torch.Tensor:
    """25 floats: cam2world flattened row-major, then [[f, 0, .5], [0, f, .5], [0, 0, 1]] row-major."""
    k = f64([[focal, 0, 0.5], [0, focal, 0.5], [0, 0, 1]])
    return torch.cat([f64(cam2world).reshape(16), k.reshape(9)])
