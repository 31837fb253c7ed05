"""Face meshes from a canonical surface, written as PLY, OBJ + MTL + PNG, or GLB.

The mesh is the model's canonical (frontal, pose removed) surface: one vertex per canonical
pixel, two triangles per pixel quad (:func:`l2r_cli.render.mesh.grid_faces`), trimmed to the face
region (:data:`l2r_cli.faces.FACE_A` ...) and of background pixels.

Axes and scale (docs/reconstruct.md): x to the viewer's right, y up, z towards the viewer (the
glTF / Blender-front / MeshLab convention), right-handed; origin at the centroid of the kept
vertices; 1 unit = the width of the crop's field of view at depth 1 (the face is about 0.7
units wide). Front faces wind counter-clockwise seen from +z.

PLY (vertex colours) and OBJ (UVs on the canonical grid, texture = the canonical albedo) are
written by open3d (the OBJ's texture is ``NAME_0.png``). GLB is written by trimesh: open3d's
GLB writer keeps vertex colours only and stores its buffer in a form open3d's own reader
rejects; trimesh's GLB holds the texture and is read by open3d, trimesh, Blender and browsers
(docs/dependencies.md).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l2r_cli.errors import L2RError

MESH_FORMATS = ("ply", "obj", "glb")


@dataclass
class FaceMesh:
    """vertices (N, 3) float, faces (F, 3) int, colors (N, 3) float in [0, 1], uv (N, 2) in
    [0, 1] with v up (OBJ convention), texture (H, W, 3) uint8 (the canonical albedo)."""

    vertices: np.ndarray
    faces: np.ndarray
    colors: np.ndarray
    uv: np.ndarray
    texture: np.ndarray


def face_region(size: int, trim: float = 0.9) -> np.ndarray:
    """(S, S) bool: canonical pixels inside the face ellipse scaled by ``trim``, away from the
    2-pixel border the proxy pins to a constant depth."""
    from l2r_cli.faces import FACE_A, FACE_B, FACE_CV

    g = np.linspace(-1, 1, size)
    u, v = np.meshgrid(g, g)
    inside = (u / (trim * FACE_A)) ** 2 + ((v - FACE_CV) / (trim * FACE_B)) ** 2 <= 1
    inside[:2] = inside[-2:] = False
    inside[:, :2] = inside[:, -2:] = False
    return inside


def build_face_mesh(
    points: np.ndarray,
    albedo: np.ndarray,
    keep: np.ndarray,
    fov: float,
    texture: np.ndarray | None = None,
) -> FaceMesh:
    """points: (H, W, 3) canonical camera space (x right, y down, z forward); albedo (H, W, 3)
    in [0, 1]; keep (H, W) bool; fov in degrees -> :class:`FaceMesh` (see module docstring).
    ``texture`` (T, T, 3) in [0, 1] on the same canonical frame replaces the albedo as texture
    and vertex colours (e.g. a photo texture)."""
    from l2r_cli.render.mesh import grid_faces

    h, w = keep.shape
    faces = grid_faces(h, w).numpy()
    flat_keep = keep.reshape(-1)
    faces = faces[flat_keep[faces].all(axis=1)]
    used = np.zeros(h * w, bool)
    used[faces.reshape(-1)] = True
    if not used.any():
        raise L2RError("the face region of this result is empty: no mesh to write")
    remap = np.full(h * w, -1, np.int64)
    remap[used] = np.arange(used.sum())
    pts = points.reshape(-1, 3)[used].astype(np.float64)
    pts = pts * np.array([1.0, -1.0, -1.0])  # y up, z towards the viewer
    pts = (pts - pts.mean(0)) / (2 * math.tan(math.radians(fov) / 2))
    rows, cols = np.divmod(np.arange(h * w)[used], w)
    uv = np.stack([cols / (w - 1), 1 - rows / (h - 1)], 1)
    if texture is None:
        texture = np.clip(albedo, 0, 1)
        colors = texture.reshape(-1, 3)[used]
    else:
        from scipy.ndimage import map_coordinates

        texture = np.clip(texture, 0, 1)
        t = texture.shape[0] - 1
        at = [rows * t / (h - 1), cols * t / (w - 1)]
        colors = np.stack([map_coordinates(texture[..., c], at, order=1) for c in range(3)], -1)
    return FaceMesh(
        vertices=pts,
        faces=remap[faces],
        colors=np.asarray(colors, np.float64),
        uv=uv,
        texture=np.rint(texture * 255).astype(np.uint8),
    )


def mesh_format(path: str | Path) -> str:
    """'ply' | 'obj' | 'glb' from a file name (an L2RError for anything else)."""
    fmt = Path(path).suffix.lower().lstrip(".")
    if fmt not in MESH_FORMATS:
        raise L2RError(
            f"{path}: unknown mesh format '.{fmt}' (use {', '.join('.' + f for f in MESH_FORMATS)})"
        )
    return fmt


def write_mesh(mesh: FaceMesh, path: str | Path) -> list[Path]:
    """Write ``mesh`` in the format of ``path``'s suffix; returns every file written (OBJ adds
    its .mtl and texture .png)."""
    path = Path(path)
    fmt = mesh_format(path)
    if fmt == "glb":
        return [_write_glb(mesh, path)]
    import open3d as o3d

    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    m = o3d.geometry.TriangleMesh()
    m.vertices = o3d.utility.Vector3dVector(mesh.vertices)
    m.triangles = o3d.utility.Vector3iVector(mesh.faces.astype(np.int32))
    m.vertex_colors = o3d.utility.Vector3dVector(mesh.colors)
    m.compute_vertex_normals()
    written = [path]
    if fmt == "obj":
        # open3d's triangle UVs have v down (image rows); the OBJ writer flips them on output.
        tri_uv = mesh.uv[mesh.faces.reshape(-1)] * np.array([1.0, -1.0]) + np.array([0.0, 1.0])
        m.triangle_uvs = o3d.utility.Vector2dVector(tri_uv)
        m.triangle_material_ids = o3d.utility.IntVector(np.zeros(len(mesh.faces), np.int32))
        m.textures = [o3d.geometry.Image(np.ascontiguousarray(mesh.texture))]
        written += [path.with_suffix(".mtl"), path.with_name(path.stem + "_0.png")]
    ok = o3d.io.write_triangle_mesh(str(path), m, write_ascii=False, print_progress=False)
    if not ok:
        raise L2RError(f"open3d could not write {path}")
    return [p for p in written if p.exists()]


def _write_glb(mesh: FaceMesh, path: Path) -> Path:
    import trimesh
    from PIL import Image

    visual = trimesh.visual.TextureVisuals(uv=mesh.uv, image=Image.fromarray(mesh.texture))
    tm = trimesh.Trimesh(mesh.vertices, mesh.faces, visual=visual, process=False)
    path.write_bytes(tm.export(file_type="glb"))
    return path
