"""Checkpoints: one plain dict of state_dicts, counters, resolved config and RNG states.

Layout of a run directory::

    RUN/checkpoints/step_00001000.pt   every ``ckpt_every`` steps (the newest ``keep_last`` kept)
    RUN/checkpoints/epoch_003.pt       after each epoch (kept)
    RUN/checkpoints/last.pt            a copy of the newest one (what ``--ckpt RUN`` means)

The dict (``format_version`` 1)::

    {"format": "l2r-checkpoint", "format_version": 1, "kind": "proxy",
     "step": int, "epoch": int, "epoch_step": int,
     "models": {name: state_dict}, "optimizers": {name: state_dict},
     "config": resolved config (plain dict), "rng": {...}, "rng_per_rank": [{...}, ...],
     "train_seconds": float, "l2r_version": str, "time": float (unix seconds)}

``step`` counts optimizer steps done; ``epoch`` is the epoch in progress (completed epochs) and
``epoch_step`` the global batches of it already done, so training resumes with batch
``epoch_step`` of epoch ``epoch``. ``train_seconds`` is the training wall time summed over
sessions (``train.max_minutes``; absent in files written before it existed, read as 0).
Files hold tensors, numbers and strings only: they load with
``torch.load(weights_only=True)`` and never execute code. Writes go to a temporary file in the
same directory, are fsync'ed and renamed over the target, so a crash at any moment leaves the
old or the new file whole.
"""

from __future__ import annotations

import os
import pickle
import random
import re
import shutil
import time
import warnings
import zipfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch

from l2r_cli import __version__
from l2r_cli.errors import L2RError

FORMAT = "l2r-checkpoint"
FORMAT_VERSION = 1
CKPT_DIR = "checkpoints"
LAST = "last.pt"
_STEP_RE = re.compile(r"^step_(\d+)\.pt$")
_TMP_PREFIX = ".tmp-"


# ----------------------------------------------------------------------------- file names


def checkpoint_dir(run_dir: str | Path) -> Path:
    """``RUN/checkpoints``."""
    return Path(run_dir) / CKPT_DIR


def step_checkpoint_name(step: int) -> str:
    """``step_00001000.pt``."""
    return f"step_{step:08d}.pt"


def epoch_checkpoint_name(epoch: int) -> str:
    """``epoch_003.pt`` for the checkpoint written when epoch 3 (1-based) finished."""
    return f"epoch_{epoch:03d}.pt"


def list_checkpoints(run_dir: str | Path) -> list[Path]:
    """Every finished checkpoint file of a run (temporary files excluded), sorted by name."""
    d = checkpoint_dir(run_dir)
    if not d.is_dir():
        return []
    return sorted(p for p in d.glob("*.pt") if p.is_file() and not p.name.startswith("."))


def prune_step_checkpoints(run_dir: str | Path, keep_last: int) -> list[Path]:
    """Delete all but the newest ``keep_last`` step checkpoints; returns the deleted paths.

    Epoch checkpoints and ``last.pt`` are never deleted. ``keep_last <= 0`` keeps them all.
    """
    if keep_last <= 0:
        return []
    steps = sorted(
        (int(m.group(1)), p)
        for p in list_checkpoints(run_dir)
        if (m := _STEP_RE.match(p.name)) is not None
    )
    doomed = [p for _, p in steps[:-keep_last]]
    for p in doomed:
        p.unlink(missing_ok=True)
    return doomed


def remove_stale_temporaries(run_dir: str | Path) -> None:
    """Delete temporary files a killed writer left in ``RUN/checkpoints``."""
    d = checkpoint_dir(run_dir)
    if d.is_dir():
        for p in d.glob(f"{_TMP_PREFIX}*"):
            p.unlink(missing_ok=True)


# ----------------------------------------------------------------------------- RNG states


def capture_rng(device: torch.device | None = None) -> dict[str, Any]:
    """This process's RNG states as tensors and plain numbers (they survive
    ``weights_only=True`` loading): torch CPU, the CUDA ``device`` if one is given (only that
    one, so a DDP rank never touches the other GPUs), numpy's global RNG, python ``random``."""
    cuda = device is not None and device.type == "cuda"
    np_name, np_keys, np_pos, np_has_gauss, np_gauss = np.random.get_state()
    py_version, py_state, py_gauss = random.getstate()
    return {
        "torch": torch.get_rng_state(),
        "cuda": [torch.cuda.get_rng_state(device)] if cuda else [],
        "numpy": {
            "name": str(np_name),
            "keys": torch.from_numpy(np.asarray(np_keys, dtype=np.int64)),
            "pos": int(np_pos),
            "has_gauss": int(np_has_gauss),
            "cached_gaussian": float(np_gauss),
        },
        "python": {
            "version": int(py_version),
            "state": torch.tensor(py_state, dtype=torch.int64),
            "gauss_next": py_gauss,
        },
    }


def restore_rng(state: dict[str, Any], device: torch.device | None = None) -> None:
    """Inverse of :func:`capture_rng`; a saved CUDA state goes to the CUDA ``device`` if given
    (a checkpoint written on the GPU resumes on the CPU with the CPU streams restored)."""
    torch.set_rng_state(state["torch"])
    cuda = state.get("cuda") or []
    if cuda and device is not None and device.type == "cuda":
        torch.cuda.set_rng_state(cuda[0], device)
    npst = state["numpy"]
    np.random.set_state(
        (
            npst["name"],
            npst["keys"].numpy().astype(np.uint32),
            npst["pos"],
            npst["has_gauss"],
            npst["cached_gaussian"],
        )
    )
    py = state["python"]
    random.setstate((py["version"], tuple(int(x) for x in py["state"].tolist()), py["gauss_next"]))


def seed_everything(seed: int) -> None:
    """Seed torch (CPU and CUDA), numpy's global RNG and python ``random``."""
    random.seed(seed)
    np.random.seed(seed % (1 << 32))
    torch.manual_seed(seed)


# ----------------------------------------------------------------------------- build / save


def build_checkpoint(
    kind: str,
    models: dict[str, dict[str, Any]],
    optimizers: dict[str, dict[str, Any]],
    step: int,
    epoch: int,
    epoch_step: int,
    config: dict[str, Any],
    rng: dict[str, Any] | None = None,
    rng_per_rank: list[dict[str, Any]] | None = None,
    train_seconds: float = 0.0,
) -> dict[str, Any]:
    """Assemble the checkpoint dict (see the module docstring); ``rng`` defaults to this
    process's current RNG states."""
    return {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "kind": kind,
        "step": int(step),
        "epoch": int(epoch),
        "epoch_step": int(epoch_step),
        "models": models,
        "optimizers": optimizers,
        "config": config,
        "rng": capture_rng() if rng is None else rng,
        "rng_per_rank": list(rng_per_rank or []),
        "train_seconds": float(train_seconds),
        "l2r_version": __version__,
        "time": time.time(),
    }


def _fsync_dir(d: Path) -> None:
    # Makes the rename itself durable; not possible on every platform/filesystem.
    try:
        fd = os.open(d, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


def _atomic_write(path: Path, write: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f"{_TMP_PREFIX}{os.getpid()}-{path.name}")
    try:
        with open(tmp, "wb") as fh:
            write(fh)
            fh.flush()
            os.fsync(fh.fileno())
        os.replace(tmp, path)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    _fsync_dir(path.parent)


def save_checkpoint(path: str | Path, ckpt: dict[str, Any]) -> None:
    """Write ``ckpt`` to ``path`` atomically (temp file in the same dir, fsync, rename)."""
    _atomic_write(Path(path), lambda fh: torch.save(ckpt, fh))


def copy_checkpoint(src: str | Path, dst: str | Path) -> None:
    """Copy a checkpoint file atomically (used to keep ``last.pt`` a real file)."""

    def write(fh: Any) -> None:
        with open(src, "rb") as s:
            shutil.copyfileobj(s, fh, length=16 << 20)

    _atomic_write(Path(dst), write)


# ----------------------------------------------------------------------------- load


def resolve_checkpoint_path(path: str | Path) -> Path:
    """A checkpoint file, a run directory meaning its ``checkpoints/last.pt``, or the words
    ``bundled`` (the proxy shipped with l2r) and ``bundled-l2r`` (the L2R weights shipped with
    it), unless a file of that name exists."""
    p = Path(path)
    if str(path) in ("bundled", "bundled-l2r") and not p.exists():
        from l2r_cli.weights import default_l2r_weights, default_weights

        return default_weights() if str(path) == "bundled" else default_l2r_weights()
    if not p.exists():
        raise L2RError(f"checkpoint not found: {p}")
    if p.is_dir():
        for cand in (p / CKPT_DIR / LAST, p / LAST):
            if cand.is_file():
                return cand
        others = list_checkpoints(p)
        if others:
            raise L2RError(
                f"{p / CKPT_DIR} has no {LAST}; pass one of its files, e.g. {others[-1]}"
            )
        raise L2RError(f"{p} is a directory without checkpoints (no {CKPT_DIR}/{LAST} in it)")
    return p


def safe_torch_load(
    p: Path,
    allowed: Sequence[type] = (),
    hint: str = "",
    broken: str = "is not a readable PyTorch file",
    mmap: bool = False,
) -> Any:
    """``torch.load(p, weights_only=True)`` on the CPU: no code runs. ``allowed`` names the
    extra classes that may be rebuilt (they must run no code when unpickled). Every failure is
    a one-line :class:`L2RError`: a pickle that needs other globals is refused; anything else
    is reported as ``"{p} {broken} (reason)"``. ``hint`` is appended to both messages."""
    try:
        with warnings.catch_warnings(), torch.serialization.safe_globals(list(allowed)):
            # plain pickles (e.g. .pkl files) trigger a protocol warning before the refusal
            warnings.filterwarnings("ignore", message="Detected pickle protocol")
            return torch.load(p, map_location="cpu", weights_only=True, mmap=mmap)
    except pickle.UnpicklingError as exc:
        msg = str(exc)
        m = re.search(r"Unsupported global: GLOBAL (\S+)", msg)
        if m:
            raise L2RError(
                f"{p} contains pickled Python objects (it needs {m.group(1)}); loading it could "
                f"run arbitrary code, so it is refused for safety{hint}"
            ) from None
        # Other refusals (an unknown opcode: usually not a pickle at all) name the reason.
        why = re.search(r"WeightsUnpickler error: \s*(\S[^\n]*)", msg)
        first = why.group(1) if why else (msg.splitlines()[0] if msg else "unpickling failed")
        raise L2RError(f"{p} {broken} ({first}){hint}") from None
    except (RuntimeError, EOFError, KeyError, ValueError, zipfile.BadZipFile, OSError) as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise L2RError(f"{p} {broken} ({first}){hint}") from None


def load_checkpoint(
    path: str | Path, expect_kind: str | tuple[str, ...] | None = None
) -> dict[str, Any]:
    """Load an l2r checkpoint on the CPU, safely (``weights_only=True``: no code runs).

    ``path`` is a ``.pt`` file or a run directory (its latest checkpoint). Every failure is a
    one-line :class:`L2RError`: missing path, directory without checkpoints, a file that is not
    a (whole) torch file, a pickle that would run code, not an l2r checkpoint, wrong ``kind``.
    """
    p = resolve_checkpoint_path(path)
    try:
        size = p.stat().st_size
    except OSError as exc:
        raise L2RError(f"cannot read checkpoint {p}: {exc.strerror}") from None
    if size == 0:
        raise L2RError(f"{p} is empty (an interrupted copy?)")
    with open(p, "rb") as fh:
        magic = fh.read(4)
    if not zipfile.is_zipfile(p):
        if magic == b"PK\x03\x04":
            raise L2RError(f"{p} is truncated or corrupt (its zip directory is missing)")
        raise L2RError(f"{p} is not a PyTorch checkpoint file")
    ckpt = safe_torch_load(p, broken="is truncated or corrupt")
    if not isinstance(ckpt, dict) or ckpt.get("format") != FORMAT:
        raise L2RError(f"{p} is a torch file but not an l2r checkpoint (no format '{FORMAT}')")
    version = ckpt.get("format_version")
    if not isinstance(version, int) or version > FORMAT_VERSION:
        raise L2RError(
            f"{p} has checkpoint format version {version!r}; this l2r reads up to "
            f"{FORMAT_VERSION} (upgrade l2r)"
        )
    if expect_kind is not None:
        kinds = (expect_kind,) if isinstance(expect_kind, str) else tuple(expect_kind)
        if ckpt.get("kind") not in kinds:
            want = " or ".join(f"'{k}'" for k in kinds)
            raise L2RError(f"{p} is a '{ckpt.get('kind')}' checkpoint, this command needs {want}")
    return ckpt


_BUFFER_SUFFIXES = ("running_mean", "running_var", "num_batches_tracked")


def describe_checkpoint(path: str | Path) -> dict[str, Any]:
    """Summary for ``l2r info``: path, kind, the stage that trains it and the input files it
    names (from the stage registry), step, epoch, training minutes (0 in files from before
    they were recorded), time, version, config and the parameter count of every model
    (state_dict entries minus normalisation statistics)."""
    p = resolve_checkpoint_path(path)
    ckpt = load_checkpoint(p)
    params = {
        name: sum(
            int(t.numel())
            for k, t in sd.items()
            if isinstance(t, torch.Tensor) and not k.endswith(_BUFFER_SUFFIXES)
        )
        for name, sd in ckpt["models"].items()
    }
    from l2r_cli.engine.registry import stage_specs

    spec = next((s for s in stage_specs() if s.kind == ckpt["kind"]), None)
    config = ckpt.get("config", {})
    sources = {}
    for key in spec.sources if spec else ():
        node: Any = config
        for part in key.split("."):
            node = node.get(part, "") if isinstance(node, dict) else ""
        sources[key.rsplit(".", 1)[-1]] = node
    export = config.get("export") if isinstance(config, dict) else None
    if isinstance(export, dict):  # l2r export-weights of a grn/mutual run: nothing else is read
        proxy = export.get("proxy", {})
        sources = {
            "exported_from": export.get("exported_from", {}).get("path", ""),
            "proxy": f"bundled (sha256 {str(proxy.get('sha256', ''))[:16]})"
            if proxy.get("bundled")
            else "in this file",
        }
    return {
        "path": str(p),
        "kind": ckpt["kind"],
        "stage": f"l2r {spec.command}: {spec.summary}" if spec else "(not a stage of this l2r)",
        "sources": sources,
        "step": ckpt["step"],
        "epoch": ckpt["epoch"],
        "epoch_step": ckpt["epoch_step"],
        "train_minutes": round(float(ckpt.get("train_seconds", 0.0)) / 60, 2),
        "time": ckpt.get("time"),
        "l2r_version": ckpt.get("l2r_version"),
        "format_version": ckpt["format_version"],
        "size_bytes": p.stat().st_size,
        "parameters": params,
        "optimizers": sorted(ckpt.get("optimizers", {})),
        "config": config,
    }


def restore_modules(
    ckpt: dict[str, Any],
    nets: torch.nn.ModuleDict,
    optimizers: dict[str, torch.optim.Optimizer] | None = None,
    source: str = "checkpoint",
) -> None:
    """Load the checkpoint's model (and optimizer) state into ``nets`` (and ``optimizers``).

    The names must match exactly; a mismatch or a shape error is a one-line L2RError.
    """
    saved = ckpt["models"]
    if set(saved) != set(nets.keys()):
        raise L2RError(
            f"{source} holds models {sorted(saved)}, this stage has {sorted(nets.keys())}"
        )
    for name, module in nets.items():
        try:
            module.load_state_dict(saved[name])
        except RuntimeError as exc:
            first = str(exc).splitlines()[0]
            raise L2RError(f"{source}: model '{name}' does not fit ({first})") from None
    if optimizers is None:
        return
    saved_opt = ckpt.get("optimizers", {})
    if set(saved_opt) != set(optimizers):
        raise L2RError(
            f"{source} holds optimizers {sorted(saved_opt)}, this stage has {sorted(optimizers)}"
        )
    for name, opt in optimizers.items():
        try:
            opt.load_state_dict(saved_opt[name])
        except (ValueError, RuntimeError, KeyError) as exc:
            first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
            raise L2RError(f"{source}: optimizer '{name}' does not fit ({first})") from None
