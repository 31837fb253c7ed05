"""Pose and relief diagnosis: hand-computed fits, an oracle predictor, and the CLI flag."""

from __future__ import annotations

import json
import math
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from l2r_cli.benchmark.diagnose import diagnose, fit_axis, masked_std
from l2r_cli.data.dataset import L2RDataset
from l2r_cli.data.synth import SynthConfig, generate
from l2r_cli.errors import L2RError


@pytest.fixture(scope="module")
def synth_ds(tmp_path_factory) -> Path:
    root = tmp_path_factory.mktemp("diag") / "ds"
    generate(SynthConfig(out=str(root), n=12, size=32, supersample=2, batch_size=6,
                         splits=(0.5, 0.0, 0.5)))  # fmt: skip
    return root


def test_fit_axis_by_hand():
    true = np.radians([-20.0, 0.0, 20.0])
    fit = fit_axis(0.5 * true + 0.1, true)
    assert fit.corr == pytest.approx(1.0)
    assert fit.slope == pytest.approx(0.5)
    assert fit.std_true == pytest.approx(math.sqrt(800 / 3))  # std of -20, 0, 20
    assert fit.std_pred == pytest.approx(0.5 * math.sqrt(800 / 3))
    anti = fit_axis(-true, true)
    assert anti.corr == pytest.approx(-1.0) and anti.slope == pytest.approx(-1.0)


def test_masked_std_by_hand():
    depth = torch.tensor([[[1.0, 3.0], [5.0, 100.0]]])
    mask = torch.tensor([[[1, 1], [1, 0]]])
    # mean 3 over the mask, variance (4 + 0 + 4) / 3
    assert masked_std(depth, mask).item() == pytest.approx(math.sqrt(8 / 3))


@dataclass
class Oracle:
    """Returns a scaled version of the true view and relief of the images it is given."""

    data: Path
    angle_scale: float
    relief_scale: float
    name: str = "oracle"
    image_size: int = 32

    def __post_init__(self):
        ds = L2RDataset(self.data, "test", fields=("image", "view", "canon_depth", "canon_mask"))
        batch = next(iter(DataLoader(ds, batch_size=len(ds))))
        self._by_image = batch

    def predict(self, image):
        b = self._by_image
        assert torch.allclose(image, b["image"][: len(image)] * 2 - 1)  # unshuffled, in order
        n = len(image)
        view = b["view"][:n].clone()
        view[:, :2] *= self.angle_scale
        d = b["canon_depth"][:n]
        return {"view": view, "canon_depth": 1 + (d - 1) * self.relief_scale}


def test_oracle_scores_its_scales(synth_ds):
    exact = diagnose(Oracle(synth_ds, 1.0, 1.0), synth_ds, batch_size=64)
    assert exact.n == 6
    assert exact.yaw.slope == pytest.approx(1.0) and exact.yaw.corr == pytest.approx(1.0)
    assert exact.pitch.slope == pytest.approx(1.0)
    assert exact.relief_ratio == pytest.approx(1.0)
    # the true factors re-pose to the true depth: neither hybrid costs anything
    assert exact.side_pose_only == pytest.approx(0.0, abs=1e-3)
    assert exact.side_shape_only == pytest.approx(0.0, abs=1e-3)
    basrelief = diagnose(Oracle(synth_ds, 0.5, 2.0), synth_ds, batch_size=64)
    assert basrelief.yaw.slope == pytest.approx(0.5, rel=1e-5)
    assert basrelief.relief_ratio == pytest.approx(2.0, rel=1e-4)


def test_side_split_blames_the_wrong_factor_only(synth_ds):
    """A wrong pose costs in 'pose only' and not in 'shape only', a wrong relief the reverse."""
    exact = diagnose(Oracle(synth_ds, 1.0, 1.0), synth_ds, batch_size=64)
    pose = diagnose(Oracle(synth_ds, 0.5, 1.0), synth_ds, batch_size=64)
    shape = diagnose(Oracle(synth_ds, 1.0, 2.0), synth_ds, batch_size=64)
    assert pose.side_pose_only > 0.1 and pose.side_shape_only == exact.side_shape_only
    assert shape.side_shape_only > 0.1 and shape.side_pose_only == exact.side_pose_only


def test_diagnose_needs_synth_fields(tmp_path, depth_dataset):
    with pytest.raises(L2RError):
        diagnose(Oracle.__new__(Oracle), depth_dataset)


def test_cli_diagnose_on_a_trained_run(l2r, tmp_path, synth_ds):
    run = tmp_path / "run"
    tiny = ["--nf", "8", "--zdim", "16", "--size", "32", "--workers", "0"]
    r = l2r("train-proxy", "--data", synth_ds, "--out", run, *tiny,
            "--batch-size", "3", "--max-steps", "1")  # fmt: skip
    assert r.code == 0, r.err
    out = tmp_path / "bfm.json"
    r = l2r("benchmark", "bfm", "--data", synth_ds, "--ckpt", run, "--baseline", "--diagnose",
            "--json", out)  # fmt: skip
    assert r.code == 0, r.err
    assert "Pose and relief" in r.out or "yaw corr" in r.out
    (row,) = json.loads(out.read_text())["diagnosis"]
    assert row["n"] == 6 and math.isfinite(row["yaw_slope"]) and row["relief_true"] > 0
    assert row["side_pose_only"] >= 0 and row["side_shape_only"] >= 0
