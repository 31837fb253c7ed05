"""Triangle mesh of a depth grid: two triangles per pixel quad (Unsup3D's face layout)."""

from __future__ import annotations

import torch
from torch import Tensor


def grid_faces(h: int, w: int, device: torch.device | str | None = None) -> Tensor:
    """Faces (2*(H-1)*(W-1), 3) of an H x W vertex grid; vertex index = row * W + col.

    Each quad (tl, tr, bl, br) is split into (tl, bl, tr) and (tr, bl, br); both triangles have
    the same winding on screen.
    """
    idx = torch.arange(h * w, device=device).view(h, w)
    tl, tr = idx[:-1, :-1].reshape(-1), idx[:-1, 1:].reshape(-1)
    bl, br = idx[1:, :-1].reshape(-1), idx[1:, 1:].reshape(-1)
    f1 = torch.stack([tl, bl, tr], dim=-1)
    f2 = torch.stack([tr, bl, br], dim=-1)
    return torch.cat([f1, f2], dim=0)
