"""Optional TensorBoard event files of a training run (``--tensorboard``).

Written by tensorboardX's ``SummaryWriter`` (a well-kept writer of TensorBoard's format that
needs neither TensorFlow nor the TensorBoard server; docs/dependencies.md) into
``OUT/tensorboard/``; view them with ``tensorboard --logdir OUT`` (``pip install tensorboard``).

What is written (rank 0 only), at the training step:

- ``train/<name>``: every log line's averaged losses, and ``train/img_per_s``;
- ``lr/<optimizer>[/<group>]``: every optimizer's learning rates at that step;
- ``eval/<name>``: the stage's own per-epoch readout (the prior's precision and recall);
- ``val/<name>``: the per-epoch validation losses on the val split;
- ``panel``: the per-epoch image panel (HWC uint8).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from l2r_cli.errors import L2RError

SUBDIR = "tensorboard"
"""Where the event files go inside a run folder."""


class TensorBoardLog:
    """A thin adapter over ``tensorboardX.SummaryWriter`` (created on rank 0 only)."""

    def __init__(self, out_dir: str | Path) -> None:
        try:
            from tensorboardX import SummaryWriter
        except ImportError:  # pragma: no cover - a dependency of l2r
            raise L2RError("--tensorboard needs tensorboardX (pip install tensorboardX)") from None
        self.dir = Path(out_dir) / SUBDIR
        self._w = SummaryWriter(logdir=str(self.dir))

    def scalars(self, prefix: str, values: dict[str, Any], step: int) -> None:
        """``prefix/name`` for every number in ``values`` (others are skipped)."""
        for name, value in values.items():
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                self._w.add_scalar(f"{prefix}/{name}", float(value), step)

    def learning_rates(self, optimizers: dict[str, Any], step: int) -> None:
        """``lr/<optimizer>`` (``lr/<optimizer>/<i>`` for parameter group i > 0)."""
        for name, opt in optimizers.items():
            for i, group in enumerate(opt.param_groups):
                tag = f"lr/{name}" if i == 0 else f"lr/{name}/{i}"
                self._w.add_scalar(tag, float(group["lr"]), step)

    def image(self, tag: str, img: np.ndarray, step: int) -> None:
        """An (H, W, 3) uint8 image."""
        self._w.add_image(tag, img, step, dataformats="HWC")

    def flush(self) -> None:
        """Write buffered events to disk."""
        self._w.flush()

    def close(self) -> None:
        """Flush and close the event file."""
        self._w.close()
