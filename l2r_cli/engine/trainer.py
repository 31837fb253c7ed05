"""The one training loop every stage runs: data order, devices, DDP, logging, checkpoints.

``Trainer(stage, dataset, cfg, out_dir, run_config, dist, seed).fit(resume)`` runs
``cfg.epochs`` epochs (or ``cfg.max_steps`` steps) of ``stage.train_step`` over
:class:`~l2r_cli.engine.sampler.EpochBatchSampler` batches, and writes into ``out_dir``::

    config.toml, config.json   the resolved run configuration
    log.jsonl                  one JSON line per log step (step, epoch, losses, img/s, time)
    checkpoints/               see l2r_cli.engine.checkpoint
    panels/epoch_003.png       stage.panel() of the first 8 training items after each epoch

Resuming is exact: data order comes from (seed, epoch) alone, the checkpoint restores models,
optimizers, counters and every RNG state, and the loop continues mid-epoch, so on the CPU an
interrupted-and-resumed run ends with the same bits as an uninterrupted one. Panels run under
a forked RNG, so turning them on or off does not change the training either.

Ctrl-C (SIGINT) and SIGTERM are deferred to the end of the current step; all ranks agree to
stop, a checkpoint is written, and KeyboardInterrupt is raised. A second signal interrupts
at once without a checkpoint.

Two stage hooks (no-ops by default in ``Stage``), both run on rank 0 only, without gradients
and under a forked RNG (so they never change the training):

* ``stage.export(out_dir)`` after every checkpoint: files other programs read (the prior
  stage writes ``prior.pt`` in rosinality's StyleGAN2 layout);
* ``stage.evaluate() -> {name: number}`` after every epoch (after the panel): logged to
  ``log.jsonl`` as ``{"step", "epoch", "eval": {...}, "time"}`` and printed;
* ``stage.validate(batch) -> {name: number}`` on the first ``val_images`` items of the val
  split (``val_set``) after every epoch, averaged: ``{"step", "epoch", "val": {...}}``.

With ``tensorboard`` on, the same numbers (and learning rates and panels) also go to
TensorBoard event files in ``OUT/tensorboard`` (``l2r_cli.engine.tensorboard``).

And one on every rank, in eval mode: ``stage.finish(batches, reduce_mean)`` once when training
ends by steps, epochs or ``max_minutes`` (not when interrupted), before the final checkpoint;
it may change weights, and its logs go to ``log.jsonl`` as ``{"step", "epoch", "finish"}``.
"""

from __future__ import annotations

import itertools
import json
import math
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch.utils.data import DataLoader, Dataset, Subset, default_collate

from l2r_cli.config import TrainConfig, to_dict, to_toml
from l2r_cli.console import log, progress
from l2r_cli.engine import checkpoint as ck
from l2r_cli.engine.distributed import (
    DistInfo,
    all_gather_object,
    all_reduce_mean,
    any_rank,
    barrier,
    wrap_ddp,
)
from l2r_cli.engine.runtime import (
    StopRequest,
    config_difference,
    forked_rng,
    json_safe,
    to_device,
    worker_init,
)
from l2r_cli.engine.sampler import EpochBatchSampler
from l2r_cli.errors import L2RError
from l2r_cli.stages.base import Stage

PANEL_ITEMS = 8
"""How many leading training items make the fixed panel batch."""

VAL_SEED = 20_221_001
"""The torch seed of every per-epoch validation (which degraded variant each item shows)."""


class Trainer:
    """Runs a :class:`~l2r_cli.stages.base.Stage` over a dataset (one loop for every stage).

    ``train_set[i]`` must return a dict of tensors (collated to e.g. ``image: (B, 3, S, S)``).
    For an exact resume, any randomness inside ``train_set`` should be a function of the index
    (DataLoader workers are re-seeded per epoch, but which worker reads which batch shifts
    when a run resumes mid-epoch); randomness in ``train_step`` (global RNGs) is restored.
    ``seed`` fixes the data order and the training RNG streams (rank r uses ``seed + r``);
    the stage's initial weights are the caller's business (seed before building it).
    """

    def __init__(
        self,
        stage: Stage,
        train_set: Dataset,
        cfg: TrainConfig,
        out_dir: str | Path,
        run_config: dict[str, Any],
        dist: DistInfo,
        seed: int,
        config_defaults: Mapping[str, Any] | None = None,
        val_set: Dataset | None = None,
    ) -> None:
        self.stage = stage
        self.train_set = train_set
        self.val_set = val_set
        self._tb: Any = None
        self.cfg = cfg
        self.out_dir = Path(out_dir)
        self.run_config = json_safe(run_config)
        # Defaults of the run's config (train section at least): lets a run saved before a
        # field existed resume while that field keeps its default.
        self.config_defaults = json_safe(
            {"train": to_dict(TrainConfig()), **(config_defaults or {})}
        )
        self.dist = dist
        self.seed = seed
        self.n = len(train_set)  # type: ignore[arg-type]
        self.sampler = EpochBatchSampler(
            self.n, cfg.batch_size, dist.rank, dist.world_size, seed=seed
        )
        if cfg.ckpt_every < 1 or cfg.log_every < 1:
            raise L2RError("train.ckpt_every and train.log_every must be >= 1")
        if cfg.max_minutes < 0:
            raise L2RError(f"train.max_minutes must be >= 0, got {cfg.max_minutes}")
        if cfg.lr_cosine_steps < 0 or not 0.0 <= cfg.lr_final_ratio <= 1.0:
            raise L2RError(
                "train.lr_cosine_steps must be >= 0 and train.lr_final_ratio in [0, 1], got "
                f"{cfg.lr_cosine_steps} and {cfg.lr_final_ratio}"
            )
        # Starting rates of every optimizer's parameter groups, before a checkpoint's
        # (already annealed) rates are loaded over them.
        self._base_lrs = {
            name: [g["lr"] for g in opt.param_groups] for name, opt in stage.optimizers().items()
        }
        self.step = 0
        self.epoch = 0
        self.epoch_step = 0
        self._saved_step = -1
        self._seconds_before = 0.0  # training wall time of earlier sessions (from the checkpoint)
        self._session_start = time.perf_counter()
        self._wrapped = False
        self._panel_batch: dict[str, Any] | None = None

    # ------------------------------------------------------------------ paths

    @property
    def ckpt_dir(self) -> Path:
        """``out_dir/checkpoints``."""
        return ck.checkpoint_dir(self.out_dir)

    @property
    def last_path(self) -> Path:
        """``out_dir/checkpoints/last.pt``."""
        return self.ckpt_dir / ck.LAST

    @property
    def total_steps(self) -> int:
        """Steps this run ends at: all epochs, capped by ``max_steps`` when set."""
        total = self.cfg.epochs * self.sampler.batches_per_epoch
        return min(total, self.cfg.max_steps) if self.cfg.max_steps > 0 else total

    @property
    def train_seconds(self) -> float:
        """Training wall time so far, summed over this and earlier (resumed) sessions."""
        return self._seconds_before + time.perf_counter() - self._session_start

    def _out_of_time(self) -> bool:
        """Whether ``max_minutes`` is used up (rank 0's clock decides, so all ranks agree)."""
        if self.cfg.max_minutes <= 0:
            return False
        over = self.dist.is_main and self.train_seconds >= 60.0 * self.cfg.max_minutes
        return any_rank(over, self.dist)

    def lr_factor(self, step: int) -> float:
        """Multiplier of the starting learning rates for the step after ``step`` steps done."""
        n = self.cfg.lr_cosine_steps
        if n <= 0:
            return 1.0
        t = min(step, n) / n
        r = self.cfg.lr_final_ratio
        return r + (1.0 - r) * 0.5 * (1.0 + math.cos(math.pi * t))

    def _set_learning_rates(self) -> None:
        if self.cfg.lr_cosine_steps <= 0:
            return
        f = self.lr_factor(self.step)
        for name, opt in self.stage.optimizers().items():
            for group, base in zip(opt.param_groups, self._base_lrs[name], strict=True):
                group["lr"] = base * f

    # ------------------------------------------------------------------ set-up

    def _prepare(self, resume: bool) -> None:
        existing = ck.list_checkpoints(self.out_dir)
        if existing and not resume:
            raise L2RError(
                f"{self.out_dir} already has checkpoints; pass --resume to continue "
                "or choose another --out"
            )
        if resume and not existing:
            raise L2RError(f"--resume: {self.out_dir} has no checkpoint to resume from")
        self.stage.to(self.dist.device)
        if resume:
            ckpt = ck.load_checkpoint(self.out_dir, expect_kind=self.stage.kind)
            diff = config_difference(ckpt["config"], self.run_config, self.config_defaults)
            if diff is not None:
                raise L2RError(
                    f"--resume: the configuration differs from the saved run in {diff}; "
                    "only epochs, max_steps, max_minutes, num_workers, ckpt_every, log_every, "
                    "keep_last and panels may change"
                )
            ck.restore_modules(
                ckpt, self.stage.nets, self.stage.optimizers(), source=str(self.last_path)
            )
            self.step, self.epoch = ckpt["step"], ckpt["epoch"]
            self.epoch_step = ckpt["epoch_step"]
            self._seconds_before = float(ckpt.get("train_seconds", 0.0))
            per_rank = ckpt.get("rng_per_rank") or []
            if len(per_rank) == self.dist.world_size:
                ck.restore_rng(per_rank[self.dist.rank], self.dist.device)
            else:
                # A different process count: the global batches are unchanged but the RNG
                # streams cannot be; rank 0 continues the saved one.
                ck.restore_rng(ckpt["rng"], self.dist.device)
                if self.dist.rank > 0:
                    ck.seed_everything(self.seed + self.dist.rank + 1_000_003 * self.step)
            self._saved_step = self.step
            if self.epoch_step > self.sampler.batches_per_epoch:
                raise L2RError(
                    f"--resume: the checkpoint is at batch {self.epoch_step} of an epoch but "
                    f"the training set now has {self.sampler.batches_per_epoch} batches"
                )
            del ckpt
        else:
            ck.seed_everything(self.seed + self.dist.rank)
        # Every rank has looked at the directory before rank 0 writes anything into it.
        barrier(self.dist)
        if self.dist.is_main:
            self.out_dir.mkdir(parents=True, exist_ok=True)
            ck.remove_stale_temporaries(self.out_dir)
            (self.out_dir / "config.toml").write_text(to_toml(self.run_config))
            (self.out_dir / "config.json").write_text(json.dumps(self.run_config, indent=2) + "\n")
            if resume:
                self._truncate_log(self.step)
        if self.dist.distributed and not self._wrapped:
            self.stage.wrap(lambda m: wrap_ddp(m, self.dist))
            self._wrapped = True

    def _truncate_log(self, step: int) -> None:
        # Lines written after the checkpoint we resume from would be repeated: drop them.
        log = self.out_dir / "log.jsonl"
        if not log.is_file():
            return
        keep = []
        for line in log.read_text().splitlines():
            try:
                if json.loads(line).get("step", 0) <= step:
                    keep.append(line)
            except json.JSONDecodeError:
                continue  # a line cut by a kill
        log.write_text("".join(x + "\n" for x in keep))

    def _loader(self, epoch: int, start_batch: int) -> DataLoader:
        self.sampler.set_epoch(epoch, start_batch)
        g = torch.Generator()
        # Worker seeds depend on (seed, epoch, rank) only, never on the global RNG.
        g.manual_seed((self.seed * 1_000_003 + epoch * 7_919 + self.dist.rank) % (1 << 63))
        workers = self.cfg.num_workers
        return DataLoader(
            self.train_set,
            batch_sampler=self.sampler,
            num_workers=workers,
            pin_memory=self.dist.device.type == "cuda",
            generator=g,
            worker_init_fn=worker_init if workers > 0 else None,
        )

    # ------------------------------------------------------------------ checkpoints

    def _checkpoint(self, names: list[str]) -> Path:
        """Write the current state as ``last.pt`` and as each of ``names`` (collective)."""
        rng_all = all_gather_object(ck.capture_rng(self.dist.device), self.dist)
        if self.dist.is_main:
            ckpt = ck.build_checkpoint(
                kind=self.stage.kind,
                models={n: m.state_dict() for n, m in self.stage.nets.items()},
                optimizers={n: o.state_dict() for n, o in self.stage.optimizers().items()},
                step=self.step,
                epoch=self.epoch,
                epoch_step=self.epoch_step,
                config=self.run_config,
                rng=rng_all[0],
                rng_per_rank=rng_all,
                train_seconds=self.train_seconds,
            )
            # last.pt first: if we die before the named copies, last.pt is still the newest.
            ck.save_checkpoint(self.last_path, ckpt)
            for name in names:
                ck.copy_checkpoint(self.last_path, self.ckpt_dir / name)
            ck.prune_step_checkpoints(self.out_dir, self.cfg.keep_last)
            with forked_rng(self.dist.device), torch.no_grad():
                self.stage.export(self.out_dir)
        self._saved_step = self.step
        barrier(self.dist)
        return self.last_path

    # ------------------------------------------------------------------ panels, logs

    def _fixed_batch(self) -> dict[str, Any]:
        if self._panel_batch is None:
            k = min(PANEL_ITEMS, self.n)
            self._panel_batch = default_collate([self.train_set[i] for i in range(k)])
        return self._panel_batch

    def _write_panel(self, epoch_done: int) -> None:
        import imageio.v3 as iio

        batch = to_device(self._fixed_batch(), self.dist.device)
        self.stage.eval()
        try:
            with forked_rng(self.dist.device), torch.no_grad():
                img = self.stage.panel(batch)
        finally:
            self.stage.train()
        if img.dtype != np.uint8 or img.ndim != 3 or img.shape[2] != 3:
            raise TypeError(f"{type(self.stage).__name__}.panel must return uint8 (H, W, 3)")
        path = self.out_dir / "panels" / f"epoch_{epoch_done:03d}.png"
        path.parent.mkdir(parents=True, exist_ok=True)
        iio.imwrite(path, img)
        if self._tb is not None:
            self._tb.image("panel", img, self.step)

    def _log(self, sums: dict[str, float], count: int, images: int, dt: float) -> dict[str, Any]:
        means = all_reduce_mean({k: v / max(count, 1) for k, v in sums.items()}, self.dist)
        rate = images / dt if dt > 0 else 0.0
        rec = {
            "step": self.step,
            "epoch": self.epoch + 1,  # 1-based, as on the progress bar
            "losses": means,
            "img_per_s": rate,
            "time": time.time(),
        }
        if self.dist.is_main:
            with open(self.out_dir / "log.jsonl", "a") as fh:
                fh.write(json.dumps(rec) + "\n")
            if self._tb is not None:
                self._tb.scalars("train", {**means, "img_per_s": rate}, self.step)
                self._tb.learning_rates(self.stage.optimizers(), self.step)
        return rec

    # ------------------------------------------------------------------ loop

    def fit(self, resume: bool = False) -> Path:
        """Train to ``cfg.epochs`` (or ``cfg.max_steps``); returns the ``last.pt`` path.

        With ``resume`` the run continues from ``out_dir/checkpoints/last.pt``; the config may
        differ only in :data:`RESUMABLE_KEYS`. Raises KeyboardInterrupt after checkpointing
        when interrupted.
        """
        self._prepare(resume)
        if self.cfg.tensorboard and self.dist.is_main:
            from l2r_cli.engine.tensorboard import TensorBoardLog

            self._tb = TensorBoardLog(self.out_dir)
        try:
            return self._fit(resume)
        finally:
            if self._tb is not None:
                self._tb.close()

    def _fit(self, resume: bool) -> Path:
        self._session_start = time.perf_counter()
        self.stage.train()
        cfg, nb, total = self.cfg, self.sampler.batches_per_epoch, self.total_steps
        if self.dist.is_main:
            where = f"resuming at step {self.step}" if resume else "starting"
            log(
                f"{where}: {self.n} items, {nb} steps/epoch of {cfg.batch_size} images "
                f"({self.dist.world_size} process(es) on {self.dist.device}), {total} steps"
            )
        sums: dict[str, float] = {}
        count = 0
        interrupted, timed_out = False, self._out_of_time()
        with progress() as bar, StopRequest() as stop:
            task = bar.add_task(
                f"epoch {self.epoch + 1}/{cfg.epochs}", total=total, completed=self.step, status=""
            )
            t_last, img_last = time.perf_counter(), 0
            while self.epoch < cfg.epochs and self.step < total and not (interrupted or timed_out):
                loader = self._loader(self.epoch, self.epoch_step)
                for batch in loader:
                    self._set_learning_rates()
                    logs = self.stage.train_step(to_device(batch, self.dist.device))
                    self.step += 1
                    self.epoch_step += 1
                    count += 1
                    img_last += cfg.batch_size
                    for k, v in logs.items():
                        sums[k] = sums.get(k, 0.0) + float(v)
                    if self.step % cfg.log_every == 0 or self.step == total:
                        now = time.perf_counter()
                        rec = self._log(sums, count, img_last, now - t_last)
                        loss = rec["losses"].get("loss", math.nan)
                        bar.update(
                            task,
                            completed=self.step,
                            description=f"epoch {self.epoch + 1}/{cfg.epochs}",
                            status=f"loss {loss:.4f}  {rec['img_per_s']:.0f} img/s",
                        )
                        sums, count, t_last, img_last = {}, 0, now, 0
                    epoch_done = self.epoch_step == nb
                    if self.step % cfg.ckpt_every == 0 and not epoch_done:
                        self._checkpoint([ck.step_checkpoint_name(self.step)])
                    interrupted = any_rank(stop.requested, self.dist)
                    timed_out = not interrupted and self._out_of_time()
                    if interrupted or timed_out or self.step >= total:
                        break
                del loader  # shut the workers down before the (slow) epoch end
                if self.epoch_step == nb:
                    self._end_epoch()
            if self.step != self._saved_step:
                self._checkpoint([])
            bar.update(task, completed=self.step)
        if interrupted:
            log(f"interrupted ({stop.signame}): checkpoint at step {self.step} in {self.last_path}")
            raise KeyboardInterrupt
        if timed_out:
            log(f"time budget of {cfg.max_minutes:g} min used up at step {self.step}")
        self._finish()
        log(f"done: step {self.step}, checkpoint {self.last_path}")
        # Ranks leave together: a rank that tears gloo down while another still talks to it can
        # abort the other ("terminate called without an active exception").
        barrier(self.dist)
        return self.last_path

    def _finish(self) -> None:
        """The stage's end-of-training step (on the first batches of epoch 0's order); logs and
        checkpoints what it changed."""
        n = self.stage.finish_batches()
        if n <= 0:
            return
        loader = self._loader(0, 0)
        batches = [to_device(b, self.dist.device) for b in itertools.islice(loader, n)]
        del loader
        self.stage.eval()
        try:
            with forked_rng(self.dist.device):
                logs = self.stage.finish(batches, lambda d: all_reduce_mean(d, self.dist))
        finally:
            self.stage.train()
        if not logs:
            return
        if self.dist.is_main:
            rec = {"step": self.step, "epoch": self.epoch, "finish": logs, "time": time.time()}
            with open(self.out_dir / "log.jsonl", "a") as fh:
                fh.write(json.dumps(rec) + "\n")
            log("end of training: " + "  ".join(f"{k} {v:.4g}" for k, v in logs.items()))
        self._checkpoint([])

    def _end_epoch(self) -> None:
        self.epoch += 1
        self.epoch_step = 0
        names = [ck.epoch_checkpoint_name(self.epoch)]
        if self.step % self.cfg.ckpt_every == 0:
            names.append(ck.step_checkpoint_name(self.step))
        self._checkpoint(names)
        if self.cfg.panels and self.dist.is_main:
            self._write_panel(self.epoch)
        scores = self._evaluate() if self.dist.is_main else {}
        barrier(self.dist)
        line = f"epoch {self.epoch}/{self.cfg.epochs} done at step {self.step}"
        if scores:
            line += ": " + "  ".join(
                f"{k} {v:.4f}" if isinstance(v, float) else f"{k} {v}" for k, v in scores.items()
            )
        log(line)

    def _evaluate(self) -> dict[str, Any]:
        """Run ``stage.evaluate()`` and the validation; log both and return them (the
        validation losses prefixed ``val_``)."""
        self.stage.eval()
        try:
            with forked_rng(self.dist.device), torch.no_grad():
                scores = dict(self.stage.evaluate())
                val = self._validate()
        finally:
            self.stage.train()
        for name, values in (("eval", scores), ("val", val)):
            if not values:
                continue
            rec = {"step": self.step, "epoch": self.epoch, name: values, "time": time.time()}
            with open(self.out_dir / "log.jsonl", "a") as fh:
                fh.write(json.dumps(rec) + "\n")
            if self._tb is not None:
                self._tb.scalars(name, values, self.step)
        if self._tb is not None:
            self._tb.flush()
        return {**scores, **{f"val_{k}": v for k, v in val.items()}}

    def _validate(self) -> dict[str, float]:
        """Mean of ``stage.validate`` over the first ``val_images`` val items (batch-size
        weighted); {} when there
        is no val set, ``val_images`` is 0 or the stage does not validate. Runs inside the
        forked RNG of :meth:`_evaluate`, reseeded so every epoch sees the same variants."""
        if self.val_set is None or self.cfg.val_images <= 0 or len(self.val_set) == 0:
            return {}
        torch.manual_seed(VAL_SEED)
        items = Subset(self.val_set, range(min(self.cfg.val_images, len(self.val_set))))
        local = max(1, self.cfg.batch_size // self.dist.world_size)
        loader = DataLoader(items, batch_size=local, shuffle=False)
        sums: dict[str, float] = {}
        n = 0
        for batch in loader:
            logs = self.stage.validate(to_device(batch, self.dist.device))
            if logs is None:
                return {}
            b = len(next(iter(batch.values())))
            for k, v in logs.items():
                sums[k] = sums.get(k, 0.0) + float(v) * b
            n += b
        return {k: v / n for k, v in sums.items()}
