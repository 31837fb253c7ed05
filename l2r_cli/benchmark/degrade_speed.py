"""`l2r benchmark speed --case degrade`: images/s of ``l2r degrade`` against a plain
single-process Pillow/NumPy loop doing the same operations, in one run.

The same synthetic photos (PNG or JPEG, S x S) go through:

- ``plain``: the loop a user would write: sorted file list; for each file ``Image.open``,
  ``ImageOps.exif_transpose``, ``convert("RGB")``, centre crop, Lanczos resize to the GT size,
  then for each variant :func:`l2r_cli.data.degrade.degrade_one` with the same per-file
  generators, and a write into a pre-sized HDF5 file. One process, no skipping logic, no crash
  safety. It is the reference of the ``x plain`` column.
- ``plain, shared FFT``: the same loop calling :func:`~l2r_cli.data.degrade.degrade` once per
  image, which computes the image's FFT once for its K variants instead of K times, as
  ``l2r degrade`` does. Shown so that the pipeline's own gain (parallelism, overlapped writes)
  can be told apart from this one.
- ``degrade`` with 0 (in-process), 1 and 2 workers: :func:`run_degrade`, i.e. everything
  ``l2r degrade`` does (scan, parts on disk for resume, split files, skipped.tsv, preview,
  manifest).

Each case runs in a fresh Python process, so its peak memory is its own; the time is measured
inside it, from the call to the files being on disk (interpreter start-up and imports
excluded for every case alike). The plain loop's GT and degraded images are compared with the
pipeline's, so both really do the same operations.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image


def _rss_mb() -> float:
    from l2r_cli.data.degrade_run import peak_rss_mb

    return peak_rss_mb()


def make_images(folder: Path, n: int, size: int, fmt: str = "png", seed: int = 0) -> Path:
    """n synthetic size x size photos: smooth colour fields plus grain (compress like photos,
    unlike white noise). Deterministic in (n, size, fmt, seed)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    for i in range(n):
        low = Image.fromarray(rng.integers(0, 256, (6, 6, 3), dtype=np.uint8))
        smooth = np.asarray(low.resize((size, size), Image.Resampling.BICUBIC), np.float32)
        img = np.clip(smooth + rng.normal(0, 6, smooth.shape), 0, 255).astype(np.uint8)
        path = folder / f"{i:06d}.{fmt}"
        if fmt == "png":
            Image.fromarray(img).save(path, compress_level=6)
        else:
            Image.fromarray(img).save(path, quality=95)
    return folder


def plain_loop(
    src: Path,
    out_file: Path,
    gt_size: int,
    lq_size: int,
    variants: int,
    seed: int,
    shared_fft: bool = False,
) -> int:
    """The baseline: see the module docstring. Returns the number of images written."""
    import h5py
    from PIL import ImageOps

    from l2r_cli.data.degrade import PARAM_NAMES, DegradeConfig, degrade, degrade_one, variant_rngs

    cfg = DegradeConfig(gt_size=gt_size, lq_size=lq_size, variants=variants)
    files = sorted(p for p in src.iterdir() if p.suffix.lower() in (".png", ".jpg"))
    n = len(files)
    with h5py.File(out_file, "w") as f:
        images = f.create_dataset("image", (n, gt_size, gt_size, 3), "uint8")
        lqs = f.create_dataset("lq", (n, variants, lq_size, lq_size, 3), "uint8")
        params = f.create_dataset("lq_params", (n, variants, len(PARAM_NAMES)), "float32")
        names = f.create_dataset("name", (n,), h5py.string_dtype())
        for i, path in enumerate(files):
            with Image.open(path) as im:
                im = ImageOps.exif_transpose(im).convert("RGB")
            w, h = im.size
            side = min(w, h)
            box = ((w - side) / 2, (h - side) / 2, (w + side) / 2, (h + side) / 2)
            gt = np.asarray(im.resize((gt_size, gt_size), Image.Resampling.LANCZOS, box=box))
            rngs = variant_rngs(seed, path.name.encode(), variants)
            if shared_fft:
                lq, p = degrade(gt, cfg, rngs)
            else:
                one = [degrade_one(gt, cfg, rng) for rng in rngs]
                lq, p = np.stack([o[0] for o in one]), np.stack([o[1] for o in one])
            images[i], lqs[i], params[i], names[i] = gt, lq, p, path.name
    return n


def _case_main(argv: list[str]) -> None:
    """``python -m l2r_cli.benchmark.degrade_speed CASE ...``: run one case, print JSON."""
    ap = argparse.ArgumentParser()
    ap.add_argument("case", choices=["plain", "plain-shared", "degrade"])
    ap.add_argument("src")
    ap.add_argument("out")
    ap.add_argument("--gt-size", type=int, default=256)
    ap.add_argument("--lq-size", type=int, default=32)
    ap.add_argument("--variants", type=int, default=4)
    ap.add_argument("--workers", type=int, default=1)
    a = ap.parse_args(argv)
    # Imports happen before the clock starts, in both cases (the l2r command has them loaded
    # before its work starts too: its group imports torch, as does the dataset writer).
    import h5py  # noqa: F401
    from PIL import ImageOps  # noqa: F401

    import l2r_cli.data.dataset  # noqa: F401
    import l2r_cli.data.degrade  # noqa: F401
    from l2r_cli.data.degrade_run import DegradeRunConfig, cpu_seconds, run_degrade

    rss_start = _rss_mb()
    cpu0 = cpu_seconds()
    t = time.perf_counter()
    if a.case.startswith("plain"):
        shared = a.case == "plain-shared"
        n = plain_loop(Path(a.src), Path(a.out), a.gt_size, a.lq_size, a.variants, 0, shared)
        worker_rss = worker_cpu = 0.0
    else:
        cfg = DegradeRunConfig(
            src=a.src,
            out=a.out,
            gt_size=a.gt_size,
            lq_size=a.lq_size,
            variants=a.variants,
            workers=a.workers,
        )
        s = run_degrade(cfg)
        n, worker_rss, worker_cpu = s.written, s.peak_rss_workers_mb, s.cpu_workers_s
    seconds = time.perf_counter() - t
    cpu_main = cpu_seconds() - cpu0
    print(
        json.dumps(
            {
                "images": n,
                "seconds": seconds,
                "rss_start_mb": rss_start,
                "rss_peak_mb": _rss_mb(),
                "worker_rss_peak_mb": worker_rss,
                "cpu_main_s": cpu_main,
                "cpu_workers_s": worker_cpu,
            }
        )
    )


@dataclass(frozen=True)
class DegradeTiming:
    """One case: images written, wall seconds, images/s, and peak resident memory (MB) of
    its main process (and at its start, after imports) and of its largest worker."""

    name: str
    workers: int | None
    images: int
    seconds: float
    rss_start_mb: float
    rss_peak_mb: float
    worker_rss_peak_mb: float
    cpu_main_s: float = 0.0
    cpu_workers_s: float = 0.0

    @property
    def images_per_second(self) -> float:
        return self.images / self.seconds

    @property
    def cpu_ms_per_image(self) -> float:
        """CPU time of all its processes per image (less sensitive to other load than
        images/s, but not immune: shared caches and memory bandwidth)."""
        return (self.cpu_main_s + self.cpu_workers_s) / self.images * 1e3


def _run_case(case: str, src: Path, out: Path, workers: int, sizes: dict[str, int]) -> dict:
    cmd = [sys.executable, "-m", "l2r_cli.benchmark.degrade_speed", case, str(src), str(out)]
    for k, v in sizes.items():
        cmd += [f"--{k.replace('_', '-')}", str(v)]
    cmd += ["--workers", str(workers)]
    res = subprocess.run(cmd, capture_output=True, text=True)
    if res.returncode != 0:
        raise RuntimeError(f"benchmark case {case} failed: {res.stderr.strip()[-500:]}")
    return json.loads(res.stdout.strip().splitlines()[-1])


def compare_files(a: Path, b: Path) -> bool:
    """True if two plain-loop files hold the same images, variants and parameters."""
    import h5py

    with h5py.File(a, "r") as f, h5py.File(b, "r") as g:
        return all(np.array_equal(f[k][()], g[k][()]) for k in ("image", "lq", "lq_params"))


def compare_outputs(plain_file: Path, out: Path) -> bool:
    """True if every sample of the pipeline's split files equals the plain loop's (by name)."""
    import h5py

    with h5py.File(plain_file, "r") as f:
        names = [n.decode() for n in f["name"][()]]
        index = {n: i for i, n in enumerate(names)}
        gt, lq = f["image"], f["lq"]
        seen = 0
        for split in sorted(out.glob("*.h5")):
            with h5py.File(split, "r") as g:
                for j, name in enumerate(g["name"][()]):
                    i = index[name.decode()]
                    if not (
                        np.array_equal(g["image"][j], gt[i]) and np.array_equal(g["lq"][j], lq[i])
                    ):
                        return False
                    seen += 1
    return seen == len(names)


def run_degrade_speed(
    images: int = 2000,
    size: int = 256,
    gt_size: int = 256,
    lq_size: int = 32,
    variants: int = 4,
    workers: tuple[int, ...] = (0, 1, 2),
    fmt: str = "png",
    rounds: int = 1,
    workdir: Path | None = None,
    on_case=None,
) -> tuple[list[DegradeTiming], bool | None, dict[str, list[float]]]:
    """Make the photos, then ``rounds`` times run the plain loops and ``l2r degrade`` with each
    worker count, in this order (interleaved, so that a slow spell of the machine hits every
    case alike). Returns each case's run with the median images/s (plain first), whether the
    outputs are identical (None when they are not comparable: ``l2r degrade`` decodes JPEGs at
    least twice the GT size at a reduced scale, which changes the GT's pixels, while the plain
    loop decodes them fully), and every round's images/s per case."""
    with tempfile.TemporaryDirectory(dir=workdir, prefix="l2r-degrade-speed-") as tmp:
        root = Path(tmp)
        src = make_images(root / "photos", images, size, fmt)
        sizes = {"gt_size": gt_size, "lq_size": lq_size, "variants": variants}
        comparable = not (fmt == "jpg" and size >= 2 * gt_size)
        cases = [("plain", "plain", 0, None), ("plain-shared", "plain, shared FFT", 0, None)]
        cases += [("degrade", f"degrade --workers {w}", w, w) for w in workers]
        runs: dict[str, list[DegradeTiming]] = {name: [] for _, name, _, _ in cases}
        same = True
        for _ in range(rounds):
            for case, name, w, shown_workers in cases:
                dest = root / ("plain.h5" if case == "plain" else f"{case}-w{w}")
                if dest.exists() and case != "degrade":
                    dest.unlink()
                r = _run_case(case, src, dest, w, sizes)
                runs[name].append(DegradeTiming(name, shown_workers, **r))
                if on_case:
                    on_case(runs[name][-1])
                if case == "plain-shared":
                    same = same and compare_files(root / "plain.h5", dest)
                elif case == "degrade":
                    same = same and (not comparable or compare_outputs(root / "plain.h5", dest))
                    for p in dest.iterdir():  # free the disk as we go
                        p.unlink()
                    dest.rmdir()
        medians = [
            sorted(rs, key=lambda t: t.images_per_second)[len(rs) // 2] for rs in runs.values()
        ]
        every = {name: [t.images_per_second for t in rs] for name, rs in runs.items()}
        return medians, same if comparable else None, every


if __name__ == "__main__":
    _case_main(sys.argv[1:])
