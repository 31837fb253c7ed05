"""Evaluation metrics (paper sec. 5 "Evaluation Protocol"; REFERENCE.md "Evaluation").

Geometry on Unsup3D's synthetic-face protocol: the scale-invariant depth error (SIDE) and the
mean angle deviation (MAD) between normals, both over a mask of face pixels valid in the
prediction and the ground truth. All functions take batches and return one value per image.

Fine detail (docs/benchmarks.md "Detail"): the same two errors on the high-passed log depths
(log depth minus its Gaussian blur of sigma = S / 32 pixels), which a smooth surface, however
good its pose and overall shape, cannot score well on: ``detail_mad`` and ``band_side``. And
for textures, ``hf_ratio``: the Laplacian energy of a render over the ground truth's.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import Tensor

from l2r_cli.render.shading import normals_from_depth


def erode(mask: Tensor) -> Tensor:
    """Erode a {0, 1} mask (B, H, W) by one pixel (3x3 neighbourhood)."""
    return (F.avg_pool2d(mask.unsqueeze(1).float(), 3, stride=1, padding=1).squeeze(1) > 0.99).to(
        mask.dtype
    )


def erode_by(mask: Tensor, radius: int) -> Tensor:
    """Erode a {0, 1} mask (B, H, W) by ``radius`` pixels (a (2r+1)^2 square neighbourhood);
    pixels beyond the image border count as outside, as in :func:`erode`."""
    if radius <= 0:
        return mask
    k = 2 * radius + 1
    pooled = F.avg_pool2d(mask.unsqueeze(1).float(), k, stride=1, padding=radius)
    return (pooled.squeeze(1) > 1 - 0.5 / k**2).to(mask.dtype)


def gt_face_mask(gt_depth: Tensor) -> Tensor:
    """{0, 1} (B, H, W): GT depth (B, H, W) below its per-image maximum (the background)."""
    gt_max = gt_depth.flatten(1).amax(1).view(-1, 1, 1)
    return (gt_depth < gt_max).float()


def bfm_mask(gt_depth: Tensor, pred_mask: Tensor) -> Tensor:
    """Face pixels for the BFM protocol: :func:`gt_face_mask` eroded by one pixel, times the
    eroded prediction mask. gt_depth, pred_mask: (B, H, W)."""
    return erode(gt_face_mask(gt_depth)) * erode(pred_mask.float())


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


#: The detail metrics' blur: sigma = image size / DETAIL_SIZE_DIVISOR pixels.
DETAIL_SIZE_DIVISOR = 32
#: The Gaussian is truncated at this many sigmas (radius ceil(3 sigma) pixels).
DETAIL_TRUNCATE = 3.0


def detail_sigma(size: int) -> float:
    """The high-pass's Gaussian sigma in pixels for an (size, size) depth map: size / 32."""
    return size / DETAIL_SIZE_DIVISOR


def blur_radius(sigma: float) -> int:
    """Radius in pixels of :func:`gaussian_blur`'s truncated kernel: ceil(3 sigma)."""
    return max(1, math.ceil(DETAIL_TRUNCATE * sigma))


def gaussian_blur(x: Tensor, sigma: float) -> Tensor:
    """Separable Gaussian blur of maps (B, H, W) -> (B, H, W); the kernel (radius
    :func:`blur_radius`) is normalised, so constants and linear ramps pass unchanged wherever
    the kernel lies inside the image. The border is padded by replication (masks erode it away:
    :func:`detail_mask`)."""
    r = blur_radius(sigma)
    if min(x.shape[-2:]) <= r:
        raise ValueError(f"maps {tuple(x.shape[-2:])} are too small for a blur of radius {r}")
    t = torch.arange(-r, r + 1, dtype=x.dtype, device=x.device)
    g = torch.exp(-(t**2) / (2 * sigma**2))
    g = g / g.sum()
    y = F.pad(x.unsqueeze(1), (r, r, r, r), mode="replicate")
    y = F.conv2d(y, g.view(1, 1, 1, -1))
    y = F.conv2d(y, g.view(1, 1, -1, 1))
    return y.squeeze(1)


def high_pass(x: Tensor, sigma: float) -> Tensor:
    """x - gaussian_blur(x, sigma): the detail finer than about sigma pixels. (B, H, W)."""
    return x - gaussian_blur(x, sigma)


def detail_mask(mask: Tensor, sigma: float) -> Tensor:
    """The mask (B, H, W) eroded by the blur's radius plus one pixel, so that neither the blur
    nor the normals' central differences at a kept pixel see a pixel outside ``mask``."""
    return erode_by(mask, blur_radius(sigma) + 1)


def detail_depth(depth: Tensor, mask: Tensor, sigma: float) -> Tensor:
    """The depth's fine detail as a surface (B, H, W): c * exp(high_pass(log depth)), with c the
    depth's mean over ``mask`` per image. The smooth part becomes a fronto-parallel plane at the
    face's distance, carrying only the relief finer than sigma. A global scale of the depth
    cancels in the high pass (as in SIDE) and scales c, which leaves the normals unchanged."""
    m = mask.float()
    c = (depth * m).flatten(1).sum(1) / m.flatten(1).sum(1).clamp(min=1)
    return c.view(-1, 1, 1) * high_pass(depth.log(), sigma).exp()


def detail_mad(
    pred_depth: Tensor,
    gt_depth: Tensor,
    mask: Tensor,
    K: Tensor,
    sigma: float,
    pre_eroded: bool = False,
) -> Tensor:
    """Mean angle (degrees, per image (B,)) between the normals of the predicted and GT
    :func:`detail_depth` surfaces over :func:`detail_mask` (over ``mask`` itself with
    ``pre_eroded``: the caller made it). Depths and mask (B, H, W), K (3, 3) the camera both
    are seen with. A smooth prediction scores the GT detail's own angle to the view axis; the
    truth, or the truth plus any smooth (e.g. linear) change, scores 0."""
    inner = mask if pre_eroded else detail_mask(mask, sigma)
    n_pred = normals_from_depth(detail_depth(pred_depth, mask, sigma), K)
    n_gt = normals_from_depth(detail_depth(gt_depth, mask, sigma), K)
    return mad(n_pred, n_gt, inner)


def band_side(
    pred_depth: Tensor, gt_depth: Tensor, mask: Tensor, sigma: float, pre_eroded: bool = False
) -> Tensor:
    """SIDE of the high-passed log depths per image (B,): sqrt(mean_M (H - mean_M H)^2) with
    H = high_pass(log pred) - high_pass(log gt) and M = :func:`detail_mask` (``mask`` itself
    with ``pre_eroded``). Inputs (B, H, W); reported x 1e-2 like SIDE. A smooth prediction
    scores the spread of the GT's detail."""
    diff = high_pass(pred_depth.log() - gt_depth.log(), sigma)  # the high pass is linear
    m = (mask if pre_eroded else detail_mask(mask, sigma)).float()
    n = m.flatten(1).sum(1).clamp(min=1)
    avg = (diff * m).flatten(1).sum(1) / n
    return (((diff - avg.view(-1, 1, 1)) ** 2 * m).flatten(1).sum(1) / n).sqrt()


_LAPLACIAN = ((0.0, 1.0, 0.0), (1.0, -4.0, 1.0), (0.0, 1.0, 0.0))


def laplacian_energy(image: Tensor, mask: Tensor) -> Tensor:
    """Mean squared 5-point Laplacian of images (B, C, H, W), summed over the channels, over
    the mask (B, 1, H, W) eroded by one pixel (so the stencil stays inside it): (B,). An image
    without mask pixels left gives 0 / 0 = NaN."""
    c = image.shape[1]
    k = torch.tensor(_LAPLACIAN, dtype=image.dtype, device=image.device)
    lap = F.conv2d(image, k.expand(c, 1, 3, 3), padding=1, groups=c)
    m = erode(mask[:, 0].float()).to(image.dtype)
    return (lap.square().sum(1) * m).flatten(1).sum(1) / m.flatten(1).sum(1)


def hf_ratio(image: Tensor, gt: Tensor, mask: Tensor) -> Tensor:
    """High-frequency energy ratio per image (B,): :func:`laplacian_energy` of ``image`` over
    that of ``gt`` on the same mask. Images (B, C, H, W) in [0, 1], mask (B, 1, H, W) (the
    GT face). 1 = as much fine detail as the truth, below 1 = smoother (0: flat), above 1 =
    more (e.g. noise). NaN where the GT has no energy or no mask pixels."""
    return laplacian_energy(image, mask) / laplacian_energy(gt, mask)
