"""l2r dataset format: writer/reader round trip, chunking, resizing, workers, validation errors."""

from __future__ import annotations

import json
import pickle
from pathlib import Path
from typing import Any

import h5py
import numpy as np
import pytest
import torch
from torch.utils.data import DataLoader

from l2r_cli.data.dataset import (
    MANIFEST_NAME,
    SCHEMA_NAME,
    SCHEMA_VERSION,
    DatasetWriter,
    FieldSpec,
    L2RDataset,
    describe_dataset,
    open_dataset,
    standard_fields,
)
from l2r_cli.errors import L2RError

S = 8  # stored image size
K, H_LQ, P = 2, 4, 3  # degraded variants, their size, parameters per variant
ALL = ("image", "depth", "mask", "canon_depth", "canon_albedo", "lq", "lq_params", "name")


def _sample(rng: np.random.Generator, i: int) -> dict[str, Any]:
    """One random sample carrying every reserved field."""
    return {
        "image": rng.integers(0, 256, (S, S, 3), dtype=np.uint8),
        "depth": rng.uniform(0.9, 1.1, (S, S)).astype(np.float32),
        "mask": rng.integers(0, 2, (S, S), dtype=np.uint8),
        "canon_depth": rng.uniform(0.9, 1.1, (S, S)).astype(np.float32),
        "canon_albedo": rng.integers(0, 256, (S, S, 3), dtype=np.uint8),
        "lq": rng.integers(0, 256, (K, H_LQ, H_LQ, 3), dtype=np.uint8),
        "lq_params": rng.standard_normal((K, P)).astype(np.float32),
        "name": f"personne_{i}/visage_é_{i}_日本.png",
    }


def _fields() -> dict[str, FieldSpec]:
    return standard_fields(S, depth=True, mask=True, canon_size=S, lq=(K, H_LQ), lq_params=P)


def _write(root: Path, n: dict[str, int] | None = None, seed: int = 0) -> dict[str, list[dict]]:
    """Write a dataset with all reserved fields; returns the samples written per split."""
    rng = np.random.default_rng(seed)
    written: dict[str, list[dict]] = {}
    with DatasetWriter(root, S, _fields(), source={"generator": "test", "seed": seed}) as w:
        for split, count in (n or {"train": 5, "val": 2}).items():
            written[split] = [_sample(rng, i) for i in range(count)]
            for s in written[split]:
                w.append(split, s)
    return written


@pytest.fixture
def dataset(tmp_path: Path) -> tuple[Path, dict[str, list[dict]]]:
    root = tmp_path / "ds"
    return root, _write(root)


# -- round trip ---------------------------------------------------------------------------------


def test_round_trip_all_fields(dataset: tuple[Path, dict[str, list[dict]]]) -> None:
    root, written = dataset
    info = open_dataset(root)
    assert info.image_size == S
    assert {s: i.n for s, i in info.splits.items()} == {"train": 5, "val": 2}
    assert set(info.splits["train"].fields) == set(ALL)
    assert info.splits["train"].fields["lq"] == FieldSpec((K, H_LQ, H_LQ, 3), "uint8")

    for split, samples in written.items():
        ds = L2RDataset(root, split, fields=ALL)
        assert len(ds) == len(samples)
        for i, ref in enumerate(samples):
            item = ds[i]
            assert item["index"] == i
            assert item["name"] == ref["name"]
            img = item["image"]
            assert img.shape == (3, S, S) and img.dtype == torch.float32
            assert 0.0 <= img.min() and img.max() <= 1.0
            assert torch.equal(img, torch.from_numpy(ref["image"]).permute(2, 0, 1) / 255.0)
            assert torch.equal(item["depth"], torch.from_numpy(ref["depth"]))
            assert item["mask"].dtype == torch.float32
            assert torch.equal(item["mask"], torch.from_numpy(ref["mask"]).float())
            assert torch.equal(item["canon_depth"], torch.from_numpy(ref["canon_depth"]))
            albedo = torch.from_numpy(ref["canon_albedo"]).permute(2, 0, 1) / 255.0
            assert torch.equal(item["canon_albedo"], albedo)
            assert item["lq"].shape == (K, 3, H_LQ, H_LQ)
            assert torch.equal(item["lq"], torch.from_numpy(ref["lq"]).permute(0, 3, 1, 2) / 255.0)
            assert torch.equal(item["lq_params"], torch.from_numpy(ref["lq_params"]))
        assert ds[-1]["index"] == len(samples) - 1
        with pytest.raises(IndexError):
            ds[len(samples)]


def test_manifest_and_file_attributes(dataset: tuple[Path, dict[str, list[dict]]]) -> None:
    root, _ = dataset
    m = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    assert m["schema"] == SCHEMA_NAME and m["schema_version"] == SCHEMA_VERSION
    assert m["image_size"] == S and m["source"] == {"generator": "test", "seed": 0}
    assert m["splits"]["train"]["file"] == "train.h5" and m["splits"]["train"]["n"] == 5
    assert m["splits"]["val"]["fields"]["depth"] == {"shape": [S, S], "dtype": "float32"}
    assert m["splits"]["val"]["fields"]["name"] == {"shape": [], "dtype": "str"}
    assert "created" in m and "l2r_version" in m
    assert not list(root.glob(".manifest-*"))  # the temp file was renamed
    with h5py.File(root / "val.h5", "r") as f:
        assert f.attrs["schema"] == SCHEMA_NAME and f.attrs["schema_version"] == SCHEMA_VERSION
        assert f.attrs["split"] == "val" and f.attrs["n"] == 2 and f.attrs["image_size"] == S
        assert json.loads(f.attrs["source"])["generator"] == "test"


def test_chunks_are_one_sample(dataset: tuple[Path, dict[str, list[dict]]]) -> None:
    root, _ = dataset
    with h5py.File(root / "train.h5", "r") as f:
        assert f["image"].chunks == (1, S, S, 3)
        assert f["depth"].chunks == (1, S, S)
        assert f["mask"].chunks == (1, S, S)
        assert f["canon_albedo"].chunks == (1, S, S, 3)
        assert f["lq"].chunks == (1, K, H_LQ, H_LQ, 3)
        assert f["image"].maxshape == (None, S, S, 3)
        assert all(f[k].shape[0] == 5 for k in ALL)  # grown in steps, trimmed on close
        assert h5py.check_string_dtype(f["name"].dtype).encoding == "utf-8"


def test_append_many_custom_fields_and_growth(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    n = 150  # more than the first growth step of 64
    images = rng.integers(0, 256, (n, S, S, 3), dtype=np.uint8)
    landmarks = rng.standard_normal((n, 5, 2))  # float64, stored as float32
    labels = np.arange(n, dtype=np.int64)
    fields = {"landmarks": FieldSpec((5, 2), "float32"), "label": FieldSpec((), "int64")}
    with DatasetWriter(tmp_path / "d", S, fields, compression="gzip") as w:
        first = {"image": images[:100], "landmarks": landmarks[:100], "label": labels[:100]}
        assert w.append_many("train", first) == range(0, 100)
        names = [f"x{i}" for i in range(100, n)]
        rest = {"image": images[100:], "landmarks": landmarks[100:], "label": labels[100:]}
        assert w.append_many("train", {**rest, "name": names}) == range(100, n)
        assert w.counts == {"train": n}
    with h5py.File(tmp_path / "d" / "train.h5", "r") as f:
        assert f["image"].shape == (n, S, S, 3) and f["image"].compression == "gzip"
        assert f["label"].chunks[0] > 1  # tiny per-sample fields share chunks
        assert f["name"].compression is None
    ds = L2RDataset(tmp_path / "d", "train", fields=("image", "landmarks", "label", "name"))
    item = ds[120]
    assert torch.equal(item["image"], torch.from_numpy(images[120]).permute(2, 0, 1) / 255.0)
    assert item["landmarks"].dtype == torch.float32
    assert torch.allclose(item["landmarks"], torch.from_numpy(landmarks[120]).float())
    assert item["label"].dtype == torch.float32 and item["label"].item() == 120.0
    assert item["name"] == "x120"
    assert ds[7]["name"] == "00000007"  # default name: the zero-padded index


def test_declared_split_subset_and_empty_split(tmp_path: Path) -> None:
    with DatasetWriter(tmp_path / "d", S, standard_fields(S, depth=True)) as w:
        w.declare_split("test", fields=())
        w.declare_split("val")
        w.append("train", {"image": np.zeros((S, S, 3), np.uint8), "depth": np.ones((S, S))})
        w.append("test", {"image": np.zeros((S, S, 3), np.uint8), "name": "real.jpg"})
        with pytest.raises(ValueError, match="depth"):
            w.append("test", {"image": np.zeros((S, S, 3), np.uint8), "depth": np.ones((S, S))})
    info = open_dataset(tmp_path / "d")
    assert set(info.splits["test"].fields) == {"image", "name"}
    assert info.splits["val"].n == 0 and len(L2RDataset(tmp_path / "d", "val")) == 0
    with pytest.raises(L2RError, match="no field.*depth"):
        L2RDataset(tmp_path / "d", "test", fields=("image", "depth"))


# -- resizing ---------------------------------------------------------------------------------


def test_resize_downsamples_with_antialiasing(tmp_path: Path) -> None:
    stripes = np.zeros((S, S, 3), np.uint8)
    stripes[:, ::4] = 255  # a bright column every 4 pixels: mean 0.25
    mask = np.zeros((S, S), np.uint8)
    mask[:, S // 2 :] = 1
    sample = {
        "image": stripes,
        "depth": np.full((S, S), 1.05, np.float32),
        "mask": mask,
        "canon_depth": np.full((S, S), 0.95, np.float32),
        "canon_albedo": np.full((S, S, 3), 51, np.uint8),
        "lq": np.zeros((K, H_LQ, H_LQ, 3), np.uint8),
        "lq_params": np.zeros((K, P), np.float32),
        "canon_mask": mask,  # an extra field named like a mask is treated like one
    }
    fields = {**_fields(), "canon_mask": FieldSpec((S, S), "uint8")}
    with DatasetWriter(tmp_path / "d", S, fields) as w:
        with pytest.raises(ValueError, match="'canon_mask' must hold 0"):
            w.append("train", {**sample, "canon_mask": mask * 255})
        w.append("train", sample)
    t = S // 4
    small = L2RDataset(tmp_path / "d", "train", fields=(*ALL, "canon_mask"), image_size=t)[0]
    # 4x down: plain bilinear samples between the stripes and returns 0 everywhere; the
    # antialiased filter sees them (0.25 on average, less at the truncated border).
    assert small["image"].shape == (3, t, t)
    assert 0.15 < small["image"].min() and small["image"].max() < 0.35
    assert torch.allclose(small["depth"], torch.full((t, t), 1.05))
    assert torch.allclose(small["canon_depth"], torch.full((t, t), 0.95))
    assert torch.allclose(small["canon_albedo"], torch.full((3, t, t), 0.2))
    assert torch.equal(small["mask"], torch.tensor([[0.0, 1.0], [0.0, 1.0]]))  # nearest: binary
    assert torch.equal(small["canon_mask"], small["mask"])
    assert small["lq"].shape == (K, 3, H_LQ, H_LQ)  # lq keeps its own size
    big = L2RDataset(tmp_path / "d", "train", fields=("image", "mask"), image_size=2 * S)[0]
    assert big["image"].shape == (3, 2 * S, 2 * S) and big["mask"].shape == (2 * S, 2 * S)
    assert 0.0 <= big["image"].min() and big["image"].max() <= 1.0
    assert set(big["mask"].unique().tolist()) == {0.0, 1.0}


# -- workers and pickling -----------------------------------------------------------------------


def _assert_batch_matches(batch: dict[str, Any], ds: L2RDataset) -> None:
    for j, idx in enumerate(batch["index"].tolist()):
        ref = ds[idx]
        assert torch.equal(batch["image"][j], ref["image"])
        assert torch.equal(batch["depth"][j], ref["depth"])
        assert batch["name"][j] == ref["name"]


def test_dataloader_workers_read_correct_items(
    dataset: tuple[Path, dict[str, list[dict]]],
) -> None:
    root, written = dataset
    ds = L2RDataset(root, "train", fields=("image", "depth", "name"))
    assert ds._h5 is None  # the constructor keeps no file open
    first = ds[0]  # opens a handle in the parent, inherited by the forked workers
    parent_handle = ds._h5
    loader = DataLoader(ds, batch_size=2, num_workers=2, shuffle=False)
    batches = list(loader)
    assert torch.cat([b["index"] for b in batches]).tolist() == list(range(len(written["train"])))
    for batch in batches:
        _assert_batch_matches(batch, ds)
    assert ds._h5 is parent_handle and torch.equal(ds[0]["image"], first["image"])


def test_dataloader_spawn_workers(dataset: tuple[Path, dict[str, list[dict]]]) -> None:
    root, _ = dataset
    ds = L2RDataset(root, "train", fields=("image", "depth", "name"))
    ds[1]  # an open handle must not stop the dataset from pickling to spawned workers
    loader = DataLoader(ds, batch_size=5, num_workers=1, multiprocessing_context="spawn")
    (batch,) = list(loader)
    _assert_batch_matches(batch, ds)


def test_pickle_after_reading(dataset: tuple[Path, dict[str, list[dict]]]) -> None:
    root, _ = dataset
    ds = L2RDataset(root, "val", fields=ALL, image_size=4)
    before = ds[1]
    clone = pickle.loads(pickle.dumps(ds))
    assert clone._h5 is None and len(clone) == 2
    after = clone[1]
    for k in ALL:
        if isinstance(before[k], torch.Tensor):
            assert torch.equal(before[k], after[k]), k
        else:
            assert before[k] == after[k]
    ds.close()
    assert ds._h5 is None and torch.equal(ds[1]["image"], before["image"])


# -- describe --------------------------------------------------------------------------------


def test_describe_dataset(dataset: tuple[Path, dict[str, list[dict]]]) -> None:
    root, _ = dataset
    d = describe_dataset(root)
    json.dumps(d)  # serialisable for `l2r info --json`
    assert d["kind"] == "dataset" and d["schema_version"] == SCHEMA_VERSION
    assert d["image_size"] == S and d["num_samples"] == 7
    assert d["splits"]["train"]["n"] == 5 and d["splits"]["train"]["bytes"] > 0
    assert d["splits"]["val"]["fields"]["lq_params"] == {"shape": [K, P], "dtype": "float32"}
    assert d["source"] == {"generator": "test", "seed": 0}


# -- validation errors ----------------------------------------------------------------------------


def _edit_manifest(root: Path, **changes: Any) -> None:
    path = root / MANIFEST_NAME
    m = json.loads(path.read_text(encoding="utf-8"))
    m.update(changes)
    path.write_text(json.dumps(m), encoding="utf-8")


def _replace_image(root: Path, data: np.ndarray | None) -> None:
    with h5py.File(root / "train.h5", "a") as f:
        del f["image"]
        if data is not None:
            f.create_dataset("image", data=data)


def _set_train_n(root: Path, n: int) -> None:
    m = json.loads((root / MANIFEST_NAME).read_text(encoding="utf-8"))
    m["splits"]["train"]["n"] = n
    (root / MANIFEST_NAME).write_text(json.dumps(m), encoding="utf-8")


BREAKAGES = {
    "missing": (lambda r: r.rename(r.with_name("gone")), "not found", ""),
    "file": (lambda r: _as_file(r), "directory", ""),
    "no_manifest": (lambda r: (r / MANIFEST_NAME).unlink(), "no manifest.json", ""),
    "bad_json": (lambda r: (r / MANIFEST_NAME).write_text("{oops"), "not valid JSON", "manifest"),
    "schema": (lambda r: _edit_manifest(r, schema="other"), "schema", "manifest"),
    "newer": (lambda r: _edit_manifest(r, schema_version=99), "newer", "manifest"),
    "split_missing": (lambda r: (r / "train.h5").unlink(), "missing", "train.h5"),
    "not_hdf5": (lambda r: (r / "train.h5").write_bytes(b"no"), "HDF5", "train.h5"),
    "no_image": (lambda r: _replace_image(r, None), "no 'image'", "train.h5"),
    "image_dtype": (
        lambda r: _replace_image(r, np.zeros((5, S, S, 3), np.float32)),
        "expected uint8",
        "train.h5",
    ),
    "image_shape": (
        lambda r: _replace_image(r, np.zeros((5, S, S + 1, 3), np.uint8)),
        "expected uint8",
        "train.h5",
    ),
    "count": (lambda r: _set_train_n(r, 6), "6 samples", "train.h5"),
}


def _as_file(root: Path) -> None:
    for p in root.iterdir():
        p.unlink()
    root.rmdir()
    root.write_text("not a dataset")


@pytest.mark.parametrize("case", sorted(BREAKAGES))
def test_validation_errors(case: str, dataset: tuple[Path, dict[str, list[dict]]]) -> None:
    root, _ = dataset
    breakage, problem, where = BREAKAGES[case]
    breakage(root)
    for call in (open_dataset, describe_dataset, lambda r: L2RDataset(r, "val")):
        with pytest.raises(L2RError) as e:
            call(root)
        msg = str(e.value)
        assert "\n" not in msg
        assert problem in msg, msg
        assert str(root) in msg and where in msg, msg


def test_missing_split_lists_available(dataset: tuple[Path, dict[str, list[dict]]]) -> None:
    root, _ = dataset
    with pytest.raises(L2RError, match=r"no split 'test' \(available: train, val\)"):
        L2RDataset(root, "test")
    with pytest.raises(L2RError, match="has no field.*albedo"):
        L2RDataset(root, "train", fields=("image", "albedo"))


# -- writer safety and misuse -------------------------------------------------------------------


def test_overwrite_refused_then_allowed(dataset: tuple[Path, dict[str, list[dict]]]) -> None:
    root, _ = dataset
    with pytest.raises(L2RError, match="already exists") as e:
        DatasetWriter(root, S)
    assert str(root) in str(e.value)
    assert open_dataset(root).splits["train"].n == 5  # untouched
    with DatasetWriter(root, S, overwrite=True) as w:
        w.append("test", {"image": np.zeros((S, S, 3), np.uint8)})
    info = open_dataset(root)
    assert set(info.splits) == {"test"} and not (root / "train.h5").exists()


def test_refuses_foreign_directory_and_file(tmp_path: Path) -> None:
    (tmp_path / "photos").mkdir()
    (tmp_path / "photos" / "me.jpg").write_bytes(b"jpeg")
    for overwrite in (False, True):
        with pytest.raises(L2RError, match="not an l2r dataset"):
            DatasetWriter(tmp_path / "photos", S, overwrite=overwrite)
    assert (tmp_path / "photos" / "me.jpg").exists()
    (tmp_path / "f").write_text("x")
    with pytest.raises(L2RError, match="not a directory"):
        DatasetWriter(tmp_path / "f", S)


def test_exception_in_writer_leaves_no_manifest(tmp_path: Path) -> None:
    root = tmp_path / "d"
    with pytest.raises(RuntimeError, match="boom"), DatasetWriter(root, S) as w:
        w.append("train", {"image": np.zeros((S, S, 3), np.uint8)})
        raise RuntimeError("boom")
    assert (root / "train.h5").exists() and not (root / MANIFEST_NAME).exists()
    with pytest.raises(L2RError, match="no manifest.json"):
        open_dataset(root)
    with pytest.raises(L2RError, match="already exists"):  # incomplete datasets are ours too
        DatasetWriter(root, S)
    DatasetWriter(root, S, overwrite=True).close()
    assert open_dataset(root).splits == {}


def test_writer_rejects_bad_samples(tmp_path: Path) -> None:
    img = np.zeros((S, S, 3), np.uint8)
    with pytest.raises(ValueError, match="reserved field 'depth'"):
        DatasetWriter(tmp_path / "a", S, {"depth": FieldSpec((S, S), "uint8")})
    with pytest.raises(ValueError, match="implicit"):
        DatasetWriter(tmp_path / "b", S, {"image": FieldSpec((S, S, 3), "uint8")})
    with DatasetWriter(tmp_path / "c", S, standard_fields(S, mask=True)) as w:
        with pytest.raises(ValueError, match="must be uint8"):
            w.append("train", {"image": img.astype(np.float32), "mask": img[..., 0]})
        with pytest.raises(ValueError, match="shape"):
            w.append("train", {"image": img[:-1], "mask": img[..., 0]})
        with pytest.raises(ValueError, match="lacks declared"):
            w.append("train", {"image": img})
        with pytest.raises(ValueError, match="not declared"):
            w.append("train", {"image": img, "mask": img[..., 0], "normal": img})
        with pytest.raises(ValueError, match="0 .*or 1"):
            w.append("train", {"image": img, "mask": np.full((S, S), 255, np.uint8)})
        with pytest.raises(ValueError, match="string"):
            w.append("train", {"image": img, "mask": img[..., 0], "name": 3})
        w.append("train", {"image": img, "mask": np.ones((S, S), bool)})  # bool casts safely
        with pytest.raises(ValueError, match="must be uint8"):
            w.append("val", {"image": img.astype(np.float32), "mask": img[..., 0]})
    assert not (tmp_path / "c" / "val.h5").exists()  # a refused first sample creates no file
    info = open_dataset(tmp_path / "c")
    assert set(info.splits) == {"train"} and info.splits["train"].n == 1
    with pytest.raises(ValueError, match="closed"):
        w.append("train", {"image": img, "mask": img[..., 0]})
