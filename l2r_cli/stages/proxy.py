"""Training stage of the 3D proxy (Unsup3D, paper sec. 3): the photometric NLL of the
reconstruction and its flipped counterpart (eqn. 3), plus the optional VGG16 perceptual NLL."""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
from torch import Tensor, nn

from l2r_cli.config import ProxyRunConfig
from l2r_cli.console import notice_once
from l2r_cli.data.dataset import DatasetInfo, L2RDataset
from l2r_cli.data.inputs import model_input
from l2r_cli.errors import L2RError
from l2r_cli.losses import masked_mean, perceptual_nll, photometric_nll
from l2r_cli.models.proxy import Proxy, ProxyFactors, ProxyRender
from l2r_cli.models.vgg import VGG16Relu33, load_vgg16
from l2r_cli.render import Light, shade
from l2r_cli.stages.base import Stage
from l2r_cli.viz import depth_tile, grid, normal_tile, to_uint8

#: Off the canonical face mask the supervised depth must lie no nearer than this fraction of
#: the depth range below max_depth (:func:`supervised_terms`).
SURROUND_MARGIN = 0.1

_NETS = ("net_depth", "net_albedo", "net_light", "net_view", "net_conf", "basrelief")


def make_adam(params, lr: float, betas: tuple[float, float], weight_decay: float, device):
    """Adam, fused when the device supports it (a 37M-parameter step costs ~10 ms, not ~90)."""
    try:
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay, fused=True)
    except (RuntimeError, TypeError):
        return torch.optim.Adam(params, lr=lr, betas=betas, weight_decay=weight_decay)


def network_input(batch: dict[str, Tensor], field: str, size: int) -> Tensor:
    """The image the nets see in training, (B, 3, S, S) in [-1, 1]: ``image``, or one of the K
    degraded variants drawn with the torch RNG, upsampled to S (``l2r_cli.data.inputs``)."""
    return model_input(batch, field, size, pick="random") * 2 - 1


class ProxyStage(Stage):
    """Trains all five proxy nets jointly."""

    kind = "proxy"

    @classmethod
    def create(
        cls, cfg: ProxyRunConfig, device: torch.device, data: Path, info: DatasetInfo
    ) -> tuple[ProxyStage, L2RDataset]:
        """The proxy stage and the train split at ``model.image_size``: 'image', plus the
        input field when the proxy learns from another one (e.g. 'lq')."""
        fields = ("image",) if cfg.train.input == "image" else ("image", cfg.train.input)
        sup = cfg.loss.supervised_fields()
        missing = [f for f in sup if f not in info.splits["train"].fields]
        if missing:
            raise L2RError(
                f"{data}: loss.lam_depth_sup / lam_view_sup need the fields {', '.join(missing)} "
                "(l2r synth data has them)"
            )
        dataset = L2RDataset(data, "train", fields=fields + sup, image_size=cfg.model.image_size)
        return cls(cfg, device), dataset

    def __init__(self, cfg: ProxyRunConfig, device: torch.device) -> None:
        super().__init__()
        self.cfg = cfg
        self.device = device
        self.model = Proxy(cfg.model).to(device)
        self.nets = nn.ModuleDict({"proxy": self.model})
        self.vgg: VGG16Relu33 | None = None
        if cfg.loss.vgg_weights:
            self.vgg = load_vgg16(cfg.loss.vgg_weights).to(device)
        else:
            notice_once(
                "vgg",
                "perceptual loss is off: no VGG16 weights given (--vgg-weights FILE to use it)",
            )
        o = cfg.optim
        br = self.model.basrelief
        gains = list(br.parameters()) if br is not None else []
        pose = ("net_view.", "net_light.")
        named = [(n, p) for n, p in self.model.named_parameters() if not n.startswith("basrelief.")]
        split = o.pose_lr_mult != 1.0  # one group in model order otherwise (as before)
        groups: list[dict] = [
            {"params": [p for n, p in named if not (split and n.startswith(pose))]}
        ]
        if split:
            pose_params = [p for n, p in named if n.startswith(pose)]
            groups.append({"params": pose_params, "lr": o.lr * o.pose_lr_mult})
        if gains:
            groups.append({"params": gains, "lr": o.gain_lr, "weight_decay": 0.0})
        self._opt = make_adam(groups, o.lr, (o.beta1, o.beta2), o.weight_decay, device)
        self.fwd: dict[str, nn.Module] = {}
        if o.gain_refit_batches < 0:
            raise L2RError(f"optim.gain_refit_batches must be >= 0, got {o.gain_refit_batches}")
        if o.gain_refit_batches > 0 and br is None:
            raise L2RError("optim.gain_refit_batches needs model.basrelief_gain = true")

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """The one Adam over every proxy net."""
        return {"proxy": self._opt}

    def wrap(self, fn: Callable[[nn.Module], nn.Module]) -> None:
        """Use ``fn``-wrapped nets (DDP) in the forward pass."""
        present = [n for n in _NETS if getattr(self.model, n) is not None]
        self.fwd = {n: fn(getattr(self.model, n)) for n in present}

    def compute_loss(
        self, image: Tensor, batch: dict[str, Tensor] | None = None
    ) -> tuple[Tensor, dict[str, float], ProxyFactors, ProxyRender]:
        """image (B, 3, S, S) in [-1, 1] -> total loss, scalar logs, factors and renders;
        ``batch`` holds the ground truth of the supervised terms when they are on."""
        b = image.shape[0]
        lc = self.cfg.loss
        f = self.model.factors(image, self.fwd)
        r = self.model.render(f, flip=True)
        mask = (r.recon_mask[:b] * r.recon_mask[b:]).detach()  # both renders must be valid
        sig = f.sigma
        l1 = photometric_nll(r.recon_image[:b], image, None if sig is None else sig[:, :1], mask)
        l1f = photometric_nll(r.recon_image[b:], image, None if sig is None else sig[:, 1:], mask)
        loss = l1 + lc.lam_flip * l1f
        logs = {"l1": l1.item(), "l1_flip": l1f.item()}
        if self.model.basrelief is not None:
            logs["basrelief_gain"] = self.model.basrelief.log_gain.exp().item()
        if self.vgg is not None:
            feats = self.vgg(torch.cat([r.recon_image, image], 0))
            fr, ff, fi = feats[:b], feats[b : 2 * b], feats[2 * b :]
            sp = f.sigma_perc
            p = perceptual_nll(fr, fi, None if sp is None else sp[:, :1], mask)
            pf = perceptual_nll(ff, fi, None if sp is None else sp[:, 1:], mask)
            loss = loss + lc.lam_perc * (p + lc.lam_flip * pf)
            logs.update(perc=p.item(), perc_flip=pf.item())
        elif f.sigma_perc is not None:
            # Without the perceptual term the confidence net's quarter-resolution head would get
            # no gradient; a zero term keeps every parameter in the graph, as DDP expects.
            loss = loss + 0 * f.sigma_perc.sum()
        if batch is not None and (lc.lam_depth_sup > 0 or lc.lam_view_sup > 0):
            c = self.cfg.model
            # reachable: the tanh never gives max_depth itself (a target there kept half the
            # term pushing the surroundings into saturation for good)
            far = c.max_depth - SURROUND_MARGIN * (c.max_depth - c.min_depth)
            sup, sup_logs = supervised_terms(f, batch, lc.lam_depth_sup, lc.lam_view_sup, far)
            loss = loss + sup
            logs.update(sup_logs)
        logs["loss"] = loss.item()
        return loss, logs, f, r

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """One optimizer step on a batch; returns scalar logs."""
        self.model.train()
        image = network_input(batch, self.cfg.train.input, self.cfg.model.image_size)
        loss, logs, _, _ = self.compute_loss(image, batch)
        self._opt.zero_grad(set_to_none=True)
        loss.backward()
        self._opt.step()
        return logs

    def validate(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """The training losses on a val batch (the input field as in training)."""
        image = network_input(batch, self.cfg.train.input, self.cfg.model.image_size)
        return self.compute_loss(image, batch)[1]

    def finish_batches(self) -> int:
        """``optim.gain_refit_batches`` (0 = no end-of-training refit)."""
        return self.cfg.optim.gain_refit_batches

    def finish(
        self,
        batches: list[dict[str, Tensor]],
        reduce_mean: Callable[[dict[str, float]], dict[str, float]],
    ) -> dict[str, float]:
        """Refit the bas-relief gain on ``batches`` (:func:`refit_basrelief_gain`)."""
        if self.model.basrelief is None or not batches:
            return {}
        s = self.cfg.model.image_size
        images = [network_input(b, self.cfg.train.input, s) for b in batches]
        fit = refit_basrelief_gain(self.model, images, self.cfg.loss.lam_flip, reduce_mean)
        return {
            "gain_refit_factor": math.exp(fit.offset),
            "basrelief_gain": self.model.basrelief().item(),
            "l1_before": fit.loss_before,
            "l1_after": fit.loss_after,
        }

    @torch.no_grad()
    def panel(self, batch: dict[str, Tensor]) -> np.ndarray:
        """Rows of input | reconstruction | depth | normal | albedo | side view (uint8)."""
        self.model.eval()
        image = network_input(batch, self.cfg.train.input, self.cfg.model.image_size)
        f = self.model.factors(image)
        r = self.model.render(f, flip=False)
        side = side_view(self.model, f)
        c = self.cfg.model
        rows = []
        for i in range(image.shape[0]):
            m = r.recon_mask[i, 0]
            rows.append(
                [
                    to_uint8(image[i] / 2 + 0.5),
                    to_uint8((r.recon_image[i] / 2 + 0.5) * m),
                    to_uint8(depth_tile(r.recon_depth[i], c.min_depth, c.max_depth, m)),
                    to_uint8(normal_tile(self.model.renderer.normals(r.recon_depth)[i], m)),
                    to_uint8(f.albedo[i] / 2 + 0.5),
                    to_uint8(side[i]),
                ]
            )
        self.model.train()
        return grid(rows)


def supervised_terms(
    f: ProxyFactors,
    batch: dict[str, Tensor],
    lam_depth: float,
    lam_view: float,
    far: float = 1.1,
) -> tuple[Tensor, dict[str, float]]:
    """The supervised terms on synthetic data with exact factors: ``lam_depth`` x the L1 of the
    canonical depth f.depth (B, S, S) against its target, in units of 0.01, plus ``lam_view``
    x the L1 of the rotation f.view[:, :3] against ``batch["view"][:, :3]`` (radians).
    -> (scalar, logs).

    The depth target is ``batch["canon_depth"]`` inside ``batch["canon_mask"]`` (B, S, S);
    outside it the depth must lie at ``far`` or beyond (a hinge: only surroundings nearer than
    ``far`` cost, by how much); the term is the mean of the two parts' per-image means.
    Supervising the face alone let the unsupervised surroundings rise in front of the face
    and hide it once posed (run S1, docs/MEASUREMENTS.md "Synth version 2"); an L1 to the
    range's far end itself never reached 0, as the depth's tanh never gets there."""
    dev = f.depth.device
    total = f.depth.new_zeros(())
    logs: dict[str, float] = {}
    if lam_depth > 0:
        m = batch["canon_mask"].to(dev).float()
        err = (f.depth - batch["canon_depth"].to(dev)).abs()
        off = (far - f.depth).clamp(min=0)
        face, rest = masked_mean(err, m) * 100, masked_mean(off, 1 - m) * 100
        d = (face + rest) / 2
        total = total + lam_depth * d
        logs.update(depth_sup=face.item(), depth_sup_off=rest.item())
    if lam_view > 0:
        v = (f.view[:, :3] - batch["view"][:, :3].to(dev)).abs().mean()
        total = total + lam_view * v
        logs["view_sup"] = v.item()
    return total, logs


def plain_photometric_l1(model: Proxy, image: Tensor, lam_flip: float) -> Tensor:
    """Masked L1 of the reconstruction plus ``lam_flip`` times that of the flipped one,
    without the confidence maps: image (B, 3, S, S) in [-1, 1] -> scalar."""
    b = image.shape[0]
    r = model.render(model.factors(image), flip=True)
    mask = r.recon_mask[:b] * r.recon_mask[b:]
    l1 = photometric_nll(r.recon_image[:b], image, None, mask)
    return l1 + lam_flip * photometric_nll(r.recon_image[b:], image, None, mask)


@dataclass(frozen=True)
class GainRefit:
    """Result of :func:`refit_basrelief_gain`: the chosen change of the log gain, the loss
    before and after, and the scanned curve [(log offset, loss), ...]."""

    offset: float
    loss_before: float
    loss_after: float
    curve: list[tuple[float, float]]


@torch.no_grad()
def refit_basrelief_gain(
    model: Proxy,
    images: list[Tensor],
    lam_flip: float,
    reduce_mean: Callable[[dict[str, float]], dict[str, float]] = lambda d: d,
    span: float = 0.3,
    points: int = 13,
) -> GainRefit:
    """Move the bas-relief gain g, nets frozen, to the minimum of the plain photometric L1
    (:func:`plain_photometric_l1`) along its family: relief / exp(t), pitch, yaw and lateral
    light x exp(t), for t on a grid of ``points`` over [-span, span], refined by a parabola
    through the best grid point and its neighbours (kept only if it scores lower still).

    During training the gain's gradient is swamped by the nets' own steps, and the confidence
    maps are co-adapted with the current gain (they favour it), so neither the training loss
    nor the trained gain marks the family's photometric optimum (docs/proxy.md). ``images``:
    list of (B, 3, S, S) in [-1, 1]; ``reduce_mean`` averages {name: float} over ranks, so all
    ranks choose the same t. The model's gain is left at the chosen value.
    """
    br = model.basrelief
    if br is None:
        raise ValueError("the model has no bas-relief gain (model.basrelief_gain = false)")
    if not images or points < 3 or span <= 0:
        raise ValueError("need images, points >= 3 and span > 0")
    g0 = br.log_gain.detach().clone()

    def loss_at(t: float) -> float:
        br.log_gain.copy_(g0 + t)
        vals = [plain_photometric_l1(model, x, lam_flip).item() for x in images]
        return reduce_mean({"l1": sum(vals) / len(vals)})["l1"]

    grid_t = [span * (2 * i / (points - 1) - 1) for i in range(points)]
    curve = [(t, loss_at(t)) for t in grid_t]
    before = curve[points // 2][1] if points % 2 else loss_at(0.0)  # odd: t = 0 is on the grid
    i = min(range(points), key=lambda j: curve[j][1])
    best_t, best_l = curve[i]
    if 0 < i < points - 1:
        (_, lm), (_, lp) = curve[i - 1], curve[i + 1]
        curvature = lm - 2 * best_l + lp
        if curvature > 0:
            h = grid_t[1] - grid_t[0]
            t = best_t + 0.5 * h * (lm - lp) / curvature
            lt = loss_at(t)
            if lt < best_l:
                best_t, best_l = t, lt
    if before <= best_l:
        best_t, best_l = 0.0, before
    br.log_gain.copy_(g0 + best_t)
    return GainRefit(offset=best_t, loss_before=before, loss_after=best_l, curve=curve)


def side_view(model: Proxy, f: ProxyFactors, yaw_deg: float = -50.0) -> Tensor:
    """Grey shaded canonical shape seen from ``yaw_deg``: (B, 3, S, S) in [0, 1]."""
    b = f.depth.shape[0]
    dev = f.depth.device
    light = Light(
        ambient=torch.full((b,), 0.3, device=dev),
        diffuse=torch.full((b,), 0.7, device=dev),
        direction=torch.tensor([[0.0, 0.0, 1.0]], device=dev).repeat(b, 1),
    )
    grey = torch.full_like(f.albedo, 0.4)
    img, _ = shade(grey, model.renderer.normals(f.depth), light)
    view = torch.zeros(b, 6, device=dev)
    view[:, 1] = math.radians(yaw_deg)
    out = model.renderer.render(img, f.depth, view)
    return (out.image / 2 + 0.5) * out.mask
