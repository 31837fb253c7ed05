"""Mutual learning with the cross-view adversarial loss (paper sec. 4.3, eqns. 6 and 7;
docs/grn.md "Losses").

Starting from a trained GRN (and the ARN it stands on), the ARN, the GRN and copies of the
proxy's view and light nets train together on eqn. (7):

    L_all = L(I_hat, I_gt, sigma) + L(I_hat', I_gt, sigma') + alpha * L_c + beta * |lap m|

where L_c (eqn. 6) compares, through a StyleGAN2 discriminator D, ground-truth images with the
restored face (restored albedo on the refined surface) re-rendered from a random view and under
a random light (``cross_view`` ranges). Each step is one generator step, then one discriminator
step on the same batch. Loss choice: the non-saturating logistic form of eqn. (6) (generator
minimises softplus(-D(fake)), D minimises softplus(-D(real)) + softplus(D(fake))) with an R1
penalty on real images, as in StyleGAN2, whose discriminator the paper uses.

The frozen proxy still gives the GRN's conditioning (its depth and normal), the ARN's guidance
(its albedo) and the confidence maps; the proxy's bas-relief gain, if it has one, stays frozen.

``load_mutual`` and ``load_refined`` live in :mod:`l2r_cli.inference`; the ``X as X`` imports
keep the old import paths working.
"""

from __future__ import annotations

import copy
import dataclasses
import math

import numpy as np
import torch
from torch import Tensor, nn

from l2r_cli.config import MutualRunConfig
from l2r_cli.console import notice_once
from l2r_cli.engine.checkpoint import load_checkpoint, resolve_checkpoint_path
from l2r_cli.errors import L2RError
from l2r_cli.inference import (
    ArnWeights,
    RefinedModel,
    check_source,
    file_sha256,
    load_grn,
    output_renderer,
    render_refined,
)
from l2r_cli.inference import load_mutual as load_mutual
from l2r_cli.inference import load_refined as load_refined
from l2r_cli.losses import gan_d_loss, gan_g_loss, r1_penalty
from l2r_cli.models.grn import GrnOutput
from l2r_cli.models.stylegan2 import Discriminator, DiscriminatorConfig
from l2r_cli.models.stylegan2_io import load_stylegan2
from l2r_cli.render import Light
from l2r_cli.render.shading import light_from_raw
from l2r_cli.stages.base import Stage
from l2r_cli.stages.grn import GrnStage
from l2r_cli.stages.proxy import make_adam
from l2r_cli.viz import to_uint8


def resolve_mutual_sources(cfg: MutualRunConfig) -> MutualRunConfig:
    """Resolve the GRN path (a run directory -> its last.pt), check its kind, hash it; check
    the discriminator choice."""
    if not cfg.sources.grn:
        raise L2RError("train-mutual needs the GRN checkpoint: --grn CKPT")
    if cfg.disc.init not in ("auto", "prior", "scratch"):
        raise L2RError(f"disc.init must be 'auto', 'prior' or 'scratch', got {cfg.disc.init!r}")
    if cfg.loss.alpha < 0 or cfg.loss.beta < 0:
        raise L2RError("loss.alpha and loss.beta must be >= 0")
    path = resolve_checkpoint_path(cfg.sources.grn)
    load_checkpoint(path, expect_kind="grn")
    src = dataclasses.replace(cfg.sources, grn=str(path), grn_sha256=file_sha256(path))
    return dataclasses.replace(cfg, sources=src)


def build_discriminator(cfg: MutualRunConfig, prior_path: str, size: int) -> Discriminator:
    """D of eqn. (6) at the output size: the prior file's ``d`` (init 'auto' or 'prior') when it
    has one of that size, else a fresh one with widths min(max_channels, rosinality's table at
    channel multiplier 1)."""
    d = None
    if cfg.disc.init != "scratch":
        _, d, _, info = load_stylegan2(prior_path)
        if d is not None and d.size != size:
            d = None
        if d is None and cfg.disc.init == "prior":
            raise L2RError(
                f"disc.init = 'prior' but {prior_path} has no {size}x{size} discriminator"
            )
    if d is None:
        if cfg.disc.init == "auto":
            notice_once("disc-scratch", f"the discriminator ({size}x{size}) starts from scratch")
        base = DiscriminatorConfig(size=size, channel_multiplier=1).widths()
        widths = {r: min(c, cfg.disc.max_channels) for r, c in base.items()}
        d = Discriminator(DiscriminatorConfig(size=size, channels=widths))
    return d


def random_view_light(b: int, cfg, device: torch.device) -> tuple[Tensor, Light]:
    """Random views (B, 6) (yaw, pitch uniform in the ranges; no roll or shift) and lights."""
    c = cfg.cross_view

    def u(lo: float, hi: float) -> Tensor:
        return torch.rand(b, device=device) * (hi - lo) + lo

    zero = torch.zeros(b, device=device)
    pitch = u(-c.pitch, c.pitch) * math.pi / 180
    yaw = u(-c.yaw, c.yaw) * math.pi / 180
    view = torch.stack([pitch, yaw, zero, zero, zero, zero], 1)
    raw = torch.stack(
        [
            u(*c.ambient) * 2 - 1,
            u(*c.diffuse) * 2 - 1,
            u(-c.light_xy, c.light_xy),
            u(-c.light_xy, c.light_xy),
        ],
        1,
    )
    return view, light_from_raw(raw)


class MutualStage(GrnStage):
    """ARN + GRN + view and light nets against eqn. (7), with the discriminator of eqn. (6)."""

    kind = "mutual"

    resolve_inputs = staticmethod(resolve_mutual_sources)

    def __init__(self, cfg: MutualRunConfig, device: torch.device) -> None:
        Stage.__init__(self)
        self.cfg = cfg
        check_source(cfg.sources.grn, cfg.sources.grn_sha256, "GRN", owner="mutual run")
        grn_cfg, model = load_grn(cfg.sources.grn, device)
        self.grn_cfg = grn_cfg
        self.proxy, self.arn, self.grn = model.proxy, model.arn, model.grn
        self.out_size = self.grn.cfg.size
        self.renderer = output_renderer(self.proxy, self.out_size, device)
        view_net = copy.deepcopy(self.proxy.net_view).requires_grad_(True)
        light_net = copy.deepcopy(self.proxy.net_light).requires_grad_(True)
        # load_grn leaves the ARN's own layers trainable and its prior generator frozen.
        nets: dict[str, nn.Module] = {
            "arn": ArnWeights(self.arn),
            "grn": self.grn,
            "view": view_net,
            "light": light_net,
        }
        self.adversarial = cfg.loss.alpha > 0
        if self.adversarial:
            nets["disc"] = build_discriminator(cfg, model.prior, self.out_size).to(device)
        self.nets = nn.ModuleDict(nets).to(device)
        o = cfg.optim
        gen = [p for n, m in self.nets.items() if n != "disc" for p in m.parameters()]
        self._opt = make_adam(
            [p for p in gen if p.requires_grad], o.lr, (o.beta1, o.beta2), o.weight_decay, device
        )
        self._opts = {"gen": self._opt}
        if self.adversarial:
            self._opts["disc"] = make_adam(
                self.nets["disc"].parameters(), cfg.disc.lr, (0.0, 0.99), 0.0, device
            )

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """'gen' over ARN, GRN, view and light nets; 'disc' over D (when alpha > 0)."""
        return self._opts

    def restored_albedo(self, x: dict) -> Tensor:
        """The (training) ARN's albedo (B, 3, O, O), with gradients."""
        return self.net("arn")(x["lq_s"], x["f"].albedo)

    def light_view(self, x: dict) -> tuple[Light, Tensor]:
        """Light and view from the trained copies of the proxy's nets (frozen gain)."""
        gain = self.proxy.basrelief() if self.proxy.basrelief is not None else None
        lq = x["lq_s"]
        view, light = self.proxy.pose_from_raw(self.net("view")(lq), self.net("light")(lq), gain)
        return light, view

    def cross_view(self, albedo: Tensor, g: GrnOutput) -> Tensor:
        """The restored face re-rendered from random views and lights, (B, 3, O, O)."""
        view, light = random_view_light(albedo.shape[0], self.cfg, albedo.device)
        return render_refined(self.renderer, g, albedo, light, view, flip=False).recon_image

    def generator_step(self, x: dict) -> tuple[dict[str, float], Tensor | None]:
        """One Adam step of ARN, GRN, view and light nets on eqn. (7); D is held fixed.
        -> logs and the cross-view renders (detached; None without the adversarial term)."""
        loss, logs, albedo, g = self.compute_loss(x)
        fake = None
        if self.adversarial:
            fake = self.cross_view(albedo, g)
            d = self.nets["disc"]  # bare and frozen here: no DDP hooks, no gradient into D
            d.requires_grad_(False)
            try:
                adv = gan_g_loss(d(fake))
            finally:
                d.requires_grad_(True)
            loss = loss + self.cfg.loss.alpha * adv
            logs.update(g_adv=adv.item(), loss=loss.item())
            fake = fake.detach()
        self._opt.zero_grad(set_to_none=True)
        loss.backward()
        self._opt.step()
        return logs, fake

    def discriminator_step(self, real: Tensor, fake: Tensor) -> dict[str, float]:
        """One Adam step of D: softplus(-D(real)) + softplus(D(fake)) + r1_gamma/2 * R1."""
        d = self.net("disc")
        real = real.detach().requires_grad_(self.cfg.disc.r1_gamma > 0)
        real_logit = d(real)
        loss = gan_d_loss(real_logit, d(fake.detach()))
        logs = {"d_loss": loss.item()}
        if self.cfg.disc.r1_gamma > 0:
            r1 = r1_penalty(real_logit, real)
            loss = loss + self.cfg.disc.r1_gamma / 2 * r1
            logs["r1"] = r1.item()
        opt = self._opts["disc"]
        opt.zero_grad(set_to_none=True)
        loss.backward()
        opt.step()
        return logs

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """A generator step, then (with alpha > 0) a discriminator step on the same batch."""
        x = self.frozen_inputs(batch)
        logs, fake = self.generator_step(x)
        if fake is not None:
            logs.update(self.discriminator_step(x["gt"], fake))
        return logs

    def model(self) -> RefinedModel:
        """The nets as an inference model (shares their parameters)."""
        return RefinedModel(self.proxy, self.arn, self.grn, self.nets["view"], self.nets["light"])

    def extra_rows(self, albedo: Tensor, g: GrnOutput) -> list[list[np.ndarray]]:
        """One panel row of cross-view renders of the same faces (with the adversarial loss)."""
        if not self.adversarial:
            return []
        fake = self.cross_view(albedo, g)
        return [[to_uint8(fake[i] / 2 + 0.5) for i in range(fake.shape[0])]]
