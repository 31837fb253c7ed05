"""File helpers shared by every room (docs/architecture.md): atomic writes and file digests.

Torch-free on purpose: the degrade worker side and the dataset writer import it.
"""

from __future__ import annotations

import functools
import hashlib
import json
import os
import tempfile
from pathlib import Path
from typing import Any


def write_bytes_atomic(path: str | Path, data: bytes, prefix: str | None = None) -> Path:
    """Write ``data`` to a temp file beside ``path`` (named ``prefix``... or .NAME.*.tmp),
    fsync, then rename it over ``path``: readers see the old file or the new one, never part
    of one. The temp file is removed if anything fails."""
    path = Path(path)
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=prefix or f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def write_json_atomic(path: str | Path, obj: Any, prefix: str | None = None) -> Path:
    """``obj`` as indented UTF-8 JSON with a final newline, by :func:`write_bytes_atomic`."""
    text = json.dumps(obj, indent=2, ensure_ascii=False) + "\n"
    return write_bytes_atomic(path, text.encode("utf-8"), prefix)


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file's bytes; read once per process while the file is unchanged (same
    size and modification time), since several steps check the same inputs."""
    st = os.stat(path)
    return _sha256(str(Path(path).resolve()), st.st_mtime_ns, st.st_size)


@functools.lru_cache(maxsize=16)
def _sha256(path: str, mtime_ns: int, size: int) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 22), b""):
            h.update(chunk)
    return h.hexdigest()
