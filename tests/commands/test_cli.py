"""The `l2r` command: help of every subcommand, global options, one-line errors."""

from __future__ import annotations

import torch

from l2r_cli.cli import cli
from l2r_cli.engine.checkpoint import build_checkpoint, save_checkpoint

TINY = ["--nf", "8", "--zdim", "16", "--size", "32", "--workers", "0"]


def _all_commands(group, prefix=()):
    for name, cmd in group.commands.items():
        yield (*prefix, name)
        if hasattr(cmd, "commands"):
            yield from _all_commands(cmd, (*prefix, name))


def test_help_of_every_subcommand(l2r):
    r = l2r("--help")
    assert r.code == 0 and "train-proxy" in r.out
    for path in _all_commands(cli):
        r = l2r(*path, "--help")
        assert r.code == 0, path
        assert "Usage" in r.out


def test_version_and_bad_device(l2r):
    assert l2r("--version").code == 0
    r = l2r("--device", "tpu", "info", ".")
    # info does not touch the device; train does:
    r = l2r("--device", "tpu", "benchmark", "bfm", "--data", ".", "--baseline")
    assert r.code == 2 and "--device" in r.err and "Traceback" not in r.err
    if not torch.cuda.is_available():
        r = l2r("--device", "cuda", "benchmark", "bfm", "--data", ".", "--baseline")
        assert r.code == 2 and "CUDA is not available" in r.err


def _one_line_error(r, *needles):
    assert r.code == 2, (r.code, r.out, r.err)
    lines = [ln for ln in r.err.strip().splitlines() if ln.strip()]
    text = " ".join(lines)
    assert "Traceback" not in r.err
    assert text.startswith("error:")
    for n in needles:
        assert n in text, (n, text)


def test_malformed_data_paths(l2r, tmp_path):
    _one_line_error(l2r("train-proxy", "--data", tmp_path / "nope", "--out", tmp_path / "r"))
    (tmp_path / "empty").mkdir()
    _one_line_error(
        l2r("train-proxy", "--data", tmp_path / "empty", "--out", tmp_path / "r"), "manifest"
    )
    (tmp_path / "bad").mkdir()
    (tmp_path / "bad" / "manifest.json").write_text("{not json")
    _one_line_error(l2r("info", tmp_path / "bad"))
    _one_line_error(l2r("benchmark", "bfm", "--data", tmp_path / "bad", "--baseline"))


def test_malformed_and_wrong_stage_checkpoints(l2r, tmp_path, depth_dataset):
    garbage = tmp_path / "garbage.pt"
    garbage.write_bytes(b"\x00" * 100)
    _one_line_error(l2r("info", garbage))
    _one_line_error(l2r("benchmark", "bfm", "--data", depth_dataset, "--ckpt", garbage))
    _one_line_error(l2r("benchmark", "bfm", "--data", depth_dataset, "--ckpt", tmp_path / "x.pt"))
    prior = tmp_path / "prior.pt"
    save_checkpoint(prior, build_checkpoint("prior", {}, {}, 1, 0, 1, {}))
    _one_line_error(
        l2r("benchmark", "bfm", "--data", depth_dataset, "--ckpt", prior), "'prior'", "'proxy'"
    )
    (tmp_path / "run").mkdir()
    _one_line_error(l2r("benchmark", "bfm", "--data", depth_dataset, "--ckpt", tmp_path / "run"))


def test_unknown_config_key(l2r, tmp_path, depth_dataset):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[train]\nepochz = 3\n")
    _one_line_error(
        l2r("train-proxy", "--data", depth_dataset, "--out", tmp_path / "r", "--config", cfg),
        "train.epochz",
    )
    cfg.write_text("[train]\nepochs = 'three'\n")
    _one_line_error(
        l2r("train-proxy", "--data", depth_dataset, "--out", tmp_path / "r", "--config", cfg),
        "train.epochs",
    )
    cfg.write_text("[train\n")
    _one_line_error(
        l2r("train-proxy", "--data", depth_dataset, "--out", tmp_path / "r", "--config", cfg),
        "TOML",
    )
    assert not (tmp_path / "r").exists()


def test_dry_run_prints_resolved_config(l2r, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[optim]\nlr = 0.0003\n[train]\nepochs = 4\n")
    r = l2r("train-proxy", "--data", "x", "--out", "y", "--config", cfg, "--epochs", "7",
            "--dry-run")  # fmt: skip
    assert r.code == 0
    assert "epochs = 7" in r.out and "lr = 0.0003" in r.out and "[model]" in r.out
    assert "nf = 64" in r.out
