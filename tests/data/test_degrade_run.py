"""The `l2r degrade` pipeline: what is written and skipped, determinism across worker counts,
crash safety (kill -9, then the same command) and refusals."""

from __future__ import annotations

import hashlib
import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import replace
from pathlib import Path

import h5py
import numpy as np
import pytest
from PIL import Image

import l2r_cli.data.degrade_run as run_mod
from l2r_cli.data.dataset import L2RDataset, open_dataset
from l2r_cli.data.degrade import PARAM_NAMES
from l2r_cli.data.degrade_run import (
    PREVIEW_NAME,
    SKIPPED_NAME,
    WORK_DIR,
    DegradeRunConfig,
    _Lock,
    assign_split,
    run_degrade,
)
from l2r_cli.data.ingest import name_key
from l2r_cli.errors import L2RError
from tests.data.test_ingest import make_hostile_folder

EPOCH = "1700000000"
OUTPUTS = ("train.h5", "val.h5", "test.h5", "manifest.json", SKIPPED_NAME, PREVIEW_NAME)


def make_photo_folder(root: Path, n: int = 30, size: int = 40, bad: bool = True) -> Path:
    """n small random photos in two subfolders (PNG and JPEG), plus two unusable files."""
    rng = np.random.default_rng(0)
    for i in range(n):
        sub = root / ("x" if i % 2 else "y")
        sub.mkdir(parents=True, exist_ok=True)
        img = Image.fromarray(rng.integers(0, 256, (size, size + 8, 3), dtype=np.uint8))
        img.save(sub / f"p{i:03d}.{'jpg' if i % 3 == 0 else 'png'}")
    if bad:
        (root / "x" / "broken.png").write_bytes(b"\x89PNG\r\n\x1a\nnot really")
        Image.new("RGB", (5, 5)).save(root / "tiny.png")
    return root


def _cfg(src: Path, out: Path, **kw) -> DegradeRunConfig:
    base = dict(gt_size=32, lq_size=8, variants=2, workers=0, shard_size=4)
    return DegradeRunConfig(src=str(src), out=str(out), **{**base, **kw})


def _digests(out: Path) -> dict[str, str]:
    return {n: hashlib.sha256((out / n).read_bytes()).hexdigest() for n in OUTPUTS}


@pytest.fixture
def photos(tmp_path) -> Path:
    return make_photo_folder(tmp_path / "photos")


@pytest.fixture
def reference(photos, tmp_path, monkeypatch) -> Path:
    """An uninterrupted in-process run of the photo folder."""
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    out = tmp_path / "ref"
    run_degrade(_cfg(photos, out))
    return out


def test_hostile_folder_written_and_skipped(tmp_path):
    expected = make_hostile_folder(tmp_path / "src")
    out = tmp_path / "out"
    s = run_degrade(_cfg(tmp_path / "src", out, gt_size=32, lq_size=16, variants=3))
    want_written = {k for k, v in expected.items() if v is None}
    want_skipped = {k: v for k, v in expected.items() if v is not None}
    info = open_dataset(out)
    names = []
    for split, sinfo in info.splits.items():
        with h5py.File(sinfo.path, "r") as f:
            names += [n.decode() for n in f["name"][()]]
            assert f["image"].shape[1:] == (32, 32, 3)
            assert f["lq"].shape[1:] == (3, 16, 16, 3) and f["lq"].dtype == np.uint8
            assert f["lq_params"].shape[1:] == (3, len(PARAM_NAMES))
            assert f.attrs["split"] == split
    assert sorted(names) == sorted(want_written)
    rows = (out / SKIPPED_NAME).read_text(encoding="utf-8").splitlines()
    assert rows[0] == "name\treason"
    got = dict(r.split("\t") for r in rows[1:])
    assert set(got) == set(want_skipped)
    for name, reason in want_skipped.items():
        assert reason in got[name], (name, got[name])
    m = json.loads((out / "manifest.json").read_text())
    assert m["counts"]["written"] == s.written == len(want_written)
    assert m["counts"]["skipped"] == s.skipped == len(want_skipped)
    assert m["counts"]["upscaled"] == 0
    assert m["source"]["lq_params"] == list(PARAM_NAMES)
    assert {"numpy", "scipy", "pillow", "h5py", "hdf5"} <= set(m["source"]["libraries"])
    assert m["source"]["args"]["variants"] == 3
    assert Image.open(out / PREVIEW_NAME).size[1] == 32 * 4  # GT row + 3 variant rows
    assert not (out / WORK_DIR).exists()
    ds = L2RDataset(out, "train", fields=("image", "lq", "lq_params", "name"))
    item = ds[0]
    assert item["image"].shape == (3, 32, 32) and item["lq"].shape == (3, 3, 16, 16)


def test_same_bytes_with_0_1_2_workers(photos, reference, tmp_path):
    ref = _digests(reference)
    for workers in (1, 2):
        out = tmp_path / f"w{workers}"
        s = run_degrade(_cfg(photos, out, workers=workers))
        assert s.written == 30 and s.skipped == 2
        assert _digests(out) == ref, workers


def test_skipped_tsv_and_splits(reference, photos):
    rows = (reference / SKIPPED_NAME).read_text().splitlines()[1:]
    assert [r.split("\t")[0] for r in rows] == ["tiny.png", "x/broken.png"]
    m = json.loads((reference / "manifest.json").read_text())
    per_split = m["counts"]["per_split"]
    assert sum(per_split.values()) == 30 and set(per_split) == {"train", "val", "test"}
    with h5py.File(reference / "train.h5") as f:
        names = [n.decode() for n in f["name"][()]]
    assert names == sorted(names)  # sorted relative paths, never completion order
    assert all(assign_split(0, name_key(n), (0.8, 0.1, 0.1)) == "train" for n in names)


def test_split_draw_is_per_file_and_follows_fractions():
    keys = [f"img{i:05d}.png".encode() for i in range(4000)]
    splits = [assign_split(3, k, (0.8, 0.1, 0.1)) for k in keys]
    frac = {s: splits.count(s) / len(keys) for s in ("train", "val", "test")}
    assert abs(frac["train"] - 0.8) < 0.03 and abs(frac["val"] - 0.1) < 0.02
    assert all(assign_split(3, k, (1, 0, 0)) == "train" for k in keys[:50])
    assert splits != [assign_split(4, k, (0.8, 0.1, 0.1)) for k in keys]


def _boom(*args, **kwargs):
    raise RuntimeError("simulated crash")


def test_crash_then_resume_gives_the_same_files(photos, reference, tmp_path, monkeypatch):
    out = tmp_path / "crash"
    real_append = run_mod._append
    calls = {"n": 0}

    def append_then_crash(*args, **kwargs):
        calls["n"] += 1
        if calls["n"] == 3:
            raise RuntimeError("simulated crash")
        return real_append(*args, **kwargs)

    monkeypatch.setattr(run_mod, "_append", append_then_crash)
    with pytest.raises(RuntimeError):
        run_degrade(_cfg(photos, out))
    assert not (out / "manifest.json").exists()
    parts = sorted((out / WORK_DIR / "parts").glob("part-*.npz"))
    assert len(parts) == 3
    parts[1].write_bytes(parts[1].read_bytes()[:100])  # a damaged part is recomputed
    monkeypatch.setattr(run_mod, "_append", real_append)
    # crash again after the split files are in OUT but before the manifest
    monkeypatch.setattr(run_mod, "_write_preview", _boom)
    with pytest.raises(RuntimeError):
        run_degrade(_cfg(photos, out, workers=2))
    assert (out / "train.h5").exists() and not (out / "manifest.json").exists()
    monkeypatch.undo()
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    s = run_degrade(_cfg(photos, out, workers=1))
    assert s.reused_shards == s.total_shards == 8
    assert _digests(out) == _digests(reference)
    again = run_degrade(_cfg(photos, out))
    assert again.already_complete and again.written == 30


def _start(photos: Path, out: Path, workers: int) -> subprocess.Popen:
    env = dict(os.environ, SOURCE_DATE_EPOCH=EPOCH, L2R_DEGRADE_TEST_DELAY="0.15")
    args = ["--gt-size", "32", "--lq-size", "8", "--variants", "2", "--shard-size", "4"]
    cmd = [sys.executable, "-m", "l2r_cli", "degrade", str(photos), str(out), *args]
    return subprocess.Popen(
        [*cmd, "--workers", str(workers)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        start_new_session=True,  # its own process group: cleaned up below, nothing else
    )


def _kill_after_parts(proc: subprocess.Popen, out: Path, parts: int) -> None:
    deadline = time.monotonic() + 120
    folder = out / WORK_DIR / "parts"
    while time.monotonic() < deadline and proc.poll() is None:
        if folder.is_dir() and len(list(folder.glob("part-*.npz"))) >= parts:
            break
        time.sleep(0.02)
    assert proc.poll() is None, proc.stderr.read().decode()
    os.kill(proc.pid, signal.SIGKILL)
    proc.wait()
    # The workers notice that the main process is gone and end on their own.
    deadline = time.monotonic() + 15
    while _live_members(proc.pid) and time.monotonic() < deadline:
        time.sleep(0.1)
    left = _live_members(proc.pid)
    if left:  # clean up our own process group before failing
        os.killpg(proc.pid, signal.SIGKILL)
    assert not left, f"orphaned worker processes: {left}"


def _live_members(pgid: int) -> list[int]:
    """Processes of group ``pgid`` that are still running (zombies excluded; Linux /proc)."""
    if not Path("/proc/self/stat").exists():
        return []
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[2]) == pgid and fields[0] != "Z":
            out.append(int(stat.parent.name))
    return out


def test_kill_9_then_same_command_resumes(photos, reference, tmp_path, monkeypatch):
    out = tmp_path / "killed"
    _kill_after_parts(_start(photos, out, workers=2), out, parts=2)
    assert not (out / "manifest.json").exists()
    done = len(list((out / WORK_DIR / "parts").glob("part-*.npz")))
    assert 2 <= done < 8
    _kill_after_parts(_start(photos, out, workers=1), out, parts=done + 1)
    monkeypatch.setenv("SOURCE_DATE_EPOCH", EPOCH)
    s = run_degrade(_cfg(photos, out, workers=2))
    assert s.reused_shards >= done + 1
    assert _digests(out) == _digests(reference)
    open_dataset(out)


def test_different_arguments_are_refused_unless_overwrite(reference, photos):
    before = _digests(reference)
    with pytest.raises(L2RError, match=r"different arguments \(seed 0 -> 1"):
        run_degrade(_cfg(photos, reference, seed=1))
    with pytest.raises(L2RError, match="variants"):
        run_degrade(_cfg(photos, reference, variants=3))
    assert _digests(reference) == before  # nothing was touched
    s = run_degrade(_cfg(photos, reference, seed=1, overwrite=True))
    assert s.written == 30 and _digests(reference) != before
    (photos / "new.png").write_bytes((photos / "y" / "p000.jpg").read_bytes())
    with pytest.raises(L2RError, match="files in SRC"):
        run_degrade(_cfg(photos, reference, seed=1))


def test_refusals_and_one_line_errors(photos, tmp_path):
    with pytest.raises(L2RError, match="no image files"):
        (tmp_path / "empty").mkdir()
        run_degrade(_cfg(tmp_path / "empty", tmp_path / "o1"))
    with pytest.raises(L2RError, match="SRC not found"):
        run_degrade(_cfg(tmp_path / "nope", tmp_path / "o1"))
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "holiday.jpg").write_bytes(b"x")
    with pytest.raises(L2RError, match="did not make"):
        run_degrade(_cfg(photos, foreign, overwrite=True))
    assert (foreign / "holiday.jpg").exists()
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "a.png").write_text("text")
    with pytest.raises(L2RError, match="none of the 1 image files"):
        run_degrade(_cfg(bad, tmp_path / "o2"))
    assert "not an image" in (tmp_path / "o2" / SKIPPED_NAME).read_text()
    with pytest.raises(L2RError, match="multiple"):
        run_degrade(_cfg(photos, tmp_path / "o3", gt_size=30))
    held = _Lock(tmp_path / "o4" / WORK_DIR)
    try:
        with pytest.raises(L2RError, match="another l2r degrade"):
            run_degrade(_cfg(photos, tmp_path / "o4"))
    finally:
        held.release()


def test_out_inside_src_is_not_scanned(photos):
    out = photos / "degraded"
    s = run_degrade(_cfg(photos, out))
    assert s.written == 30
    s2 = run_degrade(replace(_cfg(photos, out)))
    assert s2.already_complete


def test_upscaled_images_are_counted(tmp_path):
    src = tmp_path / "small"
    src.mkdir()
    for i in range(3):
        Image.new("RGB", (20, 20), (i * 50, 0, 0)).save(src / f"{i}.png")
    s = run_degrade(_cfg(src, tmp_path / "o", split=(1, 0, 0)))
    assert s.upscaled == 3 and s.per_split == {"train": 3}
    assert sorted(p.name for p in (tmp_path / "o").glob("*.h5")) == ["train.h5"]
