"""BFM geometry benchmark (paper Tables 2 and 4): SIDE and MAD on a test split with GT depth,
by Unsup3D's protocol (REFERENCE.md "Evaluation")."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from l2r_cli.data.dataset import L2RDataset, open_dataset
from l2r_cli.errors import L2RError
from l2r_cli.metrics import bfm_mask, mad, side
from l2r_cli.predictor import Predictor
from l2r_cli.render import normals_from_depth
from l2r_cli.render.camera import intrinsics


@dataclass(frozen=True)
class BfmResult:
    """Per-image SIDE (raw, not x 1e-2) and MAD (degrees) of one predictor."""

    name: str
    side: np.ndarray = field(repr=False)
    mad: np.ndarray = field(repr=False)
    yaw: np.ndarray | None = field(default=None, repr=False)
    """True yaw in degrees per image, when the split stores the view (l2r synth data)."""

    @property
    def n(self) -> int:
        """Number of test images."""
        return int(self.side.shape[0])

    def summary(self) -> dict:
        """Mean and std of both metrics; SIDE also in the paper's x 1e-2 units; the per-image
        values under "per_image" (for paired comparisons of models on the same images)."""
        return {
            "name": self.name,
            "n": self.n,
            "side_mean": float(self.side.mean()),
            "side_std": float(self.side.std()),
            "side_x100_mean": float(self.side.mean() * 100),
            "side_x100_std": float(self.side.std() * 100),
            "mad_mean": float(self.mad.mean()),
            "mad_std": float(self.mad.std()),
            "per_image": {"side_x100": per_image(self.side * 100), "mad": per_image(self.mad)},
        }


def per_image(values: np.ndarray) -> list[float]:
    """(N,) scores -> a JSON list (6 significant digits)."""
    return [float(f"{v:.6g}") for v in np.asarray(values, float).ravel()]


@torch.no_grad()
def evaluate_bfm(
    predictor: Predictor,
    data: str | Path,
    split: str = "test",
    input_field: str = "image",
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    num_workers: int = 0,
) -> BfmResult:
    """SIDE and MAD of ``predictor`` on ``data``'s ``split`` (which must carry GT ``depth``)."""
    s = predictor.image_size
    fields = ("image", "depth") if input_field == "image" else ("image", "depth", input_field)
    split_info = open_dataset(data).splits.get(split)
    has_view = split_info is not None and "view" in split_info.fields
    if has_view:
        fields = (*fields, "view")
    ds = L2RDataset(data, split, fields=fields, image_size=s)
    if len(ds) == 0:
        raise L2RError(f"{data}: split '{split}' is empty")
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    K = intrinsics(s, device=device)
    sides, mads, yaws = [], [], []
    for batch in loader:
        image = _network_input(batch, input_field, s).to(device) * 2 - 1
        gt = batch["depth"].to(device)
        out = predictor.predict(image)
        mask = bfm_mask(gt, out["mask"])
        if (mask.flatten(1).sum(1) == 0).any():
            raise L2RError(f"{data}: a '{split}' image has no face pixels in its GT depth")
        gt_normal = normals_from_depth(gt, K)
        sides.append(side(out["depth"], gt, mask).cpu())
        mads.append(mad(out["normal"], gt_normal, mask).cpu())
        if has_view:
            yaws.append(torch.rad2deg(batch["view"][:, 1]))
    return BfmResult(
        name=predictor.name,
        side=torch.cat(sides).double().numpy(),
        mad=torch.cat(mads).double().numpy(),
        yaw=torch.cat(yaws).double().numpy() if has_view else None,
    )


def _network_input(batch: dict[str, torch.Tensor], input_field: str, size: int) -> torch.Tensor:
    """(B, 3, S, S) in [0, 1]: the GT image, or the first degraded variant resized to S."""
    if input_field == "image":
        return batch["image"]
    lq = batch[input_field][:, 0]  # (B, 3, h, w), first variant
    return torch.nn.functional.interpolate(
        lq, size=(size, size), mode="bilinear", align_corners=False
    )
