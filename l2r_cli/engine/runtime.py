"""What the training loop leans on but does not decide: the config keys a resumed run may
change and how two configs are compared, RNG forking for side computations (panels, exports,
evaluation), deferring SIGINT/SIGTERM to step boundaries, DataLoader worker seeding and moving
batches to a device."""

from __future__ import annotations

import contextlib
import json
import random
import signal
import threading
from collections.abc import Iterator, Mapping
from typing import Any

import numpy as np
import torch

RESUMABLE_KEYS = frozenset(
    {
        "train.epochs",
        "train.max_steps",
        "train.max_minutes",
        "train.num_workers",
        "train.ckpt_every",
        "train.log_every",
        "train.keep_last",
        "train.panels",
        "train.val_images",
        "train.tensorboard",
    }
)
"""Config keys a resumed run may change: none of them changes the weights it computes."""


def flatten(d: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    """``{'train': {'epochs': 3}}`` -> ``{'train.epochs': 3}``."""
    out: dict[str, Any] = {}
    for k, v in d.items():
        key = f"{prefix}{k}"
        if isinstance(v, Mapping):
            out.update(flatten(v, key + "."))
        else:
            out[key] = v
    return out


def config_difference(
    saved: Mapping[str, Any],
    new: Mapping[str, Any],
    defaults: Mapping[str, Any] | None = None,
) -> str | None:
    """The first dotted key (sorted) whose value differs, ignoring :data:`RESUMABLE_KEYS`.

    A key the saved config lacks (a field added to l2r after that run started) counts as equal
    when its new value is the field's default in ``defaults`` (nested like ``new``, JSON types
    like both): the old code behaved as that default does.
    """
    a, b = flatten(saved), flatten(new)
    d = flatten(defaults or {})
    for key in sorted(set(a) | set(b)):
        if any(key == k or key.endswith("." + k) for k in RESUMABLE_KEYS):
            continue
        if key not in a and key in b and key in d and b[key] == d[key]:
            continue
        va, vb = a.get(key, "<absent>"), b.get(key, "<absent>")
        if isinstance(va, tuple):
            va = list(va)
        if isinstance(vb, tuple):
            vb = list(vb)
        if va != vb:
            return f"'{key}' (saved {va!r}, now {vb!r})"
    return None


def json_safe(d: Mapping[str, Any]) -> dict[str, Any]:
    # Round-trip through JSON types so a config with tuples compares equal after loading.
    return json.loads(json.dumps(d))


def worker_init(worker_id: int) -> None:
    # Ctrl-C reaches the whole process group; workers must not die of it, the main process
    # finishes its step, checkpoints and shuts them down.
    signal.signal(signal.SIGINT, signal.SIG_IGN)


def to_device(batch: Any, device: torch.device) -> Any:
    if isinstance(batch, torch.Tensor):
        return batch.to(device, non_blocking=True)
    if isinstance(batch, Mapping):
        return {k: to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return type(batch)(to_device(v, device) for v in batch)
    return batch


@contextlib.contextmanager
def forked_rng(device: torch.device) -> Iterator[None]:
    """Run a block without disturbing any global RNG (torch, CUDA, numpy, python)."""
    np_state, py_state = np.random.get_state(), random.getstate()
    devices = [device] if device.type == "cuda" else []
    with torch.random.fork_rng(devices=devices, device_type="cuda"):
        try:
            yield
        finally:
            np.random.set_state(np_state)
            random.setstate(py_state)


class StopRequest:
    """Defers SIGINT/SIGTERM to step boundaries (main thread only); a second signal raises."""

    def __init__(self) -> None:
        self.requested = False
        self.signame = ""
        self._old: dict[int, Any] = {}

    def _handle(self, signum: int, frame: Any) -> None:
        if self.requested:
            raise KeyboardInterrupt
        self.requested = True
        self.signame = signal.Signals(signum).name

    def __enter__(self) -> StopRequest:
        if threading.current_thread() is threading.main_thread():
            for sig in (signal.SIGINT, signal.SIGTERM):
                self._old[sig] = signal.signal(sig, self._handle)
        return self

    def __exit__(self, *exc: object) -> None:
        for sig, old in self._old.items():
            signal.signal(sig, old)
        self._old.clear()
