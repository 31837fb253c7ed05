"""Face detectors behind one interface, for ``l2r benchmark detect`` and ``--detector``.

- ``hog``: dlib's HOG + linear SVM frontal detector (80 px window), run on the photo upsampled
  ``upsample`` times (each doubles the size: 1 finds faces down to ~40 px, 2 to ~20 px).
- ``cnn``: dlib's max-margin CNN detector (``mmod_human_face_detector.dat`` from PyPI's
  face-recognition-models, CC0), with the same upsampling pyramid; it also finds turned faces.
- ``mediapipe``: MediaPipe's BlazeFace (short- and full-range models, merged), which ship
  inside the ``mediapipe`` 0.10 wheels (``solutions.face_detection``; later wheels download
  their models at run time and are not used); optional, a one-line error when not installed.

All of them take an RGB photo (H, W, 3) uint8 and return :class:`Detection` boxes in photo
pixels. Nothing is downloaded at run time.
"""

from __future__ import annotations

import importlib.util
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from l2r_cli.errors import L2RError

#: The detectors ``make_detector`` knows, in the order the benchmark reports them.
DETECTORS = ("hog", "cnn", "mtcnn", "mediapipe")


@dataclass(frozen=True)
class Detection:
    """One face: box (x0, y0, x1, y1) in photo pixels (x1, y1 exclusive) and a score
    (the detector's own scale)."""

    box: tuple[float, float, float, float]
    score: float

    @property
    def width(self) -> float:
        """Box width in pixels."""
        return self.box[2] - self.box[0]


def package_dir(name: str, missing: str) -> Path:
    """The folder of installed package ``name``, found without importing it (the model
    packages are read for their files only); L2RError ``missing`` when it is not installed."""
    spec = importlib.util.find_spec(name)
    if spec is None or not spec.submodule_search_locations:
        raise L2RError(missing)
    return Path(next(iter(spec.submodule_search_locations)))


def models_dir() -> Path:
    """The model folder of PyPI's face-recognition-models (dlib's detector and landmark files)."""
    return (
        package_dir(
            "face_recognition_models",
            "face detection needs the package face-recognition-models "
            "(pip install face-recognition-models dlib-bin), or pass --no-detect",
        )
        / "models"
    )


#: The detector of ``l2r reconstruct`` and ``Reconstructor`` (docs/detection.md, "The default":
#: the best recall at full and low resolution among the detectors ``make install`` installs,
#: at the lowest time per photo).
DEFAULT_DETECTOR = "mtcnn"


def shrink(photo: np.ndarray, factor: float, resample: str = "box") -> np.ndarray:
    """photo (H, W, 3) uint8 resized by ``factor`` < 1 (each side rounded, at least 1 px) with
    Pillow's ``resample`` filter ('box': area average, 'bilinear'); as it is for factor >= 1."""
    if factor >= 1.0:
        return photo
    from PIL import Image

    h, w = photo.shape[:2]
    size = (max(1, round(w * factor)), max(1, round(h * factor)))
    filt = {"box": Image.BOX, "bilinear": Image.BILINEAR}[resample]
    return np.asarray(Image.fromarray(photo).resize(size, filt))


def import_dlib():
    """dlib, or a one-line error naming the package to install."""
    try:
        import dlib
    except ImportError:
        raise L2RError(
            "face detection needs dlib (pip install dlib-bin), or pass --no-detect"
        ) from None
    return dlib


class HogDetector:
    """dlib's HOG detector on the photo upsampled ``upsample`` times; boxes scoring below
    ``min_score`` are dropped (dlib's own threshold is 0)."""

    def __init__(self, upsample: int = 1, min_score: float = 0.0) -> None:
        self.name = f"hog-up{upsample}"
        self.upsample = upsample
        self.min_score = min_score
        self._det = import_dlib().get_frontal_face_detector()

    def __call__(self, photo: np.ndarray) -> list[Detection]:
        """photo (H, W, 3) uint8 -> detections, best first."""
        rects, scores, _ = self._det.run(np.ascontiguousarray(photo), self.upsample, 0.0)
        out = [
            Detection((r.left(), r.top(), r.right() + 1, r.bottom() + 1), float(s))
            for r, s in zip(rects, scores, strict=True)
            if s >= self.min_score
        ]
        return sorted(out, key=lambda d: -d.score)


class CnnDetector:
    """dlib's MMOD CNN detector on the photo upsampled ``upsample`` times; boxes with a
    confidence below ``min_score`` are dropped."""

    def __init__(self, upsample: int = 1, min_score: float = 0.0) -> None:
        model = models_dir() / "mmod_human_face_detector.dat"
        if not model.is_file():
            raise L2RError(f"detector model missing: {model} (reinstall face-recognition-models)")
        self.name = f"cnn-up{upsample}"
        self.upsample = upsample
        self.min_score = min_score
        self._det = import_dlib().cnn_face_detection_model_v1(str(model))

    def __call__(self, photo: np.ndarray) -> list[Detection]:
        """photo (H, W, 3) uint8 -> detections, best first."""
        found = self._det(np.ascontiguousarray(photo), self.upsample)
        out = [
            Detection(
                (d.rect.left(), d.rect.top(), d.rect.right() + 1, d.rect.bottom() + 1),
                float(d.confidence),
            )
            for d in found
            if d.confidence >= self.min_score
        ]
        return sorted(out, key=lambda d: -d.score)


class MediaPipeDetector:
    """MediaPipe's BlazeFace, both bundled models (short range for faces filling the photo,
    full range for small ones, which alone misses large close-ups), merged: a box whose centre
    lies inside a better-scoring box is dropped. Boxes score at least ``min_score``."""

    def __init__(self, min_score: float = 0.5) -> None:
        try:
            from mediapipe.python.solutions import face_detection
        except ImportError:
            raise L2RError(
                "--detector mediapipe needs mediapipe 0.10 with its bundled models "
                "(pip install 'mediapipe>=0.10.9,<0.10.15'); see docs/detection.md"
            ) from None
        self.name = "mediapipe"
        self._models = [
            face_detection.FaceDetection(model_selection=m, min_detection_confidence=min_score)
            for m in (0, 1)
        ]

    def __call__(self, photo: np.ndarray) -> list[Detection]:
        """photo (H, W, 3) uint8 -> detections, best first."""
        h, w = photo.shape[:2]
        found = []
        for model in self._models:
            for d in model.process(np.ascontiguousarray(photo)).detections or []:
                b = d.location_data.relative_bounding_box
                x0, y0 = b.xmin * w, b.ymin * h
                box = (x0, y0, x0 + b.width * w, y0 + b.height * h)
                found.append(Detection(box, float(d.score[0])))
        return merge_overlapping(found)


class MtcnnDetector:
    """MTCNN (:mod:`l2r_cli.mtcnn`; weights from PyPI's facenet-pytorch) finding faces down to
    ``min_face`` px; score: the O-Net's face probability (kept above 0.7)."""

    def __init__(self, min_face: int = 12) -> None:
        from l2r_cli.mtcnn import Mtcnn

        self._net = Mtcnn(min_face)
        self.name = f"mtcnn-{min_face}"

    def __call__(self, photo: np.ndarray) -> list[Detection]:
        """photo (H, W, 3) uint8 -> detections, best first."""
        boxes, _ = self._net.detect(photo)
        out = [Detection((b[0], b[1], b[2] + 1, b[3] + 1), float(b[4])) for b in boxes]
        return sorted(out, key=lambda d: -d.score)


def merge_overlapping(dets: list[Detection]) -> list[Detection]:
    """Best first, dropping every box whose centre lies inside a kept, better-scoring box."""
    keep: list[Detection] = []
    for d in sorted(dets, key=lambda d: -d.score):
        cx, cy = (d.box[0] + d.box[2]) / 2, (d.box[1] + d.box[3]) / 2
        if not any(k.box[0] <= cx <= k.box[2] and k.box[1] <= cy <= k.box[3] for k in keep):
            keep.append(d)
    return keep


class UnionDetector:
    """Several detectors on the same photo, their boxes merged (:func:`merge_overlapping`):
    a face any of them finds is found, at the cost of running them all."""

    def __init__(self, parts: list) -> None:
        self.parts = parts
        self.name = "+".join(p.name for p in parts)

    def __call__(self, photo: np.ndarray) -> list[Detection]:
        """photo (H, W, 3) uint8 -> detections, best first (scores on each part's own scale)."""
        return merge_overlapping([d for p in self.parts for d in p(photo)])


def _int_arg(spec: str, arg: str, default: int, lo: int, hi: int, what: str) -> int:
    """The N of a ``name:N`` spec (``default`` when absent), one-line error unless lo..hi."""
    try:
        n = int(arg) if arg else default
    except ValueError:
        n = lo - 1
    if not lo <= n <= hi:
        raise L2RError(f"detector '{spec}': {what} in {lo}..{hi}")
    return n


def make_detector(spec: str, hog_min_score: float = 0.0):
    """A detector from a spec: ``hog``, ``cnn``, ``mtcnn`` or ``mediapipe``, optionally
    ``hog:N`` / ``cnn:N`` for N upsamplings (default 1) and ``mtcnn:N`` for the smallest face
    in pixels (default 12); ``A+B`` runs both and merges their boxes.
    ``hog_min_score`` is the HOG detector's score threshold (the others keep their own)."""
    if "+" in spec:
        return UnionDetector([make_detector(part, hog_min_score) for part in spec.split("+")])
    name, _, arg = spec.partition(":")
    if name not in DETECTORS:
        raise L2RError(f"unknown detector '{spec}' (choose from {', '.join(DETECTORS)})")
    if name == "mediapipe":
        if arg:
            raise L2RError(f"detector '{spec}': mediapipe takes no upsampling")
        return MediaPipeDetector()
    if name == "mtcnn":
        return MtcnnDetector(_int_arg(spec, arg, 12, 8, 1000, "mtcnn:N takes the smallest face N"))
    up = _int_arg(spec, arg, 1, 0, 4, "the upsampling count must be")
    return HogDetector(up, hog_min_score) if name == "hog" else CnnDetector(up)
