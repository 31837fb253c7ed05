"""The l2r dataset format: per-split HDF5 files plus a JSON manifest, with writer, reader, checks.

Every training stage of the paper reads its faces from this one format: synthetic faces with
ground-truth depth and canonical albedo/depth (the proxy's supervision), in-the-wild faces without
ground truth, and (written later by ``l2r degrade``) their degraded variants ``lq`` with the
parameters ``lq_params`` that produced them. ``docs/datasets.md`` is the user-facing description.

Layout of a dataset directory (schema ``l2r-dataset``, version 1)::

    ROOT/
      manifest.json    written last and atomically: no manifest means an incomplete dataset
      train.h5         one HDF5 file per split; any split may be absent
      val.h5
      test.h5

Each split file holds one HDF5 dataset per field, all sharing the leading sample axis N:

    image         uint8    (N, S, S, 3)   always present; S = image_size
    name          utf-8    (N,)           always present; source relative path or sample id
    depth         float32  (N, S, S)      depth in the image's view, Unsup3D range [0.9, 1.1]
    mask          uint8    (N, S, S)      1 = face, 0 = background
    canon_depth   float32  (N, Hc, Wc)    canonical-view depth from the synthetic generator
    canon_albedo  uint8    (N, Hc, Wc, 3) canonical-view albedo from the synthetic generator
    lq            uint8    (N, K, h, w, 3) K degraded variants (reserved for ``l2r degrade``)
    lq_params     float32  (N, K, P)      degradation parameters of each variant (reserved)
    <any other>   declared with a :class:`FieldSpec` (fixed per-sample shape and dtype)

Array fields are chunked one sample per chunk, so a shuffled loader reads exactly the bytes of
the sample it asks for; only tiny per-sample vectors and the names share chunks.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from l2r_cli import __version__
from l2r_cli.errors import L2RError

SCHEMA_NAME = "l2r-dataset"
"""Value of the ``schema`` key of the manifest and attribute of every split file."""

SCHEMA_VERSION = 1
"""Schema version written by this l2r; readers refuse datasets with a newer version."""

MANIFEST_NAME = "manifest.json"
"""File name of the manifest inside a dataset directory."""

STR_DTYPE = "str"
"""The ``dtype`` of a :class:`FieldSpec` for variable-length utf-8 strings (e.g. ``name``)."""

SPLITS = ("train", "val", "test")
"""The conventional split names; any name matching ``[A-Za-z0-9_-]+`` is accepted."""

_NUMERIC_DTYPES = frozenset(
    {
        "bool",
        "int8",
        "uint8",
        "int16",
        "uint16",
        "int32",
        "uint32",
        "int64",
        "uint64",
        "float16",
        "float32",
        "float64",
    }
)
_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
_SPLIT_RE = re.compile(r"[A-Za-z0-9_-]+")
# Samples smaller than this, with at most one axis, share a chunk; everything else is one sample
# per chunk so that random access touches one chunk per field.
_SMALL_SAMPLE_BYTES = 1024
_SMALL_CHUNK_BYTES = 16384
_MIN_GROWTH = 64
_MAX_GROWTH = 4096


@dataclass(frozen=True)
class FieldSpec:
    """Per-sample shape and dtype of one field; the stored dataset is (N, *shape).

    ``dtype`` is a numpy dtype name (``"uint8"``, ``"float32"``, ...) or ``"str"`` for
    variable-length utf-8 strings (shape must then be ``()``).
    """

    shape: tuple[int, ...]
    dtype: str

    def __post_init__(self) -> None:
        shape = tuple(int(s) for s in self.shape)
        if any(s <= 0 for s in shape):
            raise ValueError(f"field shape must be positive, got {shape}")
        if self.dtype == STR_DTYPE:
            dtype = STR_DTYPE
            if shape != ():
                raise ValueError(f"string fields are scalar per sample, got shape {shape}")
        else:
            try:
                dtype = np.dtype(self.dtype).name
            except TypeError as e:
                raise ValueError(f"unknown field dtype {self.dtype!r}") from e
            if dtype not in _NUMERIC_DTYPES:
                raise ValueError(f"unsupported field dtype {dtype!r}")
        object.__setattr__(self, "shape", shape)
        object.__setattr__(self, "dtype", dtype)

    @property
    def nbytes(self) -> int:
        """Bytes per sample (16 for a string: the size of an HDF5 variable-length reference)."""
        if self.dtype == STR_DTYPE:
            return 16
        return int(np.prod(self.shape, dtype=np.int64)) * np.dtype(self.dtype).itemsize

    def to_json(self) -> dict[str, Any]:
        """The manifest form: ``{"shape": [...], "dtype": "..."}``."""
        return {"shape": list(self.shape), "dtype": self.dtype}

    @classmethod
    def from_json(cls, d: Mapping[str, Any]) -> FieldSpec:
        """Inverse of :meth:`to_json`; raises ``ValueError``/``KeyError``/``TypeError`` if bad."""
        return cls(tuple(d["shape"]), str(d["dtype"]))


def image_field(image_size: int) -> FieldSpec:
    """Spec of the mandatory ``image`` field: uint8 (S, S, 3)."""
    return FieldSpec((image_size, image_size, 3), "uint8")


NAME_FIELD = FieldSpec((), STR_DTYPE)
"""Spec of the mandatory ``name`` field."""


FieldKind = Literal["image", "depth", "mask", "lq", "string", "other"]


def field_kind(name: str, spec: FieldSpec) -> FieldKind:
    """How a field is interpreted (scaled, transposed, resized) by :class:`L2RDataset`.

    By name and shape: ``image``, ``canon_albedo`` and ``*_image``/``*_albedo`` uint8 (H, W, 3)
    are images; ``depth`` and ``*_depth`` float (H, W) are depth maps; ``mask`` and ``*_mask``
    uint8/bool (H, W) are masks (0/1); ``lq`` uint8 (K, h, w, 3) are degraded variants;
    strings are strings; everything else is "other" (returned as float32, untouched).
    """
    shape, dtype = spec.shape, spec.dtype
    if dtype == STR_DTYPE:
        return "string"
    if name in ("image", "canon_albedo") or name.endswith(("_image", "_albedo")):
        if dtype == "uint8" and len(shape) == 3 and shape[2] == 3:
            return "image"
    if name == "depth" or name.endswith("_depth"):
        if dtype.startswith("float") and len(shape) == 2:
            return "depth"
    if name == "mask" or name.endswith("_mask"):
        if dtype in ("uint8", "bool") and len(shape) == 2:
            return "mask"
    if name == "lq" and dtype == "uint8" and len(shape) == 4 and shape[3] == 3:
        return "lq"
    return "other"


def standard_fields(
    image_size: int,
    *,
    depth: bool = False,
    mask: bool = False,
    canon_size: int | None = None,
    lq: tuple[int, int] | None = None,
    lq_params: int | None = None,
) -> dict[str, FieldSpec]:
    """Specs of the reserved optional fields, to pass as ``DatasetWriter(fields=...)``.

    Args:
        image_size: S, the stored image size.
        depth: add ``depth`` float32 (S, S).
        mask: add ``mask`` uint8 (S, S).
        canon_size: Hc = Wc; adds ``canon_depth`` (Hc, Wc) and ``canon_albedo`` (Hc, Wc, 3).
        lq: (K, h) adds ``lq`` uint8 (K, h, h, 3).
        lq_params: P adds ``lq_params`` float32 (K, P); needs ``lq``.
    """
    out: dict[str, FieldSpec] = {}
    if depth:
        out["depth"] = FieldSpec((image_size, image_size), "float32")
    if mask:
        out["mask"] = FieldSpec((image_size, image_size), "uint8")
    if canon_size is not None:
        out["canon_depth"] = FieldSpec((canon_size, canon_size), "float32")
        out["canon_albedo"] = FieldSpec((canon_size, canon_size, 3), "uint8")
    if lq is not None:
        k, h = lq
        out["lq"] = FieldSpec((k, h, h, 3), "uint8")
    if lq_params is not None:
        if lq is None:
            raise ValueError("lq_params needs lq (its K)")
        out["lq_params"] = FieldSpec((lq[0], lq_params), "float32")
    return out


def _check_reserved(name: str, spec: FieldSpec, image_size: int) -> None:
    """Raise ``ValueError`` if a reserved field is declared with the wrong dtype or rank."""
    s = image_size
    rules: dict[str, tuple[str, int, tuple[int | None, ...]]] = {
        # name: (dtype, ndim, required sizes per axis, None = free)
        "depth": ("float32", 2, (s, s)),
        "mask": ("uint8", 2, (s, s)),
        "canon_depth": ("float32", 2, (None, None)),
        "canon_albedo": ("uint8", 3, (None, None, 3)),
        "lq": ("uint8", 4, (None, None, None, 3)),
        "lq_params": ("float32", 2, (None, None)),
    }
    if name not in rules:
        return
    dtype, ndim, sizes = rules[name]
    ok = spec.dtype == dtype and len(spec.shape) == ndim
    ok = ok and all(r is None or r == v for r, v in zip(sizes, spec.shape, strict=True))
    if not ok:
        want = ", ".join("?" if r is None else str(r) for r in sizes)
        raise ValueError(
            f"reserved field {name!r} must be {dtype} with per-sample shape ({want}), "
            f"got {spec.dtype} {spec.shape}"
        )


def _check_fields(fields: Mapping[str, FieldSpec], image_size: int) -> dict[str, FieldSpec]:
    """Validate declared extra fields; returns them as a plain dict."""
    out: dict[str, FieldSpec] = {}
    for name, spec in fields.items():
        if not isinstance(spec, FieldSpec):
            raise TypeError(f"field {name!r}: expected a FieldSpec, got {type(spec).__name__}")
        if not _FIELD_RE.fullmatch(name):
            raise ValueError(f"invalid field name {name!r} (use letters, digits, underscores)")
        if name in ("image", "name", "index"):
            raise ValueError(f"field {name!r} is implicit and cannot be declared")
        _check_reserved(name, spec, image_size)
        out[name] = spec
    canon = [out[k].shape[:2] for k in ("canon_depth", "canon_albedo") if k in out]
    if len(canon) == 2 and canon[0] != canon[1]:
        raise ValueError(f"canon_depth and canon_albedo sizes differ: {canon[0]} vs {canon[1]}")
    if "lq" in out and "lq_params" in out and out["lq"].shape[0] != out["lq_params"].shape[0]:
        raise ValueError("lq and lq_params disagree on K (the number of variants)")
    return out


def _chunks(spec: FieldSpec) -> tuple[int, ...]:
    """HDF5 chunk shape for a field: one sample, or a group of samples if each is tiny."""
    if len(spec.shape) <= 1 and spec.nbytes < _SMALL_SAMPLE_BYTES:
        return (max(1, min(1024, _SMALL_CHUNK_BYTES // spec.nbytes)), *spec.shape)
    return (1, *spec.shape)


def _coerce(name: str, value: Any, spec: FieldSpec, lead: tuple[int, ...]) -> np.ndarray:
    """Check one field's value(s) against its spec; returns an array of shape (*lead, *shape).

    Float fields accept any float input (cast to the stored precision); other fields accept only
    values that cast safely (``bool`` into ``uint8`` masks, ``uint8`` into ``float32``), so that
    e.g. a float image in [0, 1] is refused instead of silently truncated to zeros.
    """
    if spec.dtype == STR_DTYPE:
        values = [value] if lead == () else list(value)
        if len(values) != (lead[0] if lead else 1) or not all(isinstance(v, str) for v in values):
            raise ValueError(f"field {name!r} must be {'a string' if not lead else 'N strings'}")
        return np.array(values, dtype=object).reshape(lead)
    arr = np.asarray(value)
    want = (*lead, *spec.shape)
    if arr.shape != want:
        raise ValueError(f"field {name!r} has shape {arr.shape}, expected {want}")
    target = np.dtype(spec.dtype)
    if arr.dtype != target:
        floats = arr.dtype.kind == "f" and target.kind == "f"
        if not (floats or np.can_cast(arr.dtype, target, "safe")):
            raise ValueError(f"field {name!r} must be {target.name}, got {arr.dtype.name}")
        arr = arr.astype(target)
    if target.kind == "f" and not np.isfinite(arr).all():
        raise ValueError(f"field {name!r} holds NaN or infinite values")
    if field_kind(name, spec) == "mask" and arr.size and arr.max() > 1:
        raise ValueError(f"field {name!r} must hold 0 (background) or 1 (face)")
    return arr


def _one_line(e: BaseException) -> str:
    """First line of an exception message, so that wrapped errors stay one line."""
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


class _SplitWriter:
    """One open split file being filled; grows its datasets in increments, trims on finish."""

    def __init__(
        self,
        path: Path,
        split: str,
        specs: dict[str, FieldSpec],
        compression: str | None,
        attrs: dict[str, Any],
    ) -> None:
        self.path = path
        self.specs = specs
        self.n = 0
        self.capacity = 0
        self.file = h5py.File(path, "w")
        self.file.attrs.update(attrs)
        self.file.attrs["split"] = split
        self.file.attrs["n"] = 0
        self.dsets: dict[str, h5py.Dataset] = {}
        for name, spec in specs.items():
            is_str = spec.dtype == STR_DTYPE
            self.dsets[name] = self.file.create_dataset(
                name,
                shape=(0, *spec.shape),
                maxshape=(None, *spec.shape),
                chunks=_chunks(spec),
                dtype=h5py.string_dtype("utf-8") if is_str else spec.dtype,
                # Names live in the variable-length heap, which filters would not shrink.
                compression=None if is_str else compression,
            )

    def reserve(self, k: int) -> None:
        """Make room for k more samples: doubling from 64, then steps of 4096 (resize is cheap)."""
        need = self.n + k
        if need <= self.capacity:
            return
        step = min(max(self.capacity, _MIN_GROWTH), _MAX_GROWTH)
        self.capacity = max(need, self.capacity + step)
        for d in self.dsets.values():
            d.resize(self.capacity, axis=0)

    def write(self, values: dict[str, np.ndarray], k: int) -> range:
        """Write k samples (each value (k, *shape)) after the current end; returns their indices."""
        self.reserve(k)
        start = self.n
        for name, arr in values.items():
            self.dsets[name][start : start + k] = arr
        self.n += k
        return range(start, start + k)

    def finish(self) -> None:
        """Trim to n samples, record n, close."""
        for d in self.dsets.values():
            d.resize(self.n, axis=0)
        self.file.attrs["n"] = self.n
        self.file.close()

    def abort(self) -> None:
        """Close without finalising (the dataset stays incomplete: no manifest is written)."""
        if self.file.id.valid:
            self.file.close()


def _is_dataset_dir_entry(p: Path) -> bool:
    """Files a writer leaves in a dataset directory (also after a crash)."""
    return p.is_file() and (
        p.name == MANIFEST_NAME or p.suffix == ".h5" or p.name.startswith(".manifest-")
    )


class DatasetWriter:
    """Writes an l2r dataset directory; use as a context manager.

    Example::

        with DatasetWriter("out/faces", image_size=64, fields=standard_fields(64, depth=True),
                           source={"generator": "synface", "seed": 0}) as w:
            w.append("train", {"image": img, "depth": d, "name": "000001.png"})

    ``image`` (S, S, 3) uint8 and ``name`` (a string; defaults to the zero-padded index) are
    implicit; every other field must be declared in ``fields``. By default each sample carries
    every declared field; :meth:`declare_split` lets a split carry a subset (e.g. a test split of
    real photos without depth). Leaving the ``with`` block normally finalises the split files and
    then writes ``manifest.json``; leaving it by an exception closes the files and writes no
    manifest, so the directory reads as an incomplete dataset.

    Wrong values passed to ``append`` are programming errors and raise ``ValueError``;
    problems with the target directory are user errors and raise ``L2RError``.
    """

    def __init__(
        self,
        root: Path | str,
        image_size: int,
        fields: Mapping[str, FieldSpec] | None = None,
        source: Mapping[str, Any] | None = None,
        overwrite: bool = False,
        compression: Literal["gzip", "lzf"] | None = None,
        created: str | None = None,
    ) -> None:
        """Check arguments and prepare ``root`` (created if missing).

        Args:
            root: dataset directory.
            image_size: S of the stored ``image`` (S, S, 3).
            fields: extra per-sample fields (reserved names or new ones) and their specs.
            source: free JSON-serialisable description (generator name and its arguments).
            overwrite: replace an existing l2r dataset at ``root``.
            compression: HDF5 filter for array fields. ``None`` (default) favours read speed
                in data-loader workers; ``"lzf"`` is fast and h5py-only, ``"gzip"`` is portable.
            created: the ``created`` timestamp to record (ISO 8601); default: now. A writer that
                must reproduce its files byte for byte (``l2r degrade`` on resume) passes one.
        """
        if isinstance(image_size, bool) or not isinstance(image_size, int) or image_size <= 0:
            raise ValueError(f"image_size must be a positive int, got {image_size!r}")
        if compression not in (None, "gzip", "lzf"):
            raise ValueError(f"compression must be None, 'gzip' or 'lzf', got {compression!r}")
        self._image_size = image_size
        self._fields = _check_fields(fields or {}, image_size)
        self._source = dict(source or {})
        try:
            json.dumps(self._source)
        except (TypeError, ValueError) as e:
            raise ValueError(f"source must be JSON-serialisable: {e}") from e
        self._compression = compression
        self._created = created or datetime.now(UTC).isoformat(timespec="seconds")
        self._split_fields: dict[str, tuple[str, ...]] = {}
        self._writers: dict[str, _SplitWriter] = {}
        self._closed = False
        self._root = Path(root)
        self._prepare_root(overwrite)

    # -- properties ------------------------------------------------------------------------
    @property
    def root(self) -> Path:
        """The dataset directory."""
        return self._root

    @property
    def image_size(self) -> int:
        """S of the stored images."""
        return self._image_size

    @property
    def fields(self) -> dict[str, FieldSpec]:
        """All fields a sample may carry, including the implicit ``image`` and ``name``."""
        return {"image": image_field(self._image_size), **self._fields, "name": NAME_FIELD}

    @property
    def counts(self) -> dict[str, int]:
        """Samples written so far per split."""
        return {s: w.n for s, w in self._writers.items()}

    # -- set-up ----------------------------------------------------------------------------
    def _prepare_root(self, overwrite: bool) -> None:
        root = self._root
        if root.exists() and not root.is_dir():
            raise L2RError(f"dataset path exists and is not a directory: {root}")
        if not root.exists():
            try:
                root.mkdir(parents=True)
            except OSError as e:
                raise L2RError(f"cannot create dataset directory ({_one_line(e)}): {root}") from e
            return
        entries = list(root.iterdir())
        if not entries:
            return
        ours = (root / MANIFEST_NAME).is_file() or all(_is_dataset_dir_entry(p) for p in entries)
        if not ours:
            raise L2RError(
                f"refusing to write a dataset into a non-empty directory that is not an l2r "
                f"dataset: {root}"
            )
        if not overwrite:
            raise L2RError(f"an l2r dataset already exists (use --overwrite to replace it): {root}")
        # The manifest goes first: if we are interrupted below, what is left reads as incomplete.
        (root / MANIFEST_NAME).unlink(missing_ok=True)
        for p in entries:
            if _is_dataset_dir_entry(p):
                p.unlink(missing_ok=True)

    def declare_split(self, split: str, fields: Iterable[str] | None = None) -> None:
        """Create ``split`` (even if it stays empty) carrying only ``fields`` of the declared ones.

        ``fields=None`` means all declared fields. Must be called before the split's first
        sample; ``image`` and ``name`` are always included.
        """
        self._check_open()
        if not _SPLIT_RE.fullmatch(split):
            raise ValueError(f"invalid split name {split!r} (use letters, digits, '-', '_')")
        if split in self._writers:
            raise ValueError(f"split {split!r} already started")
        chosen = tuple(self._fields) if fields is None else tuple(fields)
        unknown = [f for f in chosen if f not in self._fields]
        if unknown:
            raise ValueError(f"split {split!r}: undeclared field(s) {unknown}")
        self._split_fields[split] = tuple(f for f in self._fields if f in chosen)
        specs = {"image": image_field(self._image_size)}
        specs.update({f: self._fields[f] for f in self._split_fields[split]})
        specs["name"] = NAME_FIELD
        attrs = {
            "schema": SCHEMA_NAME,
            "schema_version": SCHEMA_VERSION,
            "image_size": self._image_size,
            "created": self._created,
            "l2r_version": __version__,
            "source": json.dumps(self._source),
        }
        path = self._root / f"{split}.h5"
        try:
            self._writers[split] = _SplitWriter(path, split, specs, self._compression, attrs)
        except OSError as e:
            raise L2RError(f"cannot create split file ({_one_line(e)}): {path}") from e

    def _writer(self, split: str) -> _SplitWriter:
        if split not in self._writers:
            self.declare_split(split)
        return self._writers[split]

    def _check_open(self) -> None:
        if self._closed:
            raise ValueError("DatasetWriter is closed")

    def _check_keys(self, split: str, keys: Iterable[str]) -> None:
        """Raise ``ValueError`` unless ``keys`` are image, the split's fields and maybe name."""
        keys = set(keys)
        want = set(self._split_fields.get(split, self._fields))
        if "image" not in keys:
            raise ValueError("sample lacks 'image'")
        extra = keys - want - {"image", "name"}
        if extra:
            where = "declared" if extra - set(self._fields) else f"part of split {split!r}"
            raise ValueError(f"field(s) {sorted(extra)} not {where}")
        missing = want - keys
        if missing:
            raise ValueError(
                f"sample for split {split!r} lacks declared field(s) {sorted(missing)} "
                f"(use declare_split to write a split without them)"
            )

    # -- writing ---------------------------------------------------------------------------
    def append(self, split: str, sample: Mapping[str, np.ndarray | str]) -> int:
        """Append one sample to ``split``; returns its index.

        Args:
            split: split name, e.g. ``"train"``.
            sample: ``image`` uint8 (S, S, 3), optional ``name`` str, and each field of the split
                with its declared per-sample shape, e.g. ``depth`` float32 (S, S).
        """
        self._check_open()
        self._check_keys(split, sample)
        specs = self.fields
        values = {k: _coerce(k, v, specs[k], ())[None] for k, v in sample.items()}
        w = self._writer(split)  # only now, so that a refused first sample creates no file
        if "name" not in values:
            values["name"] = np.array([f"{w.n:08d}"], dtype=object)
        return w.write(values, 1)[0]

    def append_many(self, split: str, batch: Mapping[str, np.ndarray | Sequence[str]]) -> range:
        """Append N samples at once (faster than N :meth:`append` calls); returns their indices.

        Args:
            split: split name.
            batch: ``image`` uint8 (N, S, S, 3), optional ``name`` (N strings), and each field of
                the split as (N, *shape), e.g. ``lq`` uint8 (N, K, h, w, 3).
        """
        self._check_open()
        self._check_keys(split, batch)
        if np.ndim(batch["image"]) != 4:
            raise ValueError(f"batch 'image' must be (N, S, S, 3), got {np.shape(batch['image'])}")
        n = int(np.shape(batch["image"])[0])
        specs = self.fields
        values = {k: _coerce(k, v, specs[k], (n,)) for k, v in batch.items()}
        w = self._writer(split)
        if "name" not in values:
            values["name"] = np.array([f"{i:08d}" for i in range(w.n, w.n + n)], dtype=object)
        return w.write(values, n) if n else range(w.n, w.n)

    # -- finishing -------------------------------------------------------------------------
    def close(self) -> Path:
        """Finalise every split file, then write ``manifest.json`` atomically; returns its path.

        Calling it again is a no-op. The manifest is written only after every split file is
        closed, so its presence means the dataset is complete.
        """
        if self._closed:
            return self._root / MANIFEST_NAME
        self._closed = True
        try:
            for w in self._writers.values():
                w.finish()
        except BaseException:
            self._abort_files()
            raise
        splits = {
            split: {
                "file": w.path.name,
                "n": w.n,
                "fields": {k: spec.to_json() for k, spec in w.specs.items()},
            }
            for split, w in self._writers.items()
        }
        manifest = {
            "schema": SCHEMA_NAME,
            "schema_version": SCHEMA_VERSION,
            "created": self._created,
            "l2r_version": __version__,
            "image_size": self._image_size,
            "splits": splits,
            "source": self._source,
        }
        return _write_json_atomic(self._root / MANIFEST_NAME, manifest)

    def abort(self) -> None:
        """Close the split files without writing a manifest (the dataset stays incomplete)."""
        if not self._closed:
            self._closed = True
            self._abort_files()

    def _abort_files(self) -> None:
        for w in self._writers.values():
            w.abort()

    def __enter__(self) -> DatasetWriter:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        if exc_type is None:
            self.close()
        else:
            self.abort()


def _write_json_atomic(path: Path, obj: Any) -> Path:
    """Write JSON to a temp file in the same directory, fsync, then rename over ``path``."""
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=".manifest-", suffix=".json.tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            json.dump(obj, f, indent=2, ensure_ascii=False)
            f.write("\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


# -- reading ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class SplitInfo:
    """One split of a validated dataset: its file, sample count and fields (incl. image, name)."""

    path: Path
    n: int
    fields: dict[str, FieldSpec]


@dataclass(frozen=True)
class DatasetInfo:
    """A validated dataset: its directory, parsed manifest, splits and stored image size S."""

    root: Path
    manifest: dict[str, Any]
    splits: dict[str, SplitInfo]
    image_size: int


def _is_int(x: Any) -> bool:
    return isinstance(x, int) and not isinstance(x, bool)


def _read_manifest(root: Path) -> dict[str, Any]:
    """Load and check ``manifest.json`` of ``root``; raises ``L2RError`` one-liners."""
    if not root.exists():
        raise L2RError(f"dataset not found: {root}")
    if not root.is_dir():
        raise L2RError(f"not an l2r dataset (a dataset is a directory, this is a file): {root}")
    path = root / MANIFEST_NAME
    if not path.is_file():
        raise L2RError(f"not an l2r dataset (no {MANIFEST_NAME}): {root}")
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as e:
        raise L2RError(f"manifest is not valid JSON ({e.msg}, line {e.lineno}): {path}") from e
    except (OSError, UnicodeDecodeError) as e:
        raise L2RError(f"cannot read manifest ({_one_line(e)}): {path}") from e
    if not isinstance(manifest, dict):
        raise L2RError(f"manifest is not a JSON object: {path}")
    schema = manifest.get("schema")
    if schema != SCHEMA_NAME:
        raise L2RError(f"not an l2r dataset (manifest schema is {schema!r}): {path}")
    version = manifest.get("schema_version")
    if not _is_int(version) or version < 1:
        raise L2RError(f"manifest has no valid schema_version (got {version!r}): {path}")
    if version > SCHEMA_VERSION:
        raise L2RError(
            f"dataset schema version {version} is newer than this l2r supports "
            f"({SCHEMA_VERSION}); upgrade l2r: {path}"
        )
    size = manifest.get("image_size")
    if not _is_int(size) or size <= 0:
        raise L2RError(f"manifest has no valid image_size (got {size!r}): {path}")
    if not isinstance(manifest.get("splits"), dict):
        raise L2RError(f"manifest has no 'splits' object: {path}")
    return manifest


def _split_from_manifest(root: Path, split: str, entry: Any, mpath: Path) -> SplitInfo:
    """Parse one manifest split entry (without opening its file)."""
    if not isinstance(entry, dict):
        raise L2RError(f"manifest entry of split {split!r} is not an object: {mpath}")
    file, n, fields = entry.get("file"), entry.get("n"), entry.get("fields", {})
    if not isinstance(file, str) or not file or Path(file).name != file:
        raise L2RError(f"manifest split {split!r} has no valid 'file' (got {file!r}): {mpath}")
    if not _is_int(n) or n < 0:
        raise L2RError(f"manifest split {split!r} has no valid 'n' (got {n!r}): {mpath}")
    if not isinstance(fields, dict):
        raise L2RError(f"manifest split {split!r} has no valid 'fields': {mpath}")
    specs: dict[str, FieldSpec] = {}
    for name, d in fields.items():
        try:
            specs[name] = FieldSpec.from_json(d)
        except (KeyError, TypeError, ValueError) as e:
            msg = f"manifest split {split!r} field {name!r} is invalid ({_one_line(e)}): {mpath}"
            raise L2RError(msg) from e
    return SplitInfo(path=root / file, n=n, fields=specs)


def _check_split_file(split: str, info: SplitInfo, image_size: int) -> dict[str, FieldSpec]:
    """Open a split file and check it against the manifest; returns its fields."""
    path = info.path
    if not path.is_file():
        raise L2RError(f"split file of split {split!r} is missing: {path}")
    try:
        f = h5py.File(path, "r")
    except OSError as e:
        raise L2RError(f"split file is not readable as HDF5: {path}") from e
    with f:
        if f.attrs.get("schema") != SCHEMA_NAME:
            raise L2RError(f"split file lacks schema attribute {SCHEMA_NAME!r}: {path}")
        img = f.get("image")
        if not isinstance(img, h5py.Dataset):
            raise L2RError(f"split file has no 'image' dataset: {path}")
        want = (image_size, image_size, 3)
        if img.dtype != np.uint8 or img.ndim != 4 or img.shape[1:] != want:
            raise L2RError(
                f"'image' is {img.dtype} {img.shape}, expected uint8 (N, {image_size}, "
                f"{image_size}, 3): {path}"
            )
        n = img.shape[0]
        if n != info.n:
            raise L2RError(
                f"manifest says split {split!r} has {info.n} samples, file has {n}: {path}"
            )
        fields = dict(info.fields) or {"image": image_field(image_size)}
        for name, spec in fields.items():
            d = f.get(name)
            if not isinstance(d, h5py.Dataset):
                raise L2RError(f"field {name!r} listed in the manifest is missing: {path}")
            if spec.dtype == STR_DTYPE:
                dtype_ok = h5py.check_string_dtype(d.dtype) is not None
            else:
                dtype_ok = d.dtype == np.dtype(spec.dtype)
            if not dtype_ok or d.shape != (n, *spec.shape):
                raise L2RError(
                    f"field {name!r} is {d.dtype} {d.shape}, manifest says {spec.dtype} "
                    f"(N={n}, *{spec.shape}): {path}"
                )
    fields.setdefault("image", image_field(image_size))
    return fields


def open_dataset(root: Path | str) -> DatasetInfo:
    """Validate the dataset at ``root`` (manifest and every split file) and describe it.

    Raises:
        L2RError: one line naming the path and the problem (missing, not a directory, no or bad
            manifest, wrong schema, newer schema version, missing or non-HDF5 split file, bad
            ``image``, sample count or field disagreeing with the manifest).
    """
    root = Path(root)
    manifest = _read_manifest(root)
    mpath = root / MANIFEST_NAME
    splits: dict[str, SplitInfo] = {}
    for split, entry in manifest["splits"].items():
        info = _split_from_manifest(root, split, entry, mpath)
        fields = _check_split_file(split, info, manifest["image_size"])
        splits[split] = SplitInfo(path=info.path, n=info.n, fields=fields)
    return DatasetInfo(
        root=root, manifest=manifest, splits=splits, image_size=manifest["image_size"]
    )


def describe_dataset(root: Path | str) -> dict[str, Any]:
    """A JSON-serialisable summary for ``l2r info`` (validates like :func:`open_dataset`).

    Keys: ``kind`` ("dataset"), ``path``, ``schema``, ``schema_version``, ``created``,
    ``l2r_version``, ``image_size``, ``num_samples``, ``splits`` ({split: {file, n, bytes,
    fields: {name: {shape, dtype}}}}) and ``source``.
    """
    info = open_dataset(root)
    m = info.manifest
    splits = {
        split: {
            "file": s.path.name,
            "n": s.n,
            "bytes": s.path.stat().st_size,
            "fields": {k: spec.to_json() for k, spec in s.fields.items()},
        }
        for split, s in info.splits.items()
    }
    return {
        "kind": "dataset",
        "path": str(info.root),
        "schema": m["schema"],
        "schema_version": m["schema_version"],
        "created": m.get("created"),
        "l2r_version": m.get("l2r_version"),
        "image_size": info.image_size,
        "num_samples": sum(s.n for s in info.splits.values()),
        "splits": splits,
        "source": m.get("source", {}),
    }


def _resize(x: Tensor, size: int | None, mode: Literal["smooth", "nearest"]) -> Tensor:
    """Resize maps (C, H, W) to (C, size, size); ``size=None`` keeps them as they are.

    ``smooth``: bilinear with antialiasing (a triangle filter spanning the source footprint when
    downsampling, so 256 -> 64 averages instead of skipping pixels); ``nearest``: for masks.
    """
    if size is None or x.shape[-2:] == (size, size):
        return x
    if mode == "nearest":
        return F.interpolate(x[None], size=(size, size), mode="nearest-exact")[0]
    return F.interpolate(
        x[None], size=(size, size), mode="bilinear", align_corners=False, antialias=True
    )[0]


class L2RDataset(Dataset[dict[str, Any]]):
    """One split of an l2r dataset as a ``torch.utils.data.Dataset``.

    ``ds[i]`` is a dict with ``index`` (int) and the requested fields:

    - ``image`` float32 (3, H, W) in [0, 1]
    - ``depth`` float32 (H, W); ``mask`` float32 (H, W) in {0, 1}
    - ``canon_albedo`` float32 (3, H, W) in [0, 1]; ``canon_depth`` float32 (H, W)
    - ``lq`` float32 (K, 3, h, w) in [0, 1] (never resized); ``name`` str
    - extra fields named like these (``*_image``, ``*_albedo``, ``*_depth``, ``*_mask``, see
      :func:`field_kind`) are treated like them, e.g. ``canon_mask`` like ``mask``
    - any other field: its stored values as float32 (*shape)

    With ``image_size`` set, H = W = image_size and the image-like maps (images, depths, masks)
    are resized to it where their stored size differs; otherwise they keep
    their stored size. ``image_size`` and ``stored_size`` are attributes, as are ``split``,
    ``fields``, ``path`` (the split file) and ``specs`` (stored specs of the requested fields).

    The HDF5 file is opened lazily, once per process: a handle inherited through ``fork`` is
    replaced on first use in the worker, and pickling (DataLoader workers under ``spawn``) drops
    the handle. The constructor validates the dataset and keeps no file open.
    """

    def __init__(
        self,
        root: Path | str,
        split: str,
        fields: tuple[str, ...] = ("image",),
        image_size: int | None = None,
    ) -> None:
        info = open_dataset(root)
        if split not in info.splits:
            available = ", ".join(sorted(info.splits)) or "none"
            raise L2RError(f"dataset has no split {split!r} (available: {available}): {info.root}")
        sinfo = info.splits[split]
        fields = tuple(dict.fromkeys(fields))
        missing = [f for f in fields if f not in sinfo.fields]
        if missing:
            have = ", ".join(sinfo.fields)
            raise L2RError(
                f"split {split!r} has no field(s) {', '.join(missing)} (it has: {have}): "
                f"{sinfo.path}"
            )
        if image_size is not None and (not _is_int(image_size) or image_size <= 0):
            raise L2RError(f"image_size must be a positive integer, got {image_size!r}")
        self.root = info.root
        self.split = split
        self.fields = fields
        self.stored_size = info.image_size
        self.image_size = image_size or info.image_size
        self._resize_to = image_size
        self.path = sinfo.path
        self.specs = {f: sinfo.fields[f] for f in fields}
        self._kinds = {f: field_kind(f, spec) for f, spec in self.specs.items()}
        self._n = sinfo.n
        self._h5: h5py.File | None = None
        self._dsets: dict[str, h5py.Dataset] = {}
        self._pid: int | None = None

    def __len__(self) -> int:
        return self._n

    def __repr__(self) -> str:
        return (
            f"L2RDataset(root={str(self.root)!r}, split={self.split!r}, n={self._n}, "
            f"fields={self.fields}, image_size={self.image_size})"
        )

    def _datasets(self) -> dict[str, h5py.Dataset]:
        """The open datasets of this process; (re)opens the file in a new process."""
        pid = os.getpid()
        if self._h5 is None or self._pid != pid:
            if self._h5 is not None:
                # Inherited through fork: its HDF5 state is a copy of the parent's. Closing it
                # here only touches this process's copy, and makes the reopen below start fresh
                # instead of sharing the inherited file structure.
                with contextlib.suppress(Exception):  # a stale handle may already be unusable
                    self._h5.close()
            try:
                self._h5 = h5py.File(self.path, "r")
            except OSError as e:
                raise L2RError(f"cannot open split file ({_one_line(e)}): {self.path}") from e
            self._dsets = {f: self._h5[f] for f in self.fields}
            self._pid = pid
        return self._dsets

    def close(self) -> None:
        """Close this process's file handle (reopened on next access)."""
        if self._h5 is not None and self._pid == os.getpid():
            self._h5.close()
        self._h5, self._dsets, self._pid = None, {}, None

    def __getstate__(self) -> dict[str, Any]:
        state = self.__dict__.copy()
        state.update(_h5=None, _dsets={}, _pid=None)
        return state

    def __getitem__(self, index: int) -> dict[str, Any]:
        if not -self._n <= index < self._n:
            raise IndexError(f"index {index} out of range for {self._n} samples")
        index = int(index) % self._n
        dsets = self._datasets()
        out: dict[str, Any] = {}
        for name in self.fields:
            out[name] = self._convert(name, dsets[name][index])
        out["index"] = index
        return out

    def _convert(self, name: str, value: Any) -> Any:
        """Stored sample value -> tensor in the documented layout and size."""
        size = self._resize_to
        kind = self._kinds[name]
        if kind == "string":
            return value.decode("utf-8") if isinstance(value, bytes) else str(value)
        if kind == "image":  # uint8 (H, W, 3) -> (3, H, W) in [0, 1]
            x = torch.from_numpy(np.ascontiguousarray(value)).permute(2, 0, 1).float() / 255.0
            return _resize(x, size, "smooth").clamp_(0.0, 1.0)
        if kind == "depth":  # (H, W)
            x = torch.from_numpy(np.asarray(value, dtype=np.float32))
            return _resize(x[None], size, "smooth")[0]
        if kind == "mask":  # uint8 (H, W) in {0, 1}
            x = torch.from_numpy(np.asarray(value, dtype=np.float32))
            return _resize(x[None], size, "nearest")[0]
        if kind == "lq":  # uint8 (K, h, w, 3) -> (K, 3, h, w) in [0, 1]
            return torch.from_numpy(np.ascontiguousarray(value)).permute(0, 3, 1, 2).float() / 255.0
        return torch.from_numpy(np.array(value, dtype=np.float32))
