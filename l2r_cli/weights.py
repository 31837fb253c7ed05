"""Bundled default weights and ``l2r export-weights`` (docs/weights.md, "Bundled weights").

The bundled file is an ordinary l2r ``proxy`` checkpoint stripped for inference: no optimizer
or RNG state, no confidence net (only training uses it; the saved config says
``use_conf = false``), tensors in float16 (loading casts them back to the model's float32).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from l2r_cli.engine.checkpoint import build_checkpoint, load_checkpoint, save_checkpoint
from l2r_cli.errors import L2RError
from l2r_cli.fileio import file_sha256 as sha256

#: Package data: the default model of ``l2r reconstruct`` and ``Reconstructor``.
DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "proxy_synth64.pt"


def default_weights() -> Path:
    """Path of the bundled weights (an L2RError if the install lacks them)."""
    if not DEFAULT_WEIGHTS.is_file():
        raise L2RError(f"bundled weights missing ({DEFAULT_WEIGHTS}); reinstall l2r or pass --ckpt")
    return DEFAULT_WEIGHTS


def export_weights(src: str | Path, dst: str | Path, half: bool = True) -> dict[str, Any]:
    """Write the inference-only copy of proxy checkpoint ``src`` (a file or run directory) to
    ``dst``; returns the new checkpoint's summary (parameters, bytes, source)."""
    ckpt = load_checkpoint(src, expect_kind="proxy")
    state = {k: v for k, v in ckpt["models"]["proxy"].items() if not k.startswith("net_conf.")}
    if half:
        state = {k: v.half() if v.is_floating_point() else v for k, v in state.items()}
    config = dict(ckpt["config"])
    config["model"] = {**config["model"], "use_conf": False}
    config["exported_from"] = {
        "path": str(src),
        "step": ckpt.get("step"),
        "train_seconds": ckpt.get("train_seconds"),
        "float16": half,
    }
    out = build_checkpoint(
        "proxy",
        {"proxy": state},
        {},
        step=ckpt.get("step", 0),
        epoch=ckpt.get("epoch", 0),
        epoch_step=ckpt.get("epoch_step", 0),
        config=config,
        rng={},
        train_seconds=ckpt.get("train_seconds", 0.0),
    )
    dst = Path(dst)
    if dst.parent and not dst.parent.exists():
        raise L2RError(f"output folder {dst.parent} does not exist")
    save_checkpoint(dst, out)
    return {
        "parameters": sum(v.numel() for v in state.values()),
        "bytes": dst.stat().st_size,
        "sha256": sha256(dst),
        "step": out["step"],
    }
