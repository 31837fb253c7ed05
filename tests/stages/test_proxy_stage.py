"""Proxy training end to end through the CLI: smoke train, exact resume, kill -9, benchmark."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch

from l2r_cli.engine.checkpoint import load_checkpoint
from tests.conftest import one_and_two_processes

TINY = ["--nf", "8", "--zdim", "16", "--size", "32", "--workers", "0"]


def _weights(run: Path) -> dict[str, torch.Tensor]:
    return load_checkpoint(run, expect_kind="proxy")["models"]["proxy"]


def test_two_step_smoke_train_then_info_and_bfm(l2r, tmp_path, depth_dataset):
    run = tmp_path / "run"
    r = l2r("train-proxy", "--data", depth_dataset, "--out", run, *TINY,
            "--batch-size", "4", "--max-steps", "2")  # fmt: skip
    assert r.code == 0, r.err
    ck = load_checkpoint(run)
    assert ck["kind"] == "proxy" and ck["step"] == 2
    assert (run / "config.toml").exists()
    r = l2r("info", run, "--json")
    assert r.code == 0 and '"kind": "proxy"' in r.out
    out = tmp_path / "bfm.json"
    r = l2r("benchmark", "bfm", "--data", depth_dataset, "--ckpt", run, "--baseline",
            "--json", out)  # fmt: skip
    assert r.code == 0, r.err
    res = json.loads(out.read_text())["results"]
    assert [x["n"] for x in res] == [6, 6]
    assert all(x["side_mean"] > 0 and x["mad_mean"] > 0 for x in res)


def test_resume_gives_identical_weights(l2r, tmp_path, depth_dataset):
    common = ["--data", depth_dataset, *TINY, "--batch-size", "4", "--epochs", "2"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert l2r("train-proxy", *common, "--out", full).code == 0
    assert l2r("train-proxy", *common, "--out", part, "--max-steps", "3").code == 0
    r = l2r("train-proxy", *common, "--out", part)
    assert r.code == 2 and "--resume" in r.err  # refuses to overwrite a run
    assert l2r("train-proxy", *common, "--out", part, "--resume").code == 0
    a, b = _weights(full), _weights(part)
    assert load_checkpoint(part)["step"] == load_checkpoint(full)["step"] == 8
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_kill_9_then_resume_finishes(tmp_path, depth_dataset):
    env = {**os.environ, "PYTHONUNBUFFERED": "1"}
    args = [sys.executable, "-m", "l2r_cli", "train-proxy", "--data", str(depth_dataset), *TINY,
            "--batch-size", "4", "--epochs", "6", "--ckpt-every", "2"]  # fmt: skip
    run = tmp_path / "run"
    proc = subprocess.Popen([*args, "--out", str(run)], env=env, stdout=subprocess.DEVNULL,
                            stderr=subprocess.DEVNULL)  # fmt: skip
    deadline = time.time() + 120
    while time.time() < deadline and not list((run / "checkpoints").glob("step_*.pt")):
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert list((run / "checkpoints").glob("step_*.pt")), "no checkpoint before the kill"
    done = subprocess.run([*args, "--out", str(run), "--resume"], env=env, capture_output=True,
                          text=True, timeout=300)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert load_checkpoint(run)["step"] == 24
    ref = tmp_path / "ref"
    subprocess.run([*args, "--out", str(ref)], env=env, check=True, capture_output=True)
    a, b = _weights(run), _weights(ref)
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_torchrun_two_processes_match_one(tmp_path, depth_dataset):
    """2 gloo processes x batch 4 == 1 process x batch 8, to 1e-4 after 3 Adam steps.

    Not bit-exact: DDP sums gradients in another order than one backward over the whole batch,
    and Adam's first steps divide by sqrt(v) of near-zero gradients, which magnifies float32
    rounding; 1e-4 is still far below one step's update (lr 1e-4 per weight per step, ~3e-4).
    """
    common = ["train-proxy", "--data", str(depth_dataset), *TINY, "--batch-size", "8",
              "--max-steps", "3", "--epochs", "5"]  # fmt: skip
    one, two = tmp_path / "one", tmp_path / "two"
    one_and_two_processes(common, one, two)
    a, b = _weights(one), _weights(two)
    assert load_checkpoint(two)["step"] == 3
    diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    assert diff < 1e-4, diff
    moved = max(float((a[k].float() - _init(tmp_path)[k].float()).abs().max()) for k in a)
    assert moved > 10 * diff  # the runs trained, and agree far better than they moved


def _init(tmp_path: Path) -> dict[str, torch.Tensor]:
    from dataclasses import replace

    from l2r_cli.config import ProxyModelConfig
    from l2r_cli.models.proxy import Proxy

    torch.manual_seed(0)
    cfg = replace(ProxyModelConfig(), nf=8, zdim=16, image_size=32)
    return Proxy(cfg).state_dict()


def test_basrelief_gain_has_its_own_learning_rate_and_no_decay():
    from dataclasses import replace

    from l2r_cli.config import OptimConfig, ProxyModelConfig, ProxyRunConfig
    from l2r_cli.stages.proxy import ProxyStage

    cfg = ProxyRunConfig(
        model=ProxyModelConfig(image_size=32, nf=8, zdim=16, basrelief_gain=True),
        optim=replace(OptimConfig(), lr=1e-4, gain_lr=3e-2),
    )
    stage = ProxyStage(cfg, torch.device("cpu"))
    nets, gain = stage.optimizers()["proxy"].param_groups
    assert nets["lr"] == 1e-4 and nets["weight_decay"] == 5e-4
    assert gain["lr"] == 3e-2 and gain["weight_decay"] == 0.0
    assert gain["params"] == [stage.model.basrelief.log_gain]
    n_model = sum(1 for _ in stage.model.parameters())
    assert len(nets["params"]) + 1 == n_model


def test_pose_lr_mult_gives_the_view_and_light_nets_their_own_rate():
    from dataclasses import replace

    from l2r_cli.config import OptimConfig, ProxyModelConfig, ProxyRunConfig
    from l2r_cli.stages.proxy import ProxyStage

    model = ProxyModelConfig(image_size=32, nf=8, zdim=16)
    one = ProxyStage(ProxyRunConfig(model=model), torch.device("cpu"))
    (group,) = one.optimizers()["proxy"].param_groups  # default: one group, model order
    assert group["params"] == list(one.model.parameters())

    cfg = ProxyRunConfig(model=model, optim=replace(OptimConfig(), lr=1e-4, pose_lr_mult=5.0))
    stage = ProxyStage(cfg, torch.device("cpu"))
    nets, pose = stage.optimizers()["proxy"].param_groups
    want = [*stage.model.net_view.parameters(), *stage.model.net_light.parameters()]
    assert pose["lr"] == 5e-4 and nets["lr"] == 1e-4
    assert {id(p) for p in pose["params"]} == {id(p) for p in want}
    assert len(nets["params"]) + len(want) == sum(1 for _ in stage.model.parameters())


def _gain_proxy():
    from l2r_cli.config import ProxyModelConfig
    from l2r_cli.models.proxy import Proxy

    torch.manual_seed(0)
    return Proxy(ProxyModelConfig(image_size=32, nf=8, zdim=16, basrelief_gain=True)).eval()


def test_gain_refit_finds_the_minimum_of_a_known_curve(monkeypatch):
    import l2r_cli.stages.proxy as sp

    model = _gain_proxy()
    target = {"t": 0.137}
    seen = []

    def fake_l1(m, image, lam_flip):  # a parabola in the log gain, minimum at target
        g = m.basrelief.log_gain.item()
        seen.append(g)
        return torch.tensor((g - target["t"]) ** 2 + 1.0)

    monkeypatch.setattr(sp, "plain_photometric_l1", fake_l1)
    images = [torch.zeros(2, 3, 32, 32)]
    fit = sp.refit_basrelief_gain(model, images, 1.5)
    assert fit.offset == pytest.approx(0.137, abs=1e-6)  # the parabola step is exact here
    assert model.basrelief.log_gain.item() == pytest.approx(0.137, abs=1e-6)
    assert fit.loss_before == pytest.approx(1 + 0.137**2) and fit.loss_after == pytest.approx(1)
    assert len(fit.curve) == 13 and fit.curve[0][0] == pytest.approx(-0.3)
    # Beyond the scanned span the search stops at its edge; at the optimum it stays put.
    target["t"] = 0.137 + 0.9
    assert sp.refit_basrelief_gain(model, images, 1.5).offset == pytest.approx(0.3)
    target["t"] = model.basrelief.log_gain.item()
    assert sp.refit_basrelief_gain(model, images, 1.5).offset == 0.0
    # reduce_mean decides (all ranks must agree): here it says "lowest at the current gain".
    target["t"] = 10.0
    g = model.basrelief.log_gain.item()

    def other_ranks(d):
        return {"l1": (model.basrelief.log_gain.item() - g) ** 2}

    assert sp.refit_basrelief_gain(model, images, 1.5, other_ranks).offset == 0.0


def test_gain_refit_on_a_real_proxy_lowers_the_plain_l1():
    from l2r_cli.stages.proxy import plain_photometric_l1, refit_basrelief_gain

    model = _gain_proxy()
    with torch.no_grad():
        model.basrelief.log_gain.fill_(0.5)
    g = torch.Generator().manual_seed(1)
    images = [torch.rand(4, 3, 32, 32, generator=g) * 2 - 1 for _ in range(2)]
    fit = refit_basrelief_gain(model, images, 1.5)
    with torch.no_grad():
        after = sum(plain_photometric_l1(model, x, 1.5).item() for x in images) / 2
    assert after == pytest.approx(fit.loss_after, rel=1e-6)
    assert fit.loss_after <= fit.loss_before
    assert model.basrelief.log_gain.item() == pytest.approx(0.5 + fit.offset, abs=1e-7)


def test_gain_refit_runs_when_training_ends(l2r, tmp_path, depth_dataset):
    cfg = tmp_path / "refit.toml"
    cfg.write_text("[model]\nbasrelief_gain = true\n[optim]\ngain_refit_batches = 2\n")
    run = tmp_path / "run"
    r = l2r("train-proxy", "--data", depth_dataset, "--out", run, *TINY, "--config", cfg,
            "--batch-size", "4", "--max-steps", "2")  # fmt: skip
    assert r.code == 0, r.err
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    (fin,) = [x["finish"] for x in log if "finish" in x]
    assert fin["l1_after"] <= fin["l1_before"]
    assert _weights(run)["basrelief.log_gain"].exp().item() == pytest.approx(fin["basrelief_gain"])
    # Without the gain there is nothing to refit: a one-line config error.
    cfg.write_text("[optim]\ngain_refit_batches = 2\n")
    r = l2r("train-proxy", "--data", depth_dataset, "--out", tmp_path / "r2", *TINY,
            "--config", cfg, "--max-steps", "1")  # fmt: skip
    assert r.code == 2 and "gain_refit_batches needs model.basrelief_gain" in r.err


def test_supervised_terms_known_answers():
    """Exact factors score 0 (off the mask: at ``far`` or beyond); a depth 0.01 off inside
    the mask scores 1 there (units of 0.01) and 0.5 in the total (mean of face and rest); off
    the mask only surroundings nearer than ``far`` cost; a yaw 0.3 rad off scores 0.1."""
    from l2r_cli.models.proxy import ProxyFactors
    from l2r_cli.stages.proxy import supervised_terms

    gen = torch.Generator().manual_seed(0)
    gt = 1 + 0.02 * torch.rand(2, 8, 8, generator=gen)
    mask = torch.zeros(2, 8, 8)
    mask[:, 2:6, 2:6] = 1
    gt_far = torch.where(mask > 0, gt, torch.full_like(gt, 1.05))
    view = torch.rand(2, 6, generator=gen)
    batch = {"canon_depth": torch.where(mask > 0, gt, 1.1), "canon_mask": mask, "view": view}

    def score(depth, v):
        f = ProxyFactors(depth, None, None, v, None, None)
        return supervised_terms(f, batch, 2.0, 3.0, far=1.05)

    total, logs = score(gt_far.clone(), view.clone())
    assert total.item() == 0 and logs == {"depth_sup": 0.0, "depth_sup_off": 0.0, "view_sup": 0.0}
    _, logs = score(gt_far + 0.04 * (1 - mask), view)  # deeper surroundings are as good
    assert logs["depth_sup_off"] == 0
    v = view.clone()
    v[:, 1] += 0.3
    v[:, 3:] += 7  # translations are not supervised
    total, logs = score(gt_far + 0.01 * mask, v)
    assert logs["depth_sup"] == pytest.approx(1.0, rel=1e-4) and logs["depth_sup_off"] == 0
    assert logs["view_sup"] == pytest.approx(0.1, rel=1e-4)
    assert total.item() == pytest.approx(2.0 * 0.5 + 3.0 * 0.1, rel=1e-4)
    # a surface rising 0.1 in front of the face off the mask (the failure it exists for)
    _, logs = score(gt_far - 0.1 * (1 - mask), view)
    assert logs["depth_sup"] == 0 and logs["depth_sup_off"] == pytest.approx(10.0, rel=1e-4)


def test_supervised_training_on_synth_data_and_one_line_error_without(l2r, tmp_path, depth_dataset):
    cfg = tmp_path / "sup.toml"
    cfg.write_text("[loss]\nlam_depth_sup = 1.0\nlam_view_sup = 1.0\n")
    data = tmp_path / "synth"
    assert l2r("synth", data, "--n", "10", "--size", "32", "--split", "0.8,0.2,0").code == 0
    run = tmp_path / "run"
    r = l2r("train-proxy", "--data", data, "--out", run, *TINY, "--config", cfg,
            "--batch-size", "4", "--max-steps", "2", "--val-images", "2")  # fmt: skip
    assert r.code == 0, r.err
    log = [json.loads(x) for x in (run / "log.jsonl").read_text().splitlines()]
    steps = [x for x in log if "losses" in x]
    assert steps and all(x["losses"]["depth_sup"] > 0 and x["losses"]["view_sup"] > 0
                         for x in steps)  # fmt: skip
    assert any("depth_sup" in x.get("val", {}) for x in log)
    # data without exact factors: a one-line error naming the missing fields
    r = l2r("train-proxy", "--data", depth_dataset, "--out", tmp_path / "r2", *TINY,
            "--config", cfg, "--max-steps", "1")  # fmt: skip
    assert r.code == 2 and "canon_depth, canon_mask, view" in r.err and "Traceback" not in r.err
    cfg.write_text("[loss]\nlam_view_sup = -1\n")
    r = l2r("train-proxy", "--data", data, "--out", tmp_path / "r3", *TINY, "--config", cfg)
    assert r.code == 2 and "loss.lam_view_sup must be >= 0" in r.err
