"""Exported L2R weights (``l2r export-weights`` on a 'grn' or 'mutual' run, l2r_cli/weights.py)
and the L2R path of ``l2r reconstruct --model`` (l2r_cli/reconstruct.py). Here because they
need the trained tiny ARN/GRN of this folder's fixtures."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from l2r_cli import weights
from l2r_cli.engine.checkpoint import load_checkpoint
from l2r_cli.errors import L2RError
from l2r_cli.inference import EXPORT_KEY, load_refined
from tests.stages.conftest import TINY, TINY_GRN
from tests.stages.test_arn_stage import make_proxy_ckpt


def _predict(path, x: torch.Tensor) -> dict[str, torch.Tensor]:
    return load_refined(path, "cpu").predict(x)


def _chain(l2r, root: Path, grn_inputs) -> Path:
    """A proxy, prior, 1-step ARN, 1-step GRN and 1-step mutual run of their own under root
    (so the test may delete them)."""
    shutil.copy(grn_inputs["proxy"], root / "proxy.pt")
    shutil.copy(grn_inputs["prior"], root / "prior.pt")
    data = grn_inputs["data"]
    r = l2r("train-arn", "--data", data, "--proxy", root / "proxy.pt", "--prior",
            root / "prior.pt", "--nf", "8", "--zdim", "16", "--mapping-layers", "2",
            "--output-size", "32", *TINY, "--max-steps", "1", "--out", root / "arn")  # fmt: skip
    assert r.code == 0, r.err
    r = l2r("train-grn", "--data", data, "--arn", root / "arn", *TINY_GRN, "--max-steps", "1",
            "--out", root / "grn")  # fmt: skip
    assert r.code == 0, r.err
    r = l2r("train-mutual", "--data", data, "--grn", root / "grn", *TINY, "--max-steps", "1",
            "--out", root / "mutual")  # fmt: skip
    assert r.code == 0, r.err
    return root / "mutual"


def test_an_exported_mutual_run_needs_none_of_its_sources(l2r, tmp_path, grn_inputs):
    root = tmp_path / "chain"
    root.mkdir()
    run = _chain(l2r, root, grn_inputs)
    torch.manual_seed(0)
    x = torch.rand(3, 3, 32, 32) * 2 - 1
    want = _predict(run, x)
    r = l2r("export-weights", run, tmp_path / "l2r32.pt", "--float32")
    assert r.code == 0, r.err
    r = l2r("export-weights", run, tmp_path / "l2r16.pt")
    assert r.code == 0, r.err
    ck = load_checkpoint(tmp_path / "l2r16.pt", expect_kind="mutual")
    assert set(ck["models"]) == {"arn", "grn", "view", "light", "proxy"}  # no D, no optimizer
    assert all(
        v.dtype == torch.float16 for v in ck["models"]["grn"].values() if v.is_floating_point()
    )
    assert not ck["config"][EXPORT_KEY]["proxy"]["bundled"]  # a proxy of its own: stored
    shutil.rmtree(root)  # proxy, prior, ARN, GRN and the run itself are gone
    got = _predict(tmp_path / "l2r32.pt", x)
    for k in ("depth", "canon_depth", "canon_albedo", "view", "light", "displacement"):
        assert torch.equal(got[k], want[k]), k
    half = _predict(tmp_path / "l2r16.pt", x)
    assert (half["depth"] - want["depth"]).abs().max() < 1e-3
    # the mutual run's own view net is in the file: the proxy's would pose differently
    assert not torch.allclose(
        half["view"], load_refined(tmp_path / "l2r16.pt", "cpu").proxy.predict(x)["view"], atol=1e-6
    )


def test_an_export_on_the_bundled_proxy_names_it_by_hash(l2r, tmp_path, grn_inputs, monkeypatch):
    monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", Path(grn_inputs["proxy"]))
    r = l2r("export-weights", grn_inputs["grn"], tmp_path / "l2r.pt")
    assert r.code == 0, r.err
    ck = load_checkpoint(tmp_path / "l2r.pt", expect_kind="grn")
    assert "proxy" not in ck["models"] and ck["config"][EXPORT_KEY]["proxy"]["bundled"]
    x = torch.rand(2, 3, 32, 32) * 2 - 1
    assert (
        _predict(tmp_path / "l2r.pt", x)["depth"] - _predict(grn_inputs["grn"], x)["depth"]
    ).abs().max() < 1e-3
    # another bundled proxy (a reinstall with new weights): refused in one line, not mixed
    other = load_checkpoint(make_proxy_ckpt(tmp_path / "other.pt"))
    other["step"] = 7  # same seed as the fixture's proxy: make the bytes differ
    torch.save(other, tmp_path / "other.pt")
    monkeypatch.setattr(weights, "DEFAULT_WEIGHTS", tmp_path / "other.pt")
    with pytest.raises(L2RError, match="other bundled proxy weights"):
        load_refined(tmp_path / "l2r.pt", "cpu")
    r = l2r("export-weights", tmp_path / "l2r.pt", tmp_path / "again.pt")
    assert r.code == 2 and "already an exported file" in r.err


def _photo(path: Path, side: int) -> Path:
    rng = np.random.default_rng(side)
    Image.fromarray((rng.random((side, side, 3)) * 255).astype(np.uint8)).save(path)
    return path


def test_model_auto_runs_l2r_on_faces_smaller_than_its_input(tmp_path, grn_inputs):
    from l2r_cli.reconstruct import Reconstructor

    small, large = _photo(tmp_path / "s.png", 20), _photo(tmp_path / "l.png", 48)
    rec = Reconstructor(grn_inputs["grn"], "cpu", detect=False, model="auto")
    assert rec.image_size == 32
    (s,) = rec.reconstruct(small)
    (big,) = rec.reconstruct(large)
    assert s.model["ran"] == "l2r" and s.model["kind"] == "grn" and s.model["face_px"] == 20
    assert "20 photo px, fewer than the L2R model's 32 px" in s.model["why"]
    assert big.model["ran"] == "proxy" and big.model["proxy_of"] == "grn"
    assert "48 photo px, at least the 32 px" in big.model["why"]
    (edge,) = rec.reconstruct(_photo(tmp_path / "e.png", 32))  # the input size: nothing to restore
    assert edge.model["ran"] == "proxy"
    # each path gives what that path alone gives on the same crop
    (s_l2r,) = Reconstructor(grn_inputs["grn"], "cpu", detect=False, model="l2r").reconstruct(small)
    (b_px,) = Reconstructor(grn_inputs["grn"], "cpu", detect=False, model="proxy").reconstruct(
        large
    )
    (s_px,) = Reconstructor(grn_inputs["grn"], "cpu", detect=False, model="proxy").reconstruct(
        small
    )
    assert np.array_equal(s.depth, s_l2r.depth) and np.array_equal(big.depth, b_px.depth)
    assert not np.allclose(s.depth, s_px.depth)  # the two paths differ: the choice matters
    assert s_l2r.model["why"] == "--model l2r"
    # a batch mixing both paths keeps the input order
    many = dict(rec.reconstruct_many([large, small, large]))
    assert [r[0].model["ran"] for r in many.values()] == ["proxy", "l2r"]


def test_model_l2r_needs_an_l2r_checkpoint(l2r, tmp_path, grn_inputs):
    from l2r_cli.reconstruct import Reconstructor

    with pytest.raises(L2RError, match="needs a 'grn' or 'mutual' checkpoint"):
        Reconstructor(grn_inputs["proxy"], "cpu", detect=False, model="l2r")
    (face,) = Reconstructor(grn_inputs["proxy"], "cpu", detect=False).reconstruct(
        _photo(tmp_path / "s.png", 20)
    )
    assert face.model["ran"] == "proxy" and "no L2R stages" in face.model["why"]
    photo = _photo(tmp_path / "t.png", 20)
    r = l2r("reconstruct", photo, "--no-detect", "--ckpt", grn_inputs["proxy"], "--model",
            "l2r", "-o", tmp_path / "o")  # fmt: skip
    assert r.code == 2 and len(r.err.strip().splitlines()) == 1 and "--model l2r" in r.err
    r = l2r("reconstruct", photo, "--no-detect", "--ckpt", grn_inputs["grn"], "-o",
            tmp_path / "o")  # fmt: skip
    assert r.code == 0, r.err
    meta = json.loads((tmp_path / "o" / "t" / "face0" / "meta.json").read_text())
    assert meta["model"]["ran"] == "l2r" and meta["model"]["why"].startswith("--model auto")
