"""Renderer tests: analytic cases, a brute-force reference rasterizer, float64 gradcheck."""

from __future__ import annotations

import math

import pytest
import torch

from l2r_cli.render import (
    Renderer,
    depth_to_points,
    grid_faces,
    intrinsics,
    inverse_transform_points,
    normals_from_depth,
    project,
    rasterize,
    rotation_matrix,
    transform_points,
)


def test_intrinsics_match_unsup3d_convention():
    K = intrinsics(64, 10.0)
    f = 31.5 / math.tan(math.radians(5))
    assert torch.allclose(K, torch.tensor([[f, 0, 31.5], [0, f, 31.5], [0, 0, 1.0]]))


def test_project_inverts_backprojection():
    K = intrinsics(16)
    d = 0.9 + 0.2 * torch.rand(2, 16, 16)
    pts = depth_to_points(d, K).reshape(2, -1, 3)
    scr = project(pts, K)
    ys, xs = torch.meshgrid(torch.arange(16.0), torch.arange(16.0), indexing="ij")
    assert torch.allclose(scr[..., 0], xs.reshape(-1).expand(2, -1), atol=1e-4)
    assert torch.allclose(scr[..., 1], ys.reshape(-1).expand(2, -1), atol=1e-4)
    assert torch.allclose(scr[..., 2], d.reshape(2, -1))


def test_transform_roundtrip_and_rotation_order():
    view = torch.tensor([[0.3, -0.5, 0.2, 0.05, -0.02, 0.01]])
    p = torch.randn(1, 10, 3)
    back = inverse_transform_points(transform_points(p, view), view)
    assert torch.allclose(back, p, atol=1e-5)
    # R = Rz Ry Rx: a pure yaw rotates x into -z (right-handed about +y).
    R = rotation_matrix(torch.tensor([[0.0, math.pi / 2, 0.0]]))
    assert torch.allclose(R[0] @ torch.tensor([1.0, 0, 0]), torch.tensor([0, 0, -1.0]), atol=1e-6)
    # The pivot (0, 0, 1) is fixed by any rotation.
    c = torch.tensor([[[0.0, 0.0, 1.0]]])
    v = torch.tensor([[0.4, 0.7, -0.3, 0.0, 0.0, 0.0]])
    assert torch.allclose(transform_points(c, v), c, atol=1e-6)


@pytest.mark.parametrize("z", [0.95, 1.0, 1.08])
def test_fronto_parallel_plane_renders_its_depth(z):
    r = Renderer(32)
    d = torch.full((2, 32, 32), z)
    out = r.warp_depth(d, torch.zeros(2, 6))
    assert out.mask.min() == 1
    assert torch.allclose(out.depth, d, atol=1e-5)
    n = normals_from_depth(d, r.K)
    assert torch.allclose(n, torch.tensor([0.0, 0.0, 1.0]).expand_as(n), atol=1e-5)


@pytest.mark.parametrize("yaw,pitch", [(25.0, 0.0), (0.0, -20.0), (30.0, 15.0)])
def test_rotated_plane_matches_closed_form(yaw, pitch):
    s = 32
    r = Renderer(s)
    view = torch.tensor([[math.radians(pitch), math.radians(yaw), 0.0, 0, 0, 0]])
    out = r.warp_depth(torch.ones(1, s, s), view)
    # Rotating the plane z = 1 about (0, 0, 1) gives the plane through (0, 0, 1) with normal
    # R e_z; the ray through pixel (u, v) is K^-1 (u, v, 1), so its depth is n.c / n.ray.
    n = rotation_matrix(view[:, :3])[0] @ torch.tensor([0.0, 0.0, 1.0])
    rays = depth_to_points(torch.ones(1, s, s), r.K)[0]
    expected = n[2] / (rays @ n)
    # Compare away from the silhouette of the rotated (finite) plane.
    inner = torch.nn.functional.avg_pool2d(out.mask[None], 3, 1, 1)[0, 0] > 0.999
    assert inner.float().mean() > 0.5
    assert torch.allclose(out.depth[0][inner], expected[inner], atol=1e-5)


def test_identity_view_reprojects_canonical_image():
    r = Renderer(24)
    img = torch.rand(3, 3, 24, 24)
    d = 1.0 + 0.03 * torch.randn(3, 1, 1) + torch.zeros(3, 24, 24)
    out = r.render(img, d, torch.zeros(3, 6))
    assert torch.allclose(out.image, img, atol=1e-4)
    assert out.mask.min() == 1


def _brute_force(verts: torch.Tensor, faces: torch.Tensor, h: int, w: int):
    """Per-pixel, per-face reference z-buffer (slow, obviously correct)."""
    zbuf = torch.full((h, w), float("inf"), dtype=verts.dtype)
    fidx = torch.full((h, w), -1, dtype=torch.long)
    for y in range(h):
        for x in range(w):
            for fi, (a, b, c) in enumerate(faces.tolist()):
                (x0, y0, z0), (x1, y1, z1), (x2, y2, z2) = verts[a], verts[b], verts[c]
                area = (x1 - x0) * (y2 - y0) - (x2 - x0) * (y1 - y0)
                if abs(area) < 1e-12:
                    continue
                w0 = ((x1 - x) * (y2 - y) - (x2 - x) * (y1 - y)) / area
                w1 = ((x2 - x) * (y0 - y) - (x0 - x) * (y2 - y)) / area
                w2 = 1 - w0 - w1
                if min(w0, w1, w2) < 0:
                    continue
                z = 1 / (w0 / z0 + w1 / z1 + w2 / z2)
                if z < zbuf[y, x]:
                    zbuf[y, x], fidx[y, x] = z, fi
    return zbuf, fidx


def test_rasterizer_matches_brute_force_on_random_mesh():
    g = torch.Generator().manual_seed(3)
    h, w = 12, 14
    nv, nf = 30, 25
    xy = torch.rand(nv, 2, generator=g, dtype=torch.float64) * torch.tensor([w + 4.0, h + 4.0]) - 2
    z = 0.5 + torch.rand(nv, 1, generator=g, dtype=torch.float64)
    verts = torch.cat([xy, z], -1)
    faces = torch.stack([torch.randperm(nv, generator=g)[:3] for _ in range(nf)])
    frags = rasterize(verts[None], faces, (h, w))
    zref, fref = _brute_force(verts, faces, h, w)
    covered = torch.isfinite(zref)
    assert torch.equal(frags.mask[0], covered)
    assert torch.allclose(frags.zbuf[0][covered], zref[covered], atol=1e-9)
    assert torch.equal(frags.face_idx[0], fref)
    # Barycentrics reproduce the pixel centre.
    bb = frags.bary[0][covered]
    tri = verts[faces[frags.face_idx[0][covered]]]
    pos = (bb.unsqueeze(-1) * tri[..., :2]).sum(1)
    ys, xs = covered.nonzero(as_tuple=True)
    assert torch.allclose(pos, torch.stack([xs, ys], -1).double(), atol=1e-9)


@pytest.mark.parametrize("yaw", [0.0, 50.0])
def test_rasterizer_matches_brute_force_on_spiky_depth_grid(yaw):
    # Per-pixel noise of ~10 pixel widths (a fresh depth net's output) seen from the side: walls,
    # slivers and self-occlusion everywhere, where span enumeration must stay exact.
    s = 16
    g = torch.Generator().manual_seed(5)
    r = Renderer(s)
    depth = (1.0 + 0.05 * torch.randn(1, s, s, generator=g, dtype=torch.float64)).clamp(0.9, 1.1)
    view = torch.tensor([[0.0, math.radians(yaw), 0.0, 0, 0, 0]], dtype=torch.float64)
    verts = r.view_vertices(depth, view)
    faces = grid_faces(s, s)
    frags = rasterize(verts, faces, (s, s))
    zref, fref = _brute_force(verts[0], faces, s, s)
    covered = torch.isfinite(zref)
    assert torch.equal(frags.mask[0], covered)
    assert torch.allclose(frags.zbuf[0][covered], zref[covered], atol=1e-9)


@pytest.mark.parametrize("yaw", [0.0, 35.0])
def test_rasterizer_matches_brute_force_on_smooth_depth_grid(yaw):
    # A smooth face-like bump: nearly every triangle holds at most 2 x 2 pixel centres, so this
    # checks the direct small-face path (the spiky case above mostly takes the span path).
    s = 14
    r = Renderer(s)
    ys, xs = torch.meshgrid(torch.arange(s) * 1.0, torch.arange(s) * 1.0, indexing="ij")
    bump = torch.exp(-((xs - 6.3) ** 2 + (ys - 7.1) ** 2) / 20)
    depth = (1.0 - 0.04 * bump)[None].double()
    view = torch.tensor([[math.radians(8), math.radians(yaw), 0.1, 0.01, 0, 0]]).double()
    verts = r.view_vertices(depth, view)
    faces = grid_faces(s, s)
    frags = rasterize(verts, faces, (s, s))
    zref, fref = _brute_force(verts[0], faces, s, s)
    covered = torch.isfinite(zref)
    assert covered.float().mean() > 0.5
    assert torch.equal(frags.mask[0], covered)
    assert torch.equal(frags.face_idx[0], fref)
    assert torch.allclose(frags.zbuf[0][covered], zref[covered], atol=1e-9)


def test_rotated_view_reprojects_a_texture_point_to_its_projection():
    # One bright texel on a curved canonical surface lands where the view transform and the
    # camera put its 3D point (warp and reprojection agree).
    s = 64
    r = Renderer(s)
    ys, xs = torch.meshgrid(torch.arange(s) * 1.0, torch.arange(s) * 1.0, indexing="ij")
    depth = (1.0 - 0.05 * torch.exp(-((xs - 32) ** 2 + (ys - 32) ** 2) / 200))[None]
    img = torch.full((1, 1, s, s), -1.0)
    u0, v0 = 40, 24
    img[0, 0, v0, u0] = 1.0
    for view in ([0, 30, 0], [20, 0, 0], [0, 0, 25]):
        v = torch.tensor([[math.radians(a) for a in view] + [0.02, 0.0, 0.0]])
        out = r.render(img, depth, v)
        p3 = depth_to_points(depth, r.K)[0, v0, u0].view(1, 1, 3)
        expected = project(transform_points(p3, v), r.K)[0, 0, :2]
        im = torch.where(out.mask[0, 0] > 0, out.image[0, 0], -1.0) + 1
        yy, xx = im.nonzero(as_tuple=True)
        wts = im[yy, xx]
        centre = torch.stack([(xx * wts).sum(), (yy * wts).sum()]) / wts.sum()
        assert (centre - expected).abs().max() < 0.5, (view, centre, expected)


def test_rasterizer_large_and_small_triangles_together():
    # One triangle spanning the whole image in front of many small ones.
    h = w = 20
    small = grid_faces(h, w)
    ys, xs = torch.meshgrid(torch.arange(h) * 1.0, torch.arange(w) * 1.0, indexing="ij")
    verts = torch.stack([xs, ys, torch.full_like(xs, 2.0)], -1).reshape(-1, 3)
    big = torch.tensor([[-1.0, -1.0, 1.0], [60.0, -1.0, 1.0], [-1.0, 60.0, 1.0]])
    allv = torch.cat([verts, big])[None]
    n = verts.shape[0]
    faces = torch.cat([small, torch.tensor([[n, n + 1, n + 2]])])
    frags = rasterize(allv, faces, (h, w))
    assert (frags.face_idx == faces.shape[0] - 1).all()
    assert torch.allclose(frags.zbuf, torch.ones(1, h, w))


def test_rasterizer_gradcheck_float64():
    g = torch.Generator().manual_seed(0)
    s = 6
    ys, xs = torch.meshgrid(torch.arange(s) * 1.0, torch.arange(s) * 1.0, indexing="ij")
    base = torch.stack([xs * 1.1 - 0.27, ys * 1.05 - 0.13, torch.ones_like(xs)], -1)
    base = base.reshape(1, -1, 3).double()
    base = base + 0.05 * torch.rand(base.shape, generator=g, dtype=torch.float64)
    faces = grid_faces(s, s)

    def f(v):
        fr = rasterize(v, faces, (s, s))
        return fr.zbuf, fr.bary

    v = base.clone().requires_grad_(True)
    assert torch.autograd.gradcheck(f, (v,), eps=1e-6, atol=1e-5)


def test_render_gradcheck_float64_wrt_depth_and_image():
    s = 8
    r = Renderer(s)
    r.K = r.K.double()
    g = torch.Generator().manual_seed(1)
    depth = (1.0 + 0.01 * torch.rand(1, s, s, generator=g, dtype=torch.float64)).requires_grad_()
    img = torch.rand(1, 2, s, s, generator=g, dtype=torch.float64).requires_grad_()
    view = torch.tensor([[0.02, 0.05, 0.0, 0.0, 0.0, 0.0]], dtype=torch.float64)

    def f(d, im):
        return r.render(im, d, view).image

    assert torch.autograd.gradcheck(f, (depth, img), eps=1e-6, atol=1e-5)


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    r = Renderer(32)
    d = 1 + 0.05 * torch.rand(2, 32, 32)
    view = torch.tensor([[0.1, 0.4, 0.0, 0.01, 0.0, 0.0]]).repeat(2, 1)
    cpu = r.warp_depth(d, view).depth
    gpu = Renderer(32, device="cuda").warp_depth(d.cuda(), view.cuda()).depth.cpu()
    assert torch.allclose(cpu, gpu, atol=1e-4)


def test_partial_coverage_gives_finite_gradients():
    # A small mesh in a corner: most pixels are background and must not poison the gradient.
    s = 16
    ys, xs = torch.meshgrid(torch.arange(4.0), torch.arange(4.0), indexing="ij")
    v = torch.stack([xs + 0.3, ys + 0.2, 1 + 0.1 * xs], -1).reshape(1, -1, 3).requires_grad_()
    fr = rasterize(v, grid_faces(4, 4), (s, s))
    assert 0 < fr.mask.float().mean() < 0.2
    (fr.zbuf.sum() + fr.bary.sum()).backward()
    assert torch.isfinite(v.grad).all() and v.grad.abs().sum() > 0
    assert (fr.zbuf[~fr.mask] == 0).all() and (fr.bary[~fr.mask] == 0).all()


def test_render_points_of_the_depth_grid_matches_the_reprojection():
    """Without displacement the GRN's point renderer and the proxy's reprojection agree: same
    coverage and depth, the image up to the bilinear resampling of the two paths."""
    r = Renderer(32, 10, 0.9, 1.1)
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 32), torch.linspace(-1, 1, 32), indexing="ij")
    d = (1.0 - 0.05 * torch.exp(-(xs**2 + ys**2) * 2))[None].repeat(2, 1, 1)
    img = torch.stack([xs, ys, xs * ys], 0)[None].repeat(2, 1, 1, 1)
    view = torch.tensor([[0.1, 0.3, 0, 0.01, 0, 0], [0, -0.2, 0.05, 0, 0.02, 0]])
    a = r.render(img, d, view)
    b = r.render_points(img, depth_to_points(d, r.K), view)
    assert torch.equal(a.mask, b.mask)
    m = a.mask
    assert ((a.depth - b.depth).abs() * m[:, 0]).max() < 1e-5
    assert ((a.image - b.image).abs() * m).max() < 1e-3
    assert (b.image * (1 - m)).abs().max() == 0  # uncovered pixels are black


def test_render_points_moves_with_a_displaced_surface():
    """Pushing every point 0.01 further away shows up as 0.01 more depth in a frontal view,
    and the depth gradient reaches the points."""
    r = Renderer(16, 10, 0.9, 1.1)
    d = torch.full((1, 16, 16), 1.0)
    pts = depth_to_points(d, r.K).requires_grad_(True)
    shift = torch.tensor([0.0, 0.0, 0.01])
    view = torch.zeros(1, 6)
    img = torch.rand(1, 3, 16, 16)
    a = r.render_points(img, pts, view)
    b = r.render_points(img, pts + shift, view)
    inner = (0, slice(2, -2), slice(2, -2))
    assert torch.allclose(b.depth[inner] - a.depth[inner], torch.full((12, 12), 0.01), atol=1e-5)
    b.depth[inner].sum().backward()
    assert pts.grad is not None and pts.grad[..., 2].abs().sum() > 0
