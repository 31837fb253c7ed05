"""Train the toy stage in its own process (for the SIGKILL and torchrun tests).

python tests/engine/toy_train.py --out DIR [--resume] [--max-steps N] [--sleep S]
torchrun --standalone --nproc-per-node 2 tests/engine/toy_train.py --out DIR --quiet-rng
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from l2r_cli.engine.distributed import cleanup, init_distributed  # noqa: E402
from l2r_cli.engine.trainer import Trainer  # noqa: E402
from tests.engine.toy import ToyDataset, ToyStage, run_config, toy_config  # noqa: E402


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", required=True)
    ap.add_argument("--resume", action="store_true")
    ap.add_argument("--epochs", type=int, default=3)
    ap.add_argument("--max-steps", type=int, default=0)
    ap.add_argument("--batch-size", type=int, default=8)
    ap.add_argument("--ckpt-every", type=int, default=2)
    ap.add_argument("--sleep", type=float, default=0.0, help="seconds to sleep after each step")
    ap.add_argument("--quiet-rng", action="store_true", help="no dropout, no numpy/random noise")
    ap.add_argument("--opt", default="adam")
    ap.add_argument("--lr", type=float, default=1e-2)
    a = ap.parse_args()

    dist = init_distributed("cpu")
    hook = (lambda stage, step: time.sleep(a.sleep)) if a.sleep > 0 else None
    stage = ToyStage(
        noisy=not a.quiet_rng, dropout=0.0 if a.quiet_rng else 0.2, opt=a.opt, lr=a.lr, hook=hook
    )
    cfg = toy_config(
        epochs=a.epochs, max_steps=a.max_steps, batch_size=a.batch_size, ckpt_every=a.ckpt_every
    )
    try:
        Trainer(stage, ToyDataset(), cfg, Path(a.out), run_config(cfg), dist, seed=0).fit(
            resume=a.resume
        )
    finally:
        cleanup()


if __name__ == "__main__":
    main()
