"""Typed, frozen run configurations and their TOML/flag resolution.

Every stage's configuration is a tree of frozen dataclasses. A run's configuration is resolved
from, in order: the dataclass defaults, a TOML file (``--config``), then command-line flags.
Unknown keys are an error (one line, naming the key), never silently ignored. The resolved
configuration is saved beside every run and inside every checkpoint.

This module holds that machinery and the sections every stage shares (``OptimConfig``,
``TrainConfig``); each stage's own config lives with its registry entry in
``l2r_cli/configs/KIND.py`` and is re-exported here (``from l2r_cli.config import
ArnRunConfig`` keeps working).
"""

from __future__ import annotations

import dataclasses
import tomllib
import types
import typing
from dataclasses import dataclass
from pathlib import Path
from typing import Any, TypeVar

from l2r_cli.errors import L2RError
from l2r_cli.lazy import lazy_attributes

T = TypeVar("T")

_STAGE_CONFIGS = {
    "ProxyModelConfig": "proxy",
    "ProxyLossConfig": "proxy",
    "ProxyRunConfig": "proxy",
    "PriorModelConfig": "prior",
    "PriorLossConfig": "prior",
    "PriorOptimConfig": "prior",
    "PriorEvalConfig": "prior",
    "PriorRunConfig": "prior",
    "ArnModelConfig": "arn",
    "ArnLossConfig": "arn",
    "ArnOptimConfig": "arn",
    "ArnSourcesConfig": "arn",
    "ArnRunConfig": "arn",
    "GrnModelConfig": "grn",
    "GrnLossConfig": "grn",
    "GrnSourcesConfig": "grn",
    "GrnRunConfig": "grn",
    "CrossViewConfig": "mutual",
    "DiscConfig": "mutual",
    "MutualLossConfig": "mutual",
    "MutualSourcesConfig": "mutual",
    "MutualRunConfig": "mutual",
}
"""The stage configs re-exported from ``l2r_cli.configs`` (loaded on first use: those
modules import this one)."""


__getattr__ = lazy_attributes(
    __name__, {name: f"l2r_cli.configs.{kind}" for name, kind in _STAGE_CONFIGS.items()}
)


@dataclass(frozen=True)
class OptimConfig:
    """Adam settings."""

    lr: float = 1e-4
    """Learning rate."""
    beta1: float = 0.9
    """Adam beta1."""
    beta2: float = 0.999
    """Adam beta2."""
    weight_decay: float = 5e-4
    """L2 weight decay."""
    gain_lr: float = 1e-2
    """Learning rate of the proxy's bas-relief gain (``model.basrelief_gain``); no weight decay."""
    pose_lr_mult: float = 1.0
    """The view and light nets learn at ``lr`` times this (1 = one rate for every net)."""
    gain_refit_batches: int = 0
    """When training ends, refit the bas-relief gain alone by a line search of the plain
    photometric L1 on this many training batches, nets frozen (0 = off; docs/proxy.md)."""


@dataclass(frozen=True)
class TrainConfig:
    """What every stage's training loop shares."""

    epochs: int = 30
    """Passes over the training split."""
    batch_size: int = 64
    """Global batch size (split evenly over torchrun processes)."""
    num_workers: int = 2
    """DataLoader worker processes per training process."""
    ckpt_every: int = 500
    """Write a checkpoint every this many steps (and always at the end of an epoch)."""
    keep_last: int = 3
    """How many step checkpoints to keep (epoch-end checkpoints are kept too)."""
    log_every: int = 10
    """Refresh the progress line every this many steps."""
    max_steps: int = 0
    """Stop after this many optimizer steps in total (0 = no limit)."""
    max_minutes: float = 0.0
    """Stop at the first step boundary after this many minutes of training wall time in total
    (summed over resumed sessions; 0 = no limit). A run stopped by it ends like a finished one
    (the stage's end-of-training step runs); where it stops depends on the host's speed."""
    lr_cosine_steps: int = 0
    """Anneal every learning rate along a half cosine from its start to ``lr_final_ratio``
    times it over this many steps, then hold it there (0 = constant rates). The rate depends on
    the step alone, so a resumed run follows the same schedule."""
    lr_final_ratio: float = 0.1
    """Where ``lr_cosine_steps`` ends, as a fraction of each starting rate."""
    input: str = "image"
    """Which images the network sees: 'image' (original) or 'lq' (degraded, when present)."""
    panels: bool = True
    """Write an image panel at the end of every epoch."""
    val_images: int = 64
    """After every epoch, average the stage's training losses (no step taken) over the first
    this many items of the dataset's 'val' split, with a fixed choice of degraded variant;
    logged as ``val`` in log.jsonl (0 = off; no 'val' split: off with a note)."""
    tensorboard: bool = False
    """Also write TensorBoard event files into OUT/tensorboard (losses, learning rates,
    validation, panels)."""


def to_dict(cfg: Any) -> dict[str, Any]:
    """A plain, JSON/TOML-serialisable dict of a config dataclass tree."""
    return dataclasses.asdict(cfg)


def _coerce(value: Any, typ: Any, key: str) -> Any:
    origin = typing.get_origin(typ)
    if typ is float and isinstance(value, int) and not isinstance(value, bool):
        return float(value)
    if typ in (int, float, str, bool):
        if isinstance(value, bool) != (typ is bool) or not isinstance(value, typ):
            raise L2RError(
                f"config key '{key}': expected {typ.__name__}, got {type(value).__name__} {value!r}"
            )
        return value
    if origin in (list, tuple):
        if not isinstance(value, (list, tuple)):
            raise L2RError(f"config key '{key}': expected a list, got {value!r}")
        (inner, *_) = typing.get_args(typ) or (Any,)
        vals = [_coerce(v, inner, key) if inner is not Any else v for v in value]
        return tuple(vals) if origin is tuple else vals
    if origin in (typing.Union, types.UnionType):
        return value
    return value


def from_dict(cls: type[T], data: dict[str, Any], prefix: str = "") -> T:
    """Build config dataclass ``cls`` from a nested dict; unknown keys raise L2RError."""
    if not isinstance(data, dict):
        raise L2RError(f"config section '{prefix.rstrip('.') or '<root>'}' must be a table")
    hints = typing.get_type_hints(cls)
    fields = {f.name: f for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
    kwargs: dict[str, Any] = {}
    for key, value in data.items():
        if key not in fields:
            known = ", ".join(sorted(fields))
            raise L2RError(f"unknown config key '{prefix}{key}' (known here: {known})")
        typ = hints[key]
        if dataclasses.is_dataclass(typ):
            # Start from the parent's default for this section (its default_factory may differ
            # from the section class's own defaults, e.g. train-arn's batch 16), then override.
            f = fields[key]
            if f.default_factory is not dataclasses.MISSING and isinstance(value, dict):
                value = merge(to_dict(f.default_factory()), value)
            kwargs[key] = from_dict(typ, value, prefix=f"{prefix}{key}.")
        else:
            kwargs[key] = _coerce(value, typ, f"{prefix}{key}")
    return cls(**kwargs)


def merge(base: dict[str, Any], over: dict[str, Any]) -> dict[str, Any]:
    """Deep-merge ``over`` into a copy of ``base``."""
    out = dict(base)
    for k, v in over.items():
        if isinstance(v, dict) and isinstance(out.get(k), dict):
            out[k] = merge(out[k], v)
        else:
            out[k] = v
    return out


def load_toml(path: str | Path) -> dict[str, Any]:
    """Read a TOML config file; a missing or malformed file is a one-line L2RError."""
    p = Path(path)
    if not p.is_file():
        raise L2RError(f"config file not found: {p}")
    try:
        with p.open("rb") as fh:
            return tomllib.load(fh)
    except tomllib.TOMLDecodeError as exc:
        raise L2RError(f"config file {p} is not valid TOML: {exc}") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise L2RError(f"config file {p} cannot be read: {exc}") from None


def dotted(overrides: dict[str, Any]) -> dict[str, Any]:
    """Turn {'train.epochs': 3} into {'train': {'epochs': 3}}, dropping None values."""
    out: dict[str, Any] = {}
    for key, value in overrides.items():
        if value is None:
            continue
        node = out
        *parents, leaf = key.split(".")
        for part in parents:
            node = node.setdefault(part, {})
        node[leaf] = value
    return out


def resolve(cls: type[T], config_file: str | Path | None, overrides: dict[str, Any]) -> T:
    """Defaults < TOML file < flags (dotted keys)."""
    data: dict[str, Any] = {}
    if config_file:
        data = load_toml(config_file)
    data = merge(data, dotted(overrides))
    return from_dict(cls, data)


def to_toml(data: dict[str, Any]) -> str:
    """A nested dict of scalars and lists as TOML text (tomli-w, the writer that matches the
    standard library's tomllib reader)."""
    import tomli_w

    try:
        return tomli_w.dumps(data)
    except TypeError as exc:
        raise TypeError(f"cannot write to TOML: {exc}") from None
