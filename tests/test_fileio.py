"""Atomic writes and file digests (l2r_cli/fileio.py) against known answers."""

from __future__ import annotations

import json

import pytest

from l2r_cli.fileio import file_sha256, write_bytes_atomic, write_json_atomic


def test_sha256_known_answer_and_change(tmp_path):
    p = tmp_path / "f"
    p.write_bytes(b"abc")  # FIPS 180-2's example
    want = "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"
    assert file_sha256(p) == want
    p.write_bytes(b"abcd")  # another size: not the cached digest
    assert file_sha256(p) != want


def test_atomic_writes_replace_and_leave_no_temp(tmp_path):
    p = tmp_path / "x.json"
    p.write_text("old")
    write_json_atomic(p, {"a": [1, "é"]})
    assert p.read_text(encoding="utf-8") == '{\n  "a": [\n    1,\n    "é"\n  ]\n}\n'
    assert json.loads(p.read_text(encoding="utf-8")) == {"a": [1, "é"]}
    assert sorted(q.name for q in tmp_path.iterdir()) == ["x.json"]


def test_a_failed_write_keeps_the_old_file(tmp_path):
    p = tmp_path / "x.bin"
    p.write_bytes(b"old")
    with pytest.raises(TypeError):
        write_bytes_atomic(p, "not bytes")  # type: ignore[arg-type]
    assert p.read_bytes() == b"old" and sorted(q.name for q in tmp_path.iterdir()) == ["x.bin"]
