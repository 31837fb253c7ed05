"""`l2r info PATH`: describe a dataset directory or a checkpoint; non-zero exit when invalid."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.table import Table

from l2r_cli.console import console
from l2r_cli.errors import L2RError


def describe(path: Path) -> dict:
    """Dataset directories have a manifest.json; anything else is tried as a checkpoint."""
    from l2r_cli.data.dataset import describe_dataset
    from l2r_cli.engine.checkpoint import describe_checkpoint

    if not path.exists():
        raise L2RError(f"no such file or directory: {path}")
    if path.is_dir() and (path / "manifest.json").exists():
        return describe_dataset(path)
    if path.is_dir() and not (path / "checkpoints").is_dir():
        raise L2RError(f"{path}: neither an l2r dataset (no manifest.json) nor a run directory")
    return describe_checkpoint(path)


@click.command("info")
@click.argument("path", type=click.Path(path_type=Path), metavar="PATH")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
def info(path: Path, as_json: bool) -> None:
    """Describe an l2r dataset or checkpoint (kind, stage, sizes, config).

    \b
    Example:
      l2r info data/synth
      l2r info runs/proxy            # its latest checkpoint
      l2r info runs/proxy/checkpoints/epoch_001.pt
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
