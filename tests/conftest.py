"""Shared fixtures: tiny datasets and a runner for the real `l2r` entry point."""

from __future__ import annotations

import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest

from l2r_cli.cli import main
from l2r_cli.data.dataset import DatasetWriter, FieldSpec


@dataclass
class Result:
    code: int
    out: str
    err: str


@pytest.fixture
def l2r(capsys):
    """Run `l2r ARGS...` in-process through main(); returns exit code, stdout and stderr."""

    def run(*args: str) -> Result:
        capsys.readouterr()
        try:
            main([str(a) for a in args])
            code = 0
        except SystemExit as exc:
            code = int(exc.code or 0)
        cap = capsys.readouterr()
        return Result(code, cap.out, cap.err)

    return run


def make_depth_dataset(root: Path, n_train: int = 16, n_test: int = 6, size: int = 32) -> Path:
    """A tiny dataset of bumps on a far background with GT depth (not faces; for plumbing)."""
    rng = np.random.default_rng(0)
    ys, xs = np.meshgrid(np.linspace(-1, 1, size), np.linspace(-1, 1, size), indexing="ij")
    r2 = xs**2 + ys**2
    fields = {"depth": FieldSpec((size, size), "float32")}
    with DatasetWriter(root, image_size=size, fields=fields, source={"generator": "test"}) as w:
        for split, n in (("train", n_train), ("test", n_test)):
            for _ in range(n):
                amp = rng.uniform(0.03, 0.08)
                depth = np.where(r2 < 0.6, 1.05 - amp * np.exp(-r2 * 3), 1.1).astype(np.float32)
                shade = np.clip(1.2 - (depth - 0.95) * 6, 0, 1)
                img = (shade[..., None] * rng.uniform(0.4, 1.0, 3) * 255).astype(np.uint8)
                w.append(split, {"image": img, "depth": depth})
    return root


@pytest.fixture
def depth_dataset(tmp_path) -> Path:
    return make_depth_dataset(tmp_path / "ds")


def one_and_two_processes(args: list[str], one: Path, two: Path) -> None:
    """Run `l2r ARGS --out ONE` in one CPU process and `--out TWO` under torchrun with two gloo
    processes (one thread each); fails the test with torchrun's stderr if it fails."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    base = ["-m", "l2r_cli", "--device", "cpu", *map(str, args)]
    subprocess.run([sys.executable, *base, "--out", str(one)], env=env, check=True,
                   capture_output=True, timeout=300)  # fmt: skip
    run = subprocess.run(
        [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2",
         *base, "--out", str(two)],
        env=env, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert run.returncode == 0, run.stderr[-2000:]
