"""Loading trained checkpoints for inference, and the forward pieces inference shares with
training: the ARN's re-render through the proxy's geometry (paper sec. 4.1), the GRN's
conditioning and the render of the refined surface of eqn. (5) (sec. 4.2), and the
proxy + ARN + GRN (+ mutual view and light nets, sec. 4.3) model with its ``predict``.

:func:`load_model` reads any stage's checkpoint ('proxy', 'arn', 'grn', 'mutual') into a
:class:`LoadedModel`; the per-kind loaders below it re-read the files a checkpoint names (its
proxy, prior, ARN, GRN) from the recorded paths and check their SHA-256 hashes.

Import direction: ``l2r_cli.stages`` imports from here; this module never imports the stages, so
loading a model for ``l2r reconstruct`` or a benchmark does not pull in training code.
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2r_cli.config import (
    ArnRunConfig,
    GrnModelConfig,
    GrnRunConfig,
    MutualRunConfig,
    ProxyModelConfig,
    from_dict,
)
from l2r_cli.engine.checkpoint import load_checkpoint
from l2r_cli.engine.registry import model_kinds, resolve_ref, stage_spec
from l2r_cli.errors import L2RError
from l2r_cli.fileio import file_sha256
from l2r_cli.models.arn import ARN, ArnConfig
from l2r_cli.models.grn import GRN, GrnConfig, GrnOutput, refine_surface
from l2r_cli.models.proxy import Proxy, ProxyFactors, ProxyRender, render_canonical
from l2r_cli.models.stylegan2 import Generator
from l2r_cli.models.stylegan2_io import load_stylegan2
from l2r_cli.render import Light, Renderer, normals_from_depth, shade
from l2r_cli.render.shading import normals_from_points

#: Checkpoint kinds that hold a model to run: the registered stages with a loader ('proxy',
#: 'arn', 'grn', 'mutual'; 'prior' holds only a prior).
MODEL_KINDS = model_kinds()

_GEN = "arn.generator."

#: Config key of a self-contained file written by ``l2r export-weights`` from a 'grn' or
#: 'mutual' run (docs/weights.md): the architectures and every net's weights are in the file,
#: the proxy too unless it is the bundled one (then named by its SHA-256).
EXPORT_KEY = "export"


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


def load_frozen_proxy(
    path: str | Path, device: torch.device | str, ckpt: dict[str, Any] | None = None
) -> Proxy:
    """The proxy of a 'proxy' checkpoint, frozen and in eval mode (one-line error otherwise).
    ``ckpt``: the file's contents when the caller has already loaded it (kind checked)."""
    ckpt = ckpt or load_checkpoint(path, expect_kind="proxy")
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


@dataclass(frozen=True)
class RefinedRender:
    """Renders of the refined face, stacked [normal; flipped] (2B, ...) or (B, ...).

    points: (., O, O, 3) the surface of eqn. (5) in canonical camera space;
    canon_normal: (., O, O, 3); canon_image: (., 3, O, O) shaded albedo in [-1, 1];
    recon_image: (., 3, O, O) in the view; recon_depth: (., O, O); recon_mask: (., 1, O, O).
    """

    points: Tensor
    canon_normal: Tensor
    canon_image: Tensor
    recon_image: Tensor
    recon_depth: Tensor
    recon_mask: Tensor


def render_refined(
    renderer: Renderer, g: GrnOutput, albedo: Tensor, light: Light, view: Tensor, flip: bool
) -> RefinedRender:
    """Shade the refined surface of ``g`` with ``albedo`` (B, 3, O, O) under ``light`` and render
    it into ``view`` (B, 6) with a renderer of size O, and its horizontal flip when ``flip``
    (depth, displacement and albedo mirrored; m keeps its channels, since m * n mirrors with n)."""
    d, m = g.depth, g.displacement
    if flip:
        d = torch.cat([d, d.flip(2)], 0)
        m = torch.cat([m, m.flip(2)], 0)
        albedo = torch.cat([albedo, albedo.flip(3)], 0)
        light = light.repeat(2)
        view = view.repeat(2, 1)
    points = refine_surface(d, m, renderer.K)
    normal = normals_from_points(points)
    canon_image, _ = shade(albedo, normal, light)
    out = renderer.render_points(canon_image, points, view)
    return RefinedRender(points, normal, canon_image, out.image, out.depth, out.mask)


@torch.no_grad()
def proxy_conditioning(proxy: Proxy, f: ProxyFactors, size: int) -> tuple[Tensor, Tensor]:
    """The proxy's inputs to the GRN at the output size: the normal of its depth seen from the
    input view, n_o (B, O, O, 3), and its canonical depth (B, O, O) (bilinear upsampling)."""
    r = proxy.render(f, flip=False)
    normal = proxy.renderer.normals(r.recon_depth)
    if normal.shape[1] != size:
        normal = F.interpolate(normal.permute(0, 3, 1, 2), size=(size, size), mode="bilinear")
        normal = F.normalize(normal, dim=1).permute(0, 2, 3, 1)
    depth, _ = upsample_factors(f, size)
    return normal, depth


def grn_config(m: GrnModelConfig, size: int, proxy: Proxy) -> GrnConfig:
    """The GRN of a stage config at output size ``size``, with the proxy's depth range."""
    c = proxy.cfg
    return GrnConfig(size, c.min_depth, c.max_depth, proxy.border_depth, arch=m)


@dataclass
class RefinedModel:
    """A trained proxy + ARN + GRN (+ mutual learning's own view and light nets), for inference.

    ``view_net``/``light_net``: the mutual stage's trained copies (None = the proxy's)."""

    proxy: Proxy
    arn: ARN
    grn: GRN
    view_net: nn.Module | None = None
    light_net: nn.Module | None = None
    prior: str = ""
    """The StyleGAN2 file the ARN was built from (its discriminator may start mutual learning)."""

    @property
    def out_size(self) -> int:
        """O: the size of the restored albedo and of the refined depth."""
        return self.grn.cfg.size

    def light_view(self, lq_s: Tensor, f: ProxyFactors) -> tuple[Light, Tensor]:
        """The light and view used for rendering: the mutual nets' when present."""
        if self.view_net is None or self.light_net is None:
            return f.light, f.view
        gain = self.proxy.basrelief() if self.proxy.basrelief is not None else None
        view, light = self.proxy.pose_from_raw(self.view_net(lq_s), self.light_net(lq_s), gain)
        return light, view

    @torch.no_grad()
    def predict(self, image: Tensor) -> dict[str, Tensor]:
        """image: (B, 3, O, O) in [-1, 1] (a degraded input upsampled to O) -> depth and normals
        in the input view (B, O, O) / (B, O, O, 3), mask (B, O, O), canonical depth (pure and
        refined), displacement, restored albedo, view, light (B, 5: ambient, diffuse, direction)."""
        o, s = self.out_size, self.proxy.cfg.image_size
        if image.dim() != 4 or image.shape[1:] != (3, o, o):
            raise ValueError(f"image must be (B, 3, {o}, {o}), got {tuple(image.shape)}")
        lq_s = image
        if s != o:
            lq_s = F.interpolate(image, size=(s, s), mode="bilinear", antialias=True)
        f = self.proxy.factors(lq_s)
        normal_o, depth_o = proxy_conditioning(self.proxy, f, o)
        albedo = self.arn(lq_s, f.albedo)
        g = self.grn(image, normal_o, albedo, depth_o)
        light, view = self.light_view(lq_s, f)
        renderer = output_renderer(self.proxy, o, image.device)
        r = render_refined(renderer, g, albedo, light, view, flip=False)
        return {
            "depth": r.recon_depth,
            "normal": normals_from_depth(r.recon_depth, renderer.K),
            "mask": r.recon_mask[:, 0],
            "recon_image": r.recon_image,
            "canon_depth": g.depth,
            "canon_points": r.points,
            "displacement": g.displacement,
            "canon_albedo": albedo,
            "canon_normal": r.canon_normal,
            "view": view,
            "light": torch.cat(
                [light.ambient[:, None], light.diffuse[:, None], light.direction],
                1,
            ),
        }

    def eval(self) -> RefinedModel:
        """Eval mode for every net (returns self)."""
        for m in (self.proxy, self.arn, self.grn, self.view_net, self.light_net):
            if m is not None:
                m.eval()
        return self


def _load_state(module: nn.Module, state: dict, path: str | Path, what: str) -> None:
    try:
        module.load_state_dict(state)
    except (KeyError, RuntimeError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise L2RError(f"{path}: {what} does not match its config ({first})") from None


def _load_pose_nets(
    model: RefinedModel, models: dict, path: str | Path, device: torch.device | str
) -> None:
    """Give ``model`` mutual learning's view and light nets: copies of its proxy's, loaded
    from ``models['view']`` and ``models['light']``."""
    view = copy.deepcopy(model.proxy.net_view)
    light = copy.deepcopy(model.proxy.net_light)
    _load_state(view, models.get("view", {}), path, "view net")
    _load_state(light, models.get("light", {}), path, "light net")
    model.view_net, model.light_net = view.to(device), light.to(device)


def load_grn(
    path: str | Path, device: torch.device | str, ckpt: dict[str, Any] | None = None
) -> tuple[GrnRunConfig, RefinedModel]:
    """A 'grn' checkpoint with the ARN, proxy and prior it names (paths re-read, hashes
    checked) -> (config, model in eval mode). ``ckpt``: the file's contents when the caller has
    already loaded it (kind checked)."""
    ckpt = ckpt or load_checkpoint(path, expect_kind="grn")
    if is_export(ckpt):
        return from_dict(GrnRunConfig, run_config(ckpt)), load_exported(path, device, ckpt)
    cfg = from_dict(GrnRunConfig, ckpt["config"])
    src = cfg.sources
    require_source(path, src.arn, src.arn_sha256, "ARN", owner="GRN")
    arn_cfg, proxy, arn = load_arn(src.arn, device)
    grn = GRN(grn_config(cfg.model, arn.cfg.output_size, proxy))
    _load_state(grn, ckpt["models"].get("grn", {}), path, "GRN checkpoint")
    model = RefinedModel(proxy=proxy, arn=arn, grn=grn.to(device), prior=arn_cfg.sources.prior)
    return cfg, model.eval()


def load_mutual(
    path: str | Path, device: torch.device | str, ckpt: dict[str, Any] | None = None
) -> tuple[MutualRunConfig, RefinedModel]:
    """A 'mutual' checkpoint with the GRN (and through it the ARN, proxy, prior) it started
    from -> (config, model in eval mode with the mutually trained weights). ``ckpt``: the
    file's contents when the caller has already loaded it (kind checked)."""
    ckpt = ckpt or load_checkpoint(path, expect_kind="mutual")
    if is_export(ckpt):
        return from_dict(MutualRunConfig, run_config(ckpt)), load_exported(path, device, ckpt)
    cfg = from_dict(MutualRunConfig, ckpt["config"])
    require_source(path, cfg.sources.grn, cfg.sources.grn_sha256, "GRN", owner="mutual run")
    _, model = load_grn(cfg.sources.grn, device)
    models = ckpt["models"]
    _load_state(ArnWeights(model.arn), models.get("arn", {}), path, "ARN weights")
    _load_state(model.grn, models.get("grn", {}), path, "GRN weights")
    _load_pose_nets(model, models, path, device)
    return cfg, model.eval()


def is_export(ckpt: dict[str, Any]) -> bool:
    """True for a file written by ``l2r export-weights`` from a 'grn' or 'mutual' run."""
    return isinstance(ckpt.get("config"), dict) and EXPORT_KEY in ckpt["config"]


def run_config(ckpt: dict[str, Any]) -> dict[str, Any]:
    """The run config of a checkpoint without the export record."""
    return {k: v for k, v in ckpt["config"].items() if k != EXPORT_KEY}


def load_exported(
    path: str | Path, device: torch.device | str, ckpt: dict[str, Any]
) -> RefinedModel:
    """The :class:`RefinedModel` of an exported 'grn' or 'mutual' file (in eval mode): nets
    built from the architectures it records and loaded from its own weights (float16 cast
    back to float32); the proxy is the bundled one (its SHA-256 checked) or the file's own."""
    e, models = ckpt["config"][EXPORT_KEY], ckpt["models"]
    try:
        src = e["proxy"]
        if src.get("bundled"):
            from l2r_cli.weights import default_weights

            proxy_file = default_weights()
            if file_sha256(proxy_file) != src["sha256"]:
                raise L2RError(
                    f"{path} was exported for other bundled proxy weights than this install's "
                    f"({proxy_file}); re-export it with this l2r"
                )
            proxy = load_frozen_proxy(proxy_file, device)
        else:
            own = {"config": {"model": src["model"]}, "models": {"proxy": models["proxy"]}}
            proxy = load_frozen_proxy(path, device, own)
        acfg = from_dict(ArnConfig, e["arn"], prefix="export.arn.")
        arn = ARN(acfg, Generator(acfg.generator)) if acfg.use_prior else ARN(acfg)
        grn = GRN(from_dict(GrnConfig, e["grn"], prefix="export.grn."))
    except (KeyError, TypeError) as exc:
        raise L2RError(f"{path}: incomplete export record ({exc})") from None
    _load_state(arn, models.get("arn", {}), path, "ARN weights")
    _load_state(grn, models.get("grn", {}), path, "GRN weights")
    model = RefinedModel(proxy=proxy, arn=arn.to(device), grn=grn.to(device))
    if "view" in models:
        _load_pose_nets(model, models, path, device)
    return model.eval()


def load_refined(
    path: str | Path, device: torch.device | str, ckpt: dict[str, Any] | None = None
) -> RefinedModel:
    """The inference model of a 'grn' or 'mutual' checkpoint (one-line error for other kinds)."""
    ckpt = ckpt or load_checkpoint(path, expect_kind=("grn", "mutual"))
    load = load_grn if ckpt["kind"] == "grn" else load_mutual
    return load(path, device, ckpt)[1]


@dataclass
class LoadedModel:
    """A trained checkpoint ready for inference (every net in eval mode, the proxy frozen).

    ``proxy``: the checkpoint's own proxy ('proxy') or the one it stands on; ``arn``: the ARN
    ('arn' only; 'grn'/'mutual' keep theirs in ``refined``); ``refined``: proxy + ARN + GRN
    (+ mutual view and light nets) for 'grn' and 'mutual'; ``config``: the resolved run config
    (ArnRunConfig, GrnRunConfig or MutualRunConfig), None for 'proxy'."""

    kind: str
    path: str
    proxy: Proxy
    arn: ARN | None = None
    refined: RefinedModel | None = None
    config: ArnRunConfig | GrnRunConfig | MutualRunConfig | None = None


def load_model(
    path: str | Path, device: torch.device | str, ckpt: dict[str, Any] | None = None
) -> LoadedModel:
    """The one entry point: a checkpoint file or run directory (its latest checkpoint) of any
    kind whose registered stage has a loader (:data:`MODEL_KINDS`) -> :class:`LoadedModel`
    (one-line error for other kinds). ``ckpt``: the file's contents when the caller has
    already loaded it (kind checked)."""
    ckpt = ckpt or load_checkpoint(path, expect_kind=model_kinds())
    loader = resolve_ref(stage_spec(ckpt["kind"]).loader)
    return loader(path, device, ckpt)


def load_proxy_model(
    path: str | Path, device: torch.device | str, ckpt: dict[str, Any]
) -> LoadedModel:
    """A 'proxy' checkpoint as a :class:`LoadedModel` (the registry's loader of 'proxy')."""
    return LoadedModel(ckpt["kind"], str(path), load_frozen_proxy(path, device, ckpt))


def load_arn_model(
    path: str | Path, device: torch.device | str, ckpt: dict[str, Any]
) -> LoadedModel:
    """An 'arn' checkpoint as a :class:`LoadedModel` (its proxy, its ARN, its config)."""
    cfg, proxy, arn = load_arn(path, device, ckpt)
    return LoadedModel(ckpt["kind"], str(path), proxy, arn=arn, config=cfg)


def load_refined_model(
    path: str | Path, device: torch.device | str, ckpt: dict[str, Any]
) -> LoadedModel:
    """A 'grn' or 'mutual' checkpoint as a :class:`LoadedModel` (proxy + ARN + GRN)."""
    load = load_grn if ckpt["kind"] == "grn" else load_mutual
    cfg, model = load(path, device, ckpt)
    return LoadedModel(ckpt["kind"], str(path), model.proxy, refined=model, config=cfg)
