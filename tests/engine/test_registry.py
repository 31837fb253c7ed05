"""The stage registry: the CLI, the run start-up, inference and ``l2r info`` agree with it, and a
new stage is one Stage class plus one config (both defined in this file, nothing else edited)."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import click
import numpy as np
import pytest
import torch
from click.testing import CliRunner
from torch import nn

from l2r_cli.cli import cli
from l2r_cli.config import OptimConfig, TrainConfig
from l2r_cli.data.dataset import L2RDataset
from l2r_cli.engine.registry import (
    CliOption,
    StageSpec,
    model_kinds,
    register_stage,
    resolve_ref,
    stage_specs,
    unregister_stage,
)
from l2r_cli.inference import LoadedModel
from l2r_cli.predictor import STAGE_LABELS, load_predictor
from l2r_cli.stages.base import Stage
from tests.stages.test_arn_stage import make_lq_dataset

# ------------------------------------------------------------------ the toy stage: its config


@dataclass(frozen=True)
class ToyModelConfig:
    """The toy's one knob."""

    gain: float = 0.5
    """Initial value of the single weight."""


@dataclass(frozen=True)
class ToyRunConfig:
    """Everything `l2r train-toy` needs."""

    model: ToyModelConfig = field(default_factory=ToyModelConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    train: TrainConfig = field(default_factory=lambda: TrainConfig(batch_size=4, num_workers=0))


# ------------------------------------------------------------------ the toy stage: its module


class ToyStage(Stage):
    """Learns one scalar: the mean grey level of the training images."""

    kind = "toy"

    def __init__(self, cfg: ToyRunConfig, device: torch.device) -> None:
        super().__init__()
        self.nets["toy"] = nn.Linear(1, 1, bias=False)
        with torch.no_grad():
            self.nets["toy"].weight.fill_(cfg.model.gain)
        self.nets.to(device)
        self._opt = {"toy": torch.optim.SGD(self.nets.parameters(), lr=cfg.optim.lr)}

    @classmethod
    def create(cls, cfg, device, data, info):
        return cls(cfg, device), L2RDataset(data, "train", fields=("image",), image_size=32)

    def optimizers(self):
        return self._opt

    def train_step(self, batch):
        target = batch["image"].mean()
        loss = (self.net("toy")(torch.ones(1, 1, device=target.device)).squeeze() - target) ** 2
        self._opt["toy"].zero_grad()
        loss.backward()
        self._opt["toy"].step()
        return {"loss": float(loss.detach())}

    def panel(self, batch):
        return np.zeros((4, 4, 3), np.uint8)


def load_toy(path, device, ckpt) -> LoadedModel:
    """The toy's checkpoint for inference: a proxy of the smallest kind whose depth is its
    weight (the predictor only needs a proxy)."""
    from l2r_cli.config import ProxyModelConfig
    from l2r_cli.models.proxy import Proxy

    return LoadedModel("toy", str(path), Proxy(ProxyModelConfig(image_size=32, nf=4, zdim=8)))


TOY = StageSpec(
    kind="toy",
    config=ToyRunConfig,
    stage=f"{__name__}:ToyStage",
    summary="A toy stage (tests).",
    help="A toy stage that learns the mean grey level.",
    pipeline="DATA -> runs/toy",
    order=99,
    options=(CliOption(("--gain",), "model.gain", "Initial weight.", click.FloatRange(0)),),
    renamed={"--old-gain": "--gain"},
    loader=f"{__name__}:load_toy",
    label="toy (test)",
)


@pytest.fixture
def toy():
    register_stage(TOY)
    yield TOY
    unregister_stage("toy")


def _run(*args) -> click.testing.Result:
    return CliRunner().invoke(cli, [str(a) for a in args], catch_exceptions=False)


# ------------------------------------------------------------------ registry = CLI = predictor


def test_every_stage_has_its_command_options_class_and_labels() -> None:
    ctx = click.Context(cli)
    train_cmds = {n for n in cli.list_commands(ctx) if n.startswith("train-")}
    specs = stage_specs()
    assert train_cmds == {s.command for s in specs}
    assert [s.kind for s in specs] == ["proxy", "prior", "arn", "grn", "mutual"]
    help_text = _run("--help").output
    for spec in specs:
        cmd = cli.get_command(ctx, spec.command)
        flags = {o for p in cmd.params for o in getattr(p, "opts", []) + p.secondary_opts}
        for opt in spec.options:
            for f in opt.flags:
                assert set(f.split("/")) <= flags, (spec.kind, f)
        assert {"--data", "-d", "--out", "-o", "--workers", "-j", "-b"} <= flags
        assert resolve_ref(spec.stage).kind == spec.kind
        assert spec.command in help_text
        spec.config()  # the defaults build
        if spec.loader:
            assert spec.kind in model_kinds() and spec.kind in STAGE_LABELS
            assert callable(resolve_ref(spec.loader))
        else:
            assert spec.kind not in model_kinds() and spec.kind not in STAGE_LABELS
    assert model_kinds() == ("proxy", "arn", "grn", "mutual")


def test_every_option_maps_to_a_config_key() -> None:
    from l2r_cli.commands.train import ENGINE_OPTIONS, config_default

    for spec in stage_specs():
        for opt in (*spec.options, *ENGINE_OPTIONS):
            node = spec.config()
            for part in opt.key.split("."):
                assert hasattr(node, part), (spec.kind, opt.key)
                node = getattr(node, part)
            assert config_default(spec.config, opt.key) == node


# ------------------------------------------------------------------ a new stage, end to end


def test_a_toy_stage_trains_from_the_cli_and_loads_for_inference(toy, tmp_path: Path) -> None:
    data = make_lq_dataset(tmp_path / "ds", n_train=8, n_test=2)
    assert "train-toy" in _run("--help").output
    dry = _run("train-toy", "-d", data, "-o", tmp_path / "run", "--gain", "2", "--dry-run")
    assert dry.exit_code == 0 and "gain = 2.0" in dry.output

    r = _run("train-toy", "-d", data, "-o", tmp_path / "run", "--old-gain", "0.25",
             "--max-steps", "3", "--lr", "0.5")  # fmt: skip
    assert r.exit_code == 0, r.output
    assert "--old-gain is now --gain" in r.stderr
    ckpt = torch.load(tmp_path / "run/checkpoints/last.pt", weights_only=True)
    assert ckpt["kind"] == "toy" and ckpt["step"] == 3
    assert ckpt["config"]["model"]["gain"] == 0.25
    w = float(ckpt["models"]["toy"]["weight"])
    assert w != 0.25  # it trained

    info = _run("info", tmp_path / "run", "--json")
    assert info.exit_code == 0, info.output
    assert "l2r train-toy" in json.loads(info.stdout)["stage"]
    assert "toy" in model_kinds() and STAGE_LABELS["toy"] == "toy (test)"
    assert load_predictor(tmp_path / "run", torch.device("cpu")).kind == "toy"


def test_an_unregistered_stage_has_no_command(tmp_path: Path) -> None:
    r = _run("train-toy", "--help")
    assert r.exit_code == 2 and "No such command" in r.output
