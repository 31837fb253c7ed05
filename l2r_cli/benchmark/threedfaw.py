"""3DFAW keypoint depth correlation (paper Table 5; Unsup3D's protocol after DepthNet).

Data layout (the 3DFAW challenge release as DepthNet's ``prepare_dataset.py`` reads it):

    ROOT/list_valid_test.txt     lines "ID,valid|test,ORIENTATION" (DepthNet's split file)
    ROOT/valid_img/ID.jpg        images of both the valid and the test split
    ROOT/valid_lm/ID_lm.csv      66 lines "x,y,z": keypoints in image pixels, z the depth
    ROOT/train_img, train_lm     (not used here)

The test split is the 225 ``test`` lines (75 frontal, left and right looking faces). Each
face is cropped in l2r's crop convention (:mod:`l2r_cli.faces`) from its own 2D keypoints
(the 66-point scheme has the 68-point indices up to the mouth corners, which the alignment
uses), reconstructed, and the predicted depth of the crop's view is read bilinearly at the 66
keypoints. The score is the sum over keypoints of |Pearson r| between predicted and
ground-truth depth across the test images (:func:`l2r_cli.metrics.keypoint_depth_correlation`,
at most 66; the sign of z does not matter).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch

from l2r_cli.errors import L2RError

N_KEYPOINTS = 66


@dataclass(frozen=True)
class FawSample:
    """One 3DFAW face: id, image path, keypoints (66, 3) (x, y in pixels, z), orientation."""

    id: str
    image: Path
    keypoints: np.ndarray
    orientation: str


def read_keypoints(path: Path) -> np.ndarray:
    """An ``ID_lm.csv`` file -> (66, 3) float (one-line L2RError when malformed)."""
    try:
        rows = [ln.split(",") for ln in path.read_text().splitlines() if ln.strip()]
        kp = np.array([[float(v) for v in r[:3]] for r in rows], float)
    except OSError as exc:
        raise L2RError(f"{path}: cannot read ({exc.strerror or exc})") from None
    except (ValueError, IndexError):
        raise L2RError(f"{path}: expected lines 'x,y,z' of numbers") from None
    if kp.shape != (N_KEYPOINTS, 3):
        raise L2RError(f"{path}: expected {N_KEYPOINTS} keypoints, found {len(kp)}")
    return kp


def load_3dfaw(root: str | Path, split: str = "test") -> list[FawSample]:
    """The samples of ``split`` ('test' or 'valid') listed in ROOT/list_valid_test.txt."""
    root = Path(root)
    listing = root / "list_valid_test.txt"
    if not listing.is_file():
        raise L2RError(f"{root}: no list_valid_test.txt (DepthNet's 3DFAW split file)")
    samples = []
    for n, line in enumerate(listing.read_text().splitlines(), 1):
        if not line.strip():
            continue
        parts = [p.strip() for p in line.split(",")]
        if len(parts) < 2:
            raise L2RError(f"{listing}:{n}: expected 'ID,valid|test[,ORIENTATION]'")
        if parts[1] != split:
            continue
        image = root / "valid_img" / f"{parts[0]}.jpg"
        if not image.is_file():
            raise L2RError(f"{listing}:{n}: image {image} is missing")
        kp = read_keypoints(root / "valid_lm" / f"{parts[0]}_lm.csv")
        samples.append(FawSample(parts[0], image, kp, parts[2] if len(parts) > 2 else ""))
    if len(samples) < 2:
        raise L2RError(f"{listing}: split '{split}' has {len(samples)} faces, need at least 2")
    return samples


def _bilinear(img: np.ndarray, pts: np.ndarray) -> np.ndarray:
    """img (H, W) sampled at pts (N, 2) = (col, row), clamped to the image -> (N,)."""
    from scipy.ndimage import map_coordinates

    return map_coordinates(img, [pts[:, 1], pts[:, 0]], order=1, mode="nearest")


@dataclass
class FawResult:
    """Per-keypoint |r| (66,) and the predicted / GT keypoint depths (N, 66)."""

    name: str
    r: np.ndarray
    pred: np.ndarray
    gt: np.ndarray

    def summary(self) -> dict:
        return {
            "name": self.name,
            "n": int(self.pred.shape[0]),
            "depth_corr": float(self.r.sum()),
            "mean_abs_r": float(self.r.mean()),
        }


def evaluate_3dfaw(
    ckpt: str | Path | None,
    root: str | Path,
    split: str = "test",
    device: torch.device | None = None,
    batch_size: int = 16,
) -> FawResult:
    """Run the protocol of the module docstring with one checkpoint (None: bundled)."""
    from l2r_cli.faces import Crop, alignment_matrix, warp_crop
    from l2r_cli.metrics import keypoint_depth_correlation
    from l2r_cli.reconstruct import Reconstructor, read_photo

    samples = load_3dfaw(root, split)
    rec = Reconstructor(
        ckpt, device or torch.device("cpu"), detect=False, batch_size=batch_size, model=None
    )
    s = rec.image_size
    crops = []
    for smp in samples:
        m = alignment_matrix(smp.keypoints[:, :2], s)
        crops.append(Crop(warp_crop(read_photo(smp.image), m, s), m, smp.keypoints[:, :2]))
    faces = rec.predict_crops(crops)
    pred = np.stack([_bilinear(f.depth, f.crop.to_crop(f.crop.landmarks)) for f in faces])
    gt = np.stack([smp.keypoints[:, 2] for smp in samples])
    r = keypoint_depth_correlation(torch.from_numpy(pred), torch.from_numpy(gt)).numpy()
    return FawResult(str(ckpt or "bundled"), r, pred, gt)
