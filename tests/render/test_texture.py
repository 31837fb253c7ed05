"""Photo textures: projection through the view and the visibility fallback, by hand."""

from __future__ import annotations

import math

import numpy as np

from l2r_cli.render.texture import photo_texture


def _plane(s: int, depth: float = 1.0) -> np.ndarray:
    """Canonical points of a fronto-parallel plane at ``depth`` on the s x s pixel rays."""
    t = math.tan(math.radians(5))
    g = np.linspace(-1, 1, s)
    u, v = np.meshgrid(g, g)
    return np.stack([u * t * depth, v * t * depth, np.full_like(u, depth)], -1).astype(np.float32)


def test_identity_view_copies_the_crop():
    s = 16
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 256, (s, s, 3), dtype=np.uint8)
    tex, seen = photo_texture(_plane(s), np.zeros(6), np.full((s, s), 1.0), crop,
                              np.zeros((s, s, 3)), 10.0, size=s)  # fmt: skip
    assert seen.all()
    np.testing.assert_allclose(tex, crop / 255.0, atol=1e-4)


def test_hidden_texels_take_their_mirror_then_the_albedo():
    s = 16
    crop = np.zeros((s, s, 3), np.uint8)
    crop[:, :, 0] = np.arange(s, dtype=np.uint8)[None, :] * 10  # red ramp left to right
    depth = np.full((s, s), 1.0)
    depth[:, : s // 2] = 0.9  # something nearer covers the left half: left texels are hidden
    albedo = np.full((s, s, 3), 0.5)
    tex, seen = photo_texture(_plane(s), np.zeros(6), depth, crop, albedo, 10.0, size=s)
    assert not seen[:, : s // 2].any() and seen[:, s // 2 :].all()
    np.testing.assert_allclose(tex[:, : s // 2], tex[:, s // 2 :][:, ::-1], atol=1e-6)
    depth[:] = 0.9  # nothing seen: the albedo
    tex, seen = photo_texture(_plane(s), np.zeros(6), depth, crop, albedo, 10.0, size=s)
    assert not seen.any()
    np.testing.assert_allclose(tex, 0.5)


def test_texture_follows_a_shifted_view_and_upsamples():
    # A translation of the view by one pixel at depth 1 moves every texel's source by one
    # crop pixel; at size = 2s - 1 every other texel is an original grid point.
    s = 16
    crop = np.zeros((s, s, 3), np.uint8)
    crop[:, :, 1] = np.arange(s, dtype=np.uint8)[None, :] * 15
    px = 2 * math.tan(math.radians(5)) / (s - 1)  # one pixel at depth 1
    view = np.array([0, 0, 0, px, 0, 0], np.float32)
    tex, seen = photo_texture(_plane(s), view, np.full((s, s), 1.0), crop, np.zeros((s, s, 3)),
                              10.0, size=2 * s - 1)  # fmt: skip
    got = tex[0, 0 : 2 * s - 3 : 2, 1] * 255
    np.testing.assert_allclose(got, np.arange(1, s) * 15, atol=1e-2)
