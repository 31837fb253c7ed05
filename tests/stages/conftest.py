"""Fixtures shared by the GRN and mutual-learning stage tests."""

from __future__ import annotations

from pathlib import Path

import pytest
import torch

from l2r_cli.models.stylegan2 import Discriminator, DiscriminatorConfig, Generator
from l2r_cli.models.stylegan2_io import save_stylegan2
from tests.stages.test_arn_stage import TINY_G, make_lq_dataset, make_proxy_ckpt

TINY = ["--workers", "0", "--batch-size", "4"]
TINY_GRN = ["--nf", "8", "--zdim", "16", *TINY]


@pytest.fixture(scope="session")
def grn_inputs(tmp_path_factory) -> dict[str, Path]:
    """A tiny dataset, proxy, prior (with a 32 px discriminator), a 1-step ARN and a 2-step GRN,
    built once for every test module that asks for them."""
    from click.testing import CliRunner

    from l2r_cli.cli import cli

    root = tmp_path_factory.mktemp("grn")
    torch.manual_seed(1)
    d = Discriminator(DiscriminatorConfig(size=32, channels={4: 8, 8: 8, 16: 8, 32: 8}))
    save_stylegan2(root / "prior.pt", Generator(TINY_G), d, latent_avg=torch.zeros(16))
    data = make_lq_dataset(root / "ds")
    proxy = make_proxy_ckpt(root / "proxy.pt")
    runner = CliRunner()

    def run(*args) -> None:
        r = runner.invoke(cli, [str(a) for a in args], catch_exceptions=False)
        assert r.exit_code == 0, r.output

    run("train-arn", "--data", data, "--proxy", proxy, "--prior", root / "prior.pt",
        "--nf", "8", "--zdim", "16", "--mapping-layers", "2", "--output-size", "32",
        *TINY, "--max-steps", "1", "--out", root / "arn")  # fmt: skip
    run("train-grn", "--data", data, "--arn", root / "arn", *TINY_GRN, "--max-steps", "2",
        "--out", root / "grn")  # fmt: skip
    return {"data": data, "proxy": proxy, "prior": root / "prior.pt", "arn": root / "arn",
            "grn": root / "grn"}  # fmt: skip
