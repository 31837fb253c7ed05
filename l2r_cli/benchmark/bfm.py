"""BFM geometry benchmark (paper Tables 2 and 4): SIDE and MAD on a test split with GT depth,
by Unsup3D's protocol (REFERENCE.md "Evaluation"), with the baselines that tell a shape from a
template (docs/benchmarks.md "bfm"):

- constant depth: a fronto-parallel plane;
- template in the true pose: one canonical depth (the training split's mean, or a file) posed
  with each test face's true view (needs the views: l2r synth data);
- every model's own template: its mean canonical surface over the test set, posed with its own
  predicted view of each face. The **shape gain** is the model's relative improvement over that
  row: what its per-face shape adds to its pose and its average face.

Besides SIDE and MAD, every row scores the fine detail (:func:`l2r_cli.metrics.detail_mad`,
:func:`l2r_cli.metrics.band_side`): the same errors on the depths' high-pass, which a smooth
surface cannot fake. Where the split has an ``occluder_mask`` field (image view, 1 = hair or
glasses drawn over the face), occluded pixels are left out of every metric.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch.utils.data import DataLoader

from l2r_cli.console import note
from l2r_cli.data.dataset import L2RDataset, open_dataset
from l2r_cli.data.inputs import model_input
from l2r_cli.errors import L2RError
from l2r_cli.metrics import (
    band_side,
    bfm_mask,
    blur_radius,
    detail_mad,
    detail_mask,
    detail_sigma,
    erode,
    mad,
    side,
)
from l2r_cli.predictor import Predictor, TemplatePredictor, renderer_of
from l2r_cli.render import normals_from_depth
from l2r_cli.render.camera import depth_to_points, intrinsics

#: Baselines ``benchmark bfm --baseline`` knows.
BASELINES = ("constant", "template")

#: Optional field of the split: 1 where hair or glasses are drawn over the face (image view).
OCCLUDER_FIELD = "occluder_mask"


def _mean_se(values: np.ndarray) -> tuple[float, float]:
    """Mean and standard error of (N,) values."""
    v = np.asarray(values, float)
    return float(v.mean()), float(v.std(ddof=1) / np.sqrt(len(v))) if len(v) > 1 else 0.0


@dataclass(frozen=True)
class BfmResult:
    """Per-image SIDE (raw, not x 1e-2) and MAD (degrees) of one predictor, and the same two
    on the high-passed depths: detail MAD (degrees) and band SIDE (raw)."""

    name: str
    side: np.ndarray = field(repr=False)
    mad: np.ndarray = field(repr=False)
    detail_mad: np.ndarray | None = field(default=None, repr=False)
    """Per-image :func:`l2r_cli.metrics.detail_mad` (degrees)."""
    band_side: np.ndarray | None = field(default=None, repr=False)
    """Per-image :func:`l2r_cli.metrics.band_side` (raw, not x 1e-2)."""
    yaw: np.ndarray | None = field(default=None, repr=False)
    """True yaw in degrees per image, when the split stores the view (l2r synth data)."""
    own_template: BfmResult | None = field(default=None, repr=False)
    """The model's mean canonical surface in its own predicted poses (same images)."""

    @property
    def n(self) -> int:
        """Number of test images."""
        return int(self.side.shape[0])

    def shape_gain(self) -> dict[str, float] | None:
        """Relative SIDE and MAD improvement over the own-template row (1 - model / template;
        > 0: the per-face shape helps) with standard errors from the paired per-image
        differences; None without that row."""
        t = self.own_template
        if t is None:
            return None
        out = {}
        for key, mine, theirs in (("side", self.side, t.side), ("mad", self.mad, t.mad)):
            base = float(theirs.mean())
            _, se = _mean_se(theirs - mine)
            out[f"shape_gain_{key}"] = 1 - float(mine.mean()) / base
            out[f"shape_gain_{key}_se"] = se / base
        return out

    def summary(self) -> dict:
        """Mean and std of every metric; SIDE and band SIDE also in the paper's x 1e-2 units; the
        per-image values under "per_image" (for paired comparisons of models on the same
        images); with an own-template row, that row's summary under "own_template" and the shape
        gains."""
        out = {
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
        if self.detail_mad is not None and self.band_side is not None:
            # images without detail pixels are NaN and left out (n_detail counts the rest)
            dm, bs = self.detail_mad, self.band_side
            out.update(
                n_detail=int(np.isfinite(dm).sum()),
                detail_mad_mean=_nan_stat(np.nanmean, dm),
                detail_mad_std=_nan_stat(np.nanstd, dm),
                band_side_mean=_nan_stat(np.nanmean, bs),
                band_side_std=_nan_stat(np.nanstd, bs),
                band_side_x100_mean=_nan_stat(np.nanmean, bs * 100),
                band_side_x100_std=_nan_stat(np.nanstd, bs * 100),
            )
            out["per_image"]["detail_mad"] = per_image(self.detail_mad)
            out["per_image"]["band_side_x100"] = per_image(self.band_side * 100)
        if self.own_template is not None:
            own = self.own_template.summary()
            out["own_template"] = {k: v for k, v in own.items() if k not in ("name", "n")}
            out.update(self.shape_gain() or {})
        return out


def per_image(values: np.ndarray) -> list[float | None]:
    """(N,) scores -> a JSON list (6 significant digits; None for an image left out: NaN)."""
    return [
        float(f"{v:.6g}") if np.isfinite(v) else None for v in np.asarray(values, float).ravel()
    ]


def _nan_stat(fn, values: np.ndarray) -> float | None:
    """fn (np.nanmean / np.nanstd) of values, None when no value is finite."""
    return float(fn(values)) if np.isfinite(values).any() else None


def synface_stem(name: str) -> str:
    """A sample name -> the key that matches it across datasets made from the same faces:
    'test/image/000012_image.png' (``l2r degrade`` of a synface layout) and '000012'
    (``l2r synth``) both give '000012'."""
    stem = Path(name).name
    stem = stem.rsplit(".", 1)[0] if "." in stem else stem
    return stem[: -len("_image")] if stem.endswith("_image") else stem


def true_views(data: str | Path, split: str, views_from: str | Path | None = None) -> torch.Tensor:
    """The true view (N, 6) of every image of ``data``'s ``split``, in its order: from the split's
    own ``view`` field, or from the l2r dataset ``views_from`` holding the same faces (matched by
    name, or by :func:`synface_stem` of the name, over all its splits)."""
    if views_from is None:
        info = open_dataset(data).splits.get(split)
        if info is None or "view" not in info.fields:
            raise L2RError(
                f"{data}: split '{split}' stores no true view ('view', written by l2r synth); "
                "the template baseline needs it: give --views DIR, the l2r synth dataset of "
                "the same faces"
            )
        return _read_all(L2RDataset(data, split, fields=("view",)))["view"]
    names = _read_all(L2RDataset(data, split, fields=("name",)))["name"]
    by_name: dict[str, torch.Tensor] = {}
    for s, info in open_dataset(views_from).splits.items():
        if "view" not in info.fields or info.n == 0:
            continue
        got = _read_all(L2RDataset(views_from, s, fields=("name", "view")))
        for n, v in zip(got["name"], got["view"], strict=True):
            by_name.setdefault(n, v)
            by_name.setdefault(synface_stem(n), v)
    if not by_name:
        raise L2RError(f"{views_from}: no split stores a true view ('view')")
    out = []
    for n in names:
        v = by_name.get(n, by_name.get(synface_stem(n)))
        if v is None:
            raise L2RError(f"{views_from}: no view for '{n}' of {data} (matched by name)")
        out.append(v)
    return torch.stack(out)


def _read_all(ds: L2RDataset) -> dict:
    """Every sample of a dataset split, collated (tensors stacked, names listed)."""
    batches = list(DataLoader(ds, batch_size=256, shuffle=False))
    out: dict = {}
    for f in ds.fields:
        vals = [b[f] for b in batches]
        out[f] = [x for v in vals for x in v] if isinstance(vals[0], list) else torch.cat(vals)
    return out


def load_template(source: str | Path | None, data: str | Path, size: int) -> torch.Tensor:
    """The template canonical depth (size, size): the mean ``canon_depth`` of the 'train' split
    of ``source`` (an l2r dataset directory; None: ``data`` itself), or a ``.npy`` file holding
    one (H, W) canonical depth in the renderer's units (0.9..1.1 for l2r's cameras)."""
    src = Path(source) if source is not None else Path(data)
    if not src.exists():
        raise L2RError(f"{src}: no such template file or dataset directory")
    if src.is_dir():
        info = open_dataset(src).splits.get("train")
        if info is None or "canon_depth" not in info.fields or info.n == 0:
            raise L2RError(
                f"{src}: no 'train' split with canonical depths ('canon_depth') to average for "
                "the template; give --template FILE.npy or an l2r synth dataset directory"
            )
        depth = _read_all(L2RDataset(src, "train", fields=("canon_depth",)))["canon_depth"]
        template = depth.double().mean(0).float()
    elif src.suffix == ".npy" and src.is_file():
        try:
            arr = np.load(src, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise L2RError(f"{src}: not a readable .npy array ({exc})") from None
        if arr.ndim != 2 or arr.shape[0] != arr.shape[1] or arr.shape[0] < 2:
            raise L2RError(
                f"{src}: a template is one square canonical depth (S, S), got {arr.shape}"
            )
        if not np.issubdtype(arr.dtype, np.number) or not np.isfinite(arr).all() or arr.min() <= 0:
            raise L2RError(f"{src}: template depths must be finite and positive numbers")
        template = torch.from_numpy(arr.astype(np.float32))
    else:
        raise L2RError(f"{src}: --template takes an l2r dataset directory or a .npy file")
    if template.shape[-1] != size:
        template = F.interpolate(template[None, None], size=(size, size), mode="bilinear")[0, 0]
    return template


def template_predictor(source: str | Path | None, data: str | Path, size: int) -> TemplatePredictor:
    """The 'template in the true pose' baseline at evaluation size ``size``, with the camera of
    the dataset that made the views (``l2r synth``'s fov when the manifest records it)."""
    fov = 10.0
    manifest = open_dataset(data).manifest
    args = (manifest.get("source") or {}).get("args") or {}
    if isinstance(args, dict) and isinstance(args.get("fov"), int | float):
        fov = float(args["fov"])
    return TemplatePredictor(load_template(source, data, size), fov=fov)


@torch.no_grad()
def evaluate_bfm(
    predictor: Predictor,
    data: str | Path,
    split: str = "test",
    input_field: str = "image",
    batch_size: int = 32,
    device: torch.device | str = "cpu",
    num_workers: int = 0,
    own_template: bool = False,
    views: torch.Tensor | None = None,
) -> BfmResult:
    """SIDE, MAD, detail MAD and band SIDE of ``predictor`` on ``data``'s ``split`` (which must
    carry GT ``depth``), leaving out the pixels of its ``occluder_mask`` field if it has one.

    own_template: also score the predictor's mean canonical surface posed with its own
    predicted views (needs 'view' and 'canon_depth' or 'canon_points' in its outputs).
    views: (N, 6) true views in the split's order, passed to predictors that pose a template
    (``needs_view``); by default the split's own 'view' field.
    """
    s = predictor.image_size
    fields = ("image", "depth") if input_field == "image" else ("image", "depth", input_field)
    split_info = open_dataset(data).splits.get(split)
    has_view = split_info is not None and "view" in split_info.fields
    if has_view:
        fields = (*fields, "view")
    if split_info is not None and OCCLUDER_FIELD in split_info.fields:
        fields = (*fields, OCCLUDER_FIELD)
    ds = L2RDataset(data, split, fields=fields, image_size=s)
    if len(ds) == 0:
        raise L2RError(f"{data}: split '{split}' is empty")
    needs_view = getattr(predictor, "needs_view", False)
    if needs_view and views is None:
        views = true_views(data, split)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=num_workers)
    K = intrinsics(s, device=device)
    sigma = detail_sigma(s)
    sides, mads, details, bands, yaws, pred_views = [], [], [], [], [], []
    points_sum = None
    for batch in loader:
        image = model_input(batch, input_field, s, pick="first").to(device) * 2 - 1
        gt = batch["depth"].to(device)
        if needs_view:
            out = predictor.predict(image, view=views[batch["index"]].to(device))
        else:
            out = predictor.predict(image)
        mask = face_masks(gt, out["mask"], data, split, batch, sigma)
        sides.append(side(out["depth"], gt, mask.main).cpu())
        mads.append(mad(out["normal"], normals_from_depth(gt, K), mask.main).cpu())
        detail, band = _detail_scores(out["depth"], gt, mask, K, sigma)
        details.append(detail)
        bands.append(band)
        if has_view:
            yaws.append(torch.rad2deg(batch["view"][:, 1]))
        if own_template:
            pts = _canon_points(predictor, out, device)
            points_sum = pts.double().sum(0) if points_sum is None else points_sum + pts.sum(0)
            pred_views.append(out["view"])
    detail = torch.cat(details).double().numpy()
    left_out = int((~np.isfinite(detail)).sum())
    if left_out:
        note(
            f"{predictor.name}: {left_out} of {len(detail)} images keep no face pixel "
            f"{blur_radius(sigma) + 1} px inside the predicted, unoccluded face; they are left "
            "out of detail MAD and band SIDE (n_detail in the JSON)"
        )
    own = None
    if own_template:
        mean_points = (points_sum / len(ds)).float()
        own = _score_posed(predictor, mean_points, torch.cat(pred_views), loader, data, split)
    return BfmResult(
        name=predictor.name,
        side=torch.cat(sides).double().numpy(),
        mad=torch.cat(mads).double().numpy(),
        detail_mad=detail,
        band_side=torch.cat(bands).double().numpy(),
        yaw=torch.cat(yaws).double().numpy() if has_view else None,
        own_template=own,
    )


@dataclass(frozen=True)
class _Masks:
    """The pixels scored (B, H, W): ``main`` for SIDE and MAD, ``detail`` for the detail
    metrics."""

    main: torch.Tensor
    detail: torch.Tensor


def face_masks(
    gt: torch.Tensor, pred_mask: torch.Tensor, data, split, batch: dict, sigma: float
) -> _Masks:
    """The pixels the benchmark scores: bfm_mask without the batch's occluded pixels
    (``occluder_mask`` > 0.5, when the split has the field; that set dilated by one pixel, as
    bfm_mask erodes the face), and for the detail metrics bfm_mask eroded by
    :func:`l2r_cli.metrics.detail_mask` without the same occluded pixels (not eroded around
    them: under hair a small face would keep no pixel). One-line errors for an image without
    face pixels, or without any for the detail metrics."""
    face = bfm_mask(gt, pred_mask)
    detail = detail_mask(face, sigma)
    mask = face
    if OCCLUDER_FIELD in batch:
        # no normal's differences reach an occluded pixel
        visible = erode((batch[OCCLUDER_FIELD].to(face.device) <= 0.5).to(face.dtype))
        mask, detail = face * visible, detail * visible
    if (mask.flatten(1).sum(1) == 0).any():
        what = "unoccluded face pixels" if OCCLUDER_FIELD in batch else "face pixels"
        raise L2RError(f"{data}: a '{split}' image has no {what} in its GT depth")
    return _Masks(mask, detail)


def _detail_scores(
    pred: torch.Tensor, gt: torch.Tensor, mask: _Masks, K: torch.Tensor, sigma: float
) -> tuple[torch.Tensor, torch.Tensor]:
    """Detail MAD and band SIDE per image (B,), NaN for an image whose detail mask is empty
    (a face too small, or too occluded, where predicted, to keep a pixel blur_radius + 1 px
    inside it): such images are left out of the detail metrics only."""
    empty = mask.detail.flatten(1).sum(1) == 0
    dm = detail_mad(pred, gt, mask.detail, K, sigma, pre_eroded=True)
    bs = band_side(pred, gt, mask.detail, sigma, pre_eroded=True)
    nan = torch.full_like(dm, float("nan"))
    return torch.where(empty, nan, dm).cpu(), torch.where(empty, nan, bs).cpu()


def _canon_points(predictor: Predictor, out: dict, device) -> torch.Tensor:
    """The predicted canonical surface as 3D points (B, S, S, 3)."""
    if "canon_points" in out:
        return out["canon_points"]
    if "canon_depth" not in out or "view" not in out:
        raise L2RError(f"{predictor.name}: predicts no canonical surface and view to pose")
    return depth_to_points(out["canon_depth"], renderer_of(predictor, device).K)


def _score_posed(predictor, points, views, loader, data, split) -> BfmResult:
    """SIDE, MAD, detail MAD and band SIDE of one canonical surface (S, S, 3) seen under the
    views (N, 6), in order."""
    device = views.device
    renderer = renderer_of(predictor, device)
    K = renderer.K
    sigma = detail_sigma(predictor.image_size)
    sides, mads, details, bands, i = [], [], [], [], 0
    for batch in loader:
        gt = batch["depth"].to(device)
        b = gt.shape[0]
        warped = renderer.warp_points(points.expand(b, *points.shape), views[i : i + b])
        i += b
        mask = face_masks(gt, warped.mask, data, split, batch, sigma)
        sides.append(side(warped.depth, gt, mask.main).cpu())
        normal = normals_from_depth(warped.depth, K)
        mads.append(mad(normal, normals_from_depth(gt, K), mask.main).cpu())
        detail, band = _detail_scores(warped.depth, gt, mask, K, sigma)
        details.append(detail)
        bands.append(band)
    return BfmResult(
        name=f"{predictor.name} [own template]",
        side=torch.cat(sides).double().numpy(),
        mad=torch.cat(mads).double().numpy(),
        detail_mad=torch.cat(details).double().numpy(),
        band_side=torch.cat(bands).double().numpy(),
    )
