"""`l2r info PATH`: describe a dataset directory, an l2r checkpoint or a StyleGAN2 weights file
(rosinality's layout, e.g. an l2r prior.pt); non-zero exit when invalid."""

from __future__ import annotations

import argparse
import json
import zipfile
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from l2r_cli.console import console
from l2r_cli.errors import L2RError


def describe(path: Path) -> dict:
    """Dataset directories have a manifest.json; files holding ``g_ema`` are StyleGAN2 weights;
    anything else is tried as an l2r checkpoint (whose loader explains what is wrong)."""
    from l2r_cli.data.dataset import describe_dataset
    from l2r_cli.engine.checkpoint import describe_checkpoint

    if not path.exists():
        raise L2RError(f"no such file or directory: {path}")
    if path.is_dir() and (path / "manifest.json").exists():
        return describe_dataset(path)
    if path.is_dir() and not (path / "checkpoints").is_dir():
        raise L2RError(f"{path}: neither an l2r dataset (no manifest.json) nor a run directory")
    if path.is_file():
        top = _peek(path)
        if isinstance(top, dict) and "format" not in top:
            if "g_ema" in top or "style.1.weight" in top or "input.input" in top:
                return describe_stylegan2(path, top)
            keys = ", ".join(sorted(map(str, top))[:5]) or "nothing"
            raise L2RError(
                f"{path} is neither an l2r checkpoint (no 'format' entry) nor StyleGAN2 weights "
                f"in rosinality's layout (no 'g_ema' entry); it holds {keys}"
            )
        if top is None and path.suffix == ".pkl":
            from l2r_cli.models.stylegan2_io import load_stylegan2

            load_stylegan2(path)  # refuses it, with the conversion hint of docs/weights.md
    return describe_checkpoint(path)


def _peek(path: Path) -> Any:
    """The file's top-level object, read safely (``weights_only``; argparse ``Namespace``
    allowed as in rosinality checkpoints; tensors memory-mapped when the format allows), or
    None when it cannot be read that way (the specific loaders then say why)."""
    from l2r_cli.engine.checkpoint import safe_torch_load

    try:
        return safe_torch_load(path, allowed=[argparse.Namespace], mmap=zipfile.is_zipfile(path))
    except L2RError:
        return None


def describe_stylegan2(path: Path, ckpt: dict) -> dict:
    """Summary of StyleGAN2 weights (rosinality's layout) for ``l2r info``: architecture read
    from the shapes, every key and shape checked (one-line L2RError otherwise)."""
    from l2r_cli.models.stylegan2_io import stylegan2_from_checkpoint

    g, d, _, sg = stylegan2_from_checkpoint(ckpt, str(path))
    gc = sg.generator
    out: dict[str, Any] = {
        "kind": "stylegan2",
        "path": str(path),
        "size_bytes": path.stat().st_size,
        "size": gc.size,
        "style_dim": gc.style_dim,
        "n_mlp": gc.n_mlp,
        "n_latent": gc.n_latent,
        "channel_multiplier": gc.channel_multiplier if gc.channels is None else None,
        "widths": " ".join(f"{r}:{c}" for r, c in gc.widths().items()),
        "g_ema_parameters": sum(p.numel() for p in g.parameters()),
        "discriminator": d is not None,
        "latent_avg": sg.has_latent_avg,
        "ignored": list(sg.ignored),
    }
    if d is not None and sg.discriminator is not None:
        out["d_widths"] = " ".join(f"{r}:{c}" for r, c in sg.discriminator.widths().items())
        out["d_parameters"] = sum(p.numel() for p in d.parameters())
    return out


@click.command("info")
@click.argument("path", type=click.Path(path_type=Path), metavar="PATH")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def info(path: Path, as_json: bool) -> None:
    """Describe an l2r dataset, checkpoint or StyleGAN2 weights file (kind, sizes, config).

    \b
    Example:
      l2r info data/synth
      l2r info runs/proxy            # its latest checkpoint
      l2r info runs/proxy/checkpoints/epoch_001.pt
      l2r info runs/prior/prior.pt   # StyleGAN2 (rosinality layout): size, widths, n_mlp
    """
    d = describe(path)
    if as_json:
        console.print_json(json.dumps(d, default=str))
        return
    t = Table(title=f"{path}", show_header=False)
    for k, v in d.items():
        if k == "splits" and isinstance(v, dict):
            v = "\n".join(
                f"{name}: {s['n']} samples ({_fields(s['fields'])})" for name, s in v.items()
            )
        elif isinstance(v, dict):
            v = _flat(v)
        t.add_row(str(k), str(v))
    console.print(t)


def _fields(fields: dict) -> str:
    """'image uint8 64x64x3, name str' from a split's field specs."""
    parts = []
    for name, spec in fields.items():
        shape = "x".join(str(x) for x in spec["shape"])
        parts.append(f"{name} {spec['dtype']}" + (f" {shape}" if shape else ""))
    return ", ".join(parts)


def _flat(d: dict, prefix: str = "") -> str:
    lines = []
    for k, v in d.items():
        if isinstance(v, dict):
            lines.append(_flat(v, f"{prefix}{k}."))
        else:
            lines.append(f"{prefix}{k} = {v}")
    return "\n".join(lines)
