"""The training loop in one process: outputs, refusals, and exact resume (CPU, bit-identical)."""

from __future__ import annotations

import json
import math
import os
import signal
from pathlib import Path

import imageio.v3 as iio
import pytest
import torch

from l2r_cli.config import TrainConfig
from l2r_cli.engine.distributed import DistInfo
from l2r_cli.engine.trainer import Trainer
from l2r_cli.errors import L2RError
from tests.engine.toy import ToyDataset, ToyStage, model_state, run_config, toy_config


def _fit(out: Path, cfg: TrainConfig, resume: bool = False, **stage_kw: object) -> Path:
    stage = ToyStage(**stage_kw)  # type: ignore[arg-type]
    trainer = Trainer(stage, ToyDataset(), cfg, out, run_config(cfg), DistInfo(), seed=0)
    return trainer.fit(resume=resume)


def _assert_same_run(a: Path, b: Path) -> None:
    sa, sb = model_state(str(a)), model_state(str(b))
    assert sa.keys() == sb.keys()
    for k in sa:
        assert torch.equal(sa[k], sb[k]), k
    oa = torch.load(a, weights_only=True)["optimizers"]["body"]["state"]
    ob = torch.load(b, weights_only=True)["optimizers"]["body"]["state"]
    assert all(torch.equal(oa[i]["exp_avg_sq"], ob[i]["exp_avg_sq"]) for i in oa)


@pytest.fixture(scope="module")
def reference(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """An uninterrupted 3-epoch run (15 steps): the weights every resumed run must match."""
    out = tmp_path_factory.mktemp("ref")
    _fit(out, toy_config())
    return out


def test_run_outputs(reference: Path) -> None:
    ckpts = sorted(p.name for p in (reference / "checkpoints").iterdir())
    # ckpt_every=2, keep_last=2 -> the two newest step files survive pruning.
    assert ckpts == [
        "epoch_001.pt",
        "epoch_002.pt",
        "epoch_003.pt",
        "last.pt",
        "step_00000012.pt",
        "step_00000014.pt",
    ]
    last = torch.load(reference / "checkpoints" / "last.pt", weights_only=True)
    assert (last["kind"], last["step"], last["epoch"], last["epoch_step"]) == ("toy", 15, 3, 0)
    assert last["config"] == json.loads((reference / "config.json").read_text())
    assert (reference / "config.toml").read_text().startswith("[model]")
    lines = [json.loads(x) for x in (reference / "log.jsonl").read_text().splitlines()]
    assert [r["step"] for r in lines] == [2, 4, 6, 8, 10, 12, 14, 15]
    assert {"loss", "max_sample"} <= lines[0]["losses"].keys() and lines[0]["img_per_s"] > 0
    panel = iio.imread(reference / "panels" / "epoch_003.png")
    assert panel.shape == (16, 64, 3) and panel.dtype == "uint8"


def test_existing_checkpoints_need_resume(reference: Path) -> None:
    with pytest.raises(L2RError, match="already has checkpoints; pass --resume"):
        _fit(reference, toy_config())


def test_resume_with_a_changed_config_names_the_key(reference: Path) -> None:
    with pytest.raises(L2RError, match="'train.batch_size' \\(saved 8, now 4\\)"):
        _fit(reference, toy_config(batch_size=4), resume=True)


def test_resume_without_checkpoint(tmp_path: Path) -> None:
    with pytest.raises(L2RError, match="no checkpoint to resume"):
        _fit(tmp_path, toy_config(), resume=True)


@pytest.mark.parametrize("stop_at", [7, 10])  # mid-epoch, and exactly at an epoch end
def test_interrupted_then_resumed_equals_uninterrupted(
    tmp_path: Path, reference: Path, stop_at: int
) -> None:
    _fit(tmp_path, toy_config(max_steps=stop_at))
    assert torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)["step"] == stop_at
    # Resumed with panels off and other resumable keys changed: still the same bits.
    last = _fit(tmp_path, toy_config(panels=False, log_every=3, ckpt_every=4), resume=True)
    _assert_same_run(last, reference / "checkpoints" / "last.pt")
    steps = [json.loads(x)["step"] for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert steps == sorted(set(steps))  # no repeated log lines after resuming


def test_resume_with_loader_workers(tmp_path: Path, reference: Path) -> None:
    _fit(tmp_path, toy_config(max_steps=3, num_workers=1))
    last = _fit(tmp_path, toy_config(num_workers=1), resume=True)
    _assert_same_run(last, reference / "checkpoints" / "last.pt")


def test_sigint_checkpoints_at_the_step_end_then_resumes(tmp_path: Path, reference: Path) -> None:
    def ctrl_c(stage: ToyStage, step: int) -> None:
        if step == 6:
            os.kill(os.getpid(), signal.SIGINT)

    with pytest.raises(KeyboardInterrupt):
        _fit(tmp_path, toy_config(), hook=ctrl_c)
    assert torch.load(tmp_path / "checkpoints" / "last.pt", weights_only=True)["step"] == 6
    last = _fit(tmp_path, toy_config(), resume=True)
    _assert_same_run(last, reference / "checkpoints" / "last.pt")


def test_wrong_kind_refused_on_resume(tmp_path: Path, reference: Path) -> None:
    class OtherStage(ToyStage):
        kind = "other"

    cfg = toy_config()
    t = Trainer(OtherStage(), ToyDataset(), cfg, reference, run_config(cfg), DistInfo(), seed=0)
    with pytest.raises(L2RError, match="is a 'toy' checkpoint, this command needs 'other'"):
        t.fit(resume=True)


def test_cosine_learning_rate_schedule(tmp_path: Path) -> None:
    cfg = toy_config(lr_cosine_steps=10, lr_final_ratio=0.2, max_steps=12)
    stage = ToyStage()
    seen: list[float] = []
    stage.hook = lambda s, step: seen.append(s.optimizers()["body"].param_groups[0]["lr"])
    Trainer(stage, ToyDataset(), cfg, tmp_path, run_config(cfg), DistInfo(), seed=0).fit()
    # The hook runs inside step k + 1 (k steps done): rate = 1e-2 * factor(k).
    want = [1e-2 * (0.2 + 0.8 * 0.5 * (1 + math.cos(math.pi * min(k, 10) / 10))) for k in range(12)]
    assert seen == pytest.approx(want, rel=1e-12)
    assert seen[0] == pytest.approx(1e-2) and seen[-1] == pytest.approx(2e-3)


def test_cosine_schedule_resumes_exactly(tmp_path: Path) -> None:
    ref, part = tmp_path / "ref", tmp_path / "part"
    cfg = toy_config(lr_cosine_steps=12)
    _fit(ref, cfg)
    _fit(part, toy_config(lr_cosine_steps=12, max_steps=7))
    last = _fit(part, cfg, resume=True)
    _assert_same_run(last, ref / "checkpoints" / "last.pt")
    # A run with the schedule differs from one without (the rates really changed).
    plain = _fit(tmp_path / "plain", toy_config())
    sa, sp = model_state(str(last)), model_state(str(plain))
    assert any(not torch.equal(sa[k], sp[k]) for k in sa)


def test_bad_schedule_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(L2RError, match="lr_final_ratio in \\[0, 1\\]"):
        _fit(tmp_path, toy_config(lr_cosine_steps=5, lr_final_ratio=1.5))


def test_run_saved_before_a_field_existed_resumes_with_its_default(tmp_path: Path) -> None:
    # Simulate a run started by an older l2r: its saved config lacks train.lr_cosine_steps.
    _fit(tmp_path, toy_config(max_steps=7))
    last = tmp_path / "checkpoints" / "last.pt"
    ckpt = torch.load(last, weights_only=True)
    del ckpt["config"]["train"]["lr_cosine_steps"]
    torch.save(ckpt, last)
    with pytest.raises(L2RError, match="'train.lr_cosine_steps' \\(saved '<absent>', now 5\\)"):
        _fit(tmp_path, toy_config(lr_cosine_steps=5), resume=True)
    assert torch.load(_fit(tmp_path, toy_config(), resume=True), weights_only=True)["step"] == 15


class _FinishingStage(ToyStage):
    """A toy stage whose end-of-training step zeroes the last bias and records its batches."""

    def __init__(self, **kw: object) -> None:
        super().__init__(**kw)  # type: ignore[arg-type]
        self.finished: list[list[tuple[int, ...]]] = []

    def finish_batches(self) -> int:
        return 2

    def finish(self, batches, reduce_mean):
        self.finished.append([tuple(b["image"].shape) for b in batches])
        with torch.no_grad():
            self.nets["body"][3].bias.zero_()
        return reduce_mean({"zeroed": 1.0})


def test_time_budget_stops_early_then_the_stage_finishes(tmp_path: Path) -> None:
    import time

    cfg = toy_config(max_minutes=0.001)  # 60 ms; each step sleeps 25 ms
    stage = _FinishingStage(hook=lambda s, step: time.sleep(0.025))
    t = Trainer(stage, ToyDataset(), cfg, tmp_path, run_config(cfg), DistInfo(), seed=0)
    last = t.fit()
    ck = torch.load(last, weights_only=True)
    assert 1 <= ck["step"] < 15 and ck["train_seconds"] >= 0.06
    assert stage.finished == [[(8, 3, 8, 8), (8, 3, 8, 8)]]
    assert torch.count_nonzero(ck["models"]["body"]["3.bias"]) == 0  # saved after finishing
    log = [json.loads(x) for x in (tmp_path / "log.jsonl").read_text().splitlines()]
    assert log[-1]["finish"] == {"zeroed": 1.0} and log[-1]["step"] == ck["step"]
    # The budget counts every session: resuming with it used up trains no further.
    again = _FinishingStage()
    Trainer(again, ToyDataset(), cfg, tmp_path, run_config(cfg), DistInfo(), seed=0).fit(True)
    assert torch.load(last, weights_only=True)["step"] == ck["step"] and len(again.finished) == 1
    # A larger budget (max_minutes may change on resume) continues to the end.
    more = toy_config(max_minutes=10.0)
    Trainer(_FinishingStage(), ToyDataset(), more, tmp_path, run_config(more), DistInfo(), 0).fit(
        True
    )
    assert torch.load(last, weights_only=True)["step"] == 15


def test_interrupted_run_does_not_finish(tmp_path: Path) -> None:
    def ctrl_c(stage: ToyStage, step: int) -> None:
        if step == 4:
            os.kill(os.getpid(), signal.SIGINT)

    stage = _FinishingStage(hook=ctrl_c)
    cfg = toy_config()
    with pytest.raises(KeyboardInterrupt):
        Trainer(stage, ToyDataset(), cfg, tmp_path, run_config(cfg), DistInfo(), seed=0).fit()
    assert stage.finished == []


def test_negative_time_budget_is_a_config_error(tmp_path: Path) -> None:
    with pytest.raises(L2RError, match="max_minutes must be >= 0"):
        _fit(tmp_path, toy_config(max_minutes=-1.0))
