"""Camera rays in EG3D conventions: one ray per pixel centre, uv = (i + 0.5) / res, direction
R @ K^-1 (u, v, 1), normalised; skew handled as in EG3D."""
from __future__ import annotations

import torch


def sample_rays(cam2world: torch.Tensor, intrinsics: torch.Tensor, resolution: int) -> tuple[torch.Tensor, torch.Tensor]:
    """cam2world (N, 4, 4), normalised intrinsics (N, 3, 3) -> origins, directions (N, res*res, 3).
    Ray m is pixel (row, col) = divmod(m, res)."""
    n, m = cam2world.shape[0], resolution * resolution
    device = cam2world.device
    fx, fy = intrinsics[:, 0, 0, None], intrinsics[:, 1, 1, None]
    cx, cy = intrinsics[:, 0, 2, None], intrinsics[:, 1, 2, None]
    sk = intrinsics[:, 0, 1, None]
    centres = (torch.arange(resolution, dtype=torch.float32, device=device) + 0.5) / resolution
    rows, cols = torch.meshgrid(centres, centres, indexing="ij")
    x_cam = cols.reshape(1, -1).expand(n, m)
    y_cam = rows.reshape(1, -1).expand(n, m)
    z_cam = torch.ones(n, m, device=device)
    x_lift = (x_cam - cx + cy * sk / fy - sk * y_cam / fy) / fx * z_cam
    y_lift = (y_cam - cy) / fy * z_cam
    cam_points = torch.stack([x_lift, y_lift, z_cam, torch.ones_like(z_cam)], dim=-1)
    world_points = torch.bmm(cam2world, cam_points.permute(0, 2, 1)).permute(0, 2, 1)[:, :, :3]
    origins = cam2world[:, :3, 3]
    directions = torch.nn.functional.normalize(world_points - origins[:, None, :], dim=2)
    return origins.unsqueeze(1).expand(-1, m, -1).contiguous(), directions
