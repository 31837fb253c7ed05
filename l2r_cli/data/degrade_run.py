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

Modules: this one holds the public API (:class:`DegradeRunConfig`, :func:`run_degrade`,
:func:`summary_line`), the checks and the orchestration (scan, plan, shards in order, finish);
:mod:`~l2r_cli.data.degrade_state` the fingerprint, the work directory, the parts and the
preview; :mod:`~l2r_cli.data.degrade_workers` the worker processes.

Worker-side code (``_process_batch``) is importable without torch; the dataset writer (which
imports torch) is imported inside the main-side functions only.
"""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import time
from collections import deque
from collections.abc import Iterator
from concurrent.futures import Future
from concurrent.futures.process import BrokenProcessPool
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from l2r_cli.data.degrade import PARAM_NAMES, DegradeConfig
from l2r_cli.data.degrade_state import FORMAT_VERSION as FORMAT_VERSION
from l2r_cli.data.degrade_state import GENERATOR as GENERATOR
from l2r_cli.data.degrade_state import (
    MANIFEST_NAME,
    SKIPPED_NAME,
    SPLIT_NAMES,
    WORK_DIR,
    _dataset_source,
    _foreign_entries,
    _load_part,
    _Lock,
    _make_part,
    _Part,
    _part_path,
    _resolve_state,
    _save_part,
    _tsv_field,
    _write_preview,
    assign_split,
    fingerprint,
)
from l2r_cli.data.degrade_state import PREVIEW_NAME as PREVIEW_NAME
from l2r_cli.data.degrade_state import library_versions as library_versions
from l2r_cli.data.degrade_state import preview_grid as preview_grid
from l2r_cli.data.degrade_workers import (
    _InlineExecutor,
    _PoolExecutor,
    _Result,
    _WorkerContext,
    cpu_seconds,
    peak_rss_mb,
)
from l2r_cli.data.degrade_workers import load_or_skip as load_or_skip
from l2r_cli.data.degrade_workers import process_source as process_source
from l2r_cli.data.ingest import (
    CROP_MODES,
    GT_FILTERS,
    IngestConfig,
    Listing,
    Source,
    is_synface,
    name_key,
    scan,
)
from l2r_cli.errors import L2RError
from l2r_cli.fileio import write_bytes_atomic

# The `name as name` imports above re-export names that lived here before this module was split.

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


# -- the run ---------------------------------------------------------------------------------


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
    write_bytes_atomic(out / SKIPPED_NAME, tsv.encode("utf-8"))
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
