"""Writing an l2r dataset: :class:`DatasetWriter`, its per-split HDF5 writer and the atomic
manifest write.

The schema (fields, reserved names, constants) is in :mod:`l2r_cli.data.schema`; the manifest
is written last and atomically (:func:`_write_json_atomic`, also used by ``l2r degrade`` for
its own state files), so a directory without one reads as an incomplete dataset.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import h5py
import numpy as np

from l2r_cli import __version__
from l2r_cli.data.schema import (
    _SPLIT_RE,
    MANIFEST_NAME,
    NAME_FIELD,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    STR_DTYPE,
    FieldSpec,
    _check_fields,
    _one_line,
    field_kind,
    image_field,
)
from l2r_cli.errors import L2RError
from l2r_cli.fileio import write_json_atomic

# Samples smaller than this, with at most one axis, share a chunk; everything else is one sample
# per chunk so that random access touches one chunk per field.
_SMALL_SAMPLE_BYTES = 1024
_SMALL_CHUNK_BYTES = 16384
_MIN_GROWTH = 64
_MAX_GROWTH = 4096


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
    return write_json_atomic(path, obj, prefix=".manifest-")
