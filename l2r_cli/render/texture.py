"""A photo texture for a reconstructed face (``l2r reconstruct --texture photo``).

The model's albedo is its own estimate (for the bundled weights, learned from synthetic faces);
many users want the photo on the mesh instead. Each texel of the canonical grid (upsampled to
``size``) is moved into the input view by the predicted view, projected with the model's
camera, and coloured from a high-resolution copy of the aligned crop. Texels the input does not
see (self-occluded: their depth is behind the view's depth map, or outside the frame) take the
colour of their mirror texel when that one is seen (faces are nearly symmetric), else the
model's albedo. The photo texture carries the photo's lighting (it is not an albedo).
"""

from __future__ import annotations

import numpy as np
import torch
import torch.nn.functional as F
from scipy.ndimage import map_coordinates

from l2r_cli.render.camera import intrinsics, project
from l2r_cli.render.transform import transform_points

#: Depth tolerance (model units) of the visibility test.
VISIBILITY_TOL = 0.004


def _up(a: np.ndarray, size: int) -> np.ndarray:
    """(H, W, C) -> (size, size, C), bilinear with corners aligned."""
    t = torch.from_numpy(np.ascontiguousarray(a, np.float32)).permute(2, 0, 1)[None]
    t = F.interpolate(t, size=(size, size), mode="bilinear", align_corners=True)
    return t[0].permute(1, 2, 0).numpy()


def photo_texture(
    points: np.ndarray,
    view: np.ndarray,
    view_depth: np.ndarray,
    crop_hires: np.ndarray,
    albedo: np.ndarray,
    fov: float,
    size: int = 256,
) -> tuple[np.ndarray, np.ndarray]:
    """points (S, S, 3) canonical surface; view (6,); view_depth (S, S) the depth map of the
    input view; crop_hires (H, H, 3) uint8, the aligned crop at H px; albedo (S, S, 3) in
    [0, 1] -> (texture (size, size, 3) in [0, 1], seen (size, size) bool)."""
    s = points.shape[0]
    pts = torch.from_numpy(_up(points, size).reshape(1, -1, 3))
    v = torch.from_numpy(np.asarray(view, np.float32))[None]
    scr = project(transform_points(pts, v), intrinsics(s, fov))[0].numpy()  # S-pixel units
    col, row, z = scr[:, 0], scr[:, 1], scr[:, 2]
    inside = (col > -0.5) & (col < s - 0.5) & (row > -0.5) & (row < s - 0.5)
    front = map_coordinates(view_depth.astype(np.float32), [row, col], order=1, mode="nearest")
    seen = (inside & (z <= front + VISIBILITY_TOL)).reshape(size, size)
    k = (crop_hires.shape[0] - 1) / (s - 1)
    colour = (
        np.stack(
            [
                map_coordinates(
                    crop_hires[..., c].astype(np.float32),
                    [row * k, col * k],
                    order=1,
                    mode="nearest",
                )  # fmt: skip
                for c in range(3)
            ],
            -1,
        ).reshape(size, size, 3)
        / 255.0
    )
    fallback = np.clip(_up(albedo, size), 0, 1)
    mirror_seen, mirror = seen[:, ::-1], colour[:, ::-1]
    tex = np.where(seen[..., None], colour, np.where(mirror_seen[..., None], mirror, fallback))
    return np.clip(tex, 0, 1), seen
