"""Why a proxy's geometry is off: predicted pose and relief against a synthetic set's exact factors.

SIDE and MAD say *how much* the depth is wrong; on ``l2r synth`` data, which stores the true
view and canonical depth of every image, this module says *how*. The failure it was written for
is the rotation-relief (bas-relief) ambiguity: a face twice as deep turned half as far moves its
pixels almost alike, so a proxy can learn the pose direction but not its magnitude. That shows as
a yaw slope well below 1 with a relief ratio well above 1.

It also splits the SIDE between the two factors: the true canonical depth posed with the
predicted view (what the pose error alone costs) and the predicted canonical depth posed with
the true view (what the shape error alone costs).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader

from l2r_cli.benchmark.bfm import OCCLUDER_FIELD, face_masks
from l2r_cli.data.dataset import L2RDataset, open_dataset
from l2r_cli.errors import L2RError
from l2r_cli.metrics import detail_sigma, side
from l2r_cli.predictor import Predictor, renderer_of

#: Dataset fields this diagnosis needs (``l2r synth`` writes them all).
REQUIRED_FIELDS = ("view", "canon_depth", "canon_mask", "depth")


@dataclass(frozen=True)
class AxisFit:
    """Predicted against true angle on one rotation axis, over the test images.

    corr: Pearson correlation; slope: least-squares slope of predicted on true (1 = right
    magnitude); std_pred / std_true: spread of the angles in degrees.
    """

    corr: float
    slope: float
    std_pred: float
    std_true: float


@dataclass(frozen=True)
class Diagnosis:
    """Pose fits for pitch and yaw, the canonical relief (mean over images of the depth's
    standard deviation inside the true canonical face mask) of prediction and truth, and the
    mean SIDE (x100, benchmark bfm's pixels) of two hybrids: the true canonical depth in the
    predicted view (``side_pose_only``) and the predicted one in the true view
    (``side_shape_only``). Both are 0 for exact factors."""

    n: int
    pitch: AxisFit
    yaw: AxisFit
    relief_pred: float
    relief_true: float
    side_pose_only: float
    side_shape_only: float

    @property
    def relief_ratio(self) -> float:
        """relief_pred / relief_true (1 = right depth scale)."""
        return self.relief_pred / self.relief_true

    def summary(self) -> dict[str, float | int]:
        """A flat dict for tables and JSON."""
        out: dict[str, float | int] = {"n": self.n}
        for axis in ("pitch", "yaw"):
            fit: AxisFit = getattr(self, axis)
            for key in ("corr", "slope", "std_pred", "std_true"):
                out[f"{axis}_{key}"] = getattr(fit, key)
        out.update(
            relief_pred=self.relief_pred,
            relief_true=self.relief_true,
            relief_ratio=self.relief_ratio,
            side_pose_only=self.side_pose_only,
            side_shape_only=self.side_shape_only,
        )
        return out


def fit_axis(pred: np.ndarray, true: np.ndarray) -> AxisFit:
    """pred, true: (N,) angles in radians -> :class:`AxisFit` (degrees for the spreads)."""
    p, t = np.degrees(pred.astype(np.float64)), np.degrees(true.astype(np.float64))
    pc, tc = p - p.mean(), t - t.mean()
    var_t = float((tc**2).sum())
    var_p = float((pc**2).sum())
    cov = float((pc * tc).sum())
    corr = cov / np.sqrt(var_p * var_t) if var_p > 0 and var_t > 0 else 0.0
    slope = cov / var_t if var_t > 0 else 0.0
    return AxisFit(corr=corr, slope=slope, std_pred=float(p.std()), std_true=float(t.std()))


def masked_std(depth: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """Per-image standard deviation (B,) of depth (B, H, W) over mask (B, H, W) in {0, 1}."""
    m = mask.float()
    n = m.flatten(1).sum(1).clamp(min=1)
    mean = (depth * m).flatten(1).sum(1) / n
    var = ((depth - mean.view(-1, 1, 1)) ** 2 * m).flatten(1).sum(1) / n
    return var.sqrt()


@torch.no_grad()
def diagnose(
    predictor: Predictor,
    data: str | Path,
    split: str = "test",
    batch_size: int = 32,
    device: torch.device | str = "cpu",
) -> Diagnosis:
    """Pose and relief of ``predictor`` on ``data``'s ``split`` (needs :data:`REQUIRED_FIELDS`)."""
    s = predictor.image_size
    fields = ("image", *REQUIRED_FIELDS)
    info = open_dataset(data).splits.get(split)
    if info is not None and OCCLUDER_FIELD in info.fields:
        fields = (*fields, OCCLUDER_FIELD)  # left out of the SIDE, as in benchmark bfm
    ds = L2RDataset(data, split, fields=fields, image_size=s)
    if len(ds) < 2:
        raise L2RError(f"{data}: split '{split}' needs at least 2 images to diagnose")
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False)
    renderer = renderer_of(predictor, torch.device(device))
    sigma = detail_sigma(s)
    views_p, views_t, relief_p, relief_t, pose_only, shape_only = [], [], [], [], [], []
    for batch in loader:
        out = predictor.predict(batch["image"].to(device) * 2 - 1)
        if "view" not in out or "canon_depth" not in out:
            raise L2RError(f"{predictor.name}: predicts no view or canonical depth to diagnose")
        mask = batch["canon_mask"].to(device)
        view_t, canon_t = batch["view"].to(device), batch["canon_depth"].to(device)
        views_p.append(out["view"][:, :2].cpu())
        views_t.append(batch["view"][:, :2])
        relief_p.append(masked_std(out["canon_depth"], mask).cpu())
        relief_t.append(masked_std(canon_t, mask).cpu())
        gt = batch["depth"].to(device)
        for canon, view, scores in (
            (canon_t, out["view"], pose_only),
            (out["canon_depth"], view_t, shape_only),
        ):
            warped = renderer.warp_depth(canon, view)
            face = face_masks(gt, warped.mask, data, split, batch, sigma).main
            scores.append(side(warped.depth, gt, face).cpu() * 100)
    vp, vt = torch.cat(views_p).numpy(), torch.cat(views_t).numpy()
    return Diagnosis(
        n=len(vp),
        pitch=fit_axis(vp[:, 0], vt[:, 0]),
        yaw=fit_axis(vp[:, 1], vt[:, 1]),
        relief_pred=float(torch.cat(relief_p).mean()),
        relief_true=float(torch.cat(relief_t).mean()),
        side_pose_only=float(torch.cat(pose_only).double().mean()),
        side_shape_only=float(torch.cat(shape_only).double().mean()),
    )
