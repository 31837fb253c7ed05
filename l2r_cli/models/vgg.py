"""VGG16 relu3_3 features for Unsup3D's perceptual term, loaded only from a user's weights file.

ImageNet weights cannot be downloaded by l2r; users pass a torchvision-layout state_dict
(``features.N.weight``; classifier keys are ignored) with ``--vgg-weights``.
"""

from __future__ import annotations

from pathlib import Path

import torch
from torch import Tensor, nn

from l2r_cli.errors import L2RError

# torchvision vgg16.features indices of the convolutions up to relu3_3.
_CONVS = {0: (3, 64), 2: (64, 64), 5: (64, 128), 7: (128, 128), 10: (128, 256), 12: (256, 256)}
_CONVS[14] = (256, 256)
_POOLS = (4, 9)


class VGG16Relu33(nn.Module):
    """Frozen VGG16 up to relu3_3: image (B, 3, H, W) in [-1, 1] -> features (B, 256, H/4, W/4)."""

    def __init__(self) -> None:
        super().__init__()
        layers: list[nn.Module] = []
        for i in range(16):
            if i in _CONVS:
                layers.append(nn.Conv2d(*_CONVS[i], 3, 1, 1))
            elif i in _POOLS:
                layers.append(nn.MaxPool2d(2, 2))
            else:
                layers.append(nn.ReLU(inplace=False))
        self.features = nn.Sequential(*layers)
        self.register_buffer("mean", torch.tensor([0.485, 0.456, 0.406]).view(1, 3, 1, 1))
        self.register_buffer("std", torch.tensor([0.229, 0.224, 0.225]).view(1, 3, 1, 1))
        self.requires_grad_(False)

    def forward(self, x: Tensor) -> Tensor:
        """x: (B, 3, H, W) in [-1, 1] -> (B, 256, H/4, W/4)."""
        return self.features(((x + 1) / 2 - self.mean) / self.std)


def load_vgg16(path: str | Path) -> VGG16Relu33:
    """Build :class:`VGG16Relu33` from a state_dict file (torchvision key names)."""
    p = Path(path)
    if not p.is_file():
        raise L2RError(f"VGG16 weights file not found: {p}")
    try:
        state = torch.load(p, map_location="cpu", weights_only=True)
    except Exception as exc:  # noqa: BLE001 - any unreadable file is a user error here
        raise L2RError(f"cannot read VGG16 weights {p}: {type(exc).__name__}") from None
    if isinstance(state, dict) and "state_dict" in state and isinstance(state["state_dict"], dict):
        state = state["state_dict"]
    if not isinstance(state, dict):
        raise L2RError(f"VGG16 weights {p}: expected a state_dict")
    net = VGG16Relu33()
    wanted = net.features.state_dict()
    sub = {}
    for k in wanted:
        src = f"features.{k}"
        if src not in state:
            raise L2RError(f"VGG16 weights {p}: missing key '{src}' (torchvision vgg16 layout)")
        if tuple(state[src].shape) != tuple(wanted[k].shape):
            raise L2RError(
                f"VGG16 weights {p}: '{src}' has shape {tuple(state[src].shape)}, "
                f"expected {tuple(wanted[k].shape)}"
            )
        sub[k] = state[src]
    net.features.load_state_dict(sub)
    return net.eval()
