"""Lambertian shading (Unsup3D's convention) against values computed by hand."""

from __future__ import annotations

import torch

from l2r_cli.render.shading import Light, light_from_raw, shade


def test_light_from_raw_maps_strengths_and_normalises_the_direction():
    # (ambient, diffuse, dx, dy) = (0.2, -0.4, 0.75, 0): a = 1.2 / 2 = 0.6, b = 0.6 / 2 = 0.3,
    # l = (0.75, 0, 1) / sqrt(0.5625 + 1) = (0.75, 0, 1) / 1.25 = (0.6, 0, 0.8)
    light = light_from_raw(torch.tensor([[0.2, -0.4, 0.75, 0.0], [-1.0, 1.0, 0.0, 0.0]]))
    torch.testing.assert_close(light.ambient, torch.tensor([0.6, 0.0]))
    torch.testing.assert_close(light.diffuse, torch.tensor([0.3, 1.0]))
    torch.testing.assert_close(light.direction, torch.tensor([[0.6, 0.0, 0.8], [0.0, 0.0, 1.0]]))


def test_shade_hand_values_with_a_normal_facing_away():
    # Four pixels in a row; normals n and albedos (in [-1, 1], so albedo01 = albedo / 2 + 0.5):
    #   p0: n = (0, 0, 1),        albedo (0.5, -1, 0)  -> albedo01 (0.75, 0, 0.5)
    #   p1: n = (0.6, 0, 0.8),    albedo (1, 1, 1)     -> 1
    #   p2: n = (-0.6, 0, -0.8),  albedo 0.5           -> 0.75   (faces away from light 0)
    #   p3: n = (-1, 0, 0),       albedo 0             -> 0.5
    normal = torch.tensor([[0.0, 0.0, 1.0], [0.6, 0.0, 0.8], [-0.6, 0.0, -0.8], [-1.0, 0.0, 0.0]])
    albedo = torch.tensor([[0.5, -1.0, 0.0], [1.0, 1.0, 1.0], [0.5, 0.5, 0.5], [0.0, 0.0, 0.0]])
    # light 0: a = 0.6, b = 0.3, l = (0.6, 0, 0.8): n.l = 0.8, 1, -1 -> 0, -0.6 -> 0
    #   shading = 0.6 + 0.3 * (0.8, 1, 0, 0) = (0.84, 0.9, 0.6, 0.6)  (away: ambient only)
    # light 1: a = 0, b = 1, l = (0, 0, 1): n.l = n_z = (1, 0.8, -0.8, 0) -> (1, 0.8, 0, 0)
    light = Light(
        ambient=torch.tensor([0.6, 0.0]),
        diffuse=torch.tensor([0.3, 1.0]),
        direction=torch.tensor([[0.6, 0.0, 0.8], [0.0, 0.0, 1.0]]),
    )
    normals = normal.view(1, 1, 4, 3).expand(2, 1, 4, 3)
    albedos = albedo.T.reshape(1, 3, 1, 4).expand(2, 3, 1, 4)
    image, shading = shade(albedos, normals, light)
    want_shading = torch.tensor([[0.84, 0.9, 0.6, 0.6], [1.0, 0.8, 0.0, 0.0]])
    torch.testing.assert_close(shading, want_shading.view(2, 1, 1, 4))
    # image = albedo01 * shading * 2 - 1, per channel:
    #   light 0: p0 (0.75, 0, 0.5) * 0.84 = (0.63, 0, 0.42) -> (0.26, -1, -0.16)
    #            p1 0.9 -> 0.8;  p2 0.75 * 0.6 = 0.45 -> -0.1;  p3 0.5 * 0.6 = 0.3 -> -0.4
    #   light 1: p0 (0.75, 0, 0.5) * 1 -> (0.5, -1, 0);  p1 0.8 -> 0.6;  p2, p3 0 -> -1
    want = torch.tensor(
        [
            [[0.26, 0.8, -0.1, -0.4], [-1.0, 0.8, -0.1, -0.4], [-0.16, 0.8, -0.1, -0.4]],
            [[0.5, 0.6, -1.0, -1.0], [-1.0, 0.6, -1.0, -1.0], [0.0, 0.6, -1.0, -1.0]],
        ]
    )
    torch.testing.assert_close(image, want.view(2, 3, 1, 4))
