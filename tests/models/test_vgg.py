"""VGG16 perceptual features load only from a user's file, with clear errors."""

import pytest
import torch

from l2r_cli.errors import L2RError
from l2r_cli.models.vgg import VGG16Relu33, load_vgg16


def _torchvision_like_state() -> dict:
    net = VGG16Relu33()
    state = {f"features.{k}": v for k, v in net.features.state_dict().items()}
    state["classifier.0.weight"] = torch.zeros(2, 2)  # ignored
    return state


def test_load_and_run(tmp_path):
    p = tmp_path / "vgg.pth"
    torch.save(_torchvision_like_state(), p)
    net = load_vgg16(p)
    out = net(torch.rand(2, 3, 64, 64) * 2 - 1)
    assert out.shape == (2, 256, 16, 16)
    assert not any(q.requires_grad for q in net.parameters())


def test_errors(tmp_path):
    with pytest.raises(L2RError, match="not found"):
        load_vgg16(tmp_path / "nope.pth")
    bad = tmp_path / "bad.pth"
    bad.write_bytes(b"not a torch file")
    with pytest.raises(L2RError, match="cannot read"):
        load_vgg16(bad)
    state = _torchvision_like_state()
    del state["features.14.weight"]
    torch.save(state, tmp_path / "missing.pth")
    with pytest.raises(L2RError, match="features.14.weight"):
        load_vgg16(tmp_path / "missing.pth")
    state = _torchvision_like_state()
    state["features.0.weight"] = torch.zeros(64, 3, 5, 5)
    torch.save(state, tmp_path / "shape.pth")
    with pytest.raises(L2RError, match="shape"):
        load_vgg16(tmp_path / "shape.pth")
