"""Evaluation metrics (paper sec. 5 "Evaluation Protocol"; REFERENCE.md "Evaluation").

Geometry on Unsup3D's synthetic-face protocol: the scale-invariant depth error (SIDE) and the
mean angle deviation (MAD) between normals, both over a mask of face pixels valid in the
prediction and the ground truth. All functions take batches and return one value per image.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor


def erode(mask: Tensor) -> Tensor:
    """Erode a {0, 1} mask (B, H, W) by one pixel (3x3 neighbourhood)."""
    return (F.avg_pool2d(mask.unsqueeze(1).float(), 3, stride=1, padding=1).squeeze(1) > 0.99).to(
        mask.dtype
    )


def bfm_mask(gt_depth: Tensor, pred_mask: Tensor) -> Tensor:
    """Face pixels for the BFM protocol: GT depth below its per-image maximum (the background),
    eroded by one pixel, times the eroded prediction mask. gt_depth, pred_mask: (B, H, W)."""
    gt_max = gt_depth.flatten(1).amax(1).view(-1, 1, 1)
    gt_mask = (gt_depth < gt_max).float()
    return erode(gt_mask) * erode(pred_mask.float())


def side(pred_depth: Tensor, gt_depth: Tensor, mask: Tensor) -> Tensor:
    """Scale-invariant depth error per image (B,): sqrt(mean_M (D - mean_M D)^2),
    D = log(pred) - log(gt). Inputs (B, H, W); the paper reports it x 1e-2."""
    m = mask.float()
    n = m.flatten(1).sum(1).clamp(min=1)
    diff = (pred_depth.log() - gt_depth.log()) * m
    avg = diff.flatten(1).sum(1) / n
    score = (diff - avg.view(-1, 1, 1)) ** 2 * m
    return (score.flatten(1).sum(1) / n).sqrt()


def angle_deg(n1: Tensor, n2: Tensor) -> Tensor:
    """Angle in degrees between unit normal maps (B, H, W, 3) -> (B, H, W)."""
    return torch.rad2deg((n1 * n2).sum(-1).clamp(-1, 1).acos())


def mad(pred_normal: Tensor, gt_normal: Tensor, mask: Tensor) -> Tensor:
    """Mean angle deviation in degrees per image (B,). Normals (B, H, W, 3), mask (B, H, W)."""
    m = mask.float()
    return (angle_deg(pred_normal, gt_normal) * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp(
        min=1
    )


def normal_accuracy(
    pred_normal: Tensor,
    gt_normal: Tensor,
    mask: Tensor,
    thresholds: tuple[float, ...] = (20, 25, 30),
) -> dict[str, Tensor]:
    """Photoface protocol (paper Table 6; REFERENCE.md): per image (B,), the mean angle
    deviation 'mad' and, for each threshold t in degrees, 'under_t': the fraction of masked
    pixels whose normal is within t of the ground truth. Normals (B, H, W, 3), mask (B, H, W)."""
    m = mask.float()
    n = m.flatten(1).sum(1).clamp(min=1)
    ang = angle_deg(pred_normal, gt_normal)
    out = {"mad": (ang * m).flatten(1).sum(1) / n}
    for t in thresholds:
        out[f"under_{t:g}"] = ((ang < t).float() * m).flatten(1).sum(1) / n
    return out


def keypoint_depth_correlation(pred: Tensor, gt: Tensor) -> Tensor:
    """3DFAW protocol (Unsup3D, paper Table 5): for each keypoint k, |Pearson r| between the
    predicted and ground-truth depth of k across the N test images. pred, gt: (N, K) ->
    (K,); the reported score is the sum (at most K = 66). A keypoint whose depth does not vary
    over the images (in either input) has no correlation and counts 0."""
    if pred.shape != gt.shape or pred.dim() != 2 or pred.shape[0] < 2:
        raise ValueError(
            f"expected two (N >= 2, K) tensors, got {tuple(pred.shape)}, {tuple(gt.shape)}"
        )
    p = pred.double() - pred.double().mean(0)
    g = gt.double() - gt.double().mean(0)
    denom = (p.square().sum(0) * g.square().sum(0)).sqrt()
    r = (p * g).sum(0) / denom.clamp(min=1e-300)
    return torch.where(denom > 0, r.abs(), torch.zeros_like(r)).to(pred.dtype)


def cross_view_identity(original: Tensor, views: Tensor) -> Tensor:
    """Cross-view identity (paper sec. 5, Table 7): the mean over V rendered views of the cosine
    similarity between each view's face embedding and the high-quality original's.
    original: (B, D), views: (B, V, D) -> (B,)."""
    cos = F.cosine_similarity(views, original[:, None, :].expand_as(views), dim=-1)
    return cos.mean(1)
