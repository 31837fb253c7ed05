"""Bundled default weights and ``l2r export-weights`` (docs/weights.md, "Bundled weights").

The bundled proxy is an ordinary l2r ``proxy`` checkpoint stripped for inference: no optimizer
or RNG state, no confidence net (only training uses it; the saved config says
``use_conf = false``), tensors in float16 (loading casts them back to the model's float32).

The bundled L2R weights are a 'grn' or 'mutual' checkpoint made self-contained: the ARN
(with its StyleGAN2 generator), the GRN and, after mutual learning, the view and light nets,
with the architectures under the config key ``export``
(:data:`l2r_cli.inference.EXPORT_KEY`); the proxy they stand on is the bundled proxy, named by
its SHA-256 rather than copied (any other proxy is stored in the file).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from torch import nn

from l2r_cli.engine.checkpoint import build_checkpoint, load_checkpoint, save_checkpoint
from l2r_cli.errors import L2RError
from l2r_cli.fileio import file_sha256 as sha256

#: Package data: the default model of ``l2r reconstruct`` and ``Reconstructor``.
DEFAULT_WEIGHTS = Path(__file__).parent / "weights" / "proxy_synth64.pt"

#: Package data: the L2R path (proxy + ARN + GRN + mutual) for faces smaller than its input.
DEFAULT_L2R_WEIGHTS = Path(__file__).parent / "weights" / "l2r_synth64.pt"


def default_weights() -> Path:
    """Path of the bundled weights (an L2RError if the install lacks them)."""
    if not DEFAULT_WEIGHTS.is_file():
        raise L2RError(f"bundled weights missing ({DEFAULT_WEIGHTS}); reinstall l2r or pass --ckpt")
    return DEFAULT_WEIGHTS


def default_l2r_weights() -> Path:
    """Path of the bundled L2R weights (an L2RError if the install lacks them)."""
    if not DEFAULT_L2R_WEIGHTS.is_file():
        raise L2RError(
            f"bundled L2R weights missing ({DEFAULT_L2R_WEIGHTS}); reinstall l2r or pass --ckpt"
        )
    return DEFAULT_L2R_WEIGHTS


def _half(state: dict[str, Any], half: bool) -> dict[str, Any]:
    if not half:
        return dict(state)
    return {k: v.half() if v.is_floating_point() else v for k, v in state.items()}


def _provenance(src: str | Path, ckpt: dict[str, Any], half: bool) -> dict[str, Any]:
    """What an exported file records of the checkpoint it came from."""
    return {
        "path": str(src),
        "step": ckpt.get("step"),
        "train_seconds": ckpt.get("train_seconds"),
        "float16": half,
    }


def _write_export(
    dst: Path, ckpt: dict[str, Any], models: dict[str, dict[str, Any]], config: dict[str, Any]
) -> dict[str, Any]:
    """Save ``models`` with ``config`` as an inference-only checkpoint of ``ckpt``'s kind,
    step and training time (no optimizer or RNG state) -> its summary (parameters, bytes,
    SHA-256, step)."""
    out = build_checkpoint(
        ckpt["kind"],
        models,
        {},
        step=ckpt.get("step", 0),
        epoch=ckpt.get("epoch", 0),
        epoch_step=ckpt.get("epoch_step", 0),
        config=config,
        rng={},
        train_seconds=ckpt.get("train_seconds", 0.0),
    )
    save_checkpoint(dst, out)
    return {
        "parameters": sum(v.numel() for s in models.values() for v in s.values()),
        "bytes": dst.stat().st_size,
        "sha256": sha256(dst),
        "step": out["step"],
    }


def _proxy_source(ckpt: dict[str, Any]) -> tuple[str, str]:
    """(path, SHA-256) of the proxy a 'grn' or 'mutual' checkpoint stands on (via its ARN)."""
    s = ckpt["config"]["sources"]
    if "proxy" in s:
        return s["proxy"], s["proxy_sha256"] or sha256(s["proxy"])
    return _proxy_source(load_checkpoint(s.get("arn") or s["grn"]))


def _check_dst(dst: Path) -> None:
    if dst.parent and not dst.parent.exists():
        raise L2RError(f"output folder {dst.parent} does not exist")


def export_refined(src: str | Path, dst: str | Path, half: bool = True) -> dict[str, Any]:
    """Write the self-contained inference copy of a 'grn' or 'mutual' checkpoint ``src`` (a
    file or run directory) to ``dst`` (module docstring); returns its summary."""
    from dataclasses import asdict

    from l2r_cli.inference import EXPORT_KEY, is_export, load_refined

    ckpt = load_checkpoint(src, expect_kind=("grn", "mutual"))
    if is_export(ckpt):
        raise L2RError(f"{src} is already an exported file")
    dst = Path(dst)
    _check_dst(dst)
    model = load_refined(src, "cpu", ckpt)
    proxy_path, proxy_sha = _proxy_source(ckpt)
    models = {
        "arn": _half(nn.Module.state_dict(model.arn), half),
        "grn": _half(model.grn.state_dict(), half),
    }
    if model.view_net is not None and model.light_net is not None:
        models["view"] = _half(model.view_net.state_dict(), half)
        models["light"] = _half(model.light_net.state_dict(), half)
    bundled = DEFAULT_WEIGHTS.is_file() and proxy_sha == sha256(DEFAULT_WEIGHTS)
    proxy: dict[str, Any] = {"bundled": bundled, "sha256": proxy_sha}
    if not bundled:
        pck = load_checkpoint(proxy_path, expect_kind="proxy")
        state = model.proxy.state_dict()
        models["proxy"] = _half(
            {k: v for k, v in state.items() if not k.startswith("net_conf.")}, half
        )
        proxy["model"] = {**pck["config"]["model"], "use_conf": False}
    config = {k: v for k, v in ckpt["config"].items() if k != EXPORT_KEY}
    config[EXPORT_KEY] = {
        "arn": asdict(model.arn.cfg),
        "grn": asdict(model.grn.cfg),
        "proxy": proxy,
        "exported_from": _provenance(src, ckpt, half),
    }
    return _write_export(dst, ckpt, models, config)


def export_weights(src: str | Path, dst: str | Path, half: bool = True) -> dict[str, Any]:
    """Write the inference-only copy of checkpoint ``src`` (a file or run directory) to
    ``dst``: a proxy stripped of its training state, or a 'grn'/'mutual' run made
    self-contained (:func:`export_refined`); returns the new file's summary (parameters,
    bytes, SHA-256, step)."""
    ckpt = load_checkpoint(src, expect_kind=("proxy", "grn", "mutual"))
    if ckpt["kind"] != "proxy":
        return export_refined(src, dst, half)
    state = {k: v for k, v in ckpt["models"]["proxy"].items() if not k.startswith("net_conf.")}
    state = _half(state, half)
    config = dict(ckpt["config"])
    config["model"] = {**config["model"], "use_conf": False}
    config["exported_from"] = _provenance(src, ckpt, half)
    dst = Path(dst)
    _check_dst(dst)
    return _write_export(dst, ckpt, {"proxy": state}, config)
