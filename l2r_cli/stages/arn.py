"""Training stage of the Albedo Restoration Network (paper sec. 4.1, eqn. 7 without the
adversarial and smoothness terms; docs/training.md "train-arn").

A frozen 3D proxy sees the degraded image (upsampled to its size) and gives the canonical depth,
albedo, light, view and confidence. The ARN maps (degraded image, proxy albedo) to a restored
canonical albedo at the output size; it is shaded with the proxy's depth (upsampled to the
output size) and light, re-rendered into the proxy's view (and once more with depth and albedo
flipped), and compared with the ground-truth image at the output size by the confidence-weighted
photometric NLL (eqn. 3).

Neither the proxy nor a frozen (``use_prior``) generator is stored in the ARN checkpoint: the
checkpoint records their paths and SHA-256 hashes (``sources``), and both are re-read from there.

The ARN's inference pieces (``ArnWeights``, ``load_arn``, ``render_restored``, ...) live in
:mod:`l2r_cli.inference`; the ``X as X`` imports keep the old import paths working.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2r_cli.config import ArnRunConfig
from l2r_cli.engine.checkpoint import resolve_checkpoint_path
from l2r_cli.errors import L2RError
from l2r_cli.inference import (
    ArnWeights,
    build_arn,
    check_source,
    file_sha256,
    load_frozen_proxy,
    output_renderer,
    render_restored,
    upsample_factors,
)
from l2r_cli.inference import load_arn as load_arn
from l2r_cli.inference import require_source as require_source
from l2r_cli.losses import photometric_nll
from l2r_cli.models.proxy import ProxyFactors, ProxyRender
from l2r_cli.stages.base import DegradedStage
from l2r_cli.stages.proxy import make_adam, network_input
from l2r_cli.viz import grid, to_uint8


def resolve_sources(cfg: ArnRunConfig) -> ArnRunConfig:
    """Resolve the proxy path (a run directory -> its last.pt) and fill in both hashes."""
    s = cfg.sources
    if not s.proxy:
        raise L2RError("train-arn needs the proxy checkpoint: --proxy CKPT")
    if not s.prior:
        raise L2RError("train-arn needs a StyleGAN2 prior file: --prior PRIOR.pt")
    proxy = resolve_checkpoint_path(s.proxy)
    prior = Path(s.prior)
    if not prior.is_file():
        raise L2RError(f"prior file not found: {prior}")
    src = dataclasses.replace(
        s,
        proxy=str(proxy),
        prior=str(prior),
        proxy_sha256=file_sha256(proxy),
        prior_sha256=file_sha256(prior),
    )
    return dataclasses.replace(cfg, sources=src)


class ArnStage(DegradedStage):
    """Trains the ARN against the ground truth through the frozen proxy's geometry."""

    kind = "arn"

    resolve_inputs = staticmethod(resolve_sources)

    def __init__(self, cfg: ArnRunConfig, device: torch.device) -> None:
        super().__init__()
        self.cfg = cfg
        self.device = device
        check_source(cfg.sources.proxy, cfg.sources.proxy_sha256, "proxy")
        check_source(cfg.sources.prior, cfg.sources.prior_sha256, "prior")
        # Outside self.nets: never saved, never wrapped in DDP, always in eval mode.
        self.proxy = load_frozen_proxy(cfg.sources.proxy, device)
        self.arn = build_arn(cfg, self.proxy.cfg.image_size).to(device)
        self.nets = nn.ModuleDict({"arn": ArnWeights(self.arn)})
        self.out_size = self.arn.cfg.output_size
        self.renderer = output_renderer(self.proxy, self.out_size, device)
        o = cfg.optim
        self._opt = make_adam(
            self.arn.trainable_parameters(), o.lr, (o.beta1, o.beta2), o.weight_decay, device
        )

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The one Adam over the ARN's trainable parameters."""
        return {"arn": self._opt}

    def wrap(self, fn: Callable[[nn.Module], nn.Module]) -> None:
        """Route the ARN's forward pass through ``fn`` (DDP)."""
        self.fwd = {"arn": fn(self.nets["arn"])}

    def inputs(self, batch: dict[str, Tensor]) -> tuple[Tensor, Tensor, ProxyFactors]:
        """-> degraded input at the proxy's size (B, 3, S, S) in [-1, 1], the ground truth at the
        output size (B, 3, O, O) in [-1, 1] and the frozen proxy's factors."""
        if "lq" not in batch:
            raise L2RError("the ARN trains on degraded images: the batch has no 'lq' field")
        lq = network_input(batch, "lq", self.proxy.cfg.image_size)
        gt = batch["image"] * 2 - 1
        if gt.shape[-1] != self.out_size:
            gt = F.interpolate(gt, size=(self.out_size,) * 2, mode="bilinear", antialias=True)
        with torch.no_grad():
            f = self.proxy.factors(lq)
        return lq, gt, f

    def compute_loss(
        self, lq: Tensor, gt: Tensor, f: ProxyFactors
    ) -> tuple[Tensor, dict[str, float], Tensor, ProxyRender]:
        """-> total loss, scalar logs, restored albedo (B, 3, O, O) and renders (2B, ...)."""
        b = lq.shape[0]
        albedo = self.net("arn")(lq, f.albedo)
        r = render_restored(self.renderer, f, albedo, flip=True)
        mask = (r.recon_mask[:b] * r.recon_mask[b:]).detach()
        sig = upsample_factors(f, self.out_size)[1] if self.cfg.loss.use_sigma else None
        l1 = photometric_nll(r.recon_image[:b], gt, None if sig is None else sig[:, :1], mask)
        l1f = photometric_nll(r.recon_image[b:], gt, None if sig is None else sig[:, 1:], mask)
        loss = l1 + self.cfg.loss.lam_flip * l1f
        return loss, {"l1": l1.item(), "l1_flip": l1f.item(), "loss": loss.item()}, albedo, r

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """One Adam step on a batch; returns scalar logs."""
        loss, logs, _, _ = self.compute_loss(*self.inputs(batch))
        self._opt.zero_grad(set_to_none=True)
        loss.backward()
        self._opt.step()
        return logs

    def validate(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """The training losses on a val batch."""
        return self.compute_loss(*self.inputs(batch))[1]

    @torch.no_grad()
    def panel(self, batch: dict[str, Tensor]) -> np.ndarray:
        """Rows of lq input | proxy albedo | restored albedo | re-render | GT (output size)."""
        lq, gt, f = self.inputs(batch)
        albedo = self.arn(lq, f.albedo)
        r = render_restored(self.renderer, f, albedo, flip=False)
        o = (self.out_size, self.out_size)

        def up(x: Tensor) -> Tensor:
            return F.interpolate(x, size=o, mode="nearest") if x.shape[-1] != o[0] else x

        lq_o, pa_o = up(lq), up(f.albedo)
        rows = []
        for i in range(lq.shape[0]):
            m = r.recon_mask[i, 0]
            rows.append(
                [
                    to_uint8(lq_o[i] / 2 + 0.5),
                    to_uint8(pa_o[i] / 2 + 0.5),
                    to_uint8(albedo[i] / 2 + 0.5),
                    to_uint8((r.recon_image[i] / 2 + 0.5) * m),
                    to_uint8(gt[i] / 2 + 0.5),
                ]
            )
        return grid(rows)
