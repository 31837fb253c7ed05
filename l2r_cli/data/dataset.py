"""The l2r dataset format: per-split HDF5 files plus a JSON manifest, with writer, reader, checks.

Every training stage of the paper reads its faces from this one format; ``docs/datasets.md`` is
the user-facing description. This module is the stable import path for all of it; the code lives
in three modules split by responsibility:

- :mod:`l2r_cli.data.schema`: the layout of a dataset directory and its split files, the
  constants (``SCHEMA_NAME``, ``SCHEMA_VERSION``, ``MANIFEST_NAME``, ``STR_DTYPE``, ``SPLITS``,
  ``NAME_FIELD``), :class:`FieldSpec`, :func:`image_field`, :func:`field_kind`,
  :func:`standard_fields` and the checks on declared and reserved fields.
- :mod:`l2r_cli.data.writer`: :class:`DatasetWriter` (split files, then the manifest written
  atomically by :func:`_write_json_atomic`).
- :mod:`l2r_cli.data.reader`: :class:`SplitInfo`, :class:`DatasetInfo`, manifest and split-file
  validation (:func:`open_dataset`), :func:`describe_dataset` and :class:`L2RDataset`.

Every name this module used to define is re-exported here, the private helpers included, so
existing imports (``from l2r_cli.data.dataset import _write_json_atomic``) keep working.
"""

from __future__ import annotations

from l2r_cli.data.reader import (
    DatasetInfo,
    L2RDataset,
    SplitInfo,
    _check_split_file,
    _is_int,
    _read_manifest,
    _resize,
    _split_from_manifest,
    describe_dataset,
    open_dataset,
)
from l2r_cli.data.schema import (
    _FIELD_RE,
    _NUMERIC_DTYPES,
    _SPLIT_RE,
    MANIFEST_NAME,
    NAME_FIELD,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    SPLITS,
    STR_DTYPE,
    FieldKind,
    FieldSpec,
    _check_fields,
    _check_reserved,
    _one_line,
    field_kind,
    image_field,
    standard_fields,
)
from l2r_cli.data.writer import (
    _MAX_GROWTH,
    _MIN_GROWTH,
    _SMALL_CHUNK_BYTES,
    _SMALL_SAMPLE_BYTES,
    DatasetWriter,
    _chunks,
    _coerce,
    _is_dataset_dir_entry,
    _SplitWriter,
    _write_json_atomic,
)

__all__ = [
    # schema
    "MANIFEST_NAME",
    "NAME_FIELD",
    "SCHEMA_NAME",
    "SCHEMA_VERSION",
    "SPLITS",
    "STR_DTYPE",
    "FieldKind",
    "FieldSpec",
    "field_kind",
    "image_field",
    "standard_fields",
    # writer
    "DatasetWriter",
    # reader
    "DatasetInfo",
    "L2RDataset",
    "SplitInfo",
    "describe_dataset",
    "open_dataset",
    # private helpers, kept importable from their old path
    "_FIELD_RE",
    "_MAX_GROWTH",
    "_MIN_GROWTH",
    "_NUMERIC_DTYPES",
    "_SMALL_CHUNK_BYTES",
    "_SMALL_SAMPLE_BYTES",
    "_SPLIT_RE",
    "_SplitWriter",
    "_check_fields",
    "_check_reserved",
    "_check_split_file",
    "_chunks",
    "_coerce",
    "_is_dataset_dir_entry",
    "_is_int",
    "_one_line",
    "_read_manifest",
    "_resize",
    "_split_from_manifest",
    "_write_json_atomic",
]
