"""GRN: eqn. (5) on analytic surfaces, the Laplacian term, the net's start and ablations."""

from __future__ import annotations

import math
from dataclasses import replace

import pytest
import torch

from l2r_cli.config import GrnModelConfig
from l2r_cli.models.grn import GRN, GrnConfig, laplacian_smoothness, refine_surface
from l2r_cli.render import depth_to_points, intrinsics
from l2r_cli.render.shading import normals_from_points

TINY = GrnModelConfig(nf=8, zdim=16)


def _plane(size: int, a: float, b: float, c: float) -> torch.Tensor:
    """Depth (1, S, S) of the plane z = a x + b y + c in camera space, by ray intersection."""
    K = intrinsics(size, dtype=torch.float64)
    rays = depth_to_points(torch.ones(1, size, size, dtype=torch.float64), K)  # z = 1
    return c / (1 - a * rays[..., 0] - b * rays[..., 1])


@pytest.mark.parametrize("slopes", [(0.0, 0.0), (0.3, -0.2)])
def test_eqn5_plane_plus_displacement_is_the_offset_plane(slopes):
    """A plane displaced by m = (delta, delta, delta) along its unit normal n is the parallel
    plane at distance delta: D_r - D_uv = delta * n everywhere, and the normals are unchanged."""
    a, b = slopes
    size, delta = 16, 0.004
    K = intrinsics(size, dtype=torch.float64)
    depth = _plane(size, a, b, 1.0)
    m = torch.full((1, size, size, 3), delta, dtype=torch.float64)
    pts = refine_surface(depth, m, K)
    n = torch.tensor([-a, -b, 1.0], dtype=torch.float64)
    n = n / n.norm()
    inner = (slice(None), slice(1, -1), slice(1, -1))  # border normals are (0, 0, 1) by convention
    base = depth_to_points(depth, K)
    assert torch.allclose((pts - base)[inner], delta * n.expand(1, 14, 14, 3), atol=1e-12)
    # every refined point lies on the offset plane n . p = n . p0 + delta
    p0 = torch.tensor([0.0, 0.0, 1.0], dtype=torch.float64)
    dist = (pts[inner] - p0) @ n
    assert torch.allclose(dist, torch.full_like(dist, delta), atol=1e-12)
    n_r = normals_from_points(pts)[:, 2:-2, 2:-2]
    assert torch.allclose(n_r, n.expand_as(n_r), atol=1e-9)


def test_eqn5_displacement_is_elementwise_with_the_normal():
    """m (h, w, 3) multiplies n componentwise: only the z part moves a fronto-parallel plane."""
    size = 8
    K = intrinsics(size, dtype=torch.float64)
    depth = torch.full((1, size, size), 1.0, dtype=torch.float64)
    m = torch.zeros(1, size, size, 3, dtype=torch.float64)
    m[..., 0], m[..., 1], m[..., 2] = 0.5, -0.5, 0.01  # x, y weights hit n_x = n_y = 0
    diff = refine_surface(depth, m, K) - depth_to_points(depth, K)
    assert torch.allclose(diff[..., :2], torch.zeros_like(diff[..., :2]))
    assert torch.allclose(diff[..., 2], torch.full_like(diff[..., 2], 0.01))


def test_laplacian_is_zero_on_affine_maps_and_not_on_curved_ones():
    ys, xs = torch.meshgrid(torch.linspace(-1, 1, 12), torch.linspace(-1, 1, 12), indexing="ij")
    affine = torch.stack([0.3 * xs - 0.2 * ys + 1, 2 * xs, -ys + 0.5], -1)[None]
    assert laplacian_smoothness(affine).item() == pytest.approx(0.0, abs=1e-6)
    curved = torch.stack([xs**2, xs * 0, ys**2], -1)[None]
    h = 2 / 11
    # |lap(x^2)| = 2 h^2 per pixel for channels 0 and 2, 0 for channel 1: mean = 4 h^2 / 3
    assert laplacian_smoothness(curved).item() == pytest.approx(4 * h * h / 3, rel=1e-4)


def _inputs(cfg: GrnConfig, b: int = 2):
    g = torch.Generator().manual_seed(0)
    s = cfg.size
    image = torch.rand(b, 3, s, s, generator=g) * 2 - 1
    normal = torch.nn.functional.normalize(torch.randn(b, s, s, 3, generator=g), dim=-1)
    albedo = torch.rand(b, 3, s, s, generator=g) * 2 - 1
    depth = 1 + 0.02 * torch.rand(b, s, s, generator=g)
    return image, normal, albedo, depth


def test_residual_grn_starts_at_the_proxy_depth_with_no_displacement():
    cfg = GrnConfig(size=32, min_depth=0.95, max_depth=1.05, border_depth=1.03, arch=TINY)
    image, normal, albedo, depth = _inputs(cfg)
    out = GRN(cfg)(image, normal, albedo, depth)
    assert out.depth.shape == (2, 32, 32) and out.displacement.shape == (2, 32, 32, 3)
    assert torch.equal(out.displacement, torch.zeros_like(out.displacement))
    assert torch.allclose(out.depth[..., 2:-2], depth[..., 2:-2])
    assert torch.all(out.depth[..., :2] == 1.03) and torch.all(out.depth[..., -2:] == 1.03)


def test_outputs_stay_in_their_ranges_and_ablations_drop_their_parts():
    cfg = GrnConfig(size=32, arch=replace(TINY, residual_depth=False, max_displacement=0.01))
    net = GRN(cfg)
    image, normal, albedo, depth = _inputs(cfg)
    with torch.no_grad():
        for p in net.parameters():
            p.mul_(5)  # saturate: the bounds must hold anyway
        out = net(image, normal, albedo, depth)
    assert out.depth.min() >= cfg.min_depth and out.depth.max() <= cfg.max_depth
    assert out.displacement.abs().max() <= 0.01 + 1e-7
    assert out.displacement[:, :, :2].abs().max() == 0  # border columns pinned
    no_disp = GRN(GrnConfig(size=32, arch=replace(TINY, displacement=False)))
    assert no_disp(image, normal, albedo, depth).displacement.abs().max() == 0
    no_img = GRN(GrnConfig(size=32, arch=replace(TINY, use_restored=False)))
    assert no_img.net.encoder[0].in_channels == 6 and net.net.encoder[0].in_channels == 9
    no_img(image, normal, None, depth)  # the restored albedo is not needed
    with pytest.raises(ValueError, match="restored albedo"):
        net(image, normal, None, depth)


def test_gradients_reach_the_grn_through_eqn5():
    cfg = GrnConfig(size=16, arch=replace(TINY, residual_depth=False))
    net = GRN(cfg)
    image, normal, albedo, depth = _inputs(cfg)
    out = net(image, normal, albedo, depth)
    pts = refine_surface(out.depth, out.displacement, intrinsics(16))
    pts[..., 2].mean().backward()
    grads = [p.grad for p in net.parameters() if p.grad is not None]
    assert grads and all(torch.isfinite(g).all() for g in grads)
    assert math.isfinite(sum(g.abs().sum().item() for g in grads))
