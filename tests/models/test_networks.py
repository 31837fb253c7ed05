"""Shapes, ranges and layout of the proxy networks."""

import pytest
import torch

from l2r_cli.models.networks import ConfNet, EDDeconv, Encoder, count_parameters


@pytest.mark.parametrize("size", [32, 64, 128])
def test_shapes_at_every_size(size):
    x = torch.randn(2, 3, size, size)
    assert EDDeconv(3, 1, size, nf=8, zdim=16)(x).shape == (2, 1, size, size)
    full, quarter = ConfNet(3, size, nf=8, zdim=16)(x)
    assert full.shape == (2, 2, size, size) and quarter.shape == (2, 2, size // 4, size // 4)
    assert (full > 0).all() and (quarter > 0).all()
    v = Encoder(3, 6, size, nf=8)(x)
    assert v.shape == (2, 6) and v.abs().max() <= 1


def test_no_biases_like_unsup3d():
    for net in (EDDeconv(3, 3, 64, nf=8, zdim=16), Encoder(3, 4, 64, nf=8), ConfNet(3, 64, 8, 16)):
        for m in net.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                assert m.bias is None


def test_unsup3d_widths_at_64():
    # Unsup3D's EDDeconv(nf=64, zdim=256): encoder convs 3->64->128->256->512->256.
    net = EDDeconv(3, 1, 64, nf=64, zdim=256)
    convs = [m for m in net.encoder if isinstance(m, torch.nn.Conv2d)]
    assert [(c.in_channels, c.out_channels) for c in convs] == [
        (3, 64), (64, 128), (128, 256), (256, 512), (512, 256)
    ]  # fmt: skip
    assert count_parameters(net) > 10_000_000


def test_bad_size_rejected():
    with pytest.raises(ValueError):
        Encoder(3, 4, 48)
