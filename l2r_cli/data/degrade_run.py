"""``l2r degrade`` as one library call: a photo folder (or synface layout) -> an l2r dataset of
ground truth and degraded variants (paper sec. 5), in parallel, crash-safe and resumable.

Pipeline (docs/degradation.md has the user-facing version):

1. Scan SRC (:func:`l2r_cli.data.ingest.scan`); the sources are sorted by a stable key, cut
   into fixed shards of ``shard_size`` and each shard into tasks of a few files.
2. Worker processes (a bounded window of tasks in flight, so memory does not grow with the
   number of images) read each file (:func:`~l2r_cli.data.ingest.load_source`) and degrade it
   (:func:`~l2r_cli.data.degrade.degrade`) with generators seeded by (seed, its key) alone.
3. The main process takes the results in order; when a shard is complete it writes the shard
   to ``OUT/.l2r-degrade/parts/`` (temp file + rename: a part exists whole or not at all), then
   appends it to the split files being built in ``OUT/.l2r-degrade/staging/``.
4. At the end the split files are closed and moved into OUT, then ``skipped.tsv``,
   ``preview.png`` and, last, ``manifest.json`` (its presence = complete); the work directory
   is removed.

Resume: the work directory keeps a fingerprint of everything that decides the output bytes
(arguments, SRC listing, library versions). Rerunning the same command after a crash (kill -9
included) rebuilds the staging files from scratch by replaying the saved parts in order and
computes only the missing shards, so the result is the same file an uninterrupted run writes.
Different arguments on the same OUT are refused unless ``overwrite``.

Worker-side code (``_process_batch``) is importable without torch; the dataset writer (which
imports torch) is imported inside the main-side functions only.
"""

from __future__ import annotations

import contextlib
import ctypes
import hashlib
import io
import json
import os
import resource
import select
import shutil
import signal
import sys
import threading
import time
from collections import deque
from collections.abc import Iterator, Sequence
from concurrent.futures import Future, ProcessPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import numpy as np
from PIL import Image

from l2r_cli import __version__
from l2r_cli.data.degrade import DEGRADE_VERSION, PARAM_NAMES, DegradeConfig, degrade, variant_rngs
from l2r_cli.data.ingest import (
    CROP_MODES,
    GT_FILTERS,
    IngestConfig,
    Listing,
    Loaded,
    SkipImage,
    Source,
    _why,
    is_synface,
    load_source,
    name_key,
    scan,
)
from l2r_cli.errors import L2RError

GENERATOR = "l2r-degrade"
"""Name of this writer in the dataset manifest's ``source``."""

FORMAT_VERSION = 1
"""Version of this pipeline's output layout and work directory (bumped on any change)."""

SPLIT_NAMES = ("train", "val", "test")
WORK_DIR = ".l2r-degrade"
SKIPPED_NAME = "skipped.tsv"
PREVIEW_NAME = "preview.png"
MANIFEST_NAME = "manifest.json"
_OUTPUT_NAMES = frozenset(
    {MANIFEST_NAME, SKIPPED_NAME, PREVIEW_NAME, WORK_DIR, *(f"{s}.h5" for s in SPLIT_NAMES)}
)
_TASK_SIZE = 8  # files per worker task: small enough for a smooth ETA, large enough to batch IPC
_WINDOW_PER_WORKER = 4  # tasks in flight per worker
_DELAY_ENV = "L2R_DEGRADE_TEST_DELAY"  # tests only: seconds each task sleeps (to kill mid-run)


def available_cpus() -> int:
    """CPUs this process may run on (its affinity mask where the OS has one)."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # macOS, Windows
        return os.cpu_count() or 1


@dataclass(frozen=True)
class DegradeRunConfig:
    """Everything ``l2r degrade`` needs; all but ``workers`` and ``overwrite`` decide the output
    bytes and are recorded in the manifest."""

    src: str
    """Folder of photos (searched recursively) or a synface layout."""
    out: str
    """Output directory: the l2r dataset, skipped.tsv and preview.png."""
    gt_size: int = 256
    """S: ground-truth size (paper: 256)."""
    lq_size: int = 32
    """s: degraded size (paper: 32); S must be a multiple of s."""
    variants: int = 4
    """K: degraded variants per image."""
    split: tuple[float, float, float] = (0.8, 0.1, 0.1)
    """Train, val, test fractions (normalised); ignored where the layout or box list fixes a
    file's split. Each file's split depends only on (seed, its relative path)."""
    seed: int = 0
    """Random seed of the degradations and the split draw."""
    crop: str = "center"
    """``center``, ``none`` or ``bbox`` (needs ``bbox_file``)."""
    crop_scale: float = 1.0
    """``center``: the square's side as a fraction of the shorter side (0 < f <= 1)."""
    bbox_file: str | None = None
    """Box list for ``crop='bbox'``: lines ``fname [split] x0 y0 w h`` (CelebA)."""
    layout: str = "auto"
    """``auto`` (synface if SRC has SPLIT/image folders), ``folder`` or ``synface``."""
    background: tuple[int, int, int] = (255, 255, 255)
    """RGB under transparent pixels."""
    gt_filter: str = "lanczos"
    """Resize filter of the GT: lanczos, bicubic, bilinear or area."""
    workers: int = 1
    """Worker processes; 0 runs everything in this process (does not change the output)."""
    shard_size: int = 128
    """Files per resumable shard (changes the HDF5 layout, not the content)."""
    overwrite: bool = False
    """Replace a different earlier output in OUT."""

    def degrade_config(self) -> DegradeConfig:
        """The degradation model of this run."""
        return DegradeConfig(gt_size=self.gt_size, lq_size=self.lq_size, variants=self.variants)

    def ingest_config(self) -> IngestConfig:
        """How this run reads files."""
        return IngestConfig(
            gt_size=self.gt_size,
            min_size=self.lq_size,
            crop=self.crop,
            crop_scale=self.crop_scale,
            background=tuple(self.background),
            gt_filter=self.gt_filter,
        )


@dataclass(frozen=True)
class DegradeSummary:
    """What a run did. ``skipped`` counts files left out (rows of skipped.tsv);
    ``images_per_second`` counts the files read in this run (written or skipped; not those
    of shards a resume found done);
    peak memory is the largest resident set of the main process and of any worker."""

    out: Path
    written: int
    skipped: int
    per_split: dict[str, int]
    upscaled: int
    variants: int
    workers: int
    reused_shards: int
    total_shards: int
    seconds: float
    images_per_second: float
    peak_rss_main_mb: float
    peak_rss_workers_mb: float
    cpu_main_s: float = 0.0
    """CPU seconds (user + system) of the main process during the run."""
    cpu_workers_s: float = 0.0
    """CPU seconds of all workers together (0 with ``workers=0``)."""
    already_complete: bool = False


class DegradeProgress(Protocol):
    """Receives progress: ``start(total, done)`` once, then ``advance(n, written, skipped)``
    as results arrive (n files more are done; written/skipped are running totals)."""

    def start(self, total: int, done: int) -> None: ...

    def advance(self, n: int, written: int, skipped: int) -> None: ...


# -- checks ----------------------------------------------------------------------------------


def check_config(cfg: DegradeRunConfig) -> None:
    """Raise L2RError (one line) for arguments that cannot make a dataset."""
    src = Path(cfg.src)
    if not src.exists():
        raise L2RError(f"SRC not found: {src}")
    if not src.is_dir():
        raise L2RError(f"SRC must be a folder of images: {src}")
    try:
        cfg.degrade_config()
    except ValueError as e:
        msg = str(e).replace("gt_size", "--gt-size").replace("lq_size", "--lq-size")
        raise L2RError(msg.replace("variants", "--variants")) from None
    if len(cfg.split) != 3 or any(f < 0 for f in cfg.split) or sum(cfg.split) <= 0:
        raise L2RError(f"--split needs three non-negative fractions, got {cfg.split}")
    if cfg.seed < 0:
        raise L2RError(f"--seed must be non-negative, got {cfg.seed}")
    if cfg.crop not in CROP_MODES:
        raise L2RError(f"--crop must be one of {', '.join(CROP_MODES)}, got {cfg.crop!r}")
    if cfg.crop == "bbox":
        if not cfg.bbox_file:
            raise L2RError("--crop bbox needs the box list: --crop bbox FILE")
        if not Path(cfg.bbox_file).is_file():
            raise L2RError(f"box list not found: {cfg.bbox_file}")
    elif cfg.bbox_file:
        raise L2RError("a box list is only used with --crop bbox FILE")
    if not 0 < cfg.crop_scale <= 1:
        raise L2RError(f"--crop-scale must be in (0, 1], got {cfg.crop_scale}")
    if cfg.crop_scale != 1 and cfg.crop != "center":
        raise L2RError("--crop-scale is only used with --crop center")
    if cfg.layout not in ("auto", "folder", "synface"):
        raise L2RError(f"--layout must be auto, folder or synface, got {cfg.layout!r}")
    if cfg.layout == "synface" and not is_synface(src):
        raise L2RError(
            f"SRC is not a synface layout (no train/image, val/image or test/image): {src}"
        )
    if len(cfg.background) != 3 or not all(0 <= int(c) <= 255 for c in cfg.background):
        raise L2RError(f"--background needs three values in 0..255, got {cfg.background}")
    if cfg.gt_filter not in GT_FILTERS:
        raise L2RError(f"--gt-filter must be one of {', '.join(GT_FILTERS)}, got {cfg.gt_filter}")
    if cfg.workers < 0 or cfg.shard_size < 1:
        raise L2RError("--workers must be >= 0 and the shard size >= 1")


# -- splits, fingerprint ---------------------------------------------------------------------


def assign_split(seed: int, key: bytes, fractions: Sequence[float]) -> str:
    """The split of a file with ``key`` that the layout does not place: a uniform number from
    sha256(seed, key) against the cumulative normalised fractions. Depends on nothing else, so
    adding photos to SRC never moves an existing photo to another split."""
    digest = hashlib.sha256(b"l2r-degrade-split\0%d\0" % seed + key).digest()
    u = int.from_bytes(digest[:8], "little") / 2.0**64
    total, acc = float(sum(fractions)), 0.0
    last = SPLIT_NAMES[0]
    for name, f in zip(SPLIT_NAMES, fractions, strict=True):
        if f <= 0:
            continue
        acc += f / total
        last = name
        if u < acc:
            return name
    return last


def library_versions() -> dict[str, str]:
    """Versions of everything that touches the output bytes (decoders, FFT, HDF5)."""
    import h5py
    import PIL
    import scipy
    from PIL import features

    out = {
        "l2r": __version__,
        "numpy": np.__version__,
        "scipy": scipy.__version__,
        "pillow": PIL.__version__,
        "h5py": h5py.__version__,
        "hdf5": h5py.version.hdf5_version,
    }
    for lib in ("libjpeg_turbo", "zlib", "libpng", "webp", "libtiff"):
        try:
            v = features.version(lib)
        except (ValueError, AttributeError):
            v = None
        if v:
            out[lib] = str(v)
    return out


def _listing_digest(listing: Listing) -> str:
    """sha256 over every source's name, size and modification time, and the scan's skips."""
    h = hashlib.sha256()
    for s in listing.sources:
        for p in (s.path, s.depth_path):
            if p is None:
                continue
            try:
                st = os.stat(p)
                h.update(b"%s\0%d\0%d\n" % (s.key, st.st_size, st.st_mtime_ns))
            except OSError:
                h.update(b"%s\0missing\n" % s.key)
        h.update(repr((s.split, s.box)).encode())
    for k in listing.skipped:
        h.update(f"skip\0{k.name}\0{k.reason}\n".encode("utf-8", "surrogateescape"))
    return h.hexdigest()


def _file_digest(path: str | None) -> str | None:
    if path is None:
        return None
    return hashlib.sha256(Path(path).read_bytes()).hexdigest()


def fingerprint(cfg: DegradeRunConfig, listing: Listing) -> dict[str, Any]:
    """Everything that decides the output bytes; equal fingerprints = identical output."""
    return {
        "format": FORMAT_VERSION,
        "degrade_version": DEGRADE_VERSION,
        "src": str(Path(cfg.src).resolve()),
        "layout": listing.layout,
        "seed": cfg.seed,
        "split": list(cfg.split),
        "crop": cfg.crop,
        "bbox_file": _file_digest(cfg.bbox_file),
        "degradation": _jsonable(asdict(cfg.degrade_config())),
        "ingest": _jsonable(asdict(cfg.ingest_config())),
        "shard_size": cfg.shard_size,
        "libraries": library_versions(),
        "listing": _listing_digest(listing),
    }


def _jsonable(d: dict[str, Any]) -> dict[str, Any]:
    return json.loads(json.dumps(d))


_LABELS = {
    "src": "SRC",
    "listing": "the files in SRC (added, removed or modified)",
    "libraries": "library versions",
    "bbox_file": "the box list",
    "shard_size": "the shard size",
}


def _describe_difference(old: dict[str, Any], new: dict[str, Any]) -> str:
    """A short list of what differs between two fingerprints, for the refusal message."""
    parts = []
    for key in new:
        a, b = old.get(key), new[key]
        if a == b:
            continue
        if isinstance(a, dict) and isinstance(b, dict):
            sub = [f"{k} {a.get(k)} -> {b[k]}" for k in b if a.get(k) != b[k]]
            parts.append(f"{_LABELS.get(key, key)} ({', '.join(sub)[:120]})")
        elif key in ("listing", "bbox_file", "src"):
            parts.append(_LABELS[key])
        else:
            parts.append(f"{_LABELS.get(key, key)} {a} -> {b}")
    return "; ".join(parts) or "unknown"


# -- the output directory ------------------------------------------------------------------


def _foreign_entries(out: Path) -> list[str]:
    """Names in OUT that this command does not write (temp manifests count as ours)."""
    return sorted(
        p.name
        for p in out.iterdir()
        if p.name not in _OUTPUT_NAMES and not p.name.startswith(".manifest-")
    )


def _previous_fingerprint(out: Path) -> tuple[dict[str, Any] | None, bool, bool]:
    """(fingerprint of what OUT holds or None, complete?, holds an l2r dataset of another
    kind?)."""
    manifest = out / MANIFEST_NAME
    if manifest.is_file():
        try:
            m = json.loads(manifest.read_text(encoding="utf-8"))
            source = m.get("source", {})
            if source.get("generator") == GENERATOR and isinstance(source.get("fingerprint"), dict):
                return source["fingerprint"], True, False
        except (OSError, ValueError, AttributeError):
            pass
        return None, False, True
    state = out / WORK_DIR / "state.json"
    if state.is_file():
        try:
            s = json.loads(state.read_text(encoding="utf-8"))
            return s["fingerprint"], False, False
        except (OSError, ValueError, KeyError, TypeError):
            return None, False, False
    return None, False, False


def _clear_outputs(out: Path) -> None:
    """Delete this command's outputs in OUT, manifest first (so that an interruption here
    leaves a directory that reads as incomplete)."""
    (out / MANIFEST_NAME).unlink(missing_ok=True)
    for name in sorted(_OUTPUT_NAMES - {MANIFEST_NAME, WORK_DIR}):
        (out / name).unlink(missing_ok=True)
    for p in out.glob(".manifest-*"):
        p.unlink(missing_ok=True)
    work = out / WORK_DIR
    if work.exists():
        for p in sorted(work.iterdir()):  # keep the lock file we hold
            if p.name == "lock":
                continue
            shutil.rmtree(p) if p.is_dir() and not p.is_symlink() else p.unlink()


class _Lock:
    """An exclusive advisory lock on OUT/.l2r-degrade/lock (released by the OS on any exit,
    kill -9 included), so that two runs never write the same OUT."""

    def __init__(self, work: Path) -> None:
        self.fd: int | None = None
        try:
            import fcntl
        except ImportError:  # Windows: no advisory locks; single-run use is the user's job
            return
        work.mkdir(parents=True, exist_ok=True)
        fd = os.open(work / "lock", os.O_RDWR | os.O_CREAT, 0o644)
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            os.close(fd)
            raise L2RError(f"another l2r degrade is writing {work.parent}") from None
        self.fd = fd

    def release(self) -> None:
        if self.fd is not None:
            os.close(self.fd)
            self.fd = None


def _write_bytes_atomic(path: Path, data: bytes) -> None:
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def _created(state_created: str | None = None) -> str:
    """The dataset's ``created`` stamp: SOURCE_DATE_EPOCH if set (reproducible builds), else
    the time the run was first started (kept across resumes)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC).isoformat(timespec="seconds")
    return state_created or datetime.now(UTC).isoformat(timespec="seconds")


# -- workers -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _WorkerContext:
    ingest: IngestConfig
    degrade: DegradeConfig
    seed: int
    main_pid: int = 0
    delay: float = 0.0


# (tag, payload): ("ok", (image, lq, lq_params, depth, upscaled)) or ("skip", reason)
_Result = tuple[str, Any]

_CTX: _WorkerContext | None = None  # set once per worker process by _init_worker


def _init_worker(ctx: _WorkerContext) -> None:
    global _CTX
    _CTX = ctx
    # Ctrl-C goes to the whole process group: let the main process alone decide to stop.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    threading.Thread(target=_exit_with, args=(ctx.main_pid,), daemon=True).start()
    _keep_heap()


def _keep_heap() -> None:
    """glibc only: keep freed memory in this worker instead of returning it to the OS.

    Each image allocates and frees about 10 MB of FFT buffers. By default glibc gives such
    blocks back (munmap, heap trimming), so the next image page-faults them in and has them
    zeroed again. That cost about a quarter of a worker's time on 256-pixel images. The
    worker's resident memory stays near its peak instead, a few tens of MB.
    """
    try:
        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(-1, 512 << 20)  # M_TRIM_THRESHOLD: trim only above 512 MB free at the top
        libc.mallopt(-3, 32 << 20)  # M_MMAP_THRESHOLD: heap, not mmap, for blocks below 32 MB
    except (OSError, AttributeError):  # not glibc: nothing to tune
        pass


def _exit_with(pid: int) -> None:
    """End this worker when the main process ``pid`` ends, however it ends (kill -9 too): the
    pool's queues are held open by every worker, so an orphan would otherwise wait forever."""
    try:
        fd = os.pidfd_open(pid)  # Linux >= 5.3: readable once the process has exited
        select.select([fd], [], [])
    except (AttributeError, OSError):
        while True:
            time.sleep(1.0)
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                break
            except PermissionError:
                continue
    os._exit(1)


def process_source(src: Source, ctx: _WorkerContext) -> _Result:
    """Read, crop and degrade one file; never raises for a bad file."""
    try:
        loaded = load_or_skip(src, ctx.ingest)
    except SkipImage as e:
        return ("skip", str(e))
    rngs = variant_rngs(ctx.seed, src.key, ctx.degrade.variants)
    lq, params = degrade(loaded.image, ctx.degrade, rngs)
    return ("ok", (loaded.image, lq, params, loaded.depth, loaded.upscaled))


def load_or_skip(src: Source, cfg: IngestConfig) -> Loaded:
    """:func:`load_source`, with any unexpected decoder failure turned into a SkipImage."""
    try:
        return load_source(src, cfg)
    except SkipImage:
        raise
    except MemoryError:
        raise SkipImage("out of memory while decoding") from None
    except Exception as e:  # noqa: BLE001 - a bad file must never stop the run
        raise SkipImage(f"cannot decode ({_why(e)})") from None


_Stats = tuple[int, float, float]  # (process id, peak resident MB, CPU seconds so far)


def _process_with(ctx: _WorkerContext, sources: list[Source]) -> tuple[list[_Result], _Stats]:
    """Results of a task, and this process's id, peak memory and CPU time so far."""
    if ctx.delay:
        time.sleep(ctx.delay)
    results = [process_source(s, ctx) for s in sources]
    return results, (os.getpid(), peak_rss_mb(), cpu_seconds())


def _process_batch(sources: list[Source]) -> tuple[list[_Result], _Stats]:
    """Worker entry point (the context comes from the pool initializer)."""
    assert _CTX is not None
    return _process_with(_CTX, sources)


class _InlineExecutor:
    """Runs tasks at submit time in this process (``workers=0``); a ProcessPoolExecutor's
    subset used here."""

    def __init__(self, ctx: _WorkerContext) -> None:
        self.ctx = ctx

    def submit(self, sources: list[Source]) -> Future:
        fut: Future = Future()
        fut.set_result(_process_with(self.ctx, sources))
        return fut

    def shutdown(self, cancel: bool = False) -> None:
        pass


class _PoolExecutor:
    """N worker processes started fresh (forkserver on Linux, spawn elsewhere): they do not
    inherit the main process's torch, threads or open HDF5 files."""

    def __init__(self, ctx: _WorkerContext, workers: int) -> None:
        import multiprocessing as mp

        method = "forkserver" if sys.platform.startswith("linux") else "spawn"
        context = mp.get_context(method)
        if method == "forkserver":
            # The server imports this module (numpy, scipy, Pillow) once; workers fork from it
            # ready to go. The default preload, __main__, would be the l2r script: torch.
            context.set_forkserver_preload([__name__])
        self.pool = ProcessPoolExecutor(
            max_workers=workers,
            mp_context=context,
            initializer=_init_worker,
            initargs=(ctx,),
        )

    def submit(self, sources: list[Source]) -> Future:
        return self.pool.submit(_process_batch, sources)

    def shutdown(self, cancel: bool = False) -> None:
        self.pool.shutdown(wait=True, cancel_futures=cancel)


# -- parts -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Part:
    """One shard's results. ok: (n,) bool per source; reasons: (n,) str ('' when ok); the
    arrays hold the written samples only: image (m, S, S, 3), lq (m, K, s, s, 3), lq_params
    (m, K, P), depth (m, S, S) or None, upscaled (m,) bool."""

    ok: np.ndarray
    reasons: np.ndarray
    image: np.ndarray
    lq: np.ndarray
    lq_params: np.ndarray
    depth: np.ndarray | None
    upscaled: np.ndarray


def _make_part(results: list[_Result], cfg: DegradeRunConfig, has_depth: bool) -> _Part:
    s, k, lq = cfg.gt_size, cfg.variants, cfg.lq_size
    good = [r[1] for r in results if r[0] == "ok"]

    def stack(i: int, shape: tuple[int, ...], dtype: str) -> np.ndarray:
        return np.stack([g[i] for g in good]) if good else np.zeros((0, *shape), dtype)

    return _Part(
        ok=np.array([r[0] == "ok" for r in results], dtype=bool),
        reasons=np.array([r[1] if r[0] == "skip" else "" for r in results], dtype=str),
        image=stack(0, (s, s, 3), "uint8"),
        lq=stack(1, (k, lq, lq, 3), "uint8"),
        lq_params=stack(2, (k, len(PARAM_NAMES)), "float32"),
        depth=stack(3, (s, s), "float32") if has_depth else None,
        upscaled=np.array([g[4] for g in good], dtype=bool),
    )


def _part_path(work: Path, index: int) -> Path:
    return work / "parts" / f"part-{index:06d}.npz"


def _save_part(path: Path, names: list[str], part: _Part) -> None:
    """Write a part atomically (temp file, then rename)."""
    arrays = {k: v for k, v in asdict(part).items() if v is not None}
    arrays["names"] = np.array(names, dtype=str)
    tmp = path.with_name(f".{path.name}.tmp")
    with open(tmp, "wb") as f:
        np.savez(f, **arrays)
    os.replace(tmp, path)


def _load_part(path: Path, names: list[str], cfg: DegradeRunConfig, has_depth: bool):
    """The part at ``path`` if it is complete and belongs to these sources, else None."""
    try:
        with np.load(path, allow_pickle=False) as z:
            arrays = {k: z[k] for k in z.files}
        if arrays["names"].tolist() != names:
            return None
        part = _Part(
            ok=arrays["ok"],
            reasons=arrays["reasons"],
            image=arrays["image"],
            lq=arrays["lq"],
            lq_params=arrays["lq_params"],
            depth=arrays.get("depth"),
            upscaled=arrays["upscaled"],
        )
    except Exception:  # noqa: BLE001 - damaged or foreign part: recompute it
        return None
    m = int(part.ok.sum())
    s, k, lq = cfg.gt_size, cfg.variants, cfg.lq_size
    shapes_ok = (
        part.ok.shape == part.reasons.shape == (len(names),)
        and part.image.shape == (m, s, s, 3)
        and part.lq.shape == (m, k, lq, lq, 3)
        and part.lq_params.shape == (m, k, len(PARAM_NAMES))
        and part.upscaled.shape == (m,)
        and (part.depth is not None) == has_depth
        and (part.depth is None or part.depth.shape == (m, s, s))
    )
    return part if shapes_ok else None


# -- preview ----------------------------------------------------------------------------------


def preview_grid(image: np.ndarray, lq: np.ndarray, tile: int = 128, rows: int = 4) -> np.ndarray:
    """A uint8 sheet: one column per sample, GT on top, then up to ``rows`` degraded variants
    (nearest-neighbour enlarged, so their pixels stay visible).

    image: (n, S, S, 3) uint8; lq: (n, K, s, s, 3) uint8 -> (tile * (1 + min(K, rows)),
    tile * n, 3), tile = min(tile, S).
    """
    n, k = lq.shape[:2]
    tile = min(tile, image.shape[1])
    cols = []
    for i in range(n):
        gt = Image.fromarray(image[i]).resize((tile, tile), Image.Resampling.LANCZOS)
        cells = [np.asarray(gt)]
        for j in range(min(k, rows)):
            cell = Image.fromarray(lq[i, j]).resize((tile, tile), Image.Resampling.NEAREST)
            cells.append(np.asarray(cell))
        cols.append(np.concatenate(cells, axis=0))
    return np.concatenate(cols, axis=1)


def _write_preview(out: Path, splits: Sequence[str], count: int = 8) -> None:
    import h5py

    for split in splits:
        with h5py.File(out / f"{split}.h5", "r") as f:
            n = min(count, f["image"].shape[0])
            if n == 0:
                continue
            grid = preview_grid(f["image"][:n], f["lq"][:n])
        buf = io.BytesIO()
        Image.fromarray(grid).save(buf, format="PNG", compress_level=6)
        _write_bytes_atomic(out / PREVIEW_NAME, buf.getvalue())
        return


def _tsv_field(text: str) -> str:
    """Escape backslash, tab and line breaks so that every skip is one TSV row."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")


# -- the run ---------------------------------------------------------------------------------


def cpu_seconds() -> float:
    """User + system CPU time of this process so far."""
    r = resource.getrusage(resource.RUSAGE_SELF)
    return r.ru_utime + r.ru_stime


def peak_rss_mb() -> float:
    """Peak resident set of this process in MB.

    Linux: VmHWM of /proc/self/status, the high-water mark of this program's own memory.
    ``ru_maxrss`` is not used there: it survives exec, so a process started by a large one
    (the forkserver, or a benchmark's subprocess) would report its parent's size. Workers
    report theirs with every task, since RUSAGE_CHILDREN has the same flaw.
    """
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024.0  # kB
    except (OSError, ValueError, IndexError):
        pass
    unit = 1.0 if sys.platform == "darwin" else 1024.0  # ru_maxrss: bytes on macOS, else KiB
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * unit / 2**20


def _split_plan(listing: Listing, cfg: DegradeRunConfig) -> tuple[list[str], list[str]]:
    """(split of each source, splits to declare in the dataset, in SPLIT_NAMES order)."""
    per_source = [s.split or assign_split(cfg.seed, s.key, cfg.split) for s in listing.sources]
    declared = set(per_source)
    if listing.layout == "folder" and any(s.split is None for s in listing.sources):
        declared |= {n for n, f in zip(SPLIT_NAMES, cfg.split, strict=True) if f > 0}
    return per_source, [s for s in SPLIT_NAMES if s in declared]


def _summary_from_manifest(out: Path, t0: float) -> DegradeSummary:
    m = json.loads((out / MANIFEST_NAME).read_text(encoding="utf-8"))
    counts = m.get("counts", {})
    main = peak_rss_mb()
    return DegradeSummary(
        out=out,
        written=counts.get("written", 0),
        skipped=counts.get("skipped", 0),
        per_split={k: v["n"] for k, v in m["splits"].items()},
        upscaled=counts.get("upscaled", 0),
        variants=m["source"]["args"]["variants"],
        workers=0,
        reused_shards=0,
        total_shards=0,
        seconds=time.perf_counter() - t0,
        images_per_second=0.0,
        peak_rss_main_mb=main,
        peak_rss_workers_mb=0.0,
        already_complete=True,
    )


def run_degrade(cfg: DegradeRunConfig, progress: DegradeProgress | None = None) -> DegradeSummary:
    """Make (or finish) the dataset of ``cfg``; see the module docstring.

    Raises:
        L2RError: bad arguments, an empty SRC, OUT holding something else (or a different
            run, without ``overwrite``), another run writing OUT, or no usable image at all.
    """
    t0 = time.perf_counter()
    check_config(cfg)
    src, out = Path(cfg.src), Path(cfg.out)
    if out.exists() and not out.is_dir():
        raise L2RError(f"OUT exists and is not a directory: {out}")
    if out.is_dir():
        foreign = _foreign_entries(out)
        if foreign:
            raise L2RError(
                f"refusing to write into {out}: it holds files l2r degrade did not make "
                f"({foreign[0]}{', ...' if len(foreign) > 1 else ''})"
            )
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as e:
        raise L2RError(f"cannot create OUT ({e.strerror or e}): {out}") from None
    lock = _Lock(out / WORK_DIR)
    try:
        return _run_locked(cfg, src, out, progress, t0)
    except OSError as e:  # a full disk, a read-only or vanished OUT: what is done is kept
        where = f": {e.filename}" if e.filename else ""
        raise L2RError(
            f"cannot write the output ({e.strerror or e}){where}; fix that and rerun the same "
            f"command to resume"
        ) from None
    finally:
        lock.release()
        if (out / MANIFEST_NAME).is_file():  # complete: the work directory only holds the lock
            (out / WORK_DIR / "lock").unlink(missing_ok=True)
            with contextlib.suppress(OSError):
                (out / WORK_DIR).rmdir()


def _scan(cfg: DegradeRunConfig, src: Path, out: Path) -> Listing:
    st = os.stat(out)
    bbox = Path(cfg.bbox_file) if cfg.bbox_file else None
    try:
        listing = scan(src, cfg.layout, exclude={(st.st_dev, st.st_ino)}, bbox_file=bbox)
    except ValueError as e:  # a malformed box list
        raise L2RError(f"{cfg.bbox_file}: {e}") from None
    except OSError as e:
        raise L2RError(f"cannot read SRC ({e.strerror or e}): {src}") from None
    if not listing.sources:
        if listing.skipped:
            raise L2RError(
                f"no usable image file in {src} ({len(listing.skipped)} left out, e.g. "
                f"{listing.skipped[0].name}: {listing.skipped[0].reason})"
            )
        raise L2RError(
            f"no image files in {src} (searched recursively for .png, .jpg, .jpeg, .webp, "
            f".bmp, .ppm, .tif, .gif)"
        )
    return listing


def _resolve_state(cfg: DegradeRunConfig, out: Path, fp: dict[str, Any]) -> tuple[str | None, bool]:
    """Compare OUT with this run: refuse (L2RError), clear it (new run or ``overwrite``),
    resume it, or find it complete. Returns (the ``created`` stamp, complete?)."""
    from l2r_cli.data.dataset import _write_json_atomic

    work = out / WORK_DIR
    previous, complete, other_dataset = _previous_fingerprint(out)
    if other_dataset and not cfg.overwrite:
        raise L2RError(f"{out} holds an l2r dataset not made by l2r degrade (use --overwrite)")
    if previous is not None and previous != fp:
        if not cfg.overwrite:
            what = _describe_difference(previous, fp)
            raise L2RError(
                f"{out} holds an l2r degrade output made with different arguments ({what}); "
                f"use --overwrite to replace it"
            )
        previous = None
    if previous is not None and complete:
        shutil.rmtree(work / "parts", ignore_errors=True)  # left by a kill after the manifest
        return None, True
    state_path = work / "state.json"
    if previous is not None:
        state = json.loads(state_path.read_text(encoding="utf-8"))
        (work / "parts").mkdir(parents=True, exist_ok=True)
        return _created(state.get("created")), False
    leftovers = [n for n in _OUTPUT_NAMES - {WORK_DIR} if (out / n).exists()]
    if leftovers and not cfg.overwrite:
        raise L2RError(
            f"{out} holds an incomplete dataset that l2r degrade cannot resume "
            f"({sorted(leftovers)[0]}, ...); use --overwrite to replace it"
        )
    _clear_outputs(out)
    created = _created()
    (work / "parts").mkdir(parents=True, exist_ok=True)
    _write_json_atomic(state_path, {"fingerprint": fp, "created": created})
    return created, False


def _dataset_source(
    cfg: DegradeRunConfig, src: Path, layout: str, fp: dict[str, Any]
) -> dict[str, Any]:
    """The manifest's (and every split file's) ``source``: what made this dataset."""
    args = {
        "src": str(src),
        "gt_size": cfg.gt_size,
        "lq_size": cfg.lq_size,
        "variants": cfg.variants,
        "split": list(cfg.split),
        "seed": cfg.seed,
        "crop": cfg.crop,
        "crop_scale": cfg.crop_scale,
        "bbox_file": cfg.bbox_file,
        "layout": layout,
        "background": list(cfg.background),
        "gt_filter": cfg.gt_filter,
    }
    return {
        "generator": GENERATOR,
        "version": FORMAT_VERSION,
        "degrade_version": DEGRADE_VERSION,
        "args": args,
        "degradation": _jsonable(asdict(cfg.degrade_config())),
        "lq_params": list(PARAM_NAMES),
        "libraries": fp["libraries"],
        "fingerprint": fp,
    }


class _Shards:
    """The sources cut into shards, computed by an executor through a bounded window of tasks
    and taken back in order; shards already saved as parts are skipped by the task stream."""

    def __init__(
        self,
        sources: list[Source],
        shard_size: int,
        skip: set[int],
        executor: _InlineExecutor | _PoolExecutor,
        limit: int,
        report: Any,
    ) -> None:
        self.sources = sources
        self.shards = [
            range(i, min(i + shard_size, len(sources))) for i in range(0, len(sources), shard_size)
        ]
        self.executor = executor
        self.limit = limit
        self.report = report  # report(n, ok): progress after n more files
        self.window: deque[tuple[int, Future]] = deque()
        self.pending = self._tasks(skip)
        self.worker_rss = 0.0
        self.worker_cpu: dict[int, float] = {}  # pid -> CPU seconds at its latest task

    def _chunks(self, shard: range) -> Iterator[list[Source]]:
        for j in range(shard.start, shard.stop, _TASK_SIZE):
            yield self.sources[j : min(j + _TASK_SIZE, shard.stop)]

    def _tasks(self, skip: set[int]) -> Iterator[tuple[int, list[Source]]]:
        for i, shard in enumerate(self.shards):
            if i not in skip:
                for chunk in self._chunks(shard):
                    yield i, chunk

    def top_up(self) -> None:
        """Submit tasks until ``limit`` are in flight (or none is left)."""
        while len(self.window) < self.limit:
            nxt = next(self.pending, None)
            if nxt is None:
                return
            self.window.append((nxt[0], self.executor.submit(nxt[1])))

    def _take(self, fut: Future) -> list[_Result]:
        results, (pid, rss, cpu) = fut.result()
        self.worker_rss = max(self.worker_rss, rss)
        self.worker_cpu[pid] = cpu
        self.report(len(results), sum(r[0] == "ok" for r in results))
        return results

    def compute(self, i: int) -> list[_Result]:
        """Results of shard i, in source order (its tasks are next in the window)."""
        results: list[_Result] = []
        while len(results) < len(self.shards[i]):
            self.top_up()
            j, fut = self.window.popleft()
            assert j == i, (j, i)
            results.extend(self._take(fut))
        return results

    def recompute(self, i: int) -> list[_Result]:
        """Results of a shard whose saved part was damaged (submitted outside the window)."""
        futs = [self.executor.submit(chunk) for chunk in self._chunks(self.shards[i])]
        return [r for f in futs for r in self._take(f)]


def _run_locked(
    cfg: DegradeRunConfig, src: Path, out: Path, progress: DegradeProgress | None, t0: float
) -> DegradeSummary:
    from l2r_cli.data.dataset import DatasetWriter, _write_json_atomic, standard_fields

    cpu0 = cpu_seconds()
    listing = _scan(cfg, src, out)
    fp = fingerprint(cfg, listing)
    created, complete = _resolve_state(cfg, out, fp)
    if complete:
        if progress is not None:
            progress.start(len(listing.sources), len(listing.sources))
        return _summary_from_manifest(out, t0)

    work, staging = out / WORK_DIR, out / WORK_DIR / "staging"
    sources = listing.sources
    has_depth = any(s.depth_path for s in sources)
    split_of, declared = _split_plan(listing, cfg)
    fields = standard_fields(
        cfg.gt_size, depth=has_depth, lq=(cfg.variants, cfg.lq_size), lq_params=len(PARAM_NAMES)
    )
    ctx = _WorkerContext(
        ingest=cfg.ingest_config(),
        degrade=cfg.degrade_config(),
        seed=cfg.seed,
        main_pid=os.getpid(),
        delay=float(os.environ.get(_DELAY_ENV, "0") or 0),
    )
    written = {s: 0 for s in declared}
    skipped = [(name_key(k.name), k.name, k.reason) for k in listing.skipped]
    upscaled = reused = replayed = 0
    shown = {"written": 0, "skipped": len(skipped)}  # running totals for the progress bar

    def report(n: int, ok: int) -> None:
        shown["written"] += ok
        shown["skipped"] += n - ok
        if progress is not None:
            progress.advance(n, shown["written"], shown["skipped"])

    n_shards = -(-len(sources) // cfg.shard_size)
    cached = {i for i in range(n_shards) if _part_path(work, i).is_file()}
    if progress is not None:
        progress.start(len(sources), 0)
    executor = _InlineExecutor(ctx) if cfg.workers == 0 else _PoolExecutor(ctx, cfg.workers)
    run = _Shards(
        sources, cfg.shard_size, cached, executor, max(1, cfg.workers) * _WINDOW_PER_WORKER, report
    )
    finished = False
    try:
        with DatasetWriter(
            staging,
            cfg.gt_size,
            fields=fields,
            source=_dataset_source(cfg, src, listing.layout, fp),
            overwrite=True,  # staging files of an interrupted run are rebuilt from the parts
            created=created,
        ) as writer:
            for split in declared:
                writer.declare_split(split)
            for i, shard in enumerate(run.shards):
                run.top_up()
                names = [sources[j].name for j in shard]
                part = None
                if i in cached:
                    part = _load_part(_part_path(work, i), names, cfg, has_depth)
                    if part is not None:
                        reused += 1
                        replayed += len(shard)
                        report(len(shard), int(part.ok.sum()))
                if part is None:
                    results = run.recompute(i) if i in cached else run.compute(i)
                    part = _make_part(results, cfg, has_depth)
                    del results  # the part holds the arrays now: keep one copy in memory
                    _save_part(_part_path(work, i), names, part)
                _append(writer, part, [sources[j] for j in shard], [split_of[j] for j in shard])
                for j, ok, reason in zip(shard, part.ok, part.reasons, strict=True):
                    if ok:
                        written[split_of[j]] += 1
                    else:
                        skipped.append((sources[j].key, sources[j].name, str(reason)))
                upscaled += int(part.upscaled.sum())
        finished = True
    except BrokenProcessPool:
        raise L2RError(
            "a worker process died (out of memory, or a decoder crashed on a file); "
            "rerun the same command to resume"
        ) from None
    finally:
        executor.shutdown(cancel=not finished)

    # Finish: split files into OUT, then skipped.tsv and preview, the manifest last.
    total = sum(written.values())
    skipped.sort(key=lambda t: t[0])
    tsv = "name\treason\n" + "".join(f"{_tsv_field(n)}\t{_tsv_field(r)}\n" for _, n, r in skipped)
    _write_bytes_atomic(out / SKIPPED_NAME, tsv.encode("utf-8"))
    if total == 0:
        raise L2RError(
            f"none of the {len(sources)} image files in {src} could be used; reasons in "
            f"{out / SKIPPED_NAME}"
        )
    for split in declared:
        os.replace(staging / f"{split}.h5", out / f"{split}.h5")
    _write_preview(out, declared)
    manifest = json.loads((staging / MANIFEST_NAME).read_text(encoding="utf-8"))
    manifest["counts"] = {
        "written": total,
        "skipped": len(skipped),
        "upscaled": upscaled,
        "per_split": written,
    }
    _write_json_atomic(out / MANIFEST_NAME, manifest)
    for p in sorted(work.iterdir()):
        if p.name != "lock":
            shutil.rmtree(p) if p.is_dir() else p.unlink()
    seconds = time.perf_counter() - t0
    return DegradeSummary(
        out=out,
        written=total,
        skipped=len(skipped),
        per_split=dict(written),
        upscaled=upscaled,
        variants=cfg.variants,
        workers=cfg.workers,
        reused_shards=reused,
        total_shards=len(run.shards),
        seconds=seconds,
        images_per_second=(len(sources) - replayed) / seconds if seconds > 0 else 0.0,
        peak_rss_main_mb=peak_rss_mb(),
        peak_rss_workers_mb=run.worker_rss,
        cpu_main_s=cpu_seconds() - cpu0,
        cpu_workers_s=sum(run.worker_cpu.values()) if cfg.workers else 0.0,
    )


def _append(writer, part: _Part, sources: list[Source], splits: list[str]) -> None:
    """Append a shard's written samples to their splits (declared order, source order)."""
    ok_idx = np.flatnonzero(part.ok)
    ok_splits = [splits[i] for i in ok_idx]
    for split in SPLIT_NAMES:
        sel = [m for m, s in enumerate(ok_splits) if s == split]
        if not sel:
            continue
        batch: dict[str, Any] = {
            "image": part.image[sel],
            "lq": part.lq[sel],
            "lq_params": part.lq_params[sel],
            "name": [sources[ok_idx[m]].name for m in sel],
        }
        if part.depth is not None:
            batch["depth"] = part.depth[sel]
        writer.append_many(split, batch)


def summary_line(s: DegradeSummary) -> str:
    """The one-paragraph result printed by ``l2r degrade``."""
    splits = ", ".join(f"{k} {v}" for k, v in s.per_split.items())
    if s.already_complete:
        return (
            f"{s.out} is already complete: {s.written} images ({splits}) x {s.variants} "
            f"variants, {s.skipped} skipped; nothing to do"
        )
    text = (
        f"wrote {s.written} images ({splits}) x {s.variants} degraded variants to {s.out}; "
        f"skipped {s.skipped} (reasons in {s.out / SKIPPED_NAME})"
    )
    if s.upscaled:
        text += f"; {s.upscaled} smaller than the GT size were upscaled"
    if s.reused_shards:
        text += f"; resumed: {s.reused_shards} of {s.total_shards} shards were already done"
    text += f". {s.images_per_second:.1f} images/s over {s.seconds:.1f} s; peak memory "
    if s.workers:
        text += (
            f"{s.peak_rss_main_mb:.0f} MB main process, {s.peak_rss_workers_mb:.0f} MB largest "
            f"of {s.workers} worker{'s' if s.workers > 1 else ''}"
        )
    else:
        text += f"{s.peak_rss_main_mb:.0f} MB (one process)"
    return text
