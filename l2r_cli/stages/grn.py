"""Training stage of the Geometry Refining Network (paper sec. 4.2 and 4.3: "train GRN with ARN
frozen, using the proxy's view and light"; docs/grn.md), and the training pieces mutual learning
reuses (degraded inputs, ground truth, photometric terms). The pieces the predictors share (the
GRN's conditioning inputs, the render of the refined surface, ``RefinedModel``, ``load_grn``)
live in :mod:`l2r_cli.inference`; the ``X as X`` imports keep the old import paths working.

Per batch: the frozen proxy sees the degraded image at its size S and gives the canonical depth,
albedo, light, view and confidence, and its depth seen from the input view (whose normal n_o is
a GRN input); the frozen ARN restores the canonical albedo at the output size O; the GRN gives the
pure depth and displacement map; the refined surface (eqn. 5), shaded with the restored albedo
and the proxy's light, is rendered into the proxy's view (and flipped) and compared with the
ground truth at O by the confidence-weighted photometric NLL, plus beta times the Laplacian
smoothness of m (eqn. 7 without the adversarial term).
"""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2r_cli.config import GrnRunConfig
from l2r_cli.engine.checkpoint import load_checkpoint, resolve_checkpoint_path
from l2r_cli.errors import L2RError
from l2r_cli.inference import RefinedModel as RefinedModel
from l2r_cli.inference import (
    RefinedRender,
    check_source,
    file_sha256,
    grn_config,
    load_arn,
    output_renderer,
    proxy_conditioning,
    render_refined,
    upsample_factors,
)
from l2r_cli.inference import load_grn as load_grn
from l2r_cli.inference import require_source as require_source
from l2r_cli.losses import masked_mean, photometric_nll
from l2r_cli.models.grn import GRN, GrnOutput, laplacian_smoothness
from l2r_cli.models.proxy import ProxyFactors
from l2r_cli.render import Light
from l2r_cli.stages.base import DegradedStage
from l2r_cli.stages.proxy import SURROUND_MARGIN, make_adam, network_input
from l2r_cli.viz import depth_tile, grid, normal_tile, to_uint8


def lq_inputs(batch: dict[str, Tensor], proxy_size: int, out_size: int) -> tuple[Tensor, Tensor]:
    """One degraded variant per item (one draw of the torch RNG) at the proxy's size S and at the
    output size O: (B, 3, S, S), (B, 3, O, O) in [-1, 1]."""
    if "lq" not in batch:
        raise L2RError("this stage trains on degraded images: the batch has no 'lq' field")
    lq_s = network_input(batch, "lq", proxy_size)
    lq_o = lq_s
    if out_size != proxy_size:
        lq_o = F.interpolate(lq_s, size=(out_size, out_size), mode="bilinear", antialias=True)
    return lq_s, lq_o


def gt_image(batch: dict[str, Tensor], size: int) -> Tensor:
    """The ground truth at the output size, (B, 3, O, O) in [-1, 1]."""
    gt = batch["image"] * 2 - 1
    if gt.shape[-1] != size:
        gt = F.interpolate(gt, size=(size, size), mode="bilinear", antialias=True)
    return gt


def photometric_terms(
    r: RefinedRender, gt: Tensor, sigma: Tensor | None, lam_flip: float
) -> tuple[Tensor, dict[str, float]]:
    """Eqn. (7)'s two photometric NLL terms on renders stacked [normal; flipped] (2B, ...);
    sigma (B, 2, O, O) or None -> (l1 + lam_flip * l1_flip, logs)."""
    b = gt.shape[0]
    mask = (r.recon_mask[:b] * r.recon_mask[b:]).detach()
    l1 = photometric_nll(r.recon_image[:b], gt, None if sigma is None else sigma[:, :1], mask)
    l1f = photometric_nll(r.recon_image[b:], gt, None if sigma is None else sigma[:, 1:], mask)
    return l1 + lam_flip * l1f, {"l1": l1.item(), "l1_flip": l1f.item()}


def view_depth_terms(
    recon_depth: Tensor, gt_depth: Tensor, far: float
) -> tuple[Tensor, dict[str, float]]:
    """Supervised depth in the view (``loss.lam_depth_sup``, not in the paper): recon_depth,
    gt_depth (B, O, O). On the true face (gt_depth below its per-image maximum, the background,
    eroded by a pixel) the L1 of recon_depth against gt_depth; on the background, rendered
    depth nearer than ``far`` costs by how much (a hinge, as the proxy's supervision); each in
    units of 0.01, the term the mean of the two parts' per-image means. -> (scalar, logs)."""
    from l2r_cli.metrics import erode, gt_face_mask

    face_px = gt_face_mask(gt_depth)
    face = masked_mean((recon_depth - gt_depth).abs(), erode(face_px)) * 100
    rest = masked_mean((far - recon_depth).clamp(min=0), 1 - face_px) * 100
    return (face + rest) / 2, {"depth_sup": face.item(), "depth_sup_off": rest.item()}


def resolve_grn_sources(cfg: GrnRunConfig) -> GrnRunConfig:
    """Resolve the ARN path (a run directory -> its last.pt), check its kind, hash it."""
    if not cfg.sources.arn:
        raise L2RError("train-grn needs the ARN checkpoint: --arn CKPT")
    path = resolve_checkpoint_path(cfg.sources.arn)
    load_checkpoint(path, expect_kind="arn")
    src = dataclasses.replace(cfg.sources, arn=str(path), arn_sha256=file_sha256(path))
    return dataclasses.replace(cfg, sources=src)


class GrnStage(DegradedStage):
    """Trains the GRN through the frozen proxy and ARN (proxy view and light)."""

    kind = "grn"

    resolve_inputs = staticmethod(resolve_grn_sources)

    def __init__(self, cfg: GrnRunConfig, device: torch.device) -> None:
        super().__init__()
        self.cfg = cfg
        check_source(cfg.sources.arn, cfg.sources.arn_sha256, "ARN", owner="GRN")
        # Outside self.nets: never saved here, never wrapped in DDP, always frozen.
        _, self.proxy, self.arn = load_arn(cfg.sources.arn, device)
        self.arn.requires_grad_(False)
        self.out_size = self.arn.cfg.output_size
        self.renderer = output_renderer(self.proxy, self.out_size, device)
        self.grn = GRN(grn_config(cfg.model, self.out_size, self.proxy)).to(device)
        self.nets = nn.ModuleDict({"grn": self.grn})
        o = cfg.optim
        self._opt = make_adam(
            self.grn.parameters(), o.lr, (o.beta1, o.beta2), o.weight_decay, device
        )

    @classmethod
    def extra_fields(cls, cfg) -> tuple[str, ...]:
        """'depth' when the supervised depth term is on."""
        return ("depth",) if cfg.loss.lam_depth_sup > 0 else ()

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The one Adam over the GRN."""
        return {"grn": self._opt}

    def net(self, name: str) -> nn.Module:
        """The wrapped module for ``name``, or the bare one while a panel is drawn: panels run
        on rank 0 alone, and a DDP forward broadcasts module buffers (a collective) even
        without gradients, which would wait forever for the other ranks."""
        if getattr(self, "_bare", False):
            return self.nets[name]
        return super().net(name)

    @contextlib.contextmanager
    def bare(self) -> Iterator[None]:
        """Within: :meth:`net` returns the bare modules."""
        self._bare = True
        try:
            yield
        finally:
            self._bare = False

    @torch.no_grad()
    def frozen_inputs(self, batch: dict[str, Tensor]) -> dict[str, Tensor | ProxyFactors]:
        """Everything the frozen nets give for a batch: lq at S and O, gt at O, the proxy's
        factors ``f``, its conditioning (``normal_o``, ``depth_o``) and ``sigma`` at O."""
        s = self.proxy.cfg.image_size
        lq_s, lq_o = lq_inputs(batch, s, self.out_size)
        f = self.proxy.factors(lq_s)
        normal_o, depth_o = proxy_conditioning(self.proxy, f, self.out_size)
        sigma = upsample_factors(f, self.out_size)[1] if self.cfg.loss.use_sigma else None
        gt_depth = None
        if self.cfg.loss.lam_depth_sup > 0 and "depth" in batch:
            gt_depth = batch["depth"]
            if gt_depth.shape[-1] != self.out_size:
                o = (self.out_size, self.out_size)
                gt_depth = F.interpolate(gt_depth[:, None], size=o, mode="nearest")[:, 0]
        return {
            "gt_depth": gt_depth,
            "lq_s": lq_s,
            "lq_o": lq_o,
            "gt": gt_image(batch, self.out_size),
            "f": f,
            "normal_o": normal_o,
            "depth_o": depth_o,
            "sigma": sigma,
        }

    def restored_albedo(self, x: dict) -> Tensor:
        """The frozen ARN's albedo (B, 3, O, O)."""
        with torch.no_grad():
            return self.arn(x["lq_s"], x["f"].albedo)

    def light_view(self, x: dict) -> tuple[Light, Tensor]:
        """The proxy's light and view."""
        return x["f"].light, x["f"].view

    def refine(self, x: dict) -> tuple[Tensor, GrnOutput, RefinedRender]:
        """-> restored albedo, GRN output and the renders [normal; flipped]."""
        albedo = self.restored_albedo(x)
        g = self.net("grn")(x["lq_o"], x["normal_o"], albedo, x["depth_o"])
        light, view = self.light_view(x)
        return albedo, g, render_refined(self.renderer, g, albedo, light, view, flip=True)

    def compute_loss(self, x: dict) -> tuple[Tensor, dict[str, float], Tensor, GrnOutput]:
        """Eqn. (7) without L_c: photometric terms + beta * Laplacian smoothness of m.
        -> loss, logs, restored albedo and GRN output (mutual learning adds L_c to them)."""
        albedo, g, r = self.refine(x)
        loss, logs = photometric_terms(r, x["gt"], x["sigma"], self.cfg.loss.lam_flip)
        lap = laplacian_smoothness(g.displacement)
        loss = loss + self.cfg.loss.beta * lap
        logs["laplacian"] = lap.item()
        if x.get("gt_depth") is not None:
            c = self.proxy.cfg
            far = c.max_depth - SURROUND_MARGIN * (c.max_depth - c.min_depth)
            b = x["gt"].shape[0]
            sup, sup_logs = view_depth_terms(r.recon_depth[:b], x["gt_depth"], far)
            loss = loss + self.cfg.loss.lam_depth_sup * sup
            logs.update(sup_logs)
        logs["loss"] = loss.item()
        return loss, logs, albedo, g

    def validate(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """The reconstruction losses on a val batch (mutual: with its own nets, without the
        adversarial term)."""
        return self.compute_loss(self.frozen_inputs(batch))[1]

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """One Adam step on a batch; returns scalar logs."""
        loss, logs, _, _ = self.compute_loss(self.frozen_inputs(batch))
        self._opt.zero_grad(set_to_none=True)
        loss.backward()
        self._opt.step()
        return logs

    @torch.no_grad()
    def panel(self, batch: dict[str, Tensor]) -> np.ndarray:
        """Rows of lq | restored albedo | re-render | GT | proxy normal | refined depth |
        refined normal | |m| (all at the output size), then :meth:`extra_rows`."""
        x = self.frozen_inputs(batch)
        with self.bare():
            albedo, g, r = self.refine(x)
        lo, hi = self.proxy.cfg.min_depth, self.proxy.cfg.max_depth
        mmax = max(self.grn.cfg.arch.max_displacement, 1e-8)
        rows = []
        for i in range(albedo.shape[0]):
            m = r.recon_mask[i, 0]
            mag = g.displacement[i].norm(dim=-1) / mmax
            rows.append(
                [
                    to_uint8(x["lq_o"][i] / 2 + 0.5),
                    to_uint8(albedo[i] / 2 + 0.5),
                    to_uint8((r.recon_image[i] / 2 + 0.5) * m),
                    to_uint8(x["gt"][i] / 2 + 0.5),
                    to_uint8(normal_tile(x["normal_o"][i])),
                    to_uint8(depth_tile(r.recon_depth[i], lo, hi, m)),
                    to_uint8(normal_tile(self.renderer.normals(r.recon_depth[i : i + 1])[0], m)),
                    to_uint8(mag.clamp(0, 1).expand(3, -1, -1)),
                ]
            )
        return grid(rows + self.extra_rows(albedo, g))

    def extra_rows(self, albedo: Tensor, g: GrnOutput) -> list[list[np.ndarray]]:
        """More panel rows from the same restored albedo and GRN output (none here)."""
        return []
