"""GRN and mutual learning end to end through the CLI: smoke trains, ablations, separate
generator and discriminator steps, exact resume, torchrun, the benchmark, one-line errors."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from l2r_cli.config import MutualRunConfig, MutualSourcesConfig
from l2r_cli.engine.checkpoint import build_checkpoint, load_checkpoint, save_checkpoint
from tests.conftest import one_and_two_processes
from tests.stages.conftest import TINY, TINY_GRN
from tests.stages.test_arn_stage import _one_line, make_lq_dataset


def test_grn_two_step_smoke_train(grn_inputs):
    ck = load_checkpoint(grn_inputs["grn"], expect_kind="grn")
    assert ck["step"] == 2 and set(ck["models"]) == {"grn"}
    src = ck["config"]["sources"]
    assert src["arn"].endswith("last.pt") and len(src["arn_sha256"]) == 64
    assert ck["config"]["loss"]["beta"] == 0.1  # eqn. (7)'s default


def test_mutual_two_step_smoke_train_and_benchmark(l2r, tmp_path, grn_inputs):
    run = tmp_path / "mutual"
    r = l2r("train-mutual", "--data", grn_inputs["data"], "--grn", grn_inputs["grn"], *TINY,
            "--max-steps", "2", "--out", run)  # fmt: skip
    assert r.code == 0, r.err
    ck = load_checkpoint(run, expect_kind="mutual")
    assert ck["step"] == 2 and set(ck["models"]) == {"arn", "grn", "view", "light", "disc"}
    assert not any(k.startswith("arn.generator.") for k in ck["models"]["arn"])  # prior frozen
    # D started from the prior file's 32 px discriminator
    assert ck["models"]["disc"]["convs.0.0.weight"].shape[0] == 8
    out = tmp_path / "bfm.json"
    r = l2r("benchmark", "bfm", "--data", grn_inputs["data"], "--input", "lq", "--ckpt",
            grn_inputs["grn"], "--ckpt", run, "--json", out)  # fmt: skip
    assert r.code == 0, r.err
    import json

    rows = json.loads(out.read_text())["results"]
    assert [r["n"] for r in rows] == [4, 4]
    assert all(0 < r["side_mean"] < 1 and 0 < r["mad_mean"] < 90 for r in rows)
    assert [r["stage"] for r in rows] == ["grn", "mutual"]
    tex = tmp_path / "tex.json"
    r = l2r("benchmark", "texture", "--data", grn_inputs["data"], "--ckpt", grn_inputs["grn"],
            "--ckpt", run, "--json", tex)  # fmt: skip
    assert r.code == 0, r.err
    rows = json.loads(tex.read_text())["results"]
    assert [row["name"].split(" ")[0] for row in rows] == ["proxy", "grn", "proxy", "mutual"]
    assert all(row["n"] == 4 and -1 < row["ssim_mean"] <= 1 for row in rows)


@pytest.mark.parametrize(
    "flags", [["--no-use-restored"], ["--no-displacement"]], ids=["no-restored", "no-disp"]
)
def test_grn_ablations_train(l2r, tmp_path, grn_inputs, flags):
    r = l2r("train-grn", "--data", grn_inputs["data"], "--arn", grn_inputs["arn"], *TINY_GRN,
            "--max-steps", "1", "--out", tmp_path / "g", *flags)  # fmt: skip
    assert r.code == 0, r.err
    from l2r_cli.stages.grn import load_grn

    _, model = load_grn(tmp_path / "g", "cpu")
    assert model.grn.cfg.arch.use_restored == ("--no-use-restored" not in flags)
    assert model.grn.cfg.arch.displacement == ("--no-displacement" not in flags)


def test_without_cross_view_loss_there_is_no_discriminator(l2r, tmp_path, grn_inputs):
    r = l2r("train-mutual", "--data", grn_inputs["data"], "--grn", grn_inputs["grn"], *TINY,
            "--max-steps", "1", "--alpha", "0", "--out", tmp_path / "m")  # fmt: skip
    assert r.code == 0, r.err
    ck = load_checkpoint(tmp_path / "m", expect_kind="mutual")
    assert "disc" not in ck["models"] and "disc" not in ck["optimizers"]


def _params(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in module.named_parameters()}


def _changed(before: dict, module: torch.nn.Module) -> set[str]:
    return {k for k, v in module.named_parameters() if not torch.equal(before[k], v)}


def test_generator_and_discriminator_steps_change_only_their_own_parameters(grn_inputs):
    from torch.utils.data import DataLoader

    from l2r_cli.data.dataset import L2RDataset
    from l2r_cli.stages.mutual import MutualStage, resolve_mutual_sources

    cfg = resolve_mutual_sources(
        MutualRunConfig(sources=MutualSourcesConfig(grn=str(grn_inputs["grn"])))
    )
    torch.manual_seed(0)
    stage = MutualStage(cfg, torch.device("cpu"))
    stage.train()
    ds = L2RDataset(grn_inputs["data"], "train", fields=("image", "lq"), image_size=32)
    batch = next(iter(DataLoader(ds, batch_size=4)))
    gen_nets = [n for n in stage.nets if n != "disc"]
    disc = stage.nets["disc"]

    g0 = {n: _params(stage.nets[n]) for n in gen_nets}
    d0 = _params(disc)
    x = stage.frozen_inputs(batch)
    logs, fake = stage.generator_step(x)
    assert "g_adv" in logs and fake is not None and not fake.requires_grad
    assert _changed(d0, disc) == set()
    for n in gen_nets:  # every generator-side net moved (the ARN's prior is not a parameter here)
        assert _changed(g0[n], stage.nets[n]), n
    assert all(p.requires_grad for p in disc.parameters())  # restored after the G step

    g1 = {n: _params(stage.nets[n]) for n in gen_nets}
    d1 = _params(disc)
    logs = stage.discriminator_step(x["gt"], fake)
    assert "d_loss" in logs and "r1" in logs
    assert _changed(d1, disc) == set(d1)
    for n in gen_nets:
        assert _changed(g1[n], stage.nets[n]) == set(), n


def test_mutual_resume_gives_identical_weights(l2r, tmp_path, grn_inputs):
    """The random cross-view draws are restored too: 2 + 1 steps resumed == 3 steps."""
    common = ["--data", grn_inputs["data"], "--grn", grn_inputs["grn"], *TINY, "--epochs", "2"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert l2r("train-mutual", *common, "--max-steps", "3", "--out", full).code == 0
    assert l2r("train-mutual", *common, "--max-steps", "2", "--out", part).code == 0
    assert l2r("train-mutual", *common, "--max-steps", "3", "--out", part, "--resume").code == 0
    a, b = load_checkpoint(full)["models"], load_checkpoint(part)["models"]
    assert load_checkpoint(part)["step"] == 3
    for net in a:
        assert all(torch.equal(a[net][k], b[net][k]) for k in a[net]), net


def test_torchrun_two_processes_match_one_for_grn(tmp_path, grn_inputs):
    """2 gloo processes x batch 4 == 1 process x batch 8 after 3 GRN steps, to 1e-4."""
    data = make_lq_dataset(tmp_path / "ds1", n_train=16, variants=1)
    common = ["train-grn", "--data", str(data), "--arn", str(grn_inputs["arn"]), "--nf", "8",
              "--zdim", "16", "--workers", "0", "--batch-size", "8",
              "--max-steps", "3"]  # fmt: skip
    one, two = tmp_path / "one", tmp_path / "two"
    one_and_two_processes(common, one, two)
    a, b = load_checkpoint(one)["models"]["grn"], load_checkpoint(two)["models"]["grn"]
    diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    assert diff < 1e-4, diff


def test_errors_are_one_line(l2r, tmp_path, grn_inputs, depth_dataset):
    data, arn, grn = grn_inputs["data"], grn_inputs["arn"], grn_inputs["grn"]
    _one_line(l2r("train-grn", "--data", data, "--arn", grn_inputs["proxy"], *TINY_GRN,
                  "--out", tmp_path / "a"), "'proxy' checkpoint")  # fmt: skip
    _one_line(l2r("train-mutual", "--data", data, "--grn", arn, *TINY, "--out", tmp_path / "b"),
              "'arn' checkpoint")  # fmt: skip
    _one_line(l2r("train-grn", "--data", data, *TINY_GRN, "--out", tmp_path / "c"), "--arn")
    _one_line(l2r("train-mutual", "--data", depth_dataset, "--grn", grn, *TINY,
                  "--out", tmp_path / "d"), "no degraded 'lq'")  # fmt: skip
    other = tmp_path / "prior_ck.pt"
    save_checkpoint(other, build_checkpoint("prior", {}, {}, 0, 0, 0, {}))
    _one_line(l2r("benchmark", "bfm", "--data", data, "--ckpt", other), "'prior' checkpoint")
    _one_line(l2r("train-mutual", "--data", data, "--grn", grn, *TINY, "--disc-init", "prior",
                  "--max-steps", "1", "--out", tmp_path / "e", "--config",
                  _toml(tmp_path, "[cross_view]\nyaw = 'x'\n")), "cross_view.yaw")  # fmt: skip


def _toml(tmp_path: Path, text: str) -> Path:
    p = tmp_path / "c.toml"
    p.write_text(text)
    return p


def test_torchrun_mutual_runs_with_the_discriminator(tmp_path, grn_inputs):
    """Two gloo processes train mutual learning (G and D wrapped in DDP, D called bare in the
    generator step). Not compared with one process: the discriminator's minibatch-stddev
    groups span each process's own batch, so the two runs differ by design."""
    common = ["train-mutual", "--data", str(grn_inputs["data"]), "--grn", str(grn_inputs["grn"]),
              "--workers", "0", "--batch-size", "8", "--max-steps", "2"]  # fmt: skip
    one, two = tmp_path / "one", tmp_path / "two"
    one_and_two_processes(common, one, two)
    a, b = load_checkpoint(one)["models"], load_checkpoint(two, expect_kind="mutual")["models"]
    assert load_checkpoint(two)["step"] == 2 and set(b) == set(a)
    # the ranks stayed in step: DDP keeps every replica equal, and rank 0 saved finite weights
    assert all(torch.isfinite(v).all() for net in b.values() for v in net.values())


def test_reconstruct_and_render_views_with_a_grn_checkpoint(l2r, tmp_path, grn_inputs):
    # The refined model's surface (displaced points) and light go into the meshes and views.
    import json

    import numpy as np
    import open3d as o3d
    from PIL import Image

    photo = tmp_path / "face.png"
    # 24 px: smaller than the model's 32 px input, so --model auto takes the refined path
    Image.fromarray((np.random.default_rng(0).random((24, 24, 3)) * 255).astype(np.uint8)).save(
        photo
    )
    out = tmp_path / "rec"
    r = l2r("--device", "cpu", "reconstruct", photo, "--no-detect", "--ckpt", grn_inputs["grn"],
            "--out-dir", out, "--format", "ply,glb")  # fmt: skip
    assert r.code == 0, r.err
    face = out / "face" / "face0"
    meta = json.loads((face / "meta.json").read_text())
    assert meta["model"]["kind"] == "grn" and meta["crop"]["size"] == 32
    assert meta["model"]["ran"] == "l2r" and meta["model"]["face_px"] == 24
    assert len(o3d.io.read_triangle_mesh(str(face / "mesh.ply")).triangles) > 0
    r = l2r("render-views", face, "--size", "32", "--yaw", "-30,30", "--turntable", "none")
    assert r.code == 0, r.err
    assert (face / "views.png").is_file()


def test_view_depth_terms_known_answers():
    from l2r_cli.stages.grn import view_depth_terms

    gt = torch.full((2, 12, 12), 1.1)
    gt[:, 3:9, 3:9] = 1.0  # a face on the background (the per-image maximum)
    loss, logs = view_depth_terms(gt.clone(), gt, far=1.08)
    assert loss.item() == 0 and logs["depth_sup"] == 0  # the true depth scores 0
    nearer = gt.clone()
    nearer[:, 3:9, 3:9] -= 0.02  # 2 units of 0.01 on the (eroded) face
    assert view_depth_terms(nearer, gt, far=1.08)[1]["depth_sup"] == pytest.approx(2.0)
    surround = gt.clone()
    surround[:, :2] = 1.05  # the surroundings rise 3 units in front of the far margin
    _, logs = view_depth_terms(surround, gt, far=1.08)
    assert logs["depth_sup"] == 0 and logs["depth_sup_off"] > 0
    flat = torch.full_like(gt, 1.05)  # a plane scores on both parts
    assert view_depth_terms(flat, gt, far=1.08)[0] > view_depth_terms(nearer, gt, far=1.08)[0]


def test_supervised_grn_and_mutual_train_and_log_the_depth_term(l2r, tmp_path, grn_inputs):
    import json

    cfg = tmp_path / "sup.toml"
    cfg.write_text("[loss]\nlam_depth_sup = 1.0\n")
    r = l2r("train-grn", "--data", grn_inputs["data"], "--arn", grn_inputs["arn"], *TINY_GRN,
            "--max-steps", "2", "--out", tmp_path / "g", "--config", cfg)  # fmt: skip
    assert r.code == 0, r.err
    logs = [json.loads(x) for x in (tmp_path / "g" / "log.jsonl").read_text().splitlines()]
    assert any("depth_sup" in x.get("losses", {}) for x in logs)
    r = l2r("train-mutual", "--data", grn_inputs["data"], "--grn", tmp_path / "g", *TINY,
            "--max-steps", "1", "--out", tmp_path / "m", "--config", cfg)  # fmt: skip
    assert r.code == 0, r.err
    # data without exact depth: one line before any training
    bad = make_lq_dataset(tmp_path / "nodepth", depth=False)
    r = l2r("train-grn", "--data", bad, "--arn", grn_inputs["arn"], *TINY_GRN,
            "--max-steps", "1", "--out", tmp_path / "g2", "--config", cfg)  # fmt: skip
    assert r.code == 2 and "lam_depth_sup needs the field(s) depth" in r.err
