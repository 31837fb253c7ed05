"""Config resolution: defaults < TOML < flags, and a parent's section defaults survive overrides."""

from __future__ import annotations

import pytest

from l2r_cli.config import ArnRunConfig, ProxyRunConfig, from_dict, resolve
from l2r_cli.errors import L2RError


def test_section_override_keeps_the_parents_section_defaults():
    # train-arn's train section defaults to batch 16 / input 'lq' (not TrainConfig's 64 / image)
    assert ArnRunConfig().train.batch_size == 16
    cfg = from_dict(ArnRunConfig, {"train": {"epochs": 3}})
    assert (cfg.train.epochs, cfg.train.batch_size, cfg.train.input) == (3, 16, "lq")
    cfg = from_dict(ArnRunConfig, {"train": {"batch_size": 4}})
    assert (cfg.train.batch_size, cfg.train.input) == (4, "lq")


def test_toml_then_flags(tmp_path):
    toml = tmp_path / "c.toml"
    toml.write_text("[model]\nnf = 8\n[optim]\nlr = 0.5\n")
    cfg = resolve(ProxyRunConfig, toml, {"optim.lr": 0.25, "train.epochs": None})
    assert cfg.model.nf == 8 and cfg.optim.lr == 0.25 and cfg.train.epochs == 30


def test_unknown_key_is_one_line_error():
    with pytest.raises(L2RError, match="unknown config key 'model.nope'"):
        from_dict(ProxyRunConfig, {"model": {"nope": 1}})


@pytest.mark.parametrize(
    ("model", "message"),
    [
        ({"min_depth": 1.2}, "model.min_depth must be > 0 and < model.max_depth"),
        ({"image_size": 48}, "model.image_size must be a power of two"),
        ({"fov": 0.0}, r"model.fov must be in \(0, 180\)"),
        ({"depth_smooth": 0}, "model.depth_smooth must be >= 1"),
        ({"basrelief_gain_init": -1.0}, "model.basrelief_gain_init must be > 0"),
    ],
)
def test_impossible_proxy_model_values_are_one_line_errors(model, message):
    with pytest.raises(L2RError, match=message):
        from_dict(ProxyRunConfig, {"model": model})
