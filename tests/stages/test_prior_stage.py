"""StyleGAN2 prior training: the readout metric on hand-computed cases, the path-length term
against its closed form, a 2-step smoke run through the CLI, exact resume, torchrun."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import imageio.v3 as iio
import pytest
import torch

from l2r_cli.config import PriorModelConfig
from l2r_cli.engine.checkpoint import load_checkpoint
from l2r_cli.models.stylegan2 import Generator, GeneratorConfig
from l2r_cli.models.stylegan2_io import load_stylegan2
from l2r_cli.stages.prior import (
    _Synthesis,
    ema_beta,
    knn_radii,
    model_configs,
    path_lengths,
    pixel_features,
    precision_recall,
)

TINY = ["--size", "16", "--max-channels", "16", "--style-dim", "16", "--n-mlp", "2",
        "--workers", "0", "--eval-images", "6"]  # fmt: skip


# ----------------------------------------------------------------------------- metric


def test_precision_recall_identical_sets_are_one():
    x = torch.randn(20, 5, generator=torch.Generator().manual_seed(0))
    assert precision_recall(x, x.clone(), k=3) == (1.0, 1.0)


def test_precision_recall_far_disjoint_sets_are_zero():
    g = torch.Generator().manual_seed(1)
    real, fake = torch.randn(10, 4, generator=g), torch.randn(10, 4, generator=g) + 100.0
    assert precision_recall(real, fake, k=3) == (0.0, 0.0)


def test_precision_recall_hand_computed():
    # real on a line at 0, 1, 2, 3: with k = 1 every real ball has radius 1.
    # fake at 0.5 (inside the ball of 0) and 10 (outside all): precision 1/2.
    # The two fake points are each other's only neighbour: radius 9.5 around 0.5 and 10,
    # which holds all four real points: recall 1.
    real = torch.tensor([[0.0], [1.0], [2.0], [3.0]])
    fake = torch.tensor([[0.5], [10.0]])
    assert torch.equal(knn_radii(real, 1), torch.ones(4, dtype=torch.float64))
    assert precision_recall(real, fake, k=1) == (0.5, 1.0)
    # two fake points have no 2nd neighbour
    with pytest.raises(ValueError, match="k must be"):
        precision_recall(real, fake, k=2)


def test_pixel_features_are_area_averages():
    img = torch.arange(2 * 3 * 32 * 32, dtype=torch.float32).reshape(2, 3, 32, 32)
    f = pixel_features(img)
    assert f.shape == (2, 3 * 16 * 16)
    assert f[0, 0] == img[0, 0, :2, :2].mean()
    assert pixel_features(torch.zeros(1, 3, 8, 8)).shape == (1, 3 * 8 * 8)


# ----------------------------------------------------------------------------- pieces


def test_ema_half_life_and_rampup():
    batch = 32
    beta = ema_beta(10**9, batch, ema_kimg=10.0, ema_rampup=0.0)
    assert beta ** (10_000 / batch) == pytest.approx(0.5)  # half-life of 10k images
    # early in a run the ramp-up caps the half-life at 5% of the images seen
    early = ema_beta(6400, batch, ema_kimg=10.0, ema_rampup=0.05)
    assert early ** (320 / batch) == pytest.approx(0.5)
    assert ema_beta(100, batch, ema_kimg=0.0, ema_rampup=0.0) == 0.0  # g_ema = g
    assert ema_beta(4, 4, ema_kimg=0.004, ema_rampup=0.0) == pytest.approx(0.5)  # 4 images


def test_max_channels_caps_rosinality_widths():
    g, d = model_configs(PriorModelConfig(size=128, channel_multiplier=1, max_channels=128))
    assert g.widths() == {4: 128, 8: 128, 16: 128, 32: 128, 64: 128, 128: 128}
    assert d.widths() == g.widths()
    g, _ = model_configs(PriorModelConfig(size=128, channel_multiplier=1))
    assert g.channels is None and g.widths()[128] == 128 and g.widths()[4] == 512


def test_style_mixing_takes_rows_from_each_latent():
    torch.manual_seed(0)
    g = Generator(GeneratorConfig(size=16, style_dim=8, n_mlp=1, channels={4: 8, 8: 8, 16: 8}))
    z = torch.randn(2, 3, 8)
    _, wplus = _Synthesis(g)(z, cutoff=2)
    w0, w1 = g.mapping(z[0]), g.mapping(z[1])
    assert wplus.shape == (3, g.n_latent, 8)
    torch.testing.assert_close(wplus[:, :2], w0[:, None].expand(3, 2, 8))
    torch.testing.assert_close(wplus[:, 2:], w1[:, None].expand(3, g.n_latent - 2, 8))


def test_path_lengths_match_the_closed_form_of_a_linear_map():
    # images[b] = sum_l A_l w[b, l]  =>  J^T y for layer l is A_l^T y, so the length is
    # sqrt(mean_l |A_l^T y|^2); the batch must not mix (rows use their own y).
    g = torch.Generator().manual_seed(0)
    b, layers, dim, s = 3, 4, 5, 4
    a = torch.randn(layers, 3 * s * s, dim, generator=g, dtype=torch.float64)
    w = torch.randn(b, layers, dim, generator=g, dtype=torch.float64, requires_grad=True)
    y = torch.randn(b, 3, s, s, generator=g, dtype=torch.float64)
    images = torch.einsum("lpd,bld->bp", a, w).reshape(b, 3, s, s)
    got = path_lengths(images, w, y)
    jt_y = torch.einsum("lpd,bp->bld", a, y.flatten(1))
    want = jt_y.pow(2).sum(2).mean(1).sqrt()
    torch.testing.assert_close(got, want)


# ----------------------------------------------------------------------------- runs


def _models(run: Path) -> dict[str, torch.Tensor]:
    ck = load_checkpoint(run, expect_kind="prior")
    return {f"{n}.{k}": v for n, sd in ck["models"].items() for k, v in sd.items()}


def _evals(run: Path) -> list[dict]:
    lines = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    return [(r["step"], r["epoch"], r["eval"]) for r in lines if "eval" in r]


def test_two_step_smoke_train(l2r, tmp_path, depth_dataset):
    run = tmp_path / "run"
    r = l2r("train-prior", "--data", depth_dataset, "--out", run, *TINY, "--batch-size", "8",
            "--epochs", "1")  # fmt: skip
    assert r.code == 0, r.err
    ck = load_checkpoint(run, expect_kind="prior")
    assert ck["step"] == 2 and set(ck["models"]) == {"g", "d", "g_ema", "state"}
    assert set(ck["optimizers"]) == {"g", "d"}
    # the exported prior reads through the loader of official weights, and is g_ema
    g, d, latent_avg, info = load_stylegan2(run / "prior.pt")
    assert info.generator.size == 16 and info.generator.style_dim == 16
    assert info.generator.n_mlp == 2 and info.generator.widths() == {4: 16, 8: 16, 16: 16}
    assert d is not None and latent_avg is not None and latent_avg.shape == (16,)
    assert all(torch.equal(v, ck["models"]["g_ema"][k]) for k, v in g.state_dict().items())
    assert all(torch.equal(v, ck["models"]["d"][k]) for k, v in d.state_dict().items())
    # g_ema moved off its initial copy of g, but is not g
    assert not torch.equal(ck["models"]["g_ema"]["input.input"], ck["models"]["g"]["input.input"])
    # sample grid: a row of training images, then 32 samples, tiles upscaled to 64 px
    grid = iio.imread(run / "panels" / "epoch_001.png")
    assert grid.shape == (5 * 66 + 2, 8 * 66 + 2, 3) and grid.dtype == "uint8"
    [(step, epoch, scores)] = _evals(run)
    assert (step, epoch) == (2, 1) and scores["n"] == 6
    assert 0 <= scores["precision"] <= 1 and 0 <= scores["recall"] <= 1
    assert "precision" in r.err and "recall" in r.err  # training progress goes to stderr
    r = l2r("info", run / "prior.pt", "--json")
    assert r.code == 0 and '"kind": "stylegan2"' in r.out


def test_resume_gives_identical_weights(l2r, tmp_path, depth_dataset):
    # lazy R1 every 2 steps and path length every 3 cross the interruption at step 3
    common = ["--data", depth_dataset, *TINY, "--batch-size", "4", "--epochs", "2",
              "--d-reg-every", "2", "--pl-weight", "2", "--g-reg-every", "3",
              "--mixing-prob", "0.5", "--eval-features", "randconv"]  # fmt: skip
    full, part = tmp_path / "full", tmp_path / "part"
    assert l2r("train-prior", *common, "--out", full).code == 0
    assert l2r("train-prior", *common, "--out", part, "--max-steps", "3").code == 0
    r = l2r("train-prior", *common, "--out", part, "--resume")
    assert r.code == 0, r.err
    a, b = _models(full), _models(part)
    assert load_checkpoint(part)["step"] == load_checkpoint(full)["step"] == 8
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert float(a["state.pl_mean"]) > 0  # the path-length term ran
    oa, ob = (load_checkpoint(x)["optimizers"] for x in (full, part))
    for name in ("g", "d"):
        sa, sb = oa[name]["state"], ob[name]["state"]
        assert all(torch.equal(sa[i]["exp_avg_sq"], sb[i]["exp_avg_sq"]) for i in sa)
    pa, pb = (torch.load(x / "prior.pt", weights_only=True) for x in (full, part))
    assert all(torch.equal(pa["g_ema"][k], pb["g_ema"][k]) for k in pa["g_ema"])
    assert torch.equal(pa["latent_avg"], pb["latent_avg"])
    assert _evals(full) == _evals(part) and len(_evals(full)) == 2


_DDP_SCRIPT = """
import sys
from pathlib import Path

import torch

from l2r_cli.config import PriorRunConfig, from_dict, to_dict
from l2r_cli.data.dataset import L2RDataset
from l2r_cli.engine.distributed import cleanup, init_distributed
from l2r_cli.engine.trainer import Trainer
from l2r_cli.stages.prior import PriorStage
from l2r_cli.stages.run import seed_everything

data, out = sys.argv[1], Path(sys.argv[2])
cfg = from_dict(PriorRunConfig, {
    "model": {"size": 16, "max_channels": 16, "style_dim": 16, "n_mlp": 2},
    "loss": {"d_reg_every": 1, "pl_weight": 2.0, "g_reg_every": 1},
    "train": {"batch_size": 8, "epochs": 1, "num_workers": 0},
    "eval": {"n_images": 6},
})
dist = init_distributed("cpu")
seed_everything(0)
stage = PriorStage(cfg, dist.device, heldout=L2RDataset(data, "test", image_size=16))
train = L2RDataset(data, "train", image_size=16)
Trainer(stage, train, cfg.train, out, to_dict(cfg), dist, seed=0).fit()
torch.save(stage.nets.state_dict(), out / f"rank{dist.rank}.pt")
cleanup()
"""


def test_torchrun_two_processes_stay_in_step(tmp_path, depth_dataset):
    """2 gloo ranks x 4 images, R1 and path length every step: every parameter's gradient is
    averaged over the ranks (DDP), so the ranks, which saw different images, end with the same
    bits; rank 0 writes the outputs."""
    script = tmp_path / "ddp_prior.py"
    script.write_text(_DDP_SCRIPT)
    out = tmp_path / "ddp"
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(Path.cwd())}
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         str(script), str(depth_dataset), str(out)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-3000:]
    a, b = (torch.load(out / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    local = {"state.r1", "state.pl"}  # each rank's latest penalty, kept for its log only
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a.keys() - local)
    assert float(a["state.pl_mean"]) > 0 and int(a["state.step"]) == 2
    assert load_checkpoint(out, expect_kind="prior")["step"] == 2
    g, *_ = load_stylegan2(out / "prior.pt")
    assert all(torch.equal(v, a[f"g_ema.{k}"]) for k, v in g.state_dict().items())
    assert len(_evals(out)) == 1
