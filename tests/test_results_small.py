"""examples/analysis/results_small.py (docs/RESULTS.md's writer) on hand-made benchmark JSON."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from pathlib import Path

SCRIPT = Path(__file__).resolve().parents[1] / "examples" / "analysis" / "results_small.py"
MUTUALS = ["mutual", "mutual_noprior", "mutual_nomulti", "mutual_noguide", "mutual_nodecoder",
           "mutual_noimg", "mutual_nodisp", "mutual_nocross"]  # fmt: skip


def _module():
    spec = importlib.util.spec_from_file_location("results_small", SCRIPT)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_claim_sign_and_standard_errors():
    claim = _module().claim
    a = {"side_mean": 1.0, "side_std": 0.2, "n": 100}
    b = {"side_mean": 1.1, "side_std": 0.2, "n": 100}
    # lower is better: a beats b by 0.1; SE = sqrt(0.04/100 * 2) = 0.028284 -> 3.5 SE
    row = claim("a beats b", a, b, "side", lower=True)
    assert "+0.1000" in row and f"{0.1 / math.sqrt(0.0008):+.1f}" == "+3.5" and "+3.5" in row
    assert "| holds |" in row
    row = claim("b beats a", b, a, "side", lower=True)
    assert "-0.1000" in row and "**does not hold** |" in row
    close = {"side_mean": 1.01, "side_std": 0.2, "n": 100}
    assert "within 2 SE" in claim("a beats close", a, close, "side", lower=True)
    assert "(unpaired)" in row
    # paired over the same faces: differences 0.5, 0.4, 0.7 -> mean 0.5333, sample std 0.15275,
    # SE 0.08819, 6.0 SE (the unpaired SE from these stds would be far larger)
    a = {"side_mean": 2.0, "side_std": 0.8165, "n": 3, "per_image": {"side": [1.0, 2.0, 3.0]}}
    b = {"side_mean": 2.5333, "side_std": 0.9, "n": 3, "per_image": {"side": [1.5, 2.4, 3.7]}}
    row = claim("a beats b", a, b, "side", lower=True)
    assert "| +0.5333 | +6.0 (paired) | holds |" in row


def _write(out: Path, detail: bool = False) -> None:
    """A fake OUT of reproduce_small.sh: every run gets distinct made-up scores (with
    ``detail``, also the fine-detail scores of benchmark bfm and texture)."""
    b = out / "bench"
    b.mkdir(parents=True)
    runs = [f"{out}/l2r/{m}" for m in MUTUALS] + [f"{out}/proxy_hq", f"{out}/proxy_lq",
                                                   f"{out}/l2r/arn", f"{out}/l2r/grn"]  # fmt: skip

    def geo(i, stage="mutual"):
        return {"side_x100_mean": 1.0 + i / 100, "side_x100_std": 0.1, "mad_mean": 20.0 + i,
                "mad_std": 1.0, "n": 50, "stage": stage}  # fmt: skip

    rows = [{"name": r, **geo(i)} for i, r in enumerate(runs)]
    if detail:  # the full model's detail MAD 9.0, every other run's 10.0 + i
        for i, r in enumerate(rows):
            r.update(detail_mad_mean=9.0 if i == 0 else 10.0 + i, detail_mad_std=1.0,
                     band_side_x100_mean=0.05, band_side_x100_std=0.01)  # fmt: skip
    # the full model's own template: 1.25 / 25.0, a 20 % shape gain in both metrics
    rows[0]["own_template"] = {"side_x100_mean": 1.25, "side_x100_std": 0.1, "mad_mean": 25.0,
                               "mad_std": 1.0}  # fmt: skip
    rows[0].update(shape_gain_side=0.2, shape_gain_side_se=0.01, shape_gain_mad=0.2,
                   shape_gain_mad_se=0.02)  # fmt: skip
    rows.append({"name": "constant depth", **geo(40, "baseline")})
    rows.append({"name": "template (true pose)", **geo(-20, "template")})
    (b / "bfm_lq.json").write_text(json.dumps({"results": rows}))
    origin = [{"name": f"{out}/proxy_hq", **geo(-5)}, {"name": f"{out}/l2r/mutual", **geo(-6)}]
    (b / "bfm_origin.json").write_text(json.dumps({"results": origin}))
    tex = []
    for i, r in enumerate(runs):
        tex.append({"name": f"proxy (of {r})", "ssim_mean": 0.1, "ssim_std": 0.01, "n": 50})
        tex.append({"name": f"mutual ({r})", "ssim_mean": 0.5 - i / 100, "ssim_std": 0.01,
                    "n": 50})  # fmt: skip
        if detail:
            tex[-1].update(hf_ratio_mean=0.5 + i / 10, hf_ratio_std=0.1)
    (b / "texture_lq.json").write_text(json.dumps({"results": tex}))
    o = [{"name": f"proxy ({out}/proxy_hq)", "ssim_mean": 0.7, "ssim_std": 0.01, "n": 50}]
    (b / "texture_origin.json").write_text(json.dumps({"results": o}))
    ident = [{"name": r, "cos_mean": 0.9 - i / 1000, "cos_std": 0.02, "chance_mean": 0.85,
              "chance_std": 0.02, "n": 30} for i, r in enumerate(runs)]  # fmt: skip
    (b / "identity_lq.json").write_text(json.dumps({"results": ident}))
    (b / "identity_origin.json").write_text(json.dumps({"results": ident[8:9]}))
    (out / "commands.log").write_text(
        f"l2r benchmark bfm --data {out}/deg_test --json {out}/bench/bfm_lq.json\n"
        f"l2r --seed 0 train-arn --data {out}/deg_train --out {out}/l2r/arn\n"
        f"l2r train-proxy --config /other/clone/examples/configs/v5.toml --out {out}/proxy_hq\n"
    )
    (out / "timing.txt").write_text(
        "started 2026-11-27 00:00:00 UTC (PRESET=quick) at commit abc1234\n"
        "resumed 2026-11-27 01:00:00 UTC at commit def5678 (parts already done are skipped)\n"
    )


def test_tables_from_json(tmp_path):
    out = tmp_path / "repro"
    _write(out)
    r = subprocess.run([sys.executable, str(SCRIPT), str(out), "--preset", "quick"],
                       capture_output=True, text=True, check=True)  # fmt: skip
    md = r.stdout
    for table in ("Table 2 layout", "Table 3 layout", "Table 4 layout", "Table 7 layout"):
        assert table in md
    # Table 2 row (1) is the full model's bfm row, with the paper's value beside it
    assert "| (1) | Ours-full | l2r/mutual | 1.000 ± 0.100 | 20.00 ± 1.00 | 0.710 | 14.70 |" in md
    assert "| (3) | w/o StyleGAN prior + DFDNet | — | not run" in md
    # Table 4 row (3): the original-image proxy on original inputs (bfm_origin.json)
    assert "| (3) | Unsup3D origin | original | proxy_hq | 0.950 ± 0.100 | 15.00 ± 1.00 |" in md
    # the full model has the lowest SIDE of the ablations here: the claim holds by 0.01 / SE
    se = math.sqrt(2 * 0.1**2 / 50)
    want = (
        f"| Ours-full beats 'w/o StyleGAN prior' | side | +0.0100 | {0.01 / se:+.1f} (unpaired) |"
    )
    assert want in md
    # texture rows: the whole model's row, not 'proxy (of X)'
    assert "| (6) | w/o GRN (proxy geometry + ARN albedo) | l2r/arn |" in md
    assert "0.4000 ± 0.0100" in md  # arn is run 10: 0.5 - 10/100
    assert "$OUT/deg_test" in md and str(out) not in md
    # a command logged from another checkout: no machine path in the results
    assert "--config examples/configs/v5.toml --out $OUT/proxy_hq" in md and "/other" not in md
    assert "Tables 5 and 6" in md
    # the summary counts every checked claim once: 14 in Table 2, 12 in Table 3, 6 in
    # Table 4, 5 in Table 7
    assert "of the 37 comparisons" in md
    # the headline: L2R first against the pretrained proxy and the template in the true pose,
    # with its own template and shape gain; the template row is better here (0.80 vs 1.00)
    assert "trained at commit `abc1234` (resumed at `def5678`)" in md
    head = md[md.index("## Headline") : md.index("## Table 2")]
    assert (
        "| L2R (proxy + ARN + GRN + mutual) | l2r/mutual | 1.000 ± 0.100 | 20.00 ± 1.00 "
        "| 1.250, 25.00 | +20.0 ± 1.0 %, +20.0 ± 2.0 % |" in head
    )
    assert head.index("pretrained proxy, same degraded input") < head.index("template in the")
    assert head.index("template in the") < head.index("proxy retrained on degraded inputs")
    assert "| template in the true pose | — | 0.800 ± 0.100 | 0.00 ± 1.00 | — | — |" in head
    beats_template = [ln for ln in head.splitlines() if ln.startswith("| L2R beats the template")]
    assert len(beats_template) == 2 and all("**does not hold**" in ln for ln in beats_template)
    # 2 metrics x (pretrained proxy, template, own template, constant depth)
    assert "of these 8 checks" in head
    assert "| (f) | template in the true pose (baseline) |" in md


def test_missing_json_is_one_line(tmp_path):
    r = subprocess.run([sys.executable, str(SCRIPT), str(tmp_path)], capture_output=True,
                       text=True)  # fmt: skip
    assert r.returncode != 0 and "missing" in r.stderr and "Traceback" not in r.stderr


def test_detail_columns_and_claims(tmp_path):
    """With the fine-detail scores in the JSON, Table 2 shows detail MAD and band SIDE and checks
    the detail MAD claims (7 more), Table 3 the HF ratio; without them (test above) neither."""
    out = tmp_path / "repro"
    _write(out, detail=True)
    md = subprocess.run([sys.executable, str(SCRIPT), str(out), "--preset", "quick"],
                        capture_output=True, text=True, check=True).stdout  # fmt: skip
    assert (
        "| (1) | Ours-full | l2r/mutual | 1.000 ± 0.100 | 20.00 ± 1.00 | 9.00 ± 1.00 "
        "| 0.0500 ± 0.0100 | 0.710 | 14.70 |" in md
    )
    # w/o displacement map is run 6: detail MAD 16.0, 7.0 worse than the full model's
    se = math.sqrt(2 * 1.0**2 / 50)
    want = f"| Ours-full beats 'w/o displacement map' | detail_mad | +7.0000 | {7 / se:+.1f} "
    assert want in md
    assert "| (1) | Ours-full | l2r/mutual | 0.9000 ± 0.0200 | 0.8500 | 0.5000 ± 0.0100 " in md
    assert "| 0.500 ± 0.100 | 0.725 | 0.685 |" in md
    assert "of the 44 comparisons" in md


COMPARE = SCRIPT.parent / "compare_claims.py"


def test_compare_claims_side_by_side(tmp_path):
    """compare_claims.py pairs the claim rows of two RESULTS files by section, claim and metric
    and counts how the verdicts moved; a row of one file only shows '—'."""
    old, new = tmp_path / "old.md", tmp_path / "new.md"
    old.write_text(
        "## Table 2 layout: x\n"
        "| Ours-full beats 'a' | side | +0.0100 | +3.0 (paired) | holds |\n"
        "| Ours-full beats 'a' | mad | -0.2000 | -1.0 (paired) | **does not hold** (within 2 SE: "
        "not separated at this scale) |\n"
    )
    new.write_text(
        "## Table 2 layout: y\n"
        "| Ours-full beats 'a' | side | -0.0300 | -4.0 (paired) | **does not hold** |\n"
        "| Ours-full beats 'a' | mad | -0.2000 | -1.0 (paired) | **does not hold** (within 2 SE: "
        "not separated at this scale) |\n"
        "| Ours-full beats 'a' | detail_mad | +1.0000 | +5.0 (unpaired) | holds |\n"
    )
    r = subprocess.run([sys.executable, str(COMPARE), str(old), str(new), "--names", "v1", "v2"],
                       capture_output=True, text=True, check=True)  # fmt: skip
    md = r.stdout
    assert "| Table 2 layout | Ours-full beats 'a' | side | holds (z +3.0) | reversed (z -4" in md
    assert "| mad | not separated (z -1.0) | not separated (z -1.0) |" in md
    assert "| detail_mad | — | holds (z +5.0) |" in md
    assert "Claims in both files: 2; holds -> reversed: 1; not separated -> not separated: 1" in md
    assert "Claims only in v2: 1." in md
    r = subprocess.run([sys.executable, str(COMPARE), str(old), str(tmp_path / "none.md")],
                       capture_output=True, text=True)  # fmt: skip
    assert r.returncode == 2 and "no such file" in r.stderr and "Traceback" not in r.stderr


def test_claim_pairs_only_images_both_rows_kept():
    """A per-image None (an image a benchmark left out of that metric) drops the pair: the
    paired differences here are 1.0 and 0.5 (mean 0.75, SE 0.25: 3.0 SE)."""
    claim = _module().claim
    a = {"x_mean": 2.0, "x_std": 1.0, "n": 3, "per_image": {"x": [1.0, None, 3.0]}}
    b = {"x_mean": 3.5, "x_std": 1.0, "n": 3, "per_image": {"x": [2.0, 5.0, 3.5]}}
    assert "| +0.7500 | +3.0 (paired) | holds |" in claim("a beats b", a, b, "x", lower=True)
