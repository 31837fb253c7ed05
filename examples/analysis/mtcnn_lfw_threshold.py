"""MTCNN's O-Net threshold on an independent set (docs/detection.md, "The default"): the
best detection score on each of scikit-image's `lfw_subset` images (100 faces, then 100
non-faces; 25 px greyscale, padded by 20 px of repeated edge), and per threshold the share of
faces and of non-faces with a detection above it.

    python examples/analysis/mtcnn_lfw_threshold.py
"""

from __future__ import annotations

import os

import numpy as np


def main() -> None:
    import skimage

    from l2r_cli.mtcnn import Mtcnn

    images = np.load(os.path.join(os.path.dirname(skimage.__file__), "data", "lfw_subset.npy"))
    net = Mtcnn(12)
    best = []
    for img in images:
        grey = (img * 255).clip(0, 255).astype(np.uint8)
        rgb = np.pad(np.repeat(grey[..., None], 3, 2), ((20, 20), (20, 20), (0, 0)), mode="edge")
        boxes, _ = net.detect(rgb)
        best.append(boxes[:, 4].max() if len(boxes) else 0.0)
    s = np.array(best)
    faces, non = s[:100], s[100:]
    for t in (0.7, 0.8, 0.9, 0.95, 0.99):
        found, false = (faces > t).mean(), (non > t).mean()
        print(f"threshold {t}: faces found {found:.2f}, non-faces {false:.2f}")


if __name__ == "__main__":
    main()
