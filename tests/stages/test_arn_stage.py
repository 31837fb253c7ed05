"""ARN training end to end through the CLI: smoke train, exact resume, frozen prior, errors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
import torch

from l2r_cli.config import ProxyModelConfig, ProxyRunConfig, to_dict
from l2r_cli.data.dataset import DatasetWriter, FieldSpec
from l2r_cli.engine.checkpoint import build_checkpoint, load_checkpoint, save_checkpoint
from l2r_cli.models.proxy import Proxy
from l2r_cli.models.stylegan2 import Generator, GeneratorConfig
from l2r_cli.models.stylegan2_io import load_stylegan2, save_stylegan2
from tests.conftest import one_and_two_processes

TINY_G = GeneratorConfig(size=32, style_dim=16, n_mlp=2, channels={4: 16, 8: 16, 16: 8, 32: 8})
TINY_ARN = ["--nf", "8", "--zdim", "16", "--mapping-layers", "2", "--output-size", "32",
            "--workers", "0", "--batch-size", "4"]  # fmt: skip


def make_lq_dataset(
    root: Path,
    n_train: int = 8,
    n_test: int = 4,
    size: int = 32,
    variants: int = 2,
    depth: bool = True,
) -> Path:
    """Tiny GT images (size) with K degraded variants at size / 4 and GT depth (unless not
    ``depth``)."""
    rng = np.random.default_rng(0)
    ys, xs = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), indexing="ij")
    r2 = xs**2 + ys**2
    h = size // 4
    fields = {"lq": FieldSpec((variants, h, h, 3), "uint8")}
    if depth:
        fields["depth"] = FieldSpec((size, size), "float32")
    with_depth = depth
    with DatasetWriter(root, image_size=size, fields=fields, source={"generator": "test"}) as w:
        for split, n in (("train", n_train), ("test", n_test)):
            for _ in range(n):
                d = np.where(r2 < 0.6, 1.05 - 0.05 * np.exp(-r2 * 3), 1.1).astype(np.float32)
                shade = np.clip(1.2 - (d - 0.95) * 6, 0, 1)
                img = (shade[..., None] * rng.uniform(0.4, 1.0, 3) * 255).astype(np.uint8)
                small = img.reshape(h, 4, h, 4, 3).mean((1, 3))
                lq = (
                    np.stack([small * (1 - 0.1 * k) for k in range(variants)])
                    .round()
                    .astype(np.uint8)
                )
                item = {"image": img, "lq": lq}
                if with_depth:
                    item["depth"] = d
                w.append(split, item)
    return root


def make_proxy_ckpt(path: Path) -> Path:
    """A randomly initialised 32 px proxy saved as a 'proxy' checkpoint."""
    torch.manual_seed(0)
    cfg = ProxyRunConfig(model=ProxyModelConfig(image_size=32, nf=8, zdim=16, nf_pose=8,
                                                conf_zdim=16))  # fmt: skip
    model = Proxy(cfg.model)
    ck = build_checkpoint("proxy", {"proxy": model.state_dict()}, {}, 0, 0, 0, to_dict(cfg))
    save_checkpoint(path, ck)
    return path


@pytest.fixture(scope="module")
def arn_inputs(tmp_path_factory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("arn")
    torch.manual_seed(1)
    save_stylegan2(root / "prior.pt", Generator(TINY_G), latent_avg=torch.zeros(16))
    return {
        "data": make_lq_dataset(root / "ds"),
        "proxy": make_proxy_ckpt(root / "proxy.pt"),
        "prior": root / "prior.pt",
    }


def _args(inp: dict[str, Path]) -> list:
    return ["--data", inp["data"], "--proxy", inp["proxy"], "--prior", inp["prior"], *TINY_ARN]


def test_two_step_smoke_train_keeps_the_prior_frozen(l2r, tmp_path, arn_inputs):
    run = tmp_path / "run"
    r = l2r("train-arn", *_args(arn_inputs), "--out", run, "--max-steps", "2")
    assert r.code == 0, r.err
    ck = load_checkpoint(run, expect_kind="arn")
    assert ck["kind"] == "arn" and ck["step"] == 2
    sd = ck["models"]["arn"]
    assert not any(k.startswith("arn.generator.") for k in sd)  # the prior is not stored
    assert any(k.startswith("arn.style_encoder.") for k in sd)
    src = ck["config"]["sources"]
    assert src["proxy"] == str(arn_inputs["proxy"]) and len(src["proxy_sha256"]) == 64

    from l2r_cli.stages.arn import load_arn

    _, _, arn = load_arn(run, "cpu")
    g0 = load_stylegan2(arn_inputs["prior"])[0].state_dict()
    g1 = arn.generator.state_dict()
    assert all(torch.equal(g0[k], g1[k]) for k in g0)
    assert not any(p.requires_grad for p in arn.generator.parameters())


def test_panel_is_written_at_epoch_end(l2r, tmp_path, arn_inputs):
    run = tmp_path / "run"
    r = l2r("train-arn", *_args(arn_inputs), "--out", run, "--epochs", "1")
    assert r.code == 0, r.err
    import imageio.v3 as iio

    img = iio.imread(run / "panels" / "epoch_001.png")
    assert img.ndim == 3 and img.shape[2] == 3 and img.shape[1] >= 5 * 32


def test_resume_gives_identical_weights(l2r, tmp_path, arn_inputs):
    common = [*_args(arn_inputs), "--epochs", "2"]
    full, part = tmp_path / "full", tmp_path / "part"
    assert l2r("train-arn", *common, "--out", full).code == 0
    assert l2r("train-arn", *common, "--out", part, "--max-steps", "3").code == 0
    at3 = load_checkpoint(part)["models"]["arn"]
    assert l2r("train-arn", *common, "--out", part, "--resume").code == 0
    a = load_checkpoint(full)["models"]["arn"]
    b = load_checkpoint(part)["models"]["arn"]
    assert load_checkpoint(part)["step"] == load_checkpoint(full)["step"] == 4
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not all(torch.equal(a[k], at3[k]) for k in a)  # the 4th step moved the weights


def test_no_prior_ablation_trains_and_stores_the_generator(l2r, tmp_path, arn_inputs):
    run = tmp_path / "run"
    r = l2r("train-arn", *_args(arn_inputs), "--out", run, "--max-steps", "1", "--no-use-prior")
    assert r.code == 0, r.err
    sd = load_checkpoint(run)["models"]["arn"]
    g0 = load_stylegan2(arn_inputs["prior"])[0].state_dict()
    conv = "arn.generator.convs.0.conv.weight"
    assert conv in sd and not torch.equal(sd[conv], g0["convs.0.conv.weight"])


def _one_line(r, text: str) -> None:
    assert r.code != 0
    lines = [x for x in r.err.strip().splitlines() if x.strip()]
    assert len(lines) == 1 and text in lines[0], r.err


def test_errors_are_one_line(l2r, tmp_path, arn_inputs, depth_dataset):
    args = _args(arn_inputs)
    # a 'prior'... any non-proxy l2r checkpoint as --proxy
    other = tmp_path / "other.pt"
    save_checkpoint(other, build_checkpoint("prior", {}, {}, 0, 0, 0, {}))
    bad = [other if a == arn_inputs["proxy"] else a for a in args]
    _one_line(l2r("train-arn", *bad, "--out", tmp_path / "a"), "'prior' checkpoint")
    no_lq = [depth_dataset if a == arn_inputs["data"] else a for a in args]
    _one_line(l2r("train-arn", *no_lq, "--out", tmp_path / "b"), "no degraded 'lq'")
    no_proxy = [a for a in args if a not in ("--proxy", arn_inputs["proxy"])]
    _one_line(l2r("train-arn", *no_proxy, "--out", tmp_path / "c"), "--proxy")


def test_torchrun_two_processes_match_one(tmp_path, arn_inputs):
    """2 gloo processes x batch 4 == 1 process x batch 8 after 3 Adam steps, to 1e-4 (see the
    proxy stage's twin test). One degraded variant, so the variant draw cannot differ."""
    data = make_lq_dataset(tmp_path / "ds1", n_train=16, variants=1)
    args = [a for a in _args(arn_inputs) if a not in ("--batch-size", "4")]
    args[1] = str(data)
    common = ["train-arn", *map(str, args), "--batch-size", "8", "--max-steps", "3"]
    one, two = tmp_path / "one", tmp_path / "two"
    one_and_two_processes(common, one, two)
    a, b = load_checkpoint(one)["models"]["arn"], load_checkpoint(two)["models"]["arn"]
    assert load_checkpoint(two, expect_kind="arn")["step"] == 3
    diff = max(float((a[k].float() - b[k].float()).abs().max()) for k in a)
    assert diff < 1e-4, diff
