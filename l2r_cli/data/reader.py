"""Reading an l2r dataset: manifest and split-file validation (:func:`open_dataset`), the
``l2r info`` summary (:func:`describe_dataset`) and :class:`L2RDataset`, one split as a
``torch.utils.data.Dataset``.

The schema it validates against is in :mod:`l2r_cli.data.schema`.
"""

from __future__ import annotations

import contextlib
import json
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import h5py
import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor
from torch.utils.data import Dataset

from l2r_cli.data.schema import (
    MANIFEST_NAME,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    STR_DTYPE,
    FieldSpec,
    _one_line,
    field_kind,
    image_field,
)
from l2r_cli.errors import L2RError


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
