"""How well l2r aligns small faces: landmarks found on a small, degraded photo against the
full-resolution landmarks scaled into it (docs/detection.md, "Alignment on small faces").

SET: folders written by examples/analysis/small_face_photos.py (photos with .pts files). For
each photo the detector (--detector) runs on the small photo; the detection nearest the .pts
face is kept, and its 68 landmarks are predicted twice: on the photo itself and on an upsampled
copy of the region around the box (``FaceDetector(upsample_landmarks=True)``). Errors:
NME = mean landmark distance / outer-eye-corner distance of the reference; crop error = mean
distance, in pixels of the 64 px aligned crop, of the crop's corners from those of the crop
the reference landmarks give (what the model sees).

    python examples/analysis/small_face_alignment.py SET... [--detector hog:2] [--json FILE]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def crop_error(lm: np.ndarray, ref: np.ndarray, size: int = 64) -> float:
    """Mean corner displacement (crop pixels) between the crops of two landmark sets."""
    from l2r_cli.faces import alignment_matrix

    m, r = alignment_matrix(lm, size), alignment_matrix(ref, size)
    s = size - 1
    corners = np.array([[0, 0, 1], [s, 0, 1], [s, s, 1], [0, s, 1]], float)
    photo = corners @ r.T  # the reference crop's corners in photo pixels
    inv = np.linalg.inv(np.vstack([m, [0, 0, 1]]))
    back = np.c_[photo, np.ones(4)] @ inv.T  # ... in the other crop's pixels
    return float(np.linalg.norm(back[:, :2] - corners[:, :2], axis=1).mean())


def main() -> None:
    from l2r_cli.benchmark.photos import find_photos, read_pts
    from l2r_cli.faces import FaceDetector
    from l2r_cli.reconstruct import read_photo

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("sets", nargs="+", type=Path)
    ap.add_argument("--detector", default="hog:2")
    ap.add_argument("--json", type=Path, default=None)
    a = ap.parse_args()
    plain = FaceDetector(detector=a.detector)
    upsampled = FaceDetector(detector=a.detector, upsample_landmarks=True)
    rows = []
    for root in a.sets:
        for path, pts in find_photos(root):
            if pts is None:
                continue
            ref = read_pts(pts)
            iod = float(np.linalg.norm(ref[45] - ref[36]))
            photo = read_photo(path)
            found = plain.detect(photo)
            row = {"photo": f"{root.name}/{path.name}", "iod_px": round(iod, 1), "found": False}
            if found:
                dist = [np.linalg.norm(lm.mean(0) - ref.mean(0)) for lm, _ in found]
                k = int(np.argmin(dist))
                if dist[k] < iod:
                    lm = found[k][0]
                    up = upsampled.detect(photo)[k][0]
                    row.update(
                        found=True,
                        nme_plain=float(np.linalg.norm(lm - ref, axis=1).mean() / iod),
                        nme_upsampled=float(np.linalg.norm(up - ref, axis=1).mean() / iod),
                        crop_err_plain=crop_error(lm, ref),
                        crop_err_upsampled=crop_error(up, ref),
                    )
            rows.append(row)
    ok = [r for r in rows if r["found"]]
    print(f"{len(ok)}/{len(rows)} faces found by {a.detector} (median outer-eye distance "
          f"{np.median([r['iod_px'] for r in rows]):.1f} px)")  # fmt: skip
    for key in ("nme_plain", "nme_upsampled", "crop_err_plain", "crop_err_upsampled"):
        v = np.array([r[key] for r in ok])
        p90 = np.percentile(v, 90)
        print(f"{key:20s} median {np.median(v):.3f}  mean {v.mean():.3f}  90th pct {p90:.3f}")
    d = np.array([r["crop_err_upsampled"] - r["crop_err_plain"] for r in ok])
    se = d.std(ddof=1) / np.sqrt(len(d))
    print(
        f"crop error, upsampled - plain: {d.mean():+.3f} +- {se:.3f} (paired SE), "
        f"lower on {(d < 0).mean() * 100:.0f} % of faces"
    )
    if a.json:
        a.json.write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
