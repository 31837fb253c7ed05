"""StyleGAN2 weight files in rosinality's layout: loading, saving and checking them
(REFERENCE.md "StyleGAN2 weights people already have"; docs/weights.md).

Checkpoint layout (read and written): ``{"g_ema": state_dict, "d": state_dict (optional),
"latent_avg": (style_dim,) (optional)}``; ``g`` and training extras are ignored.
Architectures (size, style_dim, n_mlp, the width of every resolution) are read from the tensor
shapes, every key and shape is checked, and files are read with ``weights_only=True``: each
problem is a one-line :class:`L2RError`. The networks themselves are in ``stylegan2.py``.
"""

from __future__ import annotations

import argparse
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from l2r_cli.engine.checkpoint import safe_torch_load, save_checkpoint
from l2r_cli.errors import L2RError
from l2r_cli.models.stylegan2 import (
    _IO_NAMES,
    Discriminator,
    DiscriminatorConfig,
    Generator,
    GeneratorConfig,
    default_channels,
)


@dataclass(frozen=True)
class StyleGAN2Info:
    """What :func:`load_stylegan2` found in a checkpoint."""

    path: str
    """The file read."""
    generator: GeneratorConfig
    """Architecture inferred from the ``g_ema`` shapes."""
    discriminator: DiscriminatorConfig | None
    """Architecture inferred from ``d``, if present."""
    has_latent_avg: bool
    """Whether the file holds ``latent_avg`` (needed for truncation)."""
    ignored: tuple[str, ...]
    """Top-level entries that were not used (``g``, optimizer states, ``args``, ...)."""


_INDEX = {
    "style": re.compile(r"^style\.(\d+)\."),
    "convs": re.compile(r"^convs\.(\d+)\."),
    "to_rgbs": re.compile(r"^to_rgbs\.(\d+)\."),
    "noises": re.compile(r"^noises\.noise_(\d+)$"),
}


def _max_index(keys: Sequence[str], kind: str) -> int:
    found = [int(m.group(1)) for k in keys if (m := _INDEX[kind].match(k))]
    return max(found, default=-1)


def _shape(sd: Mapping[str, Tensor], key: str, dim: int) -> int | None:
    t = sd.get(key)
    if isinstance(t, Tensor) and t.ndim > dim:
        return int(t.shape[dim])
    return None


def _first_width(sd: Mapping[str, Tensor], what: str, candidates: list[tuple[str, int]]) -> int:
    for key, dim in candidates:
        v = _shape(sd, key, dim)
        if v is not None:
            return v
    raise L2RError(f"{what}: cannot infer the architecture, missing {candidates[0][0]}")


def _channel_fields(widths: dict[int, int], size: int) -> dict[str, Any]:
    """``channel_multiplier`` if the widths are rosinality's table for one, else ``channels``."""
    # Below 64x64 every multiplier gives the same table; 2 (config-f) is reported then.
    for m in (2, 1, 4, 8):
        if default_channels(size, m) == widths:
            return {"channel_multiplier": m}
    return {"channels": widths}


def infer_generator_config(sd: Mapping[str, Tensor], what: str = "g_ema") -> GeneratorConfig:
    """Read size, style_dim, n_mlp and the width of every resolution from a generator
    state_dict's shapes (it is not otherwise checked: see :func:`generator_from_state_dict`)."""
    keys = list(sd)
    style_dim = _first_width(sd, what, [("style.1.weight", 1), ("conv1.conv.modulation.weight", 1)])
    n_mlp = _max_index(keys, "style")
    # Any of the per-stage key families fixes the depth, so one missing entry in the middle
    # is reported as missing rather than shrinking the model.
    n_up = max(
        _max_index(keys, "convs") // 2 + 1,
        _max_index(keys, "to_rgbs") + 1,
        _max_index(keys, "noises") // 2,
    )
    if n_up < 1:
        raise L2RError(f"{what}: no convs.*/to_rgbs.* entries; not a StyleGAN2 generator")
    size = 4 * 2**n_up
    widths = {4: _first_width(sd, what, [("input.input", 1), ("conv1.conv.weight", 1)])}
    for i in range(n_up):
        r = 8 * 2**i
        widths[r] = _first_width(
            sd,
            what,
            [
                (f"convs.{2 * i}.conv.weight", 1),
                (f"convs.{2 * i + 1}.conv.weight", 1),
                (f"to_rgbs.{i}.conv.weight", 2),
                (f"convs.{2 * i}.activate.bias", 0),
            ],
        )
    return GeneratorConfig(
        size=size, style_dim=style_dim, n_mlp=n_mlp, **_channel_fields(widths, size)
    )


def infer_discriminator_config(sd: Mapping[str, Tensor], what: str = "d") -> DiscriminatorConfig:
    """Read size and widths from a discriminator state_dict's shapes."""
    n_down = _max_index(list(sd), "convs")
    if n_down < 1:
        raise L2RError(f"{what}: no residual blocks convs.1.*; not a StyleGAN2 discriminator")
    size = 4 * 2**n_down
    widths = {
        size: _first_width(sd, what, [("convs.0.0.weight", 0), ("convs.1.conv1.0.weight", 1)])
    }
    for n in range(1, n_down + 1):  # block n: size / 2^(n-1) -> size / 2^n
        widths[size >> n] = _first_width(
            sd,
            what,
            [
                (f"convs.{n}.conv2.1.weight", 0),
                (f"convs.{n}.skip.1.weight", 0),
                (f"convs.{n}.conv2.2.bias", 0),
            ],
        )
    widths = dict(sorted(widths.items()))
    return DiscriminatorConfig(size=size, **_channel_fields(widths, size))


def _list(items: list[str], n: int = 3) -> str:
    more = f" (+{len(items) - n} more)" if len(items) > n else ""
    return ", ".join(items[:n]) + more


def _check_state_dict(model: nn.Module, sd: Mapping[str, Any], what: str, arch: str) -> None:
    """One-line L2RError naming the first missing / unexpected / wrongly shaped entries."""
    want = {k: tuple(v.shape) for k, v in model.state_dict().items()}
    bad_type = [k for k, v in sd.items() if not isinstance(v, Tensor)]
    missing = [k for k in want if k not in sd]
    unexpected = [k for k in sd if k not in want]
    wrong = [
        f"{k} {list(sd[k].shape)} (expected {list(s)})"
        for k, s in want.items()
        if k in sd and isinstance(sd[k], Tensor) and tuple(sd[k].shape) != s
    ]
    problems = []
    if missing:
        problems.append(f"missing {_list(missing)}")
    if unexpected:
        problems.append(f"unexpected {_list(unexpected)}")
    if wrong:
        problems.append(f"wrong shape {_list(wrong)}")
    if bad_type:
        problems.append(f"not tensors {_list(bad_type)}")
    if problems:
        raise L2RError(f"{what} does not fit a StyleGAN2 {arch}: " + "; ".join(problems))


def _describe(cfg: GeneratorConfig | DiscriminatorConfig) -> str:
    extra = (
        f", style_dim {cfg.style_dim}, n_mlp {cfg.n_mlp}"
        if isinstance(cfg, GeneratorConfig)
        else ""
    )
    return f"size {cfg.size}{extra}, widths {cfg.widths()}"


def _build(cls: type[nn.Module], cfg: Any, sd: Mapping[str, Tensor], what: str, arch: str):
    # Built on the meta device (no memory, no random init), then the checkpoint's tensors are
    # assigned: a 1024 model loads without first allocating and initialising a second copy.
    with torch.device("meta"):
        model = cls(cfg)
    _check_state_dict(model, sd, what, f"{arch} ({_describe(cfg)})")
    tensors = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
    model.load_state_dict(tensors, strict=True, assign=True)
    return model


def generator_from_state_dict(sd: Mapping[str, Tensor], what: str = "g_ema") -> Generator:
    """A :class:`Generator` holding ``sd`` (rosinality key names), its architecture read from
    the shapes; every key and shape is checked (one-line L2RError naming the first problems)."""
    return _build(Generator, infer_generator_config(sd, what), sd, what, "generator")


def discriminator_from_state_dict(sd: Mapping[str, Tensor], what: str = "d") -> Discriminator:
    """A :class:`Discriminator` holding ``sd``, architecture read from the shapes, all checked."""
    return _build(Discriminator, infer_discriminator_config(sd, what), sd, what, "discriminator")


def stylegan2_from_checkpoint(
    ckpt: Any, source: str = "checkpoint"
) -> tuple[Generator, Discriminator | None, Tensor | None, StyleGAN2Info]:
    """The models in an already loaded rosinality-layout dict (see :func:`load_stylegan2`)."""
    if not isinstance(ckpt, dict):
        raise L2RError(f"{source} holds a {type(ckpt).__name__}, not a StyleGAN2 checkpoint dict")
    if "g_ema" not in ckpt:
        hint = ""
        if "input.input" in ckpt or "style.1.weight" in ckpt:
            hint = " (it looks like a bare generator state_dict; save it as {'g_ema': sd})"
        raise L2RError(
            f"{source} has no 'g_ema' entry{hint}; found {_list(sorted(map(str, ckpt)))}"
        )
    for name in ("g_ema", "d"):
        if name in ckpt and not isinstance(ckpt[name], Mapping):
            raise L2RError(f"{source}: '{name}' is a {type(ckpt[name]).__name__}, not a state_dict")
    g = generator_from_state_dict(ckpt["g_ema"], f"{source}: g_ema")
    d = discriminator_from_state_dict(ckpt["d"], f"{source}: d") if "d" in ckpt else None
    latent_avg = ckpt.get("latent_avg")
    if latent_avg is not None:
        if not isinstance(latent_avg, Tensor) or latent_avg.numel() != g.style_dim:
            got = tuple(latent_avg.shape) if isinstance(latent_avg, Tensor) else latent_avg
            raise L2RError(f"{source}: latent_avg must be ({g.style_dim},), got {got}")
        latent_avg = latent_avg.detach().reshape(g.style_dim).float()
    info = StyleGAN2Info(
        path=source,
        generator=g.cfg,
        discriminator=d.cfg if d is not None else None,
        has_latent_avg=latent_avg is not None,
        ignored=tuple(sorted(str(k) for k in ckpt if k not in ("g_ema", "d", "latent_avg"))),
    )
    return g, d, latent_avg, info


def _safe_load(p: Path) -> Any:
    """``torch.load(weights_only=True)`` with every failure as a one-line L2RError."""
    if not p.exists():
        raise L2RError(f"StyleGAN2 weights not found: {p}")
    if not p.is_file():
        raise L2RError(f"{p} is not a file")
    if p.stat().st_size == 0:
        raise L2RError(f"{p} is empty (an interrupted download?)")
    hint = ""
    if p.suffix == ".pkl":
        hint = (
            "; an official NVIDIA .pkl must first be converted with rosinality's "
            "convert_weight.py (docs/weights.md)"
        )
    # rosinality's train.py stores its argparse options next to the weights; a Namespace only
    # receives attributes when unpickled, it runs no code.
    return safe_torch_load(p, allowed=[argparse.Namespace], hint=hint)


def load_stylegan2(
    path: str | Path,
) -> tuple[Generator, Discriminator | None, Tensor | None, StyleGAN2Info]:
    """Load StyleGAN2 weights in rosinality's layout, safely and on the CPU.

    Returns ``(g_ema, d or None, latent_avg (style_dim,) or None, info)``; architectures are
    inferred from the shapes. The file is read with ``weights_only=True``: a pickle that would
    run code is refused. Every problem is a one-line :class:`L2RError`.
    """
    p = Path(path)
    return stylegan2_from_checkpoint(_safe_load(p), str(p))


def save_stylegan2(
    path: str | Path,
    g_ema: Generator,
    d: Discriminator | None = None,
    latent_avg: Tensor | None = None,
) -> None:
    """Write ``{"g_ema", ["d"], ["latent_avg"]}`` (CPU tensors) atomically, in the layout
    :func:`load_stylegan2` and rosinality's code read."""

    def cpu(m: nn.Module) -> dict[str, Tensor]:
        return {k: v.detach().cpu() for k, v in m.state_dict().items()}

    ckpt: dict[str, Any] = {"g_ema": cpu(g_ema)}
    if d is not None:
        ckpt["d"] = cpu(d)
    if latent_avg is not None:
        ckpt["latent_avg"] = latent_avg.detach().reshape(g_ema.style_dim).float().cpu()
    save_checkpoint(path, ckpt)


# the names stylegan2.py hands out lazily: one list, kept there
__all__ = list(_IO_NAMES)
