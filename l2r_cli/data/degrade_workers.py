"""The worker side of ``l2r degrade`` (:mod:`l2r_cli.data.degrade_run`): what one process does
with a task of a few source files, and the two executors that run tasks (in this process for
``workers=0``, else a pool of fresh worker processes).

A task reads each file (:func:`~l2r_cli.data.ingest.load_source`) and degrades it
(:func:`~l2r_cli.data.degrade.degrade`, paper sec. 5) with generators seeded by (seed, its key)
alone, and reports the worker's id, peak memory and CPU time with its results. Workers end on
their own when the main process ends (kill -9 included) and ignore Ctrl-C.

Importable without torch: the forkserver preloads this module, and workers unpickle
``_init_worker`` and ``_process_batch`` from here.
"""

from __future__ import annotations

import ctypes
import os
import resource
import select
import signal
import sys
import threading
import time
from concurrent.futures import Future, ProcessPoolExecutor
from dataclasses import dataclass
from typing import Any

from l2r_cli.data.degrade import DegradeConfig, degrade, variant_rngs
from l2r_cli.data.ingest import IngestConfig, Loaded, SkipImage, Source, _why, load_source


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


# -- resource meters -------------------------------------------------------------------------


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
