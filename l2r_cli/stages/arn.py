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
"""

from __future__ import annotations

import dataclasses
import functools
import hashlib
import os
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2r_cli.config import ArnRunConfig, ProxyModelConfig, from_dict
from l2r_cli.engine.checkpoint import load_checkpoint, resolve_checkpoint_path
from l2r_cli.errors import L2RError
from l2r_cli.losses import photometric_nll
from l2r_cli.models.arn import ARN, ArnConfig
from l2r_cli.models.proxy import Proxy, ProxyFactors, ProxyRender, render_canonical
from l2r_cli.models.stylegan2 import load_stylegan2
from l2r_cli.render import Renderer
from l2r_cli.stages.base import Stage
from l2r_cli.stages.proxy import make_adam, network_input
from l2r_cli.viz import grid, to_uint8

_GEN = "arn.generator."


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes; read once per process while the file is unchanged
    (resolving the sources and building the stage both check the same files)."""
    st = os.stat(path)
    return _sha256(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=16)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()


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


def check_source(path: str, want: str, what: str, owner: str = "ARN") -> None:
    """One-line error when a stage's input file (``what``: 'proxy', 'prior', ...) no longer has
    the SHA-256 recorded when the ``owner`` stage was trained."""
    if want and file_sha256(path) != want:
        raise L2RError(f"{what} file {path} changed since the {owner} was trained (new SHA-256)")


def require_source(ckpt: str | Path, path: str, want: str, what: str, owner: str = "ARN") -> None:
    """:func:`check_source` for a file a saved checkpoint ``ckpt`` names, which must exist."""
    if not Path(path).is_file():
        raise L2RError(f"{ckpt}: its {what} file {path} is missing")
    check_source(path, want, what, owner)


def load_frozen_proxy(path: str | Path, device: torch.device | str) -> Proxy:
    """The proxy of a 'proxy' checkpoint, frozen and in eval mode (one-line error otherwise)."""
    ckpt = load_checkpoint(path, expect_kind="proxy")
    try:
        model = Proxy(from_dict(ProxyModelConfig, ckpt["config"]["model"], prefix="model."))
        model.load_state_dict(ckpt["models"]["proxy"])
    except (KeyError, TypeError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise L2RError(f"{path}: proxy checkpoint does not match its config ({first})") from None
    model.requires_grad_(False)
    return model.to(device).eval()


def build_arn(cfg: ArnRunConfig, proxy_size: int) -> ARN:
    """The ARN of ``cfg``: generator architecture (and, with use_prior, frozen weights and
    ``latent_avg``) from the prior file; input and albedo size = the proxy's image size."""
    g, _, latent_avg, info = load_stylegan2(cfg.sources.prior)
    m = cfg.model
    gsize = info.generator.size
    acfg = ArnConfig(
        generator=info.generator,
        input_size=proxy_size,
        albedo_size=proxy_size,
        output_size=m.output_size or gsize,
        n_styles=m.n_styles or None,
        guided_stages=m.guided_stages,
        prior_stages=m.prior_stages,
        nf=m.nf,
        zdim=m.zdim,
        mapping_layers=m.mapping_layers,
        mapping_lr_mul=m.mapping_lr_mul,
        noise=m.noise,
        use_prior=m.use_prior,
        multi_style=m.multi_style,
        spatial_guidance=m.spatial_guidance,
        prior_decoder=m.prior_decoder,
    )
    if not m.use_prior:
        return ARN(acfg)
    if latent_avg is None:  # a fixed seed: the same w_avg on every load and every rank
        with torch.no_grad():
            latent_avg = g.mean_latent(4096, generator=torch.Generator().manual_seed(0))
    return ARN(acfg, g, latent_avg)


class ArnWeights(nn.Module):
    """The ARN as the checkpointed net: with ``use_prior`` its state_dict leaves out the frozen
    generator (re-read from the prior file), and loading accepts a state without it."""

    def __init__(self, arn: ARN) -> None:
        super().__init__()
        self.arn = arn

    @property
    def frozen_generator(self) -> bool:
        """True when the generator is the pretrained, frozen prior."""
        return self.arn.cfg.use_prior

    def forward(self, lq: Tensor, proxy_albedo: Tensor | None) -> Tensor:
        """lq (B, 3, H, H), proxy_albedo (B, 3, A, A) in [-1, 1] -> albedo (B, 3, O, O)."""
        return self.arn(lq, proxy_albedo)

    def state_dict(self, *args: Any, **kwargs: Any) -> dict[str, Any]:  # type: ignore[override]
        """The module state, without the frozen generator's tensors."""
        sd = super().state_dict(*args, **kwargs)
        if self.frozen_generator:
            skip = kwargs.get("prefix", "") + _GEN
            for k in [k for k in sd if k.startswith(skip)]:
                del sd[k]
        return sd

    def load_state_dict(self, state_dict: Any, strict: bool = True, assign: bool = False):  # type: ignore[override]
        """Load a state saved by :meth:`state_dict` (the generator keeps its prior weights)."""
        if self.frozen_generator:
            own = nn.Module.state_dict(self)
            state_dict = {**{k: v for k, v in own.items() if k.startswith(_GEN)}, **state_dict}
        return super().load_state_dict(state_dict, strict=strict, assign=assign)


def upsample_factors(f: ProxyFactors, size: int) -> tuple[Tensor, Tensor | None]:
    """The proxy's canonical depth (B, O, O) and sigma (B, 2, O, O) or None at the output size
    (bilinear)."""
    depth = f.depth
    if depth.shape[-1] != size:
        depth = F.interpolate(depth[:, None], size=(size, size), mode="bilinear").squeeze(1)
    sigma = f.sigma
    if sigma is not None and sigma.shape[-1] != size:
        sigma = F.interpolate(sigma, size=(size, size), mode="bilinear")
    return depth, sigma


def render_restored(
    renderer: Renderer, f: ProxyFactors, albedo: Tensor, flip: bool = True
) -> ProxyRender:
    """Shade ``albedo`` (B, 3, O, O) with the proxy's depth (upsampled to O) and light and
    re-render it into the proxy's view with a renderer of size O (and the flip when ``flip``),
    as :meth:`Proxy.render` does at the proxy's size. Renders are stacked [normal; flipped]."""
    depth, _ = upsample_factors(f, renderer.image_size)
    return render_canonical(renderer, depth, albedo, f.light, f.view, flip)


def output_renderer(proxy: Proxy, size: int, device: torch.device | str) -> Renderer:
    """A renderer like the proxy's (same fov and depth range) at ``size``."""
    c = proxy.cfg
    return Renderer(size, c.fov, c.min_depth, c.max_depth, device=device)


class ArnStage(Stage):
    """Trains the ARN against the ground truth through the frozen proxy's geometry."""

    kind = "arn"

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


def load_arn(
    path: str | Path, device: torch.device | str, ckpt: dict[str, Any] | None = None
) -> tuple[ArnRunConfig, Proxy, ARN]:
    """An 'arn' checkpoint with its proxy and prior (re-read from the recorded paths, hashes
    checked): -> (config, frozen proxy, ARN in eval mode). ``ckpt``: the file's contents when
    the caller has already loaded it (kind checked)."""
    ckpt = ckpt or load_checkpoint(path, expect_kind="arn")
    cfg = from_dict(ArnRunConfig, ckpt["config"])
    s = cfg.sources
    require_source(path, s.proxy, s.proxy_sha256, "proxy")
    require_source(path, s.prior, s.prior_sha256, "prior")
    proxy = load_frozen_proxy(s.proxy, device)
    arn = build_arn(cfg, proxy.cfg.image_size)
    try:
        ArnWeights(arn).load_state_dict(ckpt["models"]["arn"])
    except (KeyError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise L2RError(f"{path}: ARN checkpoint does not match its config ({first})") from None
    return cfg, proxy, arn.to(device).eval()
