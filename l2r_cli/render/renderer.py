"""The proxy's image formation (paper eqns. 1-2): warp a canonical depth map into the input view
and reproject the canonical (shaded) image into it.

1. Back-project the canonical depth grid to 3D, transform it by the view, rasterize the mesh in
   the input camera -> depth in the input view (``warp_depth``).
2. Back-project that depth, undo the view, project with K -> for every input pixel, where to
   sample the canonical image (``reprojection_grid``); ``grid_sample`` does the rest.
Pixels the mesh does not cover get the background depth max_depth + margin and mask 0.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn.functional as F
from torch import Tensor

from l2r_cli.render.camera import depth_to_points, intrinsics, project
from l2r_cli.render.mesh import grid_faces
from l2r_cli.render.rasterizer import Fragments, rasterize
from l2r_cli.render.shading import normals_from_depth
from l2r_cli.render.transform import inverse_transform_points, transform_points


@dataclass(frozen=True)
class WarpedDepth:
    """Canonical surface seen from the input camera.

    depth: (B, H, W), clamped to [min - margin, max + margin]; background = max + margin.
    mask: (B, H, W) float, 1 where the surface covers the pixel.
    fragments: the rasterizer output.
    """

    depth: Tensor
    mask: Tensor
    fragments: Fragments


@dataclass(frozen=True)
class Rendered:
    """image: (B, C, H, W) sampled from the canonical image; depth: (B, H, W) in the view;
    mask: (B, 1, H, W) float coverage."""

    image: Tensor
    depth: Tensor
    mask: Tensor


class Renderer:
    """Perspective renderer of depth-grid meshes for square images of ``image_size`` pixels."""

    def __init__(
        self,
        image_size: int,
        fov: float = 10.0,
        min_depth: float = 0.9,
        max_depth: float = 1.1,
        device: torch.device | str | None = None,
    ) -> None:
        self.image_size = image_size
        self.fov = fov
        self.min_depth = min_depth
        self.max_depth = max_depth
        self.margin = (max_depth - min_depth) / 2
        self.device = torch.device(device) if device is not None else torch.device("cpu")
        self.K = intrinsics(image_size, fov, device=self.device)
        self.faces = grid_faces(image_size, image_size, device=self.device)

    def to(self, device: torch.device | str) -> Renderer:
        """Move the camera and face buffers to ``device`` (returns self)."""
        self.device = torch.device(device)
        self.K = self.K.to(self.device)
        self.faces = self.faces.to(self.device)
        return self

    @property
    def background_depth(self) -> float:
        """Depth given to pixels no surface covers."""
        return self.max_depth + self.margin

    def normals(self, depth: Tensor) -> Tensor:
        """depth: (B, H, W) -> unit normals (B, H, W, 3)."""
        return normals_from_depth(depth, self.K)

    def view_vertices(self, canon_depth: Tensor, view: Tensor) -> Tensor:
        """Screen-space vertices (B, H*W, 3) of the canonical depth grid seen under ``view``."""
        b = canon_depth.shape[0]
        pts = depth_to_points(canon_depth, self.K).reshape(b, -1, 3)
        return project(transform_points(pts, view), self.K)

    def warp_depth(
        self, canon_depth: Tensor, view: Tensor, faces: Tensor | None = None
    ) -> WarpedDepth:
        """canon_depth: (B, H, W), view: (B, 6) -> :class:`WarpedDepth` in the input view.

        ``faces`` ((F, 3) or (B, F, 3)) restricts rendering to a subset of the grid triangles.
        """
        b, h, w = canon_depth.shape
        verts = self.view_vertices(canon_depth, view)
        frags = rasterize(verts, self.faces if faces is None else faces, (h, w))
        return self._warped(frags, canon_depth.dtype)

    def _warped(self, frags: Fragments, dtype: torch.dtype) -> WarpedDepth:
        """Fragments -> the view depth (background depth where uncovered, clamped) and mask."""
        depth = torch.where(
            frags.mask, frags.zbuf, torch.full_like(frags.zbuf, self.background_depth)
        )
        depth = depth.clamp(self.min_depth - self.margin, self.max_depth + self.margin)
        return WarpedDepth(depth=depth, mask=frags.mask.to(dtype), fragments=frags)

    def reprojection_grid(self, view_depth: Tensor, view: Tensor) -> Tensor:
        """view_depth: (B, H, W), view: (B, 6) -> sampling grid (B, H, W, 2) into the canonical
        image, in grid_sample coordinates with align_corners=True."""
        b, h, w = view_depth.shape
        pts = depth_to_points(view_depth, self.K).reshape(b, -1, 3)
        uv = project(inverse_transform_points(pts, view), self.K)[..., :2]
        scale = torch.tensor([w - 1, h - 1], device=uv.device, dtype=uv.dtype)
        return (uv / scale * 2 - 1).view(b, h, w, 2)

    def render(
        self, canon_image: Tensor, canon_depth: Tensor, view: Tensor, faces: Tensor | None = None
    ) -> Rendered:
        """Reproject canon_image (B, C, H, W) with its depth (B, H, W) into ``view`` (B, 6)."""
        warped = self.warp_depth(canon_depth, view, faces)
        grid = self.reprojection_grid(warped.depth, view)
        image = F.grid_sample(canon_image, grid, mode="bilinear", align_corners=True)
        return Rendered(image=image, depth=warped.depth, mask=warped.mask.unsqueeze(1))

    def warp_points(self, points: Tensor, view: Tensor) -> WarpedDepth:
        """A canonical surface given as 3D points (B, H, W, 3), one per canonical pixel, seen
        under ``view`` (B, 6): its depth and coverage in the input view (:meth:`warp_depth` for
        surfaces that are not a depth map, e.g. the GRN's displaced one)."""
        return self._warp_points(points, view)[0]

    def _warp_points(self, points: Tensor, view: Tensor) -> tuple[WarpedDepth, Tensor]:
        """:meth:`warp_points` and the screen-space vertices (B, H*W, 3) it rasterized."""
        b, h, w, _ = points.shape
        verts = project(transform_points(points.reshape(b, -1, 3), view), self.K)
        return self._warped(rasterize(verts, self.faces, (h, w)), points.dtype), verts

    def render_points(self, canon_image: Tensor, points: Tensor, view: Tensor) -> Rendered:
        """Render a canonical surface given as 3D points rather than a depth map.

        canon_image: (B, C, H, W); points: (B, H, W, 3) in canonical camera space, one per
        canonical pixel (e.g. the GRN's displaced surface, paper eqn. 5); view: (B, 6).

        A displaced point no longer projects onto its own pixel, so the reprojection of
        :meth:`render` does not apply: every covered pixel instead interpolates its triangle's
        canonical pixel coordinates with perspective-correct barycentrics and samples the
        canonical image there. For points = back-projected depth this agrees with :meth:`render`
        up to the bilinear resampling.
        """
        b, h, w, _ = points.shape
        warped, verts = self._warp_points(points, view)
        frags, mask = warped.fragments, warped.mask
        # Each pixel's triangle: its vertex ids (B, HW, 3) -> their canonical pixel coordinates.
        vid = self.faces[frags.face_idx.clamp(min=0).view(b, -1)]
        xs = (vid % w).to(points.dtype)
        ys = torch.div(vid, w, rounding_mode="floor").to(points.dtype)
        z = torch.gather(verts[..., 2], 1, vid.view(b, -1)).view_as(xs)
        wz = frags.bary.view(b, -1, 3) / z.clamp(min=1e-8)  # perspective-correct weights
        wz = wz / wz.sum(-1, keepdim=True).clamp(min=1e-12)
        uv = torch.stack([(wz * xs).sum(-1), (wz * ys).sum(-1)], -1)
        scale = torch.tensor([w - 1, h - 1], device=uv.device, dtype=uv.dtype)
        grid = (uv / scale * 2 - 1).view(b, h, w, 2)
        image = F.grid_sample(canon_image, grid, mode="bilinear", align_corners=True)
        image = image * mask.unsqueeze(1)
        return Rendered(image=image, depth=warped.depth, mask=mask.unsqueeze(1))
