"""`benchmark speed --case reconstruct`: the per-face split adds up and reaches the JSON."""

from __future__ import annotations

import json

import pytest

from l2r_cli.benchmark.reconstruct_speed import run_reconstruct_speed


def test_split_adds_up_to_the_total():
    ms = run_reconstruct_speed(faces=3, batch_size=2, repeats=1)
    parts = ms["read"] + ms["predict"] + ms["write"]
    assert ms["total"] == pytest.approx(parts)
    assert all(ms[k] > 0 for k in ("read", "predict", "write", "forward"))
    assert ms["forward_share"] == pytest.approx(ms["forward"] / ms["total"])


def test_cli_case_writes_json(l2r, tmp_path):
    out = tmp_path / "speed.json"
    r = l2r("--device", "cpu", "benchmark", "speed", "--case", "reconstruct", "--faces", "2",
            "-b", "2", "--repeats", "1", "--mesh-format", "obj", "--json", out)  # fmt: skip
    assert r.code == 0, r.err
    rec = json.loads(out.read_text())["reconstruct"]
    assert rec["faces"] == 2 and rec["mesh_format"] == "obj" and rec["total"] > rec["forward"] > 0
