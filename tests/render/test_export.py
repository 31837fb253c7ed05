"""Face meshes: trimming, axes and files that open3d and trimesh read back."""

from __future__ import annotations

import math

import numpy as np
import pytest

from l2r_cli.errors import L2RError
from l2r_cli.render.export import build_face_mesh, face_region, mesh_format, write_mesh


def _bowl(size=16):
    g = np.linspace(-1, 1, size)
    u, v = np.meshgrid(g, g)
    depth = 1 - 0.02 * (1 - u**2 - v**2)  # centre nearest the camera
    t = math.tan(math.radians(5))
    pts = np.stack([u * t * depth, v * t * depth, depth], -1)
    albedo = np.stack([(u + 1) / 2, (v + 1) / 2, np.full_like(u, 0.3)], -1)
    return pts, albedo


def test_mesh_axes_scale_and_trim():
    pts, albedo = _bowl()
    keep = face_region(16)
    mesh = build_face_mesh(pts, albedo, keep, 10.0)
    assert not keep[:2].any() and not keep[:, -2:].any()
    assert len(mesh.vertices) == keep.sum()
    np.testing.assert_allclose(mesh.vertices.mean(0), 0, atol=1e-12)
    # y up: the top image row has the largest y; z towards the viewer: the centre is highest
    top = mesh.vertices[mesh.uv[:, 1].argmax()]
    assert top[1] == mesh.vertices[:, 1].max()
    centre = np.argmin((mesh.uv - 0.5).__pow__(2).sum(1))
    assert mesh.vertices[centre, 2] == pytest.approx(mesh.vertices[:, 2].max(), abs=1e-3)
    # 1 unit = the frame width at depth 1: the kept part spans less than that
    assert 0.5 < np.ptp(mesh.vertices[:, 0]) < 1.0
    # counter-clockwise seen from +z: every face's normal points towards the viewer
    v = mesh.vertices[mesh.faces]
    n = np.cross(v[:, 1] - v[:, 0], v[:, 2] - v[:, 0])
    assert (n[:, 2] > 0).all()


@pytest.mark.parametrize("fmt", ["ply", "obj", "glb"])
def test_written_meshes_read_back_with_their_colours(tmp_path, fmt):
    import open3d as o3d
    import trimesh

    pts, albedo = _bowl()
    mesh = build_face_mesh(pts, albedo, face_region(16), 10.0)
    files = write_mesh(mesh, tmp_path / f"m.{fmt}")
    assert all(f.exists() for f in files)
    if fmt == "obj":
        assert {f.name for f in files} == {"m.obj", "m.mtl", "m_0.png"}
    back = o3d.io.read_triangle_mesh(str(files[0]))
    assert len(back.vertices) == len(mesh.vertices)
    assert len(back.triangles) == len(mesh.faces)
    tm = trimesh.load(files[0], force="mesh", process=False)
    visual = tm.visual.to_color() if tm.visual.kind == "texture" else tm.visual
    colours = visual.vertex_colors[:, :3] / 255.0
    nearest = [np.argmin(((mesh.vertices - p) ** 2).sum(1)) for p in tm.vertices]
    np.testing.assert_allclose(colours, mesh.colors[nearest], atol=2.5 / 255)


def test_unknown_suffix_and_empty_region():
    with pytest.raises(L2RError, match="unknown mesh format"):
        mesh_format("a.stl")
    pts, albedo = _bowl()
    with pytest.raises(L2RError, match="empty"):
        build_face_mesh(pts, albedo, np.zeros((16, 16), bool), 10.0)
