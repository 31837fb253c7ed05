"""`l2r benchmark bfm --report`: Markdown + plots; the per-pose binning by hand."""

from __future__ import annotations

import json

import numpy as np

from l2r_cli.benchmark.report import binned_means


def test_binned_means_hand_values():
    x = np.array([0.0, 5.0, 10.0, 19.0, 35.0, 90.0, 95.0])
    y = np.array([1.0, 3.0, 10.0, 20.0, 7.0, 4.0, 100.0])
    means, counts = binned_means(x, y, (0, 10, 20, 90))
    # [0, 10): 1, 3 -> 2; [10, 20): 10, 20 -> 15; [20, 90]: 7, 4 -> 5.5; 95 is outside
    np.testing.assert_allclose(means, [2.0, 15.0, 5.5])
    np.testing.assert_array_equal(counts, [2, 2, 2])
    means, counts = binned_means(np.array([1.0]), np.array([2.0]), (0, 10, 20))
    assert np.isnan(means[1]) and counts.tolist() == [1, 0]


def test_report_with_pose_curves_on_synth_data(l2r, tmp_path):
    data = tmp_path / "synth"
    assert l2r("synth", data, "--n", "12", "--size", "32", "--split", "0,0,1").code == 0
    rep, js = tmp_path / "rep", tmp_path / "b.json"
    r = l2r("benchmark", "bfm", "--data", data, "--baseline", "--json", js, "--report", rep)
    assert r.code == 0, r.err
    text = (rep / "report.md").read_text()
    for png in ("side_hist.png", "mad_hist.png", "by_yaw.png"):
        assert (rep / png).stat().st_size > 1000 and png in text
    s = json.loads(js.read_text())["results"][0]
    assert f"{s['side_x100_mean']:.3f} ± {s['side_x100_std']:.3f}" in text
    # the detail columns, as in the console table
    assert "detail MAD (deg.)" in text and "band SIDE (×10⁻²)" in text
    assert f"{s['detail_mad_mean']:.2f} ± {s['detail_mad_std']:.2f}" in text
    assert f"{s['band_side_x100_mean']:.4f} ± {s['band_side_x100_std']:.4f}" in text
    assert "By pose" in text and "(n=" in text
    # per-image values for paired comparisons: their mean is the reported mean
    side = s["per_image"]["side_x100"]
    assert len(side) == s["n"] == 12 and abs(np.mean(side) - s["side_x100_mean"]) < 1e-4
    detail = s["per_image"]["detail_mad"]
    assert len(detail) == 12 and abs(np.mean(detail) - s["detail_mad_mean"]) < 1e-3


def test_bfm_columns_show_detail_and_dash_without_it():
    from l2r_cli.benchmark.report import bfm_columns, mean_std

    row = {"stage": "proxy", "name": "m", "n": 2, "side_x100_mean": 1.0, "side_x100_std": 0.1,
           "mad_mean": 20.0, "mad_std": 2.0, "detail_mad_mean": 7.25, "detail_mad_std": 0.5,
           "band_side_x100_mean": 0.0123, "band_side_x100_std": 0.001}  # fmt: skip
    cols = dict(bfm_columns([row], False, {}))
    assert cols["detail MAD (deg.) ↓"](row) == "7.25 ± 0.50"
    assert cols["band SIDE (×10⁻²) ↓"](row) == "0.0123 ± 0.0010"
    assert mean_std({}, "detail_mad", ".2f") == "—"


def test_report_without_view_has_no_pose_section(l2r, tmp_path, depth_dataset):
    rep = tmp_path / "rep"
    r = l2r("benchmark", "bfm", "--data", depth_dataset, "--baseline", "--report", rep)
    assert r.code == 0, r.err
    assert "By pose" not in (rep / "report.md").read_text()
    assert not (rep / "by_yaw.png").exists()
