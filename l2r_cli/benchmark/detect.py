"""Face detection on labelled photos, at full resolution and shrunk to small, blurred, JPEG faces
(``l2r benchmark detect``; issue "Small, blurred faces in real photos").

A labelled set is a folder of photos plus ``labels.json``::

    {"photos": {"group.jpg": [[x0, y0, x1, y1], ...], "street.jpg": []}}

with every face's box in that photo's pixels (x1, y1 exclusive); a photo listed with no box is
a non-face photo (any detection there is a false face).

Matching. Detectors draw boxes by different conventions (dlib's HOG box is tight around eyes
and mouth, MMOD's a little larger, BlazeFace's includes the forehead), so a detection counts
for a labelled face when its centre lies inside the label's box and its width is within a
factor of 2 of the label's; each label and each detection is used at most once (greedy, best
score first). Unmatched detections are false faces.

Low resolution. Each photo is shrunk (area-averaged) so that its median labelled face is
``face_px`` pixels wide (drawn per photo from ``face_range``), blurred with a Gaussian of sigma
drawn from ``blur_range`` pixels, and saved as JPEG at a quality drawn from ``jpeg_range``,
all from one seeded generator; non-face photos get the median scale of the face photos (1 in
a set without faces).
Photos already smaller than asked are not enlarged.
"""

from __future__ import annotations

import io
import json
import time
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from l2r_cli.detectors import Detection, shrink
from l2r_cli.errors import L2RError

LABELS = "labels.json"


@dataclass(frozen=True)
class LowResConfig:
    """How the small-face copy of a labelled set is made."""

    face_range: tuple[float, float] = (16.0, 40.0)
    """Median face width after shrinking, pixels (uniform)."""
    blur_range: tuple[float, float] = (0.3, 1.0)
    """Gaussian blur sigma after shrinking, pixels (uniform)."""
    jpeg_range: tuple[int, int] = (30, 75)
    """JPEG quality (uniform integers, inclusive)."""
    seed: int = 0


@dataclass
class LabelledPhoto:
    """A photo (H, W, 3) uint8 with its face boxes (N, 4) in its pixels."""

    name: str
    image: np.ndarray
    boxes: np.ndarray


@dataclass
class DetectScore:
    """One detector on one version of the set."""

    detector: str
    version: str
    faces: int = 0
    found: int = 0
    false: int = 0
    photos: int = 0
    seconds: float = 0.0
    missed: list[str] = field(default_factory=list)

    @property
    def recall(self) -> float:
        """Found faces / labelled faces (nan without faces)."""
        return self.found / self.faces if self.faces else float("nan")

    @property
    def false_per_photo(self) -> float:
        """False faces per photo."""
        return self.false / max(self.photos, 1)

    @property
    def seconds_per_photo(self) -> float:
        """Mean detection time per photo (reading and shrinking excluded)."""
        return self.seconds / max(self.photos, 1)

    def summary(self) -> dict:
        """A flat dict for tables and JSON."""
        return {
            "detector": self.detector,
            "version": self.version,
            "faces": self.faces,
            "found": self.found,
            "recall": self.recall,
            "false": self.false,
            "photos": self.photos,
            "false_per_photo": self.false_per_photo,
            "seconds_per_photo": self.seconds_per_photo,
            "missed": self.missed,
        }


def load_labelled(root: str | Path) -> list[LabelledPhoto]:
    """The photos of a labelled set folder, in the order of its labels.json."""
    from l2r_cli.reconstruct import read_photo

    root = Path(root)
    path = root / LABELS
    if not path.is_file():
        raise L2RError(f"{root}: no {LABELS} (see docs/detection.md for its format)")
    try:
        spec = json.loads(path.read_text())["photos"]
        items = [(str(k), np.asarray(v, float).reshape(-1, 4)) for k, v in spec.items()]
    except (ValueError, KeyError, TypeError, AttributeError) as exc:
        raise L2RError(f"{path}: not a labels file ({exc})") from None
    if not items:
        raise L2RError(f"{path}: lists no photo")
    out = []
    for name, boxes in items:
        if not (root / name).is_file():
            raise L2RError(f"{path}: photo '{name}' is not in {root}")
        if len(boxes) and not (boxes[:, 2:] > boxes[:, :2]).all():
            raise L2RError(f"{path}: '{name}' has a box with x1 <= x0 or y1 <= y0")
        out.append(LabelledPhoto(name, read_photo(root / name), boxes))
    return out


def match(dets: list[Detection], boxes: np.ndarray) -> tuple[int, int, list[int]]:
    """Greedy matching (module docstring) -> (found, false, indices of missed labels)."""
    used = np.zeros(len(boxes), bool)
    false = 0
    for d in sorted(dets, key=lambda d: -d.score):
        cx, cy = (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2
        best, best_dist = -1, np.inf
        for i, b in enumerate(boxes):
            if used[i] or not (b[0] <= cx <= b[2] and b[1] <= cy <= b[3]):
                continue
            dist = abs(np.log(d.width / (b[2] - b[0])))
            if dist <= np.log(2.0) and dist < best_dist:
                best, best_dist = i, dist
        if best < 0:
            false += 1
        else:
            used[best] = True
    return int(used.sum()), false, [int(i) for i in np.flatnonzero(~used)]


def lowres_version(photos: list[LabelledPhoto], cfg: LowResConfig) -> list[LabelledPhoto]:
    """The small-face copy of a labelled set (module docstring)."""
    from PIL import Image, ImageFilter

    rng = np.random.default_rng(cfg.seed)
    scales = []
    for p in photos:
        want = rng.uniform(*cfg.face_range)
        if len(p.boxes):
            scales.append(min(1.0, want / np.median(p.boxes[:, 2] - p.boxes[:, 0])))
        else:
            scales.append(None)
    face_scales = [s for s in scales if s is not None]
    default = float(np.median(face_scales)) if face_scales else 1.0
    out = []
    for p, s in zip(photos, scales, strict=True):
        s = default if s is None else s
        h, w = p.image.shape[:2]
        shrunk = shrink(p.image, s)
        size = (shrunk.shape[1], shrunk.shape[0])
        img = Image.fromarray(shrunk).filter(ImageFilter.GaussianBlur(rng.uniform(*cfg.blur_range)))
        buf = io.BytesIO()
        img.save(
            buf, format="JPEG", quality=int(rng.integers(cfg.jpeg_range[0], cfg.jpeg_range[1] + 1))
        )
        small = np.asarray(Image.open(io.BytesIO(buf.getvalue())).convert("RGB"))
        sx, sy = size[0] / w, size[1] / h
        out.append(LabelledPhoto(p.name, small, p.boxes * np.array([sx, sy, sx, sy])))
    return out


def save_labelled(photos: list[LabelledPhoto], out: str | Path) -> Path:
    """Write photos (PNG, so the JPEG artefacts already in them stay as they are) and their
    labels.json into ``out`` -> the labels path."""
    from PIL import Image

    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    spec = {}
    for p in photos:
        name = Path(p.name).with_suffix(".png").name
        Image.fromarray(p.image).save(out / name)
        spec[name] = [[round(float(v), 2) for v in b] for b in p.boxes]
    path = out / LABELS
    path.write_text(json.dumps({"photos": spec}, indent=1))
    return path


def detect_capped(detector, image: np.ndarray, max_side: int) -> list[Detection]:
    """``detector`` on ``image`` shrunk (area-averaged) so its longer side is at most
    ``max_side`` (0 = as it is), boxes mapped back to ``image``'s pixels: what a photo
    pipeline can afford on a large photo."""
    h, w = image.shape[:2]
    f = max_side / max(h, w) if max_side else 1.0
    if f >= 1.0:
        return detector(image)
    small = shrink(image, f)
    sx, sy = w / small.shape[1], h / small.shape[0]
    return [
        Detection((d.box[0] * sx, d.box[1] * sy, d.box[2] * sx, d.box[3] * sy), d.score)
        for d in detector(small)
    ]


def score_detector(
    detector, photos: list[LabelledPhoto], version: str, max_side: int = 0
) -> DetectScore:
    """Run ``detector`` (a callable photo -> detections with a ``name``) on every photo, each
    capped at ``max_side`` pixels (:func:`detect_capped`)."""
    sc = DetectScore(detector.name, version)
    for p in photos:
        t0 = time.perf_counter()
        dets = detect_capped(detector, p.image, max_side)
        sc.seconds += time.perf_counter() - t0
        found, false, missed = match(dets, p.boxes)
        sc.faces += len(p.boxes)
        sc.found += found
        sc.false += false
        sc.photos += 1
        sc.missed += [f"{p.name}#{i}" for i in missed]
    return sc
