"""The l2r dataset schema: constants, field specs and the rules declared fields must obey.

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

The writer (:mod:`l2r_cli.data.writer`) and the reader (:mod:`l2r_cli.data.reader`) both
build on this module; it imports neither of them, nor torch.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Literal

import numpy as np

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


def _one_line(e: BaseException) -> str:
    """First line of an exception message, so that wrapped errors stay one line."""
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
