"""Texture benchmark (paper sec. 5, "Evaluation Protocol"; REFERENCE.md "Evaluation"): SSIM on
the face region between re-rendered and ground-truth images, for the 3D proxy alone and for the
proxy + ARN.

The face region is the ground truth's where the dataset has one (:func:`mask_source`): its
``mask`` field, else its GT ``depth`` below the per-image maximum (the background, as in
:func:`l2r_cli.metrics.bfm_mask`, not eroded). Only without either (real photo sets) does the
render mask stand in, and the results say so (``mask = "render"``): it covers whatever the
model draws, which on synthetic faces is far more than the face.

SSIM is Wang et al. 2004 with an 11x11 Gaussian window (sigma 1.5), K1 = 0.01, K2 = 0.03 and
data range 1, from scikit-image (``structural_similarity`` with ``gaussian_weights=True,
use_sample_covariance=False``, the settings of Wang et al.). Its full map is computed per
channel, averaged over the channels and cropped to the windows that lie inside the image (5
pixels per side); its mean is taken over the face mask cropped alike (docs/benchmarks.md).

Next to SSIM, the detail score ``hf_ratio`` (:func:`l2r_cli.metrics.hf_ratio`): the render's
Laplacian energy over the GT image's on the same face mask (eroded by one pixel). 1 = as much
fine detail as the truth, below 1 = oversmoothed, above 1 = more (noise, artefacts).
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import DataLoader

from l2r_cli.data.dataset import L2RDataset, open_dataset
from l2r_cli.data.inputs import pick_variant
from l2r_cli.errors import L2RError
from l2r_cli.metrics import hf_ratio

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03

MaskSource = Literal["gt", "gt-depth", "render"]
_MASK_NAMES = {"gt": "GT", "gt-depth": "GT-depth", "render": "render"}


def gaussian_window(
    size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA, dtype: torch.dtype = torch.float32
) -> Tensor:
    """Normalised 1-D Gaussian (size,) centred on the middle tap (the window SSIM uses)."""
    x = torch.arange(size, dtype=dtype) - (size - 1) / 2
    g = torch.exp(-(x**2) / (2 * sigma**2))
    return g / g.sum()


def ssim_map(x: Tensor, y: Tensor, data_range: float = 1.0, window: int = SSIM_WINDOW) -> Tensor:
    """x, y: (B, C, H, W) -> SSIM map (B, H - window + 1, W - window + 1), mean over channels.

    scikit-image's Gaussian-weighted SSIM (no sample-size correction), cropped to the windows
    that lie inside the image."""
    from skimage.metrics import structural_similarity

    if x.shape != y.shape or x.ndim != 4:
        raise ValueError(
            f"x and y must be equal (B, C, H, W), got {tuple(x.shape)}, {tuple(y.shape)}"
        )
    if min(x.shape[-2:]) < window:
        raise ValueError(f"images must be at least {window}x{window}, got {tuple(x.shape[-2:])}")
    r = window // 2
    xs = x.detach().permute(0, 2, 3, 1).cpu().double().numpy()
    ys = y.detach().permute(0, 2, 3, 1).cpu().double().numpy()
    maps = []
    for a, b in zip(xs, ys, strict=True):
        _, full = structural_similarity(
            a,
            b,
            data_range=data_range,
            channel_axis=-1,
            gaussian_weights=True,
            sigma=SSIM_SIGMA,
            use_sample_covariance=False,
            K1=SSIM_K1,
            K2=SSIM_K2,
            full=True,
        )
        maps.append(full.mean(-1)[r : full.shape[0] - r, r : full.shape[1] - r])
    return torch.from_numpy(np.stack(maps)).to(device=x.device, dtype=x.dtype)


def masked_ssim(x: Tensor, y: Tensor, mask: Tensor, window: int = SSIM_WINDOW) -> Tensor:
    """Per-image mean of :func:`ssim_map` over ``mask`` (B, 1, H, W) cropped to the map's valid
    region: (B,). An image without mask pixels there gives NaN."""
    m = ssim_map(x, y, window=window)
    r = window // 2
    mk = mask[:, 0, r : mask.shape[-2] - r, r : mask.shape[-1] - r].to(m.dtype)
    return (m * mk).flatten(1).sum(1) / mk.flatten(1).sum(1)


def mask_source(fields: Collection[str]) -> MaskSource:
    """Which face mask a split with these fields is scored on: 'gt' (its ``mask`` field),
    'gt-depth' (GT face pixels from its ``depth``) or 'render' (neither: the render mask)."""
    if "mask" in fields:
        return "gt"
    if "depth" in fields:
        return "gt-depth"
    return "render"


def gt_face_mask(maps: Tensor, source: MaskSource, size: int) -> Tensor:
    """The ground-truth face mask (B, 1, size, size) in {0, 1} from the stored maps (B, H, W):
    the ``mask`` field (source 'gt') or the GT ``depth`` below its per-image maximum, the
    background (source 'gt-depth'). Made at the stored size, then resized nearest (so that a
    resized depth's blended edge cannot pass for face)."""
    if source == "gt":
        m = (maps > 0.5).float()
    elif source == "gt-depth":
        m = (maps < maps.flatten(1).amax(1).view(-1, 1, 1)).float()
    else:
        raise ValueError(f"no ground-truth mask for source {source!r}")
    m = m[:, None]
    if m.shape[-1] != size or m.shape[-2] != size:
        m = F.interpolate(m, size=(size, size), mode="nearest-exact")
    return m


@dataclass(frozen=True)
class TextureResult:
    """Per-image masked SSIM and HF ratio of one model, and which mask they were taken over."""

    name: str
    ssim: np.ndarray = field(repr=False)
    mask: MaskSource = "render"
    """'gt', 'gt-depth' or 'render' (see :func:`mask_source`)."""
    hf_ratio: np.ndarray | None = field(default=None, repr=False)
    """Per-image :func:`l2r_cli.metrics.hf_ratio` of the render against the GT image."""

    @property
    def label(self) -> str:
        """The metric's name for a table header: "SSIM (GT mask)", "SSIM (GT-depth mask)" or
        "SSIM (render mask)"."""
        return f"SSIM ({_MASK_NAMES[self.mask]} mask)"

    def summary(self) -> dict:
        """Name, n, mask source, mean and std of SSIM (and of the HF ratio), and the per-image
        values under "per_image"."""
        from l2r_cli.benchmark.bfm import per_image

        out = {
            "name": self.name,
            "n": int(self.ssim.shape[0]),
            "mask": self.mask,
            "ssim_mean": float(self.ssim.mean()),
            "ssim_std": float(self.ssim.std()),
            "per_image": {"ssim": per_image(self.ssim)},
        }
        if self.hf_ratio is not None:
            out["hf_ratio_mean"] = float(self.hf_ratio.mean())
            out["hf_ratio_std"] = float(self.hf_ratio.std())
            out["per_image"]["hf_ratio"] = per_image(self.hf_ratio)
        return out


def _resize(x: Tensor, size: int, mode: str = "bilinear") -> Tensor:
    if x.shape[-1] == size:
        return x
    if mode == "nearest":
        return F.interpolate(x, size=(size, size), mode="nearest")
    shrink = x.shape[-1] > size
    return F.interpolate(x, size=(size, size), mode="bilinear", antialias=shrink)


def _gt_maps(
    data: str | Path, split: str, source: MaskSource, batch_size: int, n_batches: int
) -> Iterable[Tensor | None]:
    """Per batch, the stored (B, H, W) maps :func:`gt_face_mask` needs (None for 'render'),
    read at the stored size in the order of the evaluation's loader."""
    if source == "render":
        return [None] * n_batches
    name = "mask" if source == "gt" else "depth"
    ds = L2RDataset(data, split, fields=(name,))
    return (b[name] for b in DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=0))


@torch.no_grad()
def evaluate_texture(
    ckpt: str | Path,
    data: str | Path,
    split: str = "test",
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    size: int = 0,
    input_field: str = "lq",
) -> list[TextureResult]:
    """Masked SSIM and HF ratio of a 'proxy' checkpoint (one result) or an 'arn', 'grn' or 'mutual'
    checkpoint (two: its proxy alone, then the whole model) against ``data``'s ``split`` GT
    images at ``size`` (0 = the dataset's image size). Input (``input_field``): the first
    degraded variant ``lq``, or the original ``image`` (the paper's 'origin' rows), resized to
    the proxy's size (for 'grn'/'mutual' to the output size, see ``RefinedModel.predict``).
    Mask (:func:`mask_source`, the same for both rows): the dataset's GT face mask ('gt' or
    'gt-depth'), else the proxy's render mask intersected with the model's ('render')."""
    from l2r_cli.inference import load_model, output_renderer, render_restored

    m = load_model(ckpt, device)
    proxy, arn, refined, renderer = m.proxy, m.arn, m.refined, None
    if refined is not None:
        names = [f"proxy (of {ckpt})", f"{m.kind} ({ckpt})"]
    elif arn is not None:
        renderer = output_renderer(proxy, arn.cfg.output_size, device)
        names = [f"proxy ({m.config.sources.proxy})", f"proxy + ARN ({ckpt})"]
    else:
        names = [f"proxy ({ckpt})"]
    info = open_dataset(data)
    if split not in info.splits or info.splits[split].n == 0:
        raise L2RError(f"{data}: split '{split}' is missing or empty")
    if input_field not in ("lq", "image"):
        raise L2RError(f"input must be 'lq' or 'image', got {input_field!r}")
    if "lq" not in info.splits[split].fields:
        raise L2RError(f"{data}: dataset has no degraded 'lq' images (make one with `l2r degrade`)")
    e = size or info.image_size
    if e < SSIM_WINDOW:
        raise L2RError(f"--size must be at least {SSIM_WINDOW} for an 11x11 SSIM window, got {e}")
    ds = L2RDataset(data, split, fields=("image", "lq"), image_size=e)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=0)
    source = mask_source(info.splits[split].fields)
    gt_batches = _gt_maps(data, split, source, batch_size, len(loader))
    s = proxy.cfg.image_size
    scores: list[list[Tensor]] = [[] for _ in names]
    ratios: list[list[Tensor]] = [[] for _ in names]
    for batch, gt_maps in zip(loader, gt_batches, strict=True):
        gt = batch["image"].to(device)  # (B, 3, E, E) in [0, 1]
        # the first degraded variant (as `benchmark bfm --input lq`) or the GT image itself
        lq0 = pick_variant(batch["lq"], "first").to(device) if input_field == "lq" else gt
        lq = _resize(lq0, s) * 2 - 1
        f = proxy.factors(lq)
        r = proxy.render(f, flip=False)
        renders = [_resize(r.recon_image, e)]
        render_mask = _resize(r.recon_mask, e, "nearest")
        if arn is not None and renderer is not None:
            ra = render_restored(renderer, f, arn(lq, f.albedo), flip=False)
            renders.append(_resize(ra.recon_image, e))
            render_mask = render_mask * _resize(ra.recon_mask, e, "nearest")
        if refined is not None:
            o = refined.out_size
            lq_o = _resize(lq0, o) * 2 - 1
            out = refined.predict(lq_o)
            renders.append(_resize(out["recon_image"], e))
            render_mask = render_mask * _resize(out["mask"][:, None], e, "nearest")
        if gt_maps is None:
            mask = render_mask
        else:
            mask = gt_face_mask(gt_maps.to(device), source, e)
        for out, hf, img in zip(scores, ratios, renders, strict=True):
            img01 = (img / 2 + 0.5).clamp(0, 1)
            v = masked_ssim(img01, gt, mask)
            what = "rendered face" if source == "render" else f"{source} face-mask"
            if torch.isnan(v).any():
                raise L2RError(
                    f"{data}: a '{split}' image has no {what} pixels to compare "
                    f"(at least {SSIM_WINDOW // 2} px from the border)"
                )
            h = hf_ratio(img01, gt, mask)
            if not torch.isfinite(h).all():
                raise L2RError(
                    f"{data}: a '{split}' GT image is flat on its {what} (no Laplacian energy "
                    "to compare the HF ratio with)"
                )
            out.append(v.cpu())
            hf.append(h.cpu())
    return [
        TextureResult(n, torch.cat(v).double().numpy(), source, torch.cat(h).double().numpy())
        for n, v, h in zip(names, scores, ratios, strict=True)
    ]
