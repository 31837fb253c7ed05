"""Training stage of l2r's own StyleGAN2 face prior (the generator the ARN decodes through and
the discriminator of its adversarial loss, paper sec. 4), trained on a dataset's ground-truth
images with StyleGAN2's recipe (Karras et al. 2020, "Analyzing and Improving the Image Quality
of StyleGAN": sec. 3.1 lazy regularisation, 3.2 path length; the rest as its official code):

* non-saturating logistic loss: D minimises softplus(D(G(z))) + softplus(-D(x)), G minimises
  softplus(-D(G(z)));
* lazy R1 on reals every ``d_reg_every`` steps, gamma/2 * E|grad_x D(x)|^2 times the interval,
  with Adam's lr and betas corrected by c = k / (k + 1) for the interval k;
* optional lazy path-length regularisation (off by default), the same correction for G;
* style mixing with probability ``mixing_prob``; an exponential moving average ``g_ema`` of G
  with a half-life in images (and StyleGAN2-ADA's optional ramp-up).

Also here: the per-epoch quality readout, improved precision and recall (Kynkaanniemi et al.
2019, k-NN manifolds) in a cheap feature space, and the export of ``prior.pt`` in rosinality's
layout, which :func:`l2r_cli.models.stylegan2_io.load_stylegan2` reads like official weights.
"""

from __future__ import annotations

import copy
import math
from collections.abc import Callable, Sequence
from pathlib import Path

import numpy as np
import torch
import torch.distributed as tdist
import torch.nn.functional as F
from torch import Tensor, nn
from torch.utils.data import Dataset

from l2r_cli.config import PriorModelConfig, PriorRunConfig
from l2r_cli.console import notice_once
from l2r_cli.data.dataset import DatasetInfo, L2RDataset
from l2r_cli.errors import L2RError
from l2r_cli.losses import gan_d_loss, gan_g_loss, r1_penalty
from l2r_cli.models.stylegan2 import (
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    default_channels,
)
from l2r_cli.models.stylegan2_io import save_stylegan2
from l2r_cli.stages.base import Stage
from l2r_cli.stages.proxy import make_adam
from l2r_cli.viz import grid, to_uint8

PRIOR_FILE = "prior.pt"
"""Name of the exported prior (rosinality layout) inside the run directory."""

FEATURES = ("pixels", "randconv")
"""Feature spaces of the quality readout."""

LATENT_AVG_SAMPLES = 4096
"""z samples averaged (through the mapping) into the exported ``latent_avg``."""

GRID_COLUMNS = 8
"""Images per row of the sample grid."""


# ----------------------------------------------------------------------------- config


def model_configs(cfg: PriorModelConfig) -> tuple[GeneratorConfig, DiscriminatorConfig]:
    """Generator and discriminator architectures of a prior config (shared widths)."""
    channels = None
    if cfg.max_channels > 0:
        table = default_channels(cfg.size, cfg.channel_multiplier)
        channels = {r: min(c, cfg.max_channels) for r, c in table.items()}
    g = GeneratorConfig(
        size=cfg.size,
        style_dim=cfg.style_dim,
        n_mlp=cfg.n_mlp,
        channel_multiplier=cfg.channel_multiplier,
        channels=channels,
        lr_mlp=cfg.lr_mlp,
    )
    d = DiscriminatorConfig(
        size=cfg.size,
        channel_multiplier=cfg.channel_multiplier,
        channels=channels,
        stddev_group=cfg.mbstd_group,
    )
    return g, d


def check_prior_config(cfg: PriorRunConfig) -> None:
    """Every value the prior stage cannot train with, as a one-line L2RError."""
    m, lo, o, e = cfg.model, cfg.loss, cfg.optim, cfg.eval
    s = m.size
    if s < 8 or s & (s - 1):
        raise L2RError(f"model.size (--size) must be a power of two >= 8, got {s}")
    rules = [
        (m.style_dim >= 1, "model.style_dim", m.style_dim, ">= 1"),
        (m.n_mlp >= 1, "model.n_mlp", m.n_mlp, ">= 1"),
        (m.channel_multiplier >= 1, "model.channel_multiplier", m.channel_multiplier, ">= 1"),
        (m.max_channels >= 0, "model.max_channels", m.max_channels, ">= 0 (0 = no cap)"),
        (m.lr_mlp > 0, "model.lr_mlp", m.lr_mlp, "> 0"),
        (m.mbstd_group >= 1, "model.mbstd_group", m.mbstd_group, ">= 1"),
        (lo.r1_gamma >= 0, "loss.r1_gamma", lo.r1_gamma, ">= 0"),
        (lo.d_reg_every >= 1, "loss.d_reg_every", lo.d_reg_every, ">= 1"),
        (lo.pl_weight >= 0, "loss.pl_weight", lo.pl_weight, ">= 0"),
        (lo.g_reg_every >= 1, "loss.g_reg_every", lo.g_reg_every, ">= 1"),
        (lo.pl_batch_shrink >= 1, "loss.pl_batch_shrink", lo.pl_batch_shrink, ">= 1"),
        (0 <= lo.pl_decay <= 1, "loss.pl_decay", lo.pl_decay, "in [0, 1]"),
        (0 <= lo.mixing_prob <= 1, "loss.mixing_prob", lo.mixing_prob, "in [0, 1]"),
        (o.lr > 0, "optim.lr", o.lr, "> 0"),
        (0 <= o.beta1 < 1, "optim.beta1", o.beta1, "in [0, 1)"),
        (0 <= o.beta2 < 1, "optim.beta2", o.beta2, "in [0, 1)"),
        (o.ema_kimg >= 0, "optim.ema_kimg", o.ema_kimg, ">= 0 (0 = g_ema is g)"),
        (o.ema_rampup >= 0, "optim.ema_rampup", o.ema_rampup, ">= 0 (0 = off)"),
        (e.k >= 1, "eval.k", e.k, ">= 1"),
        (e.n_images == 0 or e.n_images > e.k, "eval.n_images", e.n_images, "0 or > eval.k"),
        (e.features in FEATURES, "eval.features", e.features, f"one of {', '.join(FEATURES)}"),
        (e.samples >= 1, "eval.samples", e.samples, ">= 1"),
        (cfg.train.input == "image", "train.input", cfg.train.input, "'image' (ground truth)"),
    ]
    for ok, key, value, want in rules:
        if not ok:
            raise L2RError(f"{key} must be {want}, got {value!r}")


def heldout_split(splits: Sequence[str]) -> str:
    """The split the quality readout compares with: 'val', else 'test'."""
    for name in ("val", "test"):
        if name in splits:
            return name
    raise L2RError(
        "the dataset has neither a 'val' nor a 'test' split for the per-epoch quality readout; "
        "add one, or pass --eval-images 0"
    )


# ----------------------------------------------------------------------------- metric


def knn_radii(feats: Tensor, k: int) -> Tensor:
    """Distance of each point to its k-th nearest neighbour in the same set (itself excluded):
    feats (N, F) -> (N,). Duplicates count as neighbours at distance 0."""
    n = feats.shape[0]
    if not 1 <= k < n:
        raise ValueError(f"k must be in [1, {n - 1}] for {n} points, got {k}")
    d = torch.cdist(feats.double(), feats.double())  # (N, N), zero diagonal
    return d.kthvalue(k + 1, dim=1).values  # the 1st smallest is the point itself


def precision_recall(real: Tensor, fake: Tensor, k: int = 3) -> tuple[float, float]:
    """Improved precision and recall (Kynkaanniemi et al. 2019) of feature sets
    real (N, F) and fake (M, F).

    Each set's manifold is the union of balls around its points with radius the distance to
    the k-th nearest neighbour. precision = share of fake points inside the real manifold
    (quality); recall = share of real points inside the fake manifold (coverage).
    """
    if real.ndim != 2 or fake.ndim != 2 or real.shape[1] != fake.shape[1]:
        raise ValueError(f"need (N, F) and (M, F), got {tuple(real.shape)}, {tuple(fake.shape)}")
    r_real, r_fake = knn_radii(real, k), knn_radii(fake, k)
    d = torch.cdist(fake.double(), real.double())  # (M, N)
    precision = (d <= r_real[None, :]).any(dim=1).double().mean()
    recall = (d.T <= r_fake[None, :]).any(dim=1).double().mean()
    return float(precision), float(recall)


def pixel_features(images: Tensor) -> Tensor:
    """images (B, 3, S, S) in [-1, 1] -> area averages on a 16x16 grid, flattened (B, 768)
    (S x S when S < 16)."""
    side = min(16, images.shape[-1])
    return F.adaptive_avg_pool2d(images, side).flatten(1)


class RandomConvFeatures:
    """Three fixed random 3x3 stride-2 convs (3 -> 32 -> 64 -> 128, leaky ReLU), average
    pooled to 4x4: images (B, 3, S, S) -> (B, 2048). The weights come from their own
    generator seeded with ``seed``, so they are the same in every run and process."""

    def __init__(self, seed: int = 0) -> None:
        g = torch.Generator().manual_seed(seed)
        widths = (3, 32, 64, 128)
        self.weights = [
            torch.randn(cout, cin, 3, 3, generator=g) / math.sqrt(cin * 9)
            for cin, cout in zip(widths[:-1], widths[1:], strict=True)
        ]

    def __call__(self, images: Tensor) -> Tensor:
        x = images
        for w in self.weights:  # S -> S/2 per conv
            x = F.leaky_relu(F.conv2d(x, w.to(x), stride=2, padding=1), 0.2)
        return F.adaptive_avg_pool2d(x, min(4, x.shape[-1])).flatten(1)


def feature_fn(name: str, seed: int = 0) -> Callable[[Tensor], Tensor]:
    """The readout's feature map by name ('pixels' or 'randconv')."""
    if name == "pixels":
        return pixel_features
    if name == "randconv":
        return RandomConvFeatures(seed)
    raise L2RError(f"eval.features must be one of {', '.join(FEATURES)}, got {name!r}")


# ----------------------------------------------------------------------------- helpers


def ema_beta(images_seen: int, batch: int, ema_kimg: float, ema_rampup: float) -> float:
    """Per-step EMA decay for a half-life of ``ema_kimg`` thousand images, the half-life
    capped at ``ema_rampup * images_seen`` when the ramp-up is on."""
    half_life = ema_kimg * 1000.0
    if ema_rampup > 0:
        half_life = min(half_life, images_seen * ema_rampup)
    return 0.5 ** (batch / half_life) if half_life > 0 else 0.0


def path_lengths(images: Tensor, wplus: Tensor, y: Tensor) -> Tensor:
    """|J_w^T y| per image, the length StyleGAN2's path-length term holds constant (sec. 3.2):
    images (B, 3, S, S) computed from wplus (B, L, D), y (B, 3, S, S) -> (B,).

    The squared length is summed over D and averaged over the L per-layer latents, as in the
    official code. Differentiable (create_graph) so the penalty can be trained on; the images
    must not mix samples (a generator's outputs do not), so one backward gives every row."""
    (grad,) = torch.autograd.grad((images * y).sum(), wplus, create_graph=True)
    return grad.pow(2).sum(2).mean(1).sqrt()


def _requires_grad(module: nn.Module, flag: bool) -> None:
    for p in module.parameters():
        p.requires_grad_(flag)


def _mean_over_ranks(x: Tensor) -> Tensor:
    """The mean of a scalar tensor over torchrun ranks (itself in a single process)."""
    if tdist.is_available() and tdist.is_initialized() and tdist.get_world_size() > 1:
        x = x.clone()
        tdist.all_reduce(x)
        x /= tdist.get_world_size()
    return x


class _Synthesis(nn.Module):
    """G's training forward, one module so DDP sees the whole of it: z (K, B, style_dim) with
    K = 1, or K = 2 mixed at latent row ``cutoff`` -> (image (B, 3, S, S), w+ (B, L, D)).

    w+ is returned for the path-length term, which differentiates the image w.r.t. it."""

    def __init__(self, g: Generator) -> None:
        super().__init__()
        self.g = g

    def forward(self, z: Tensor, cutoff: int) -> tuple[Tensor, Tensor]:
        k, b, dim = z.shape
        n = self.g.n_latent
        w = self.g.mapping(z.reshape(k * b, dim)).reshape(k, b, 1, dim)
        if k == 1:
            wplus = w[0].repeat(1, n, 1)
        else:  # rows [0, cutoff) from the first latent, the rest from the second
            wplus = torch.cat([w[0].repeat(1, cutoff, 1), w[1].repeat(1, n - cutoff, 1)], dim=1)
        return self.g.synthesis(wplus, noise="random"), wplus


class _RegState(nn.Module):
    """Training state that is not a weight but must survive a resume, as scalar buffers:
    ``step`` (steps done: drives the lazy-regularisation schedule), ``pl_mean`` (running mean
    path length a), ``r1`` and ``pl`` (the latest penalties, logged every step)."""

    def __init__(self) -> None:
        super().__init__()
        self.register_buffer("step", torch.zeros((), dtype=torch.int64))
        self.register_buffer("pl_mean", torch.zeros(()))
        self.register_buffer("r1", torch.zeros(()))
        self.register_buffer("pl", torch.zeros(()))


# ----------------------------------------------------------------------------- stage


class PriorStage(Stage):
    """Trains a StyleGAN2 (G, D, g_ema) on ground-truth images ``image: (B, 3, S, S)`` in
    [0, 1]; ``heldout`` (a dataset of the same images, e.g. the val split) feeds the readout."""

    kind = "prior"

    @classmethod
    def prepare(cls, cfg: PriorRunConfig, info: DatasetInfo) -> PriorRunConfig:
        """Refuse a config or dataset the prior cannot train with, before any process
        starts (the quality readout needs more held-out images than ``eval.k``)."""
        check_prior_config(cfg)
        if cfg.model.size > info.image_size:
            notice_once(
                "prior-upsampled",
                f"the dataset's images are {info.image_size}x{info.image_size}: they are "
                f"upsampled to --size {cfg.model.size}, so the prior cannot learn finer detail "
                "than they hold",
            )
        if cfg.eval.n_images == 0:
            return cfg
        split = heldout_split([s for s, sp in info.splits.items() if sp.n > 0])
        n = min(cfg.eval.n_images, info.splits[split].n)
        if n <= cfg.eval.k:
            raise L2RError(
                f"{info.root}: the quality readout compares {n} '{split}' images, it needs more "
                f"than eval.k = {cfg.eval.k}; add images, lower eval.k or pass --eval-images 0"
            )
        return cfg

    @classmethod
    def create(
        cls, cfg: PriorRunConfig, device: torch.device, data: Path, info: DatasetInfo
    ) -> tuple[PriorStage, L2RDataset]:
        """The prior stage (with the held-out split of the readout, when it is on) and the
        train split's ground-truth images at ``model.size``."""
        size = cfg.model.size
        dataset = L2RDataset(data, "train", fields=("image",), image_size=size)
        held = None
        if cfg.eval.n_images != 0:
            split = heldout_split([s for s, sp in info.splits.items() if sp.n > 0])
            held = L2RDataset(data, split, fields=("image",), image_size=size)
        return cls(cfg, device, heldout=held), dataset

    def __init__(
        self, cfg: PriorRunConfig, device: torch.device, heldout: Dataset | None = None
    ) -> None:
        super().__init__()
        check_prior_config(cfg)
        self.cfg = cfg
        self.device = device
        gcfg, dcfg = model_configs(cfg.model)
        self.g = Generator(gcfg).to(device)
        self.d = Discriminator(dcfg).to(device)
        self.g_ema = copy.deepcopy(self.g).eval()
        _requires_grad(self.g_ema, False)
        self.state = _RegState().to(device)
        self.nets = nn.ModuleDict(
            {"g": self.g, "d": self.d, "g_ema": self.g_ema, "state": self.state}
        )
        lo, o = cfg.loss, cfg.optim

        def adam(params, reg_every: int, regularised: bool) -> torch.optim.Optimizer:
            # Lazy regularisation takes an extra optimizer step every k steps; scaling lr and
            # betas by c = k / (k + 1) keeps Adam's effective schedule (as StyleGAN2's code).
            c = reg_every / (reg_every + 1) if regularised else 1.0
            return make_adam(params, o.lr * c, (o.beta1**c, o.beta2**c), 0.0, device)

        self._opt_g = adam(self.g.parameters(), lo.g_reg_every, lo.pl_weight > 0)
        self._opt_d = adam(self.d.parameters(), lo.d_reg_every, lo.r1_gamma > 0)
        self._synth = _Synthesis(self.g)
        self.fwd = {"synth": self._synth, "d": self.d}
        self.heldout = heldout
        self._features = feature_fn(cfg.eval.features, cfg.eval.seed)
        self._real_features: Tensor | None = None

    # -- Stage protocol

    def optimizers(self) -> dict[str, torch.optim.Optimizer]:
        """Adam for G and Adam for D."""
        return {"g": self._opt_g, "d": self._opt_d}

    def wrap(self, fn: Callable[[nn.Module], nn.Module]) -> None:
        """DDP-wrap G's training forward and D. The G step reads D bare (its parameters are
        frozen then) and the D step generates with G bare under no_grad, so every wrapped
        module's forward is followed by a backward that reaches all its parameters."""
        self.fwd = {"synth": fn(self._synth), "d": fn(self.d)}

    def _z(self, batch: int) -> tuple[Tensor, int]:
        """Latents (K, batch, style_dim) and the mixing cutoff (torch RNG: restored on resume)."""
        n = self.g.n_latent
        mix = float(torch.rand(())) < self.cfg.loss.mixing_prob
        cutoff = int(torch.randint(1, n, ())) if mix else n
        z = torch.randn(2 if mix else 1, batch, self.g.style_dim, device=self.device)
        return z, cutoff

    def train_step(self, batch: dict[str, Tensor]) -> dict[str, float]:
        """One D step (+ lazy R1), one G step (+ lazy path length), one EMA update."""
        lo = self.cfg.loss
        real = batch["image"] * 2 - 1  # (B, 3, S, S) in [-1, 1]
        b = real.shape[0]
        i = int(self.state.step)
        synth, d = self.fwd["synth"], self.fwd["d"]

        # -- D: softplus(D(fake)) + softplus(-D(real))
        with torch.no_grad():
            fake, _ = self._synth(*self._z(b))
        fake_pred, real_pred = d(fake), d(real)
        d_loss = gan_d_loss(real_pred, fake_pred)
        self._opt_d.zero_grad(set_to_none=True)
        d_loss.backward()
        self._opt_d.step()

        if lo.r1_gamma > 0 and i % lo.d_reg_every == 0:
            x = real.detach().requires_grad_(True)
            pred = d(x)
            r1 = r1_penalty(pred, x)
            # 0 * pred keeps D's last bias in the graph, which DDP needs to see every step.
            loss = lo.r1_gamma / 2 * r1 * lo.d_reg_every + 0 * pred[0, 0]
            self._opt_d.zero_grad(set_to_none=True)
            loss.backward()
            self._opt_d.step()
            self.state.r1.fill_(r1.detach())

        # -- G: softplus(-D(G(z)))
        _requires_grad(self.d, False)
        try:
            fake, _ = synth(*self._z(b))
            g_loss = gan_g_loss(self.d(fake))
            self._opt_g.zero_grad(set_to_none=True)
            g_loss.backward()
            self._opt_g.step()
        finally:
            _requires_grad(self.d, True)

        if lo.pl_weight > 0 and i % lo.g_reg_every == 0:
            self._path_length_step(synth, max(1, b // lo.pl_batch_shrink))

        self._update_ema(i + 1)
        self.state.step.add_(1)
        logs = {
            "loss": d_loss.item() + g_loss.item(),
            "d": d_loss.item(),
            "g": g_loss.item(),
            "real_logit": real_pred.mean().item(),
            "fake_logit": fake_pred.mean().item(),
        }
        if lo.r1_gamma > 0:
            logs["r1"] = float(self.state.r1)
        if lo.pl_weight > 0:
            logs.update(pl=float(self.state.pl), pl_mean=float(self.state.pl_mean))
        return logs

    def _path_length_step(self, synth: nn.Module, n: int) -> None:
        """Lazy path-length regularisation (StyleGAN2 sec. 3.2): for y ~ N(0, I) / S,
        |J_w^T y| per image should stay at its running mean a."""
        lo = self.cfg.loss
        fake, wplus = synth(*self._z(n))
        y = torch.randn_like(fake) / math.sqrt(fake.shape[2] * fake.shape[3])
        lengths = path_lengths(fake, wplus, y)  # (n,)
        # One running mean for all ranks: each rank's batch is a sample of the same quantity.
        batch_mean = _mean_over_ranks(lengths.mean().detach())
        a = self.state.pl_mean + lo.pl_decay * (batch_mean - self.state.pl_mean)
        penalty = (lengths - a).pow(2).mean()
        loss = lo.pl_weight * lo.g_reg_every * penalty + 0 * fake[0, 0, 0, 0]
        self._opt_g.zero_grad(set_to_none=True)
        loss.backward()
        self._opt_g.step()
        self.state.pl_mean.copy_(a)
        self.state.pl.fill_(penalty.detach())

    @torch.no_grad()
    def _update_ema(self, steps_done: int) -> None:
        """g_ema <- beta g_ema + (1 - beta) g; buffers (the fixed noise maps) are copied."""
        o, batch = self.cfg.optim, self.cfg.train.batch_size  # the global batch
        beta = ema_beta(steps_done * batch, batch, o.ema_kimg, o.ema_rampup)
        for pe, p in zip(self.g_ema.parameters(), self.g.parameters(), strict=True):
            pe.lerp_(p, 1.0 - beta)
        for be, bg in zip(self.g_ema.buffers(), self.g.buffers(), strict=True):
            be.copy_(bg)

    # -- outputs

    def _fixed_latents(self, n: int, seed: int) -> tuple[Tensor, list[Tensor]]:
        """z (n, style_dim) and one noise map per layer (n, 1, r, r) from their own generator
        (never the global RNG), so grids and readouts are the same in resumed runs."""
        gen = torch.Generator().manual_seed(seed)
        z = torch.randn(n, self.g_ema.style_dim, generator=gen)
        noise = [
            torch.randn(n, 1, t.shape[-2], t.shape[-1], generator=gen)
            for t in self.g_ema.stored_noise()
        ]
        return z.to(self.device), [t.to(self.device) for t in noise]

    @torch.no_grad()
    def samples(self, n: int, seed: int, chunk: int = 64) -> Tensor:
        """n g_ema images from fixed latents and noise: (n, 3, S, S) clamped to [-1, 1]."""
        z, noise = self._fixed_latents(n, seed)
        out = []
        for lo in range(0, n, chunk):
            sl = slice(lo, lo + chunk)
            img = self.g_ema.synthesis(self.g_ema.mapping(z[sl]), noise=[t[sl] for t in noise])
            out.append(img.clamp(-1, 1))
        return torch.cat(out)

    @torch.no_grad()
    def panel(self, batch: dict[str, Tensor]) -> np.ndarray:
        """The sample grid: a row of training images, then ``eval.samples`` g_ema images at
        fixed z (the same every epoch), 8 per row; tiles upscaled to >= 64 px."""
        real = batch["image"][:GRID_COLUMNS]  # (<=8, 3, S, S) in [0, 1]
        fake = self.samples(self.cfg.eval.samples, self.cfg.eval.seed) / 2 + 0.5
        s = real.shape[-1]
        if s < 64:  # nearest: every generated pixel stays visible
            up = 64 // s
            real = F.interpolate(real, scale_factor=up, mode="nearest")
            fake = F.interpolate(fake, scale_factor=up, mode="nearest")
        rows = [[to_uint8(x) for x in real]]
        for lo in range(0, fake.shape[0], GRID_COLUMNS):
            rows.append([to_uint8(x) for x in fake[lo : lo + GRID_COLUMNS]])
        return grid(rows)

    def export(self, run_dir: str | Path) -> Path:
        """Write ``run_dir/prior.pt``: {'g_ema', 'd', 'latent_avg'} in rosinality's layout."""
        gen = torch.Generator().manual_seed(self.cfg.eval.seed)
        latent_avg = self.g_ema.mean_latent(LATENT_AVG_SAMPLES, generator=gen)
        path = Path(run_dir) / PRIOR_FILE
        save_stylegan2(path, self.g_ema, self.d, latent_avg)
        return path

    def _heldout_features(self) -> Tensor:
        """Features of ``eval.n_images`` held-out images spread evenly over the split."""
        if self._real_features is None:
            assert self.heldout is not None
            n_all = len(self.heldout)  # type: ignore[arg-type]
            n = min(self.cfg.eval.n_images, n_all)
            idx = torch.linspace(0, n_all - 1, n).round().long().unique().tolist()
            feats = []
            for lo in range(0, len(idx), 64):
                imgs = torch.stack([self.heldout[j]["image"] for j in idx[lo : lo + 64]])
                feats.append(self._features(imgs.to(self.device) * 2 - 1).cpu())
            self._real_features = torch.cat(feats)
        return self._real_features

    def evaluate(self) -> dict[str, float | int]:
        """Improved precision and recall of N g_ema images (fixed latents) against N held-out
        images, in the ``eval.features`` space; {} when the readout is off."""
        ec = self.cfg.eval
        if ec.n_images == 0 or self.heldout is None:
            return {}
        real = self._heldout_features()
        n = real.shape[0]
        if n <= ec.k:
            return {}
        fake = self._features(self.samples(n, ec.seed + 1)).cpu()
        precision, recall = precision_recall(real, fake, ec.k)
        return {"precision": precision, "recall": recall, "n": n}
