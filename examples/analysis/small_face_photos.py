"""Small, degraded copies of real face photos with their 68 landmarks, for `l2r benchmark
photos` on small faces (docs/reconstruct.md, "Small faces: the L2R path").

For each face of SRC's photos (its .pts file if it has one, else every face dlib finds at full
resolution with --detector; a photo with K faces gives K copies, NAME_k.png), the photo is
shrunk so that the face (the width of its 68 landmarks) is a random FACE_PX wide, blurred and
JPEG-compressed as `l2r benchmark detect`'s low-resolution copy
(l2r_cli.benchmark.detect.lowres_version); the full-resolution landmarks, scaled, go beside it
as an iBUG .pts file. The benchmark then aligns every model on the same crops from accurate
landmarks, so what is compared is the models, not the landmark detector on a 20 px face.

    python examples/analysis/small_face_photos.py SRC OUT [--face-px 16,40] [--seed 0] \
        [--detector hog:2]
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import numpy as np


def main() -> None:
    from PIL import Image

    from l2r_cli.benchmark.detect import LabelledPhoto, LowResConfig, lowres_version
    from l2r_cli.benchmark.photos import find_photos, read_pts, write_pts
    from l2r_cli.faces import Crop, FaceDetector, alignment_matrix
    from l2r_cli.reconstruct import crop_side_px, read_photo

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("src", type=Path)
    ap.add_argument("out", type=Path)
    ap.add_argument("--face-px", default="16,40", help="face width range after shrinking")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--detector", default="hog:2", help="as `l2r reconstruct --detector`")
    a = ap.parse_args()
    lo, hi = (float(v) for v in a.face_px.split(","))
    det = None
    photos, lms = [], []
    for path, pts in find_photos(a.src):
        img = read_photo(path)
        if pts is not None:
            found = [read_pts(pts)]
        else:
            det = det or FaceDetector(detector=a.detector)
            found = [lm for lm, _ in det.detect(img)]
            if not found:
                print(f"{path.name}: no face at full resolution, skipped")
                continue
        for k, lm in enumerate(found):
            box = np.r_[lm.min(0), lm.max(0)]
            name = path.name if len(found) == 1 else f"{path.stem}_{k}{path.suffix}"
            photos.append(LabelledPhoto(name, img, box[None]))
            lms.append(lm)
    small = lowres_version(photos, LowResConfig(face_range=(lo, hi), seed=a.seed))
    a.out.mkdir(parents=True, exist_ok=True)
    record = {}
    for big, p, lm in zip(photos, small, lms, strict=True):
        sx = p.image.shape[1] / big.image.shape[1]
        sy = p.image.shape[0] / big.image.shape[0]
        lm_s = lm * np.array([sx, sy])
        name = Path(p.name).with_suffix(".png").name
        Image.fromarray(p.image).save(a.out / name)
        write_pts(a.out / Path(name).with_suffix(".pts"), lm_s)
        m = alignment_matrix(lm_s, 64)
        side = crop_side_px(Crop(np.zeros((64, 64, 3), np.uint8), m))
        record[name] = {
            "face_px": round(float(p.boxes[0, 2] - p.boxes[0, 0]), 1),
            "crop_px": round(side, 1),
            "photo": [int(p.image.shape[1]), int(p.image.shape[0])],
        }
    (a.out / "small_faces.json").write_text(json.dumps(record, indent=1) + "\n")
    w = [r["face_px"] for r in record.values()]
    c = [r["crop_px"] for r in record.values()]
    print(
        f"{len(record)} faces in {a.out}: face width {min(w):.0f}-{max(w):.0f} px, crop frame "
        f"{min(c):.0f}-{max(c):.0f} px (median {np.median(c):.0f})"
    )


if __name__ == "__main__":
    main()
