"""The Unsup3D proxy: post-processing, rendering of the flip, prediction."""

import math
from dataclasses import replace

import torch

from l2r_cli.config import ProxyModelConfig
from l2r_cli.models.proxy import Proxy

TINY = ProxyModelConfig(image_size=32, nf=8, zdim=16, nf_pose=8, conf_zdim=16)


def test_depth_postprocess_range_and_border():
    m = Proxy(TINY)
    d = m.postprocess_depth(torch.randn(3, 32, 32) * 5)
    assert d.min() >= 0.9 - 1e-6 and d.max() <= 1.1 + 1e-6
    bd = 0.7 * 1.1 + 0.3 * 0.9
    assert torch.allclose(d[..., :2], torch.full_like(d[..., :2], bd))
    assert torch.allclose(d[..., -2:], torch.full_like(d[..., -2:], bd))
    # Per-image mean is removed before tanh: a constant raw map gives the mid depth.
    flat = m.postprocess_depth(torch.full((1, 32, 32), 7.0))
    assert torch.allclose(flat[..., 2:-2], torch.ones_like(flat[..., 2:-2]))


def test_depth_smooth_keeps_coarse_shape_and_removes_pixel_noise():
    raw = torch.randn(2, 32, 32)
    per_pixel = Proxy(TINY).postprocess_depth(raw)[..., 2:-2]
    smooth = Proxy(replace(TINY, depth_smooth=4)).postprocess_depth(raw)[..., 2:-2]
    assert smooth.min() >= 0.9 - 1e-6 and smooth.max() <= 1.1 + 1e-6
    rough = (per_pixel[..., 1:] - per_pixel[..., :-1]).abs().mean()
    assert (smooth[..., 1:] - smooth[..., :-1]).abs().mean() < 0.3 * rough
    # A raw map that is constant on 4x4 blocks keeps its block pattern.
    blocks = torch.randn(1, 8, 8).repeat_interleave(4, 1).repeat_interleave(4, 2)
    out = Proxy(replace(TINY, depth_smooth=4)).postprocess_depth(blocks)
    ref = Proxy(TINY).postprocess_depth(blocks)
    pool = torch.nn.functional.avg_pool2d
    inner = (slice(None), slice(None), slice(1, -1), slice(1, -1))
    a, b = pool(out[:, None], 4)[inner].flatten(), pool(ref[:, None], 4)[inner].flatten()
    assert torch.corrcoef(torch.stack([a, b]))[0, 1] > 0.9


def test_depth_init_scale_zero_starts_flat():
    m = Proxy(replace(TINY, depth_init_scale=0.0))
    f = m.factors(torch.rand(2, 3, 32, 32) * 2 - 1)
    assert torch.allclose(f.depth[..., 2:-2], torch.ones_like(f.depth[..., 2:-2]))
    assert Proxy(TINY).factors(torch.rand(2, 3, 32, 32)).depth[..., 2:-2].std() > 1e-3


def test_view_postprocess_ranges():
    m = Proxy(TINY)
    v = m.postprocess_view(torch.ones(1, 6))
    assert torch.allclose(v[0, :3], torch.full((3,), math.radians(60)))
    assert torch.allclose(v[0, 3:5], torch.full((2,), 0.1))
    assert v[0, 5] == 0


def test_symmetric_face_renders_same_as_its_flip():
    torch.manual_seed(0)
    m = Proxy(TINY)
    f = m.factors(torch.rand(2, 3, 32, 32) * 2 - 1)
    sym_d = (f.depth + f.depth.flip(2)) / 2
    sym_a = (f.albedo + f.albedo.flip(3)) / 2
    r = m.render(replace(f, depth=sym_d, albedo=sym_a), flip=True)
    assert r.recon_image.shape == (4, 3, 32, 32)
    assert torch.allclose(r.recon_image[:2], r.recon_image[2:], atol=1e-5)


def test_predict_outputs():
    m = Proxy(TINY).eval()
    out = m.predict(torch.rand(2, 3, 32, 32) * 2 - 1)
    assert out["depth"].shape == (2, 32, 32)
    assert out["normal"].shape == (2, 32, 32, 3)
    assert torch.allclose(out["normal"].norm(dim=-1), torch.ones(2, 32, 32), atol=1e-4)
    assert out["mask"].shape == (2, 32, 32)
    assert out["canon_albedo"].shape == (2, 3, 32, 32)


def test_gradients_reach_every_net():
    m = Proxy(TINY)
    f = m.factors(torch.rand(2, 3, 32, 32) * 2 - 1)
    r = m.render(f)
    (r.recon_image.mean() + f.sigma.mean() + f.sigma_perc.mean()).backward()
    for name in ("net_depth", "net_albedo", "net_light", "net_view", "net_conf"):
        grads = [p.grad for p in getattr(m, name).parameters()]
        assert all(g is not None for g in grads), name
        assert sum(float(g.abs().sum()) for g in grads) > 0, name


def test_basrelief_gain_moves_along_the_family():
    torch.manual_seed(0)
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    m = Proxy(replace(TINY, basrelief_gain=True))
    f0 = m.factors(image)  # g = 0: same as without the gain
    plain = Proxy(replace(TINY, basrelief_gain=False))
    weights = {k: v for k, v in m.state_dict().items() if not k.startswith("basrelief")}
    plain.load_state_dict(weights)
    ref = plain.factors(image)
    assert torch.equal(f0.depth, ref.depth) and torch.equal(f0.view, ref.view)
    with torch.no_grad():
        m.basrelief.log_gain.fill_(math.log(2.0))
    f2 = m.factors(image)
    raw = m.net_depth(image).squeeze(1)
    assert torch.allclose(f2.depth, m.postprocess_depth(raw, torch.tensor(0.5)))
    assert torch.allclose(f2.view[:, :2], 2 * f0.view[:, :2])  # pitch, yaw doubled
    assert torch.equal(f2.view[:, 2:], f0.view[:, 2:])  # roll and translation untouched
    lateral = lambda d: d[:, :2] / d[:, 2:3]  # noqa: E731  (dx, dy) of normalize(dx, dy, 1)
    assert torch.allclose(lateral(f2.light.direction), 2 * lateral(f0.light.direction), atol=1e-6)
    assert torch.equal(f2.light.ambient, f0.light.ambient)


def test_basrelief_gain_gets_gradient():
    m = Proxy(replace(TINY, basrelief_gain=True))
    f = m.factors(torch.rand(2, 3, 32, 32) * 2 - 1)
    r = m.render(f)
    r.recon_image.mean().backward()
    assert m.basrelief.log_gain.grad is not None and m.basrelief.log_gain.grad != 0


def test_depth_detilt_removes_a_vertical_ramp_and_keeps_symmetric_shape():
    s = 32
    y = torch.linspace(-1, 1, s).view(1, -1, 1).expand(1, s, s)
    x = torch.linspace(-1, 1, s).view(1, 1, -1).expand(1, s, s)
    bump = 0.5 * torch.exp(-(x**2 + y**2) / 0.2)
    bump = bump - bump.mean()
    detilt = Proxy(replace(TINY, depth_detilt=True))
    # A pure vertical ramp (a pitched plane) becomes the flat mid depth.
    ramp = detilt.postprocess_depth(0.8 * y)
    assert torch.allclose(ramp[..., 2:-2], torch.ones_like(ramp[..., 2:-2]), atol=1e-6)
    # Ramp + bump gives what the bump alone gives without the option, up to the bump's own
    # (small) vertical trend, which is zero for a shape symmetric top to bottom.
    plain = Proxy(TINY).postprocess_depth(bump)
    assert torch.allclose(detilt.postprocess_depth(bump + 0.8 * y), plain, atol=1e-5)
    # A horizontal ramp is left alone (symmetry handles left-right tilt).
    horiz = Proxy(TINY).postprocess_depth(0.8 * x)
    assert torch.allclose(detilt.postprocess_depth(0.8 * x), horiz, atol=1e-6)


def test_albedo_symmetric_is_mirror_symmetric_and_default_is_not():
    torch.manual_seed(0)
    image = torch.rand(2, 3, 32, 32) * 2 - 1
    sym = Proxy(replace(TINY, albedo_symmetric=True)).factors(image).albedo
    assert torch.allclose(sym, sym.flip(-1))
    plain = Proxy(TINY).factors(image).albedo
    assert not torch.allclose(plain, plain.flip(-1))


def test_basrelief_gain_init_sets_the_starting_gain():
    m = Proxy(replace(TINY, basrelief_gain=True, basrelief_gain_init=2.5))
    assert math.isclose(m.basrelief().item(), 2.5, rel_tol=1e-6)
