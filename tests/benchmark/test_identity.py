"""Cross-view identity benchmark: the pipeline with hand-checkable embedders, dlib, the CLI."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch
from skimage import data

from l2r_cli.benchmark.identity import DlibEmbedder, TorchScriptEmbedder, evaluate_identity
from tests.stages.test_arn_stage import make_lq_dataset, make_proxy_ckpt


class _Constant(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.ones(x.shape[0], 4) + 0 * x.mean()


class _MeanColour(torch.nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x.mean(dim=(2, 3))


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("identity")
    x = (torch.rand(2, 3, 112, 112) * 2 - 1,)
    dim = {0: torch.export.Dim("batch", min=1, max=64)}
    for name, m in (("const", _Constant()), ("mean", _MeanColour())):
        torch.export.save(torch.export.export(m, x, dynamic_shapes=(dim,)), tmp / f"{name}.pt2")
    return {"data": make_lq_dataset(tmp / "ds"), "proxy": make_proxy_ckpt(tmp / "proxy.pt"),
            "tmp": tmp}  # fmt: skip


def test_constant_embedder_scores_exactly_one(inputs):
    emb = TorchScriptEmbedder(inputs["tmp"] / "const.pt2", torch.device("cpu"))
    r = evaluate_identity(inputs["proxy"], inputs["data"], emb).summary()
    assert r["n"] == 4
    assert r["cos_mean"] == pytest.approx(1.0, abs=1e-12)
    assert set(r["per_view"]) == {"original", "frontal", "yaw+45", "yaw-45", "pitch+45", "pitch-45"}


def test_scores_are_cosines_of_the_embeddings(inputs):
    # mean-colour embedder: every cosine lies in [-1, 1]; chance uses another face's original
    emb = TorchScriptEmbedder(inputs["tmp"] / "mean.pt2", torch.device("cpu"))
    r = evaluate_identity(inputs["proxy"], inputs["data"], emb, input_field="image", limit=3)
    s = r.summary()
    assert s["n"] == 3 and len(r.chance) == 3
    assert all(-1 <= v <= 1 for v in r.scores)
    mean_of_views = np.mean([r.per_view[k] for k in r.per_view], axis=0)
    np.testing.assert_allclose(r.scores, mean_of_views, atol=1e-12)


def test_dlib_embedder_same_face_close_other_far():
    from PIL import Image

    def face(img):
        return np.asarray(Image.fromarray(img).convert("RGB").resize((150, 150), Image.BICUBIC))

    a = data.astronaut()
    lfw = (data.lfw_subset()[:2] * 255).astype(np.uint8)  # two other people, 25 px grey
    e = DlibEmbedder().embed(
        np.stack([face(a[30:185, 148:303]), face(a[33:188, 145:300]), face(lfw[0]), face(lfw[1])])
    )
    assert e.shape == (4, 128)
    dist = np.linalg.norm(e[:, None] - e[None], axis=-1)
    assert dist[0, 1] < 0.4  # the same face, crop shifted by 3 px (dlib: < 0.6 = same person)
    assert dist[0, 2] > 0.6 and dist[0, 3] > 0.6 and dist[2, 3] > 0.6


def test_cli_identity_and_errors(l2r, inputs, tmp_path):
    out = tmp_path / "id.json"
    r = l2r("benchmark", "identity", "--data", inputs["data"], inputs["proxy"],
            "--embedder", inputs["tmp"] / "const.pt2", "--json", out,
            "--report", tmp_path / "rep")  # fmt: skip
    assert r.code == 0, r.err
    res = json.loads(out.read_text())["results"]
    assert res[0]["cos_mean"] == pytest.approx(1.0)
    assert res[0]["per_image"]["cos"] == pytest.approx([1.0] * res[0]["n"], abs=1e-5)
    assert len(res[0]["per_image"]["chance"]) == res[0]["n"]
    report = (tmp_path / "rep" / "report.md").read_text()
    assert "| 4 | 1.0000 ± 0.0000 |" in report
    assert (tmp_path / "rep" / "hist.png").is_file() and (tmp_path / "rep" / "bars.png").is_file()
    r = l2r("benchmark", "identity", "--data", inputs["data"], inputs["proxy"], inputs["proxy"],
            "--embedder", inputs["tmp"] / "const.pt2", "--compare")  # fmt: skip
    assert r.code == 0, r.err
    assert "(2)" in r.out and "+0.0000" in r.out
    r = l2r("benchmark", "identity", "--data", inputs["data"], inputs["proxy"],
            "--embedder", tmp_path / "none.pt")  # fmt: skip
    assert r.code == 2 and "no such file" in r.err
    for name in ("bad.pt", "bad.pt2"):
        (tmp_path / name).write_text("not a model")
        r = l2r("benchmark", "identity", "--data", inputs["data"], inputs["proxy"],
                "--embedder", tmp_path / name)  # fmt: skip
        assert r.code == 2 and "not a torch.export or TorchScript model" in r.err
    r = l2r("benchmark", "identity", "--data", inputs["data"])
    assert r.code == 2 and "at least one checkpoint" in r.err
