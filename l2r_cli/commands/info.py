"""`l2r info PATH`: describe a dataset directory, an l2r checkpoint (or ``bundled``, the bundled
weights), a training run folder, a ``reconstruct`` result folder or a StyleGAN2 weights file
(rosinality's layout, e.g. an l2r prior.pt); non-zero exit when invalid.

The description goes to stdout (a table, or JSON with ``--json``); times are shown
human-readable ("2 h 05 min", ISO dates in UTC) next to the raw numbers in JSON."""

from __future__ import annotations

import argparse
import json
import time
import zipfile
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click
from rich.table import Table

from l2r_cli.commands.options import BUNDLED, BUNDLED_L2R
from l2r_cli.console import console
from l2r_cli.errors import L2RError

NOT_RECORDED = "(not recorded)"


def human_duration(seconds: float) -> str:
    """``42 s``, ``44 min 31 s``, ``2 h 05 min``, ``3 d 02 h``."""
    s = int(round(max(0.0, float(seconds))))
    if s < 60:
        return f"{s} s"
    if s < 3600:
        return f"{s // 60} min {s % 60:02d} s"
    if s < 86400:
        return f"{s // 3600} h {s % 3600 // 60:02d} min"
    return f"{s // 86400} d {s % 86400 // 3600:02d} h"


def iso_time(t: float | None) -> str:
    """Unix seconds -> ``2026-11-27T10:27:05Z`` (UTC); :data:`NOT_RECORDED` for None."""
    if t is None:
        return NOT_RECORDED
    stamp = datetime.fromtimestamp(float(t), tz=UTC)
    return stamp.isoformat(timespec="seconds").replace("+00:00", "Z")


def _strip_paths(v: Any) -> Any:
    """Every path-like string (one with a '/') reduced to its last part, so that the bundled
    weights show no paths of the machine they were built on; empty ones: not recorded."""
    if isinstance(v, dict):
        return {k: _strip_paths(x) for k, x in v.items()}
    if isinstance(v, list | tuple):
        return [_strip_paths(x) for x in v]
    if isinstance(v, str) and ("/" in v or "\\" in v):
        return Path(v.replace("\\", "/")).name or NOT_RECORDED
    return v


def describe(path: Path | str) -> dict:
    """Dataset directories have a manifest.json; run folders checkpoints/ or log.jsonl;
    ``reconstruct`` result folders meta.json files; files holding ``g_ema`` are StyleGAN2
    weights; ``bundled`` is the bundled weights; anything else is tried as an l2r checkpoint
    (whose loader explains what is wrong)."""
    from l2r_cli.data.dataset import describe_dataset

    if str(path) in (BUNDLED, BUNDLED_L2R) and not Path(path).exists():
        return describe_bundled(str(path))
    path = Path(path)
    if not path.exists():
        raise L2RError(f"no such file or directory: {path}")
    if path.is_dir() and (path / "manifest.json").exists():
        return describe_dataset(path)
    if path.is_dir() and ((path / "checkpoints").is_dir() or (path / "log.jsonl").is_file()):
        return describe_run(path)
    if path.is_dir():
        metas = _result_metas(path)
        if metas:
            return describe_results(path, metas)
        raise L2RError(
            f"{path}: neither an l2r dataset (no manifest.json), a run folder (no checkpoints/ "
            "or log.jsonl) nor a reconstruct result folder (no meta.json)"
        )
    return _describe_file(path)


def _describe_file(path: Path) -> dict:
    """A checkpoint or StyleGAN2 weights file."""
    from l2r_cli.engine.checkpoint import describe_checkpoint

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
    return _with_times(describe_checkpoint(path))


def _with_times(d: dict) -> dict:
    """A checkpoint description with its times human-readable next to the raw numbers."""
    if "train_minutes" in d:
        d["train_time"] = human_duration(60 * float(d["train_minutes"] or 0))
    if "time" in d:
        d["written"] = iso_time(d["time"])
    return d


def describe_bundled(which: str = BUNDLED) -> dict:
    """The bundled weights (``bundled``: the proxy, ``bundled-l2r``: the L2R weights),
    described as any checkpoint but with no paths of the machine they were built on (every
    path reduced to its file name)."""
    from l2r_cli.engine.checkpoint import resolve_checkpoint_path

    d = _describe_file(resolve_checkpoint_path(which))
    out = _strip_paths(d)
    out["path"] = f"bundled ({Path(d['path']).name})"
    return out


def describe_run(path: Path) -> dict:
    """A training run folder: its latest checkpoint's description (when it has one) with the
    run's checkpoints, log span, last logged losses and evaluation."""
    from l2r_cli.engine.checkpoint import list_checkpoints

    ckpts = list_checkpoints(path)
    d: dict[str, Any] = {"run": str(path)}
    if ckpts:
        d.update(_describe_file(path))
    else:
        d["kind"] = "run (no checkpoint yet)"
    d["checkpoints"] = [p.name for p in ckpts]
    d.update(_log_summary(path / "log.jsonl"))
    return d


def _log_summary(log: Path) -> dict:
    """First and last log times, their span and the last losses / eval of a log.jsonl."""
    if not log.is_file():
        return {"log": NOT_RECORDED}
    recs = []
    for line in log.read_text().splitlines():
        try:
            recs.append(json.loads(line))
        except json.JSONDecodeError:
            continue  # a line cut by an interrupted write
    times = [r["time"] for r in recs if isinstance(r.get("time"), int | float)]
    out: dict[str, Any] = {"log_lines": len(recs)}
    if times:
        out["log_first"] = iso_time(min(times))
        out["log_last"] = iso_time(max(times))
        out["log_span"] = human_duration(max(times) - min(times))
        out["log_age"] = human_duration(time.time() - max(times)) + " ago"
    for key in ("losses", "eval", "finish"):
        last = next((r for r in reversed(recs) if isinstance(r.get(key), dict)), None)
        if last is not None:
            out[f"last_{key}"] = {
                "step": last.get("step"),
                **{k: round(v, 5) if isinstance(v, float) else v for k, v in last[key].items()},
            }
    return out


def _result_metas(path: Path) -> list[Path]:
    """meta.json files of a reconstruct result: a face folder, a photo folder (faceK/) or an
    output folder (PHOTO/faceK/)."""
    for pattern in ("meta.json", "*/meta.json", "*/*/meta.json"):
        found = sorted(path.glob(pattern))
        if found:
            return found
    return []


def describe_results(path: Path, metas: list[Path]) -> dict:
    """Summary of ``l2r reconstruct`` output: photos, faces, the model, each face's pose."""
    faces, models, textures, unreadable = [], {}, set(), []
    for m in metas:
        try:
            meta = json.loads(m.read_text())
        except (OSError, json.JSONDecodeError):
            unreadable.append(str(m.parent.relative_to(path)) or ".")
            continue
        model = meta.get("model", {})
        key = model.get("sha256", "")
        models.setdefault(key, model)
        textures.add(meta.get("texture", "albedo"))
        view = meta.get("view", {})
        faces.append(
            {
                "face": str(m.parent.relative_to(path)) or ".",
                "source": Path(str(meta.get("source", ""))).name or NOT_RECORDED,
                "yaw_deg": view.get("yaw_deg"),
                "pitch_deg": view.get("pitch_deg"),
                "files": len(meta.get("files", [])),
            }
        )
    newest = max(m.stat().st_mtime for m in metas)
    out: dict[str, Any] = {
        "kind": "reconstruct results",
        "path": str(path),
        "photos": len({f["source"] for f in faces}),
        "faces": len(faces),
        "written": iso_time(newest),
        "texture": ", ".join(sorted(textures)),
        "models": [
            {
                "kind": m.get("kind"),
                "checkpoint": "bundled" if m.get("bundled") else m.get("path", NOT_RECORDED),
                "sha256": str(m.get("sha256", ""))[:16],
            }
            for m in models.values()
        ],
        "per_face": faces,
    }
    if unreadable:
        out["unreadable"] = unreadable
    return out


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
@click.argument("path", metavar="PATH")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table (stdout).")
def info(path: str, as_json: bool) -> None:
    """Describe an l2r dataset, checkpoint, training run, reconstruct result or StyleGAN2
    weights file (kind, sizes, config, times); PATH 'bundled' is the bundled weights.

    \b
    Example:
      l2r info data/synth
      l2r info bundled               # the bundled weights
      l2r info runs/proxy            # the run: checkpoints, log span, its latest checkpoint
      l2r info runs/proxy/checkpoints/epoch_001.pt
      l2r info reconstructions/      # photos, faces, model, each face's pose
      l2r info runs/prior/prior.pt   # StyleGAN2 (rosinality layout): size, widths, n_mlp
    """
    d = describe(path)
    if as_json:
        console.print_json(json.dumps(d, default=str))
        return
    t = Table(title=f"{path}", show_header=False)
    for k, v in d.items():
        if k == "per_face" and isinstance(v, list):
            v = "\n".join(
                f"{f['face']}: yaw {f['yaw_deg']}°, pitch {f['pitch_deg']}°, {f['files']} files"
                for f in v
            )
        elif k in ("models", "checkpoints") and isinstance(v, list):
            v = "\n".join(_flat(x) if isinstance(x, dict) else str(x) for x in v)
        elif k in ("time", "train_minutes") and ("written" in d or "train_time" in d):
            continue  # shown human-readable as 'written' and 'train_time'
        elif isinstance(v, dict | list) and not v:
            v = "(none)"
        elif k == "splits" and isinstance(v, dict):
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
