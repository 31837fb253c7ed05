"""What ``l2r degrade`` (:mod:`l2r_cli.data.degrade_run`) keeps on disk between runs, and what
it writes last: the output layout, the fingerprint, the work directory, the parts and the preview.

- Fingerprint: everything that decides the output bytes (arguments, SRC listing, library
  versions), saved in ``OUT/.l2r-degrade/state.json`` and then in the manifest's ``source``.
  Equal fingerprints = identical output; a different one is refused unless ``overwrite``.
- The output directory: an exclusive lock, clearing outputs (manifest first), and the
  decision to start, resume, refuse or find the run complete (:func:`_resolve_state`).
- Parts: one ``.npz`` per completed shard in ``OUT/.l2r-degrade/parts/``, written atomically
  (temp file + rename) and checked against the sources when read back on resume.
- Finishing touches: the preview sheet and the escaped rows of ``skipped.tsv``.
"""

from __future__ import annotations

import hashlib
import io
import json
import os
import shutil
from collections.abc import Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
from PIL import Image

from l2r_cli import __version__
from l2r_cli.data.degrade import DEGRADE_VERSION, PARAM_NAMES
from l2r_cli.data.ingest import Listing
from l2r_cli.errors import L2RError
from l2r_cli.fileio import file_sha256, write_bytes_atomic

if TYPE_CHECKING:
    from l2r_cli.data.degrade_run import DegradeRunConfig
    from l2r_cli.data.degrade_workers import _Result

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
    return None if path is None else file_sha256(path)


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


def _created(state_created: str | None = None) -> str:
    """The dataset's ``created`` stamp: SOURCE_DATE_EPOCH if set (reproducible builds), else
    the time the run was first started (kept across resumes)."""
    epoch = os.environ.get("SOURCE_DATE_EPOCH")
    if epoch and epoch.isdigit():
        return datetime.fromtimestamp(int(epoch), UTC).isoformat(timespec="seconds")
    return state_created or datetime.now(UTC).isoformat(timespec="seconds")


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
        write_bytes_atomic(out / PREVIEW_NAME, buf.getvalue())
        return


def _tsv_field(text: str) -> str:
    """Escape backslash, tab and line breaks so that every skip is one TSV row."""
    return text.replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n").replace("\r", "\\r")
