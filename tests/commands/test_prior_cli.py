"""`l2r train-prior` and `l2r info` on StyleGAN2 files: dry run, one-line user errors."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from l2r_cli.data.dataset import DatasetWriter
from l2r_cli.engine.checkpoint import build_checkpoint, save_checkpoint
from l2r_cli.models.stylegan2 import Discriminator, DiscriminatorConfig, Generator, GeneratorConfig
from l2r_cli.models.stylegan2_io import save_stylegan2

FIXTURE = Path("/work/shared/fixtures/stylegan2_rosinality_64.pt")
TINY = ["--size", "16", "--max-channels", "16", "--style-dim", "16", "--n-mlp", "2",
        "--workers", "0", "--eval-images", "6", "--batch-size", "4"]  # fmt: skip


def _one_line_error(r, *needles):
    assert r.code == 2, (r.code, r.out, r.err)
    lines = [ln for ln in r.err.strip().splitlines() if ln.strip()]
    text = " ".join(lines)
    assert "Traceback" not in r.err and text.startswith("error:")
    for n in needles:
        assert n in text, (n, text)


def test_dry_run_prints_the_prior_config(l2r, tmp_path):
    cfg = tmp_path / "c.toml"
    cfg.write_text("[loss]\nr1_gamma = 0.5\n[eval]\nfeatures = 'randconv'\n")
    r = l2r("train-prior", "--data", "x", "--out", "y", "--config", cfg, "--size", "32",
            "--max-channels", "64", "--dry-run")  # fmt: skip
    assert r.code == 0, r.err
    for line in ("size = 32", "max_channels = 64", "r1_gamma = 0.5", 'features = "randconv"',
                 "lr = 0.002", "beta1 = 0.0", "batch_size = 64", "[eval]"):  # fmt: skip
        assert line in r.out, line


def test_user_mistakes_are_one_line_errors(l2r, tmp_path, depth_dataset):
    out = tmp_path / "r"
    _one_line_error(l2r("train-prior", "--data", tmp_path / "nope", "--out", out, *TINY),
                    "dataset not found")  # fmt: skip
    _one_line_error(l2r("train-prior", "--data", depth_dataset, "--out", out, *TINY,
                        "--size", "48"), "power of two", "48")  # fmt: skip
    _one_line_error(l2r("train-prior", "--data", depth_dataset, "--out", out, *TINY,
                        "--size", "4"), "power of two")  # fmt: skip
    _one_line_error(l2r("train-prior", "--data", depth_dataset, "--out", out, *TINY,
                        "--eval-images", "3"), "eval.n_images")  # fmt: skip
    cfg = tmp_path / "c.toml"
    cfg.write_text("[train]\ninput = 'lq'\n")
    _one_line_error(l2r("train-prior", "--data", depth_dataset, "--out", out, *TINY,
                        "--config", cfg), "train.input")  # fmt: skip
    cfg.write_text("[eval]\nfeatures = 'vgg'\n")
    _one_line_error(l2r("train-prior", "--data", depth_dataset, "--out", out, *TINY,
                        "--config", cfg), "eval.features")  # fmt: skip
    assert not out.exists()


def test_dataset_without_a_heldout_split(l2r, tmp_path):
    root = tmp_path / "trainonly"
    rng = np.random.default_rng(0)
    with DatasetWriter(root, image_size=16) as w:
        for _ in range(8):
            w.append("train", {"image": rng.integers(0, 255, (16, 16, 3), dtype=np.uint8)})
    _one_line_error(l2r("train-prior", "--data", root, "--out", tmp_path / "r", *TINY),
                    "neither a 'val' nor a 'test' split", "--eval-images 0")  # fmt: skip
    # without the readout it trains on the train split alone
    r = l2r("train-prior", "--data", root, "--out", tmp_path / "r", *TINY, "--eval-images", "0",
            "--max-steps", "1")  # fmt: skip
    assert r.code == 0, r.err
    assert (tmp_path / "r" / "prior.pt").is_file()


def test_resume_on_a_wrong_kind_of_run(l2r, tmp_path, depth_dataset):
    run = tmp_path / "proxyrun"
    save_checkpoint(run / "checkpoints" / "last.pt", build_checkpoint("proxy", {}, {}, 1, 0, 1, {}))
    _one_line_error(l2r("train-prior", "--data", depth_dataset, "--out", run, *TINY, "--resume"),
                    "'proxy' checkpoint", "'prior'")  # fmt: skip
    _one_line_error(l2r("train-prior", "--data", depth_dataset, "--out", tmp_path / "none",
                        *TINY, "--resume"), "no checkpoint to resume")  # fmt: skip


# ----------------------------------------------------------------------------- l2r info


def _small_prior(path: Path, with_d: bool = True, latent_avg: bool = True) -> None:
    torch.manual_seed(0)
    widths = {4: 16, 8: 16, 16: 8}
    g = Generator(GeneratorConfig(size=16, style_dim=16, n_mlp=3, channels=widths))
    d = Discriminator(DiscriminatorConfig(size=16, channels=widths)) if with_d else None
    la = g.mean_latent(64, generator=torch.Generator().manual_seed(0)) if latent_avg else None
    save_stylegan2(path, g, d, la)


def test_info_on_a_small_prior(l2r, tmp_path):
    path = tmp_path / "prior.pt"
    _small_prior(path)
    r = l2r("info", path, "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert (d["kind"], d["size"], d["style_dim"], d["n_mlp"]) == ("stylegan2", 16, 16, 3)
    assert d["widths"] == "4:16 8:16 16:8" and d["channel_multiplier"] is None
    assert d["discriminator"] is True and d["latent_avg"] is True and d["n_latent"] == 6
    r = l2r("info", path)  # the table
    assert r.code == 0 and "stylegan2" in r.out and "style_dim" in r.out
    _small_prior(path, with_d=False, latent_avg=False)
    d = json.loads(l2r("info", path, "--json").out)
    assert d["discriminator"] is False and d["latent_avg"] is False


def test_info_on_rosinality_layouts(l2r, tmp_path):
    # rosinality's table is reported as a channel multiplier (config-f layout at 128 px)
    g = Generator(GeneratorConfig(size=128, style_dim=8, n_mlp=1, channel_multiplier=1))
    torch.save({"g_ema": g.state_dict(), "g_optim": {"lr": 0.002}}, tmp_path / "r.pt")
    d = json.loads(l2r("info", tmp_path / "r.pt", "--json").out)
    assert d["channel_multiplier"] == 1 and d["size"] == 128 and d["ignored"] == ["g_optim"]
    assert d["discriminator"] is False


@pytest.mark.skipif(not FIXTURE.is_file(), reason="reference fixture absent")
def test_info_on_the_reference_fixture(l2r):
    r = l2r("info", FIXTURE, "--json")
    assert r.code == 0, r.err
    d = json.loads(r.out)
    assert (d["size"], d["style_dim"], d["n_mlp"], d["n_latent"]) == (64, 64, 2, 10)
    assert d["widths"] == "4:64 8:64 16:48 32:32 64:32"
    assert d["discriminator"] is True and d["latent_avg"] is True


def test_info_on_invalid_stylegan2_files(l2r, tmp_path):
    bad = tmp_path / "garbage.pt"
    bad.write_bytes(b"\x00" * 64)
    _one_line_error(l2r("info", bad))
    torch.save({"weights": torch.zeros(2)}, tmp_path / "other.pt")
    _one_line_error(l2r("info", tmp_path / "other.pt"), "neither", "g_ema")
    path = tmp_path / "prior.pt"
    _small_prior(path)
    ck = torch.load(path, weights_only=True)
    del ck["g_ema"]["convs.1.conv.weight"]
    torch.save(ck, path)
    _one_line_error(l2r("info", path), "missing convs.1.conv.weight")
    g = Generator(GeneratorConfig(size=8, style_dim=8, n_mlp=1, channels={4: 8, 8: 8}))
    torch.save(g.state_dict(), tmp_path / "bare.pt")
    _one_line_error(l2r("info", tmp_path / "bare.pt"), "bare generator state_dict")
