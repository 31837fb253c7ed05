"""Face-shape check of every face under a `l2r reconstruct` output folder, as a Markdown table.

For each face: the depth margin min(outer eye corners, cheeks) - nose tip (positive = the nose
tip is nearer the camera), in the canonical frame (pose removed; meta.json's landmark_depths)
and in the photo's own view (depth.npy at the landmarks), and whether open3d reads every mesh.

Usage: python examples/analysis/landmark_check.py OUT_DIR
"""

from __future__ import annotations

import json
import sys
from pathlib import Path

import numpy as np
import open3d as o3d


def view_margin(face: Path, meta: dict) -> float:
    depth = np.load(face / "depth.npy")
    s = depth.shape[0]
    m = np.array(meta["crop"]["matrix"])
    lm = (np.array(meta["crop"]["landmarks"]) - m[:, 2]) @ np.linalg.inv(m[:, :2]).T

    def at(p):
        return depth[int(np.clip(round(p[1]), 0, s - 1)), int(np.clip(round(p[0]), 0, s - 1))]

    others = [at(lm[36]), at(lm[45]), at((lm[2] + lm[31]) / 2), at((lm[14] + lm[35]) / 2)]
    return float(min(others) - at(lm[30]))


def main(out: Path) -> None:
    o3d.utility.set_verbosity_level(o3d.utility.VerbosityLevel.Error)
    print(
        "| photo | face | crop box (px) | yaw (deg) | margin, canonical | margin, view "
        "| meshes read |"
    )
    print("| --- | --- | --- | --- | --- | --- | --- |")
    n = shaped = shaped_view = reads = 0
    for meta_path in sorted(out.glob("*/face*/meta.json")):
        face = meta_path.parent
        meta = json.loads(meta_path.read_text())
        d = meta["landmark_depths"]
        canon = min(v for k, v in d.items() if k != "nose_tip") - d["nose_tip"]
        view = view_margin(face, meta)
        ok = all(
            len(o3d.io.read_triangle_mesh(str(face / f"mesh.{f}")).triangles) > 0
            for f in ("ply", "obj", "glb")
        )
        box = ", ".join(f"{v:.0f}" for v in meta["crop"]["box"])
        yaw = meta["view"]["yaw_deg"]
        print(
            f"| {face.parent.name} | {face.name} | {box} | {yaw:.0f} | {canon:+.4f} "
            f"| {view:+.4f} | {ok} |"
        )
        n, reads = n + 1, reads + ok
        shaped, shaped_view = shaped + (canon > 0), shaped_view + (view > 0)
    print(
        f"\n{n} faces: nose tip nearest in the canonical frame {shaped}/{n}, in the photo's view "
        f"{shaped_view}/{n}; every mesh read back by open3d {reads}/{n}"
    )


if __name__ == "__main__":
    main(Path(sys.argv[1]))
