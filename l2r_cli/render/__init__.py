"""Our differentiable renderer in pure PyTorch (CPU and CUDA): camera, view transform, mesh from
depth, z-buffer rasterizer, shading, and the proxy's warp/reprojection (paper sec. 3)."""

from l2r_cli.render.camera import depth_to_points, intrinsics, project
from l2r_cli.render.mesh import grid_faces
from l2r_cli.render.rasterizer import Fragments, rasterize
from l2r_cli.render.renderer import Rendered, Renderer, WarpedDepth
from l2r_cli.render.shading import Light, light_from_raw, normals_from_depth, shade
from l2r_cli.render.transform import inverse_transform_points, rotation_matrix, transform_points

__all__ = [
    "Fragments",
    "Light",
    "Rendered",
    "Renderer",
    "WarpedDepth",
    "depth_to_points",
    "grid_faces",
    "intrinsics",
    "inverse_transform_points",
    "light_from_raw",
    "normals_from_depth",
    "project",
    "rasterize",
    "rotation_matrix",
    "shade",
    "transform_points",
]
