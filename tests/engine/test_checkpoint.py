"""Checkpoint dict, atomic save, safe load and every one-line load error."""

from __future__ import annotations

import random
from pathlib import Path
from typing import BinaryIO

import numpy as np
import pytest
import torch

from l2r_cli.engine import checkpoint as ck
from l2r_cli.errors import L2RError
from tests.engine.toy import ToyStage


class NotAllowed:
    """A custom class: unpickling it would need to run code from this module."""


def _ckpt(stage: ToyStage, step: int = 7, kind: str = "toy") -> dict:
    return ck.build_checkpoint(
        kind=kind,
        models={n: m.state_dict() for n, m in stage.nets.items()},
        optimizers={n: o.state_dict() for n, o in stage.optimizers().items()},
        step=step,
        epoch=1,
        epoch_step=2,
        config={"train": {"batch_size": 8, "input": "image"}, "model": {"sizes": [1, 2]}},
    )


def _trained_stage() -> ToyStage:
    stage = ToyStage(init_seed=1)
    x = torch.rand(4, 3, 8, 8)
    stage.train_step({"image": x, "target": x})
    return stage


def test_round_trip_restores_models_optimizers_and_rng(tmp_path: Path) -> None:
    stage = _trained_stage()
    random.seed(5)
    np.random.seed(5)
    torch.manual_seed(5)
    ckpt = _ckpt(stage)
    expected = (torch.rand(4), np.random.rand(4), random.random())
    path = tmp_path / "a.pt"
    ck.save_checkpoint(path, ckpt)
    assert [p.name for p in tmp_path.iterdir()] == ["a.pt"]  # no temporary left behind

    loaded = ck.load_checkpoint(path, expect_kind=("proxy", "toy"))
    assert (loaded["step"], loaded["epoch"], loaded["epoch_step"]) == (7, 1, 2)
    assert loaded["config"] == ckpt["config"]
    fresh = ToyStage(init_seed=2)
    ck.restore_modules(loaded, fresh.nets, fresh.optimizers())
    for name, net in stage.nets.items():
        for k, v in net.state_dict().items():
            assert torch.equal(v, fresh.nets[name].state_dict()[k])
    a, b = stage.optimizers()["body"].state_dict(), fresh.optimizers()["body"].state_dict()
    assert all(torch.equal(a["state"][i]["exp_avg"], b["state"][i]["exp_avg"]) for i in a["state"])

    torch.manual_seed(99)
    np.random.seed(99)
    random.seed(99)
    ck.restore_rng(loaded["rng"])
    assert torch.equal(torch.rand(4), expected[0])
    assert np.array_equal(np.random.rand(4), expected[1])
    assert random.random() == expected[2]


def test_save_failure_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "last.pt"
    ck.save_checkpoint(path, _ckpt(_trained_stage(), step=1))
    before = path.read_bytes()

    def dies_halfway(obj: object, fh: BinaryIO) -> None:
        fh.write(b"PK\x03\x04 half a checkpoint")
        raise KeyboardInterrupt

    monkeypatch.setattr(ck.torch, "save", dies_halfway)
    with pytest.raises(KeyboardInterrupt):
        ck.save_checkpoint(path, _ckpt(_trained_stage(), step=2))
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == ["last.pt"]


def test_run_directory_means_its_last_checkpoint(tmp_path: Path) -> None:
    d = ck.checkpoint_dir(tmp_path)
    ck.save_checkpoint(d / ck.LAST, _ckpt(_trained_stage(), step=3))
    assert ck.load_checkpoint(tmp_path)["step"] == 3
    info = ck.describe_checkpoint(tmp_path)
    assert info["kind"] == "toy" and info["step"] == 3 and info["epoch"] == 1
    assert info["parameters"] == {"frozen": 3 * 3 + 3, "body": 3 * 8 * 9 + 8 + 8 * 3 * 9 + 3}
    assert info["config"]["train"]["batch_size"] == 8


def test_prune_keeps_newest_step_checkpoints(tmp_path: Path) -> None:
    d = ck.checkpoint_dir(tmp_path)
    d.mkdir()
    for s in (2, 4, 10, 8):
        (d / ck.step_checkpoint_name(s)).write_bytes(b"x")
    (d / ck.epoch_checkpoint_name(1)).write_bytes(b"x")
    (d / ck.LAST).write_bytes(b"x")
    ck.prune_step_checkpoints(tmp_path, keep_last=2)
    names = sorted(p.name for p in d.iterdir())
    assert names == ["epoch_001.pt", "last.pt", "step_00000008.pt", "step_00000010.pt"]


# ------------------------------------------------------------------ one-line load errors


def _message(path: Path, **kw: object) -> str:
    with pytest.raises(L2RError) as info:
        ck.load_checkpoint(path, **kw)  # type: ignore[arg-type]
    msg = str(info.value)
    assert "\n" not in msg
    return msg


def test_missing_path(tmp_path: Path) -> None:
    assert "checkpoint not found" in _message(tmp_path / "nope.pt")


def test_directory_without_checkpoints(tmp_path: Path) -> None:
    assert "without checkpoints" in _message(tmp_path)
    (tmp_path / "checkpoints").mkdir()
    assert "without checkpoints" in _message(tmp_path)
    ck.save_checkpoint(tmp_path / "checkpoints" / "step_00000002.pt", _ckpt(_trained_stage()))
    assert "has no last.pt; pass one of its files" in _message(tmp_path)


def test_garbage_bytes(tmp_path: Path) -> None:
    p = tmp_path / "g.pt"
    p.write_bytes(np.random.default_rng(0).bytes(2000))
    assert "not a PyTorch checkpoint" in _message(p)
    p.write_bytes(b"")
    assert "empty" in _message(p)


def test_truncated_file(tmp_path: Path) -> None:
    p = tmp_path / "t.pt"
    ck.save_checkpoint(p, _ckpt(_trained_stage()))
    p.write_bytes(p.read_bytes()[: p.stat().st_size // 2])
    assert "truncated or corrupt" in _message(p)


def test_pickle_needing_code_is_refused(tmp_path: Path) -> None:
    p = tmp_path / "evil.pt"
    torch.save({"format": ck.FORMAT, "payload": NotAllowed()}, p)
    msg = _message(p)
    assert "refused for safety" in msg and "NotAllowed" in msg


def test_torch_file_that_is_not_an_l2r_checkpoint(tmp_path: Path) -> None:
    p = tmp_path / "sd.pt"
    torch.save(torch.nn.Linear(2, 2).state_dict(), p)
    assert "not an l2r checkpoint" in _message(p)


def test_newer_format_version(tmp_path: Path) -> None:
    p = tmp_path / "new.pt"
    ckpt = _ckpt(_trained_stage())
    ckpt["format_version"] = ck.FORMAT_VERSION + 1
    ck.save_checkpoint(p, ckpt)
    assert "upgrade l2r" in _message(p)


def test_wrong_kind(tmp_path: Path) -> None:
    p = tmp_path / "proxy.pt"
    ck.save_checkpoint(p, _ckpt(_trained_stage(), kind="proxy"))
    want = f"{p} is a 'proxy' checkpoint, this command needs 'arn'"
    assert _message(p, expect_kind="arn") == want
    assert "'arn' or 'grn'" in _message(p, expect_kind=("arn", "grn"))


def test_restore_into_a_different_stage_is_one_line(tmp_path: Path) -> None:
    ckpt = _ckpt(_trained_stage())
    del ckpt["models"]["frozen"]
    with pytest.raises(L2RError, match="holds models"):
        ck.restore_modules(ckpt, ToyStage().nets)
    ckpt = _ckpt(_trained_stage())
    ckpt["models"]["body"]["0.weight"] = torch.zeros(1)
    with pytest.raises(L2RError, match="does not fit"):
        ck.restore_modules(ckpt, ToyStage().nets)


def test_bundled_names_the_shipped_weights_unless_a_file_has_that_name(tmp_path, monkeypatch):
    from l2r_cli.engine.checkpoint import resolve_checkpoint_path
    from l2r_cli.weights import default_weights

    monkeypatch.chdir(tmp_path)
    assert resolve_checkpoint_path("bundled") == default_weights()
    (tmp_path / "bundled").write_bytes(b"x")
    assert resolve_checkpoint_path("bundled") == Path("bundled")
