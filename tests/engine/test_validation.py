"""Per-epoch validation and TensorBoard event files: known answers, and neither changes the
weights a run computes."""

from __future__ import annotations

import json
import struct
from pathlib import Path

import torch
from torch import Tensor

from l2r_cli.engine.distributed import DistInfo
from l2r_cli.engine.trainer import Trainer
from tests.engine.toy import ToyDataset, ToyStage, model_state, run_config, toy_config


class MeanStage(ToyStage):
    """The toy stage whose validation score is the mean pixel of each val item (a number the
    test knows without running any net), plus the real loss."""

    def validate(self, batch: dict[str, Tensor]) -> dict[str, float]:
        y = self.nets["body"](self.nets["frozen"](batch["image"]))
        loss = ((y - batch["target"]) ** 2).mean()
        return {"pixel_mean": float(batch["image"].mean()), "loss": float(loss)}


def _fit(out: Path, val: ToyDataset | None, **cfg_kw: object) -> Path:
    cfg = toy_config(**cfg_kw)
    stage = MeanStage()
    Trainer(stage, ToyDataset(), cfg, out, run_config(cfg), DistInfo(), seed=0, val_set=val).fit()
    return out


def _records(out: Path, key: str) -> list[dict]:
    lines = (out / "log.jsonl").read_text().splitlines()
    return [r for r in map(json.loads, lines) if key in r]


def test_validation_averages_over_the_first_val_items(tmp_path: Path) -> None:
    val = ToyDataset(n=12, seed=7)
    out = _fit(tmp_path / "run", val, val_images=10, batch_size=8)  # batches of 8 and 2
    recs = _records(out, "val")
    assert [r["epoch"] for r in recs] == [1, 2, 3]
    want = float(val.images[:10].mean())  # the first 10 of 12
    for r in recs:
        assert abs(r["val"]["pixel_mean"] - want) < 1e-6
    # the nets learn: the validation loss falls
    assert recs[-1]["val"]["loss"] < recs[0]["val"]["loss"]


def test_validation_and_tensorboard_do_not_change_the_weights(tmp_path: Path) -> None:
    plain = _fit(tmp_path / "plain", None, val_images=0)
    both = _fit(tmp_path / "both", ToyDataset(n=8, seed=7), tensorboard=True)
    a = model_state(str(plain / "checkpoints/last.pt"))
    b = model_state(str(both / "checkpoints/last.pt"))
    assert a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)
    assert not _records(plain, "val") and _records(both, "val")


def _events(folder: Path) -> list:
    """Every Event in the TFRecord files of ``folder`` (length, crc, data, crc framing)."""
    from tensorboardX.proto.event_pb2 import Event

    events = []
    for f in sorted(folder.glob("events.out.tfevents.*")):
        raw = f.read_bytes()
        i = 0
        while i < len(raw):
            (n,) = struct.unpack("<Q", raw[i : i + 8])
            events.append(Event.FromString(raw[i + 12 : i + 12 + n]))
            i += 12 + n + 4
    return events


def test_tensorboard_has_losses_learning_rates_validation_and_panels(tmp_path: Path) -> None:
    out = _fit(tmp_path / "tb", ToyDataset(n=8, seed=7), tensorboard=True, log_every=1)
    events = _events(out / "tensorboard")
    scalars: dict[str, list[tuple[int, float]]] = {}
    images = 0
    for e in events:
        for v in e.summary.value:
            if v.HasField("image"):
                images += 1
            else:
                scalars.setdefault(v.tag, []).append((e.step, v.simple_value))
    assert {"train/loss", "train/img_per_s", "lr/body", "val/loss", "val/pixel_mean"} <= set(
        scalars
    )
    assert images == 3  # one panel per epoch
    logged = [r for r in map(json.loads, (out / "log.jsonl").read_text().splitlines())]
    losses = [(r["step"], r["losses"]["loss"]) for r in logged if "losses" in r]
    assert [(s, round(v, 5)) for s, v in scalars["train/loss"]] == [
        (s, round(v, 5)) for s, v in losses
    ]
    assert all(abs(v - 1e-2) < 1e-9 for _, v in scalars["lr/body"])
