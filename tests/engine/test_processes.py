"""Training across process boundaries: SIGKILL then resume, and torchrun with 2 CPU ranks."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import torch

from l2r_cli.engine.distributed import DistInfo
from l2r_cli.engine.trainer import Trainer
from tests.engine.toy import ToyDataset, ToyStage, model_state, run_config, toy_config

SCRIPT = Path(__file__).with_name("toy_train.py")
ROOT = Path(__file__).resolve().parents[2]


def _env() -> dict[str, str]:
    # Same intra-op thread count as this process, so CPU kernels reduce in the same order.
    return {**os.environ, "OMP_NUM_THREADS": str(torch.get_num_threads())}


def _train(out: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--out", str(out), *args],
        cwd=ROOT,
        env=_env(),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _fit_here(out: Path, quiet_rng: bool, epochs: int) -> Path:
    cfg = toy_config(epochs=epochs)
    stage = ToyStage(noisy=not quiet_rng, dropout=0.0 if quiet_rng else 0.2)
    return Trainer(stage, ToyDataset(), cfg, out, run_config(cfg), DistInfo(), seed=0).fit()


def test_sigkill_then_resume_equals_uninterrupted(tmp_path: Path) -> None:
    out = tmp_path / "killed"
    proc = subprocess.Popen(
        [sys.executable, str(SCRIPT), "--out", str(out), "--sleep", "0.15"],
        cwd=ROOT,
        env=_env(),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    deadline = time.monotonic() + 60
    try:
        while not list((out / "checkpoints").glob("step_*.pt")):
            assert proc.poll() is None, proc.stderr.read() if proc.stderr else ""
            assert time.monotonic() < deadline, "no checkpoint within 60 s"
            time.sleep(0.01)
    finally:
        os.kill(proc.pid, signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    killed_at = torch.load(out / "checkpoints" / "last.pt", weights_only=True)["step"]
    assert 0 < killed_at < 15

    done = _train(out, "--resume")
    assert done.returncode == 0, done.stderr
    ref = _fit_here(tmp_path / "ref", quiet_rng=False, epochs=3)
    a, b = model_state(str(out / "checkpoints" / "last.pt")), model_state(str(ref))
    assert all(torch.equal(a[k], b[k]) for k in a)


def test_torchrun_two_ranks_match_one_process(tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc-per-node", "2"]
    cmd += [str(SCRIPT), "--out", str(out), "--quiet-rng", "--epochs", "2"]
    done = subprocess.run(cmd, cwd=ROOT, env=_env(), capture_output=True, text=True, timeout=180)
    assert done.returncode == 0, done.stderr[-3000:]
    ddp = torch.load(out / "checkpoints" / "last.pt", weights_only=True)
    assert ddp["step"] == 10 and len(ddp["rng_per_rank"]) == 2

    ref = _fit_here(tmp_path / "one", quiet_rng=True, epochs=2)
    a, b = model_state(str(out / "checkpoints" / "last.pt")), model_state(str(ref))
    init = {f"body.{k}": v for k, v in ToyStage(dropout=0.0).nets["body"].state_dict().items()}
    assert max((b[k] - v).abs().max().item() for k, v in init.items()) > 1e-2  # it trained
    # Same global batches, so the only difference is float32 summation order: each rank's
    # gradient is a mean over 4 samples and DDP averages the two, versus one mean over 8.
    # That is a relative error of a few ulp (~1e-7) per gradient entry; Adam's step
    # m / (sqrt(v) + eps) carries the same relative error while |g| >> eps (here |g| ~ 1e-3),
    # so each step moves a weight by lr * 1e-7 = 1e-9 differently and 10 steps stay ~1e-8
    # (measured: 3e-8, i.e. 1 ulp of the weights). 1e-6 leaves a 30x margin.
    diff = max((a[k] - b[k]).abs().max().item() for k in a)
    assert diff < 1e-6, diff
