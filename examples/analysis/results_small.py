"""Markdown tables of examples/reproduce_small.sh's JSON results, in the paper's layouts.

Usage: python examples/analysis/results_small.py OUT  > OUT/RESULTS_small.md

Table 2/4 (geometry, 8 px inputs): geometry/geometry.json (`benchmark bfm --compare`) plus the
original-input row from bfm_original.json. Texture (Table 3): texture.json (ARN vs no prior).
Table 7 (texture and identity of the full pipeline): texture_l2r.json and identity.json.
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

LABELS = {"proxy": "proxy", "arn": "+ARN", "grn": "+ARN +GRN", "mutual": "L2R (mutual)",
          "baseline": "constant depth"}  # fmt: skip


def load(path: Path) -> dict | None:
    return json.loads(path.read_text()) if path.is_file() else None


def short(name: str, out: Path) -> str:
    return name.replace(str(out) + "/", "")


def main(out: Path) -> None:
    print(f"# Small-scale reproduction ({out})\n")
    timing = out / "timing.txt"
    if timing.is_file():
        print("```\n" + timing.read_text().strip() + "\n```\n")
    orig, geo = load(out / "bfm_original.json"), load(out / "geometry" / "geometry.json")
    print("## Geometry (Tables 2 and 4 layout): SIDE (×10⁻²) ↓ / MAD (deg.) ↓\n")
    print(
        "| row | method | input | checkpoint | SIDE | MAD |\n| --- | --- | --- | --- | --- | --- |"
    )
    if orig:
        for r in orig["results"]:
            if r["stage"] == "proxy":
                print(
                    f"| (0) | proxy | original | {short(r['name'], out)} "
                    f"| {r['side_x100_mean']:.3f} ± {r['side_x100_std']:.3f} "
                    f"| {r['mad_mean']:.2f} ± {r['mad_std']:.2f} |"
                )
    if geo:
        for i, r in enumerate(geo["results"]):
            name = short(r["name"], out)
            method = LABELS.get(r["stage"], r["stage"])
            if name.endswith("proxy_hq"):
                method = "proxy (original-image training) + 2D-upsampled input"
            elif name.endswith("proxy_lq"):
                method = "proxy trained on degraded input"
            for tag, what in (("noimg", " w/o restored image"), ("nodisp", " w/o displacement"),
                              ("nocross", " w/o cross-view loss")):  # fmt: skip
                if name.endswith(tag):
                    method += what
            print(
                f"| ({i + 1}) | {method} | degraded | {name} "
                f"| {r['side_x100_mean']:.3f} ± {r['side_x100_std']:.3f} "
                f"| {r['mad_mean']:.2f} ± {r['mad_std']:.2f} |"
            )
    tex, tex2, ident = (
        load(out / n) for n in ("texture.json", "texture_l2r.json", "identity.json")
    )
    print("\n## Texture SSIM on the face region (Table 3 layout: the prior ablation)\n")
    print("| model | n | SSIM ↑ |\n| --- | --- | --- |")
    seen = set()
    for t in (tex, tex2):
        for r in (t or {}).get("results", []):
            key = (r["name"].removesuffix("/checkpoints/last.pt"), r["ssim_mean"])
            if key in seen:  # the same proxy row appears once per ARN compared
                continue
            seen.add(key)
            print(
                f"| {short(r['name'], out)} | {r['n']} "
                f"| {r['ssim_mean']:.4f} ± {r['ssim_std']:.4f} |"
            )
    print("\n## Cross-view identity (Table 7 layout; dlib ResNet unless said otherwise)\n")
    print("| model | n | cosine ↑ | chance |\n| --- | --- | --- | --- |")
    for r in (ident or {}).get("results", []):
        print(
            f"| {short(r['name'], out)} | {r['n']} | {r['cos_mean']:.4f} ± {r['cos_std']:.4f} "
            f"| {r['chance_mean']:.4f} |"
        )
    print(
        "\nEvery number comes from the JSON files in this folder, written by the commands of "
        "examples/reproduce_small.sh."
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
