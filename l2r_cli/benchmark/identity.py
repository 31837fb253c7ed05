"""Cross-view identity benchmark (paper sec. 5 "Evaluation Protocol", Table 7).

Each test face is reconstructed from its (degraded) input and rendered at 256 px in its own
predicted view, frontally, at +-45 deg yaw and at +-45 deg pitch; each render and the
high-quality original are embedded by a face-recognition model, and the score of a face is the
mean cosine similarity of the renders' embeddings to the original's
(:func:`l2r_cli.metrics.cross_view_identity`). A chance level is reported beside it: the same
score against another test face's original.

Embedders:

- ``dlib`` (default): dlib's 128-d ResNet face descriptor (``dlib_face_recognition_resnet_model_v1``
  from PyPI's ``face-recognition-models``), on dlib's aligned 150 px face chip from 5 landmarks
  predicted in the whole image (renders and dataset images are face crops already).
- a model file (the seam for ArcFace, as the paper uses): ``torch.export`` (``.pt2``, e.g.
  ``torch.export.save(torch.export.export(arcface, (x,)), "arcface.pt2")``) or TorchScript
  (any other suffix). It takes (B, 3, 112, 112) RGB in [-1, 1] (ArcFace's input convention;
  the image is resized to 112, the crop is the dataset's) and returns (B, D) embeddings.
  Loading either runs no Python code from the file.
"""

from __future__ import annotations

import math
import warnings
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol

import numpy as np
import torch
import torch.nn.functional as F

from l2r_cli.data.inputs import pick_variant
from l2r_cli.errors import L2RError

#: The rendered views besides the predicted one: (name, yaw, pitch) in degrees.
VIEWS = (("frontal", 0.0, 0.0), ("yaw+45", 45.0, 0.0), ("yaw-45", -45.0, 0.0),
         ("pitch+45", 0.0, 45.0), ("pitch-45", 0.0, -45.0))  # fmt: skip

RENDER_SIZE = 256


class Embedder(Protocol):
    """Face images (B, H, W, 3) uint8 -> embeddings (B, D) float."""

    name: str

    def embed(self, images: np.ndarray) -> np.ndarray: ...


class DlibEmbedder:
    """dlib's ResNet face descriptor (128-d) on 5-landmark aligned chips."""

    name = "dlib-resnet-v1"

    def __init__(self) -> None:
        from l2r_cli.detectors import models_dir

        try:
            import dlib
        except ImportError:
            raise L2RError("the dlib embedder needs dlib (pip install dlib-bin)") from None
        d = models_dir()
        self._dlib = dlib
        self._shape = dlib.shape_predictor(str(d / "shape_predictor_5_face_landmarks.dat"))
        net = d / "dlib_face_recognition_resnet_model_v1.dat"
        self._net = dlib.face_recognition_model_v1(str(net))

    def embed(self, images: np.ndarray) -> np.ndarray:
        out = []
        for img in images:
            img = np.ascontiguousarray(img)
            h, w = img.shape[:2]
            shape = self._shape(img, self._dlib.rectangle(0, 0, w - 1, h - 1))
            chip = self._dlib.get_face_chip(img, shape, size=150, padding=0.25)
            out.append(np.asarray(self._net.compute_face_descriptor(chip)))
        return np.stack(out)


class TorchScriptEmbedder:
    """A user's face-recognition model (e.g. ArcFace) as a torch.export (.pt2) or TorchScript
    file: (B, 3, 112, 112) in [-1, 1] -> (B, D)."""

    def __init__(self, path: str | Path, device: torch.device, size: int = 112) -> None:
        p = Path(path)
        if not p.is_file():
            raise L2RError(f"--embedder {p}: no such file (expected dlib or a model file)")
        if not zipfile.is_zipfile(p):
            raise L2RError(f"--embedder {p}: not a torch.export or TorchScript model (not a zip)")
        try:
            with warnings.catch_warnings():  # torch.jit is deprecated but still what people have
                warnings.simplefilter("ignore", DeprecationWarning)
                if p.suffix == ".pt2":
                    self.model = torch.export.load(str(p)).module().to(device)
                else:
                    self.model = torch.jit.load(str(p), map_location=device).eval()
        except (RuntimeError, ValueError, KeyError, OSError, zipfile.BadZipFile) as exc:
            first = str(exc).split(". ")[0].splitlines()[0] if str(exc) else type(exc).__name__
            msg = f"--embedder {p}: not a torch.export or TorchScript model ({first})"
            raise L2RError(msg) from None
        self.name = p.name
        self.device, self.size = device, size

    @torch.no_grad()
    def embed(self, images: np.ndarray) -> np.ndarray:
        x = torch.from_numpy(np.ascontiguousarray(images)).to(self.device).permute(0, 3, 1, 2)
        x = F.interpolate(x.float() / 127.5 - 1, size=(self.size, self.size), mode="bilinear",
                          align_corners=False, antialias=True)  # fmt: skip
        out = self.model(x)
        if not isinstance(out, torch.Tensor) or out.dim() != 2 or out.shape[0] != len(images):
            raise L2RError(f"embedder {self.name} must return (B, D) embeddings")
        return out.float().cpu().numpy()


def load_embedder(spec: str, device: torch.device) -> Embedder:
    """'dlib' or the path of a torch.export (.pt2) or TorchScript model."""
    if spec == "dlib":
        return DlibEmbedder()
    return TorchScriptEmbedder(spec, device)


@dataclass
class IdentityResult:
    """Per-face scores (N,) and per-view mean cosine similarities."""

    name: str
    kind: str
    embedder: str
    scores: list[float] = field(default_factory=list)
    per_view: dict[str, list[float]] = field(default_factory=dict)
    chance: list[float] = field(default_factory=list)
    """The same score against another face's original (the next one in the batch): what the
    embedder gives for different faces, for reading the scores."""

    def summary(self) -> dict:
        """Means and stds; per-face scores and chance scores under "per_image"."""
        from l2r_cli.benchmark.bfm import per_image

        s = np.asarray(self.scores)
        return {
            "name": self.name,
            "kind": self.kind,
            "embedder": self.embedder,
            "n": int(s.size),
            "cos_mean": float(s.mean()) if s.size else math.nan,
            "cos_std": float(s.std()) if s.size else math.nan,
            "per_view": {k: float(np.mean(v)) for k, v in self.per_view.items()},
            "chance_mean": float(np.mean(self.chance)) if self.chance else math.nan,
            "chance_std": float(np.std(self.chance)) if self.chance else math.nan,
            "per_image": {"cos": per_image(s), "chance": per_image(np.asarray(self.chance))},
        }


def _to_uint8(x: torch.Tensor) -> np.ndarray:
    """(B, 3, H, W) in [0, 1] -> (B, H, W, 3) uint8."""
    return (x.clamp(0, 1) * 255).round().byte().permute(0, 2, 3, 1).cpu().numpy()


def evaluate_identity(
    ckpt: str | Path,
    data: str | Path,
    embedder: Embedder,
    split: str = "test",
    input_field: str = "lq",
    batch_size: int = 16,
    device: torch.device | None = None,
    limit: int = 0,
) -> IdentityResult:
    """Run the protocol of the module docstring for one checkpoint on a dataset split."""
    from torch.utils.data import DataLoader

    from l2r_cli.data.dataset import L2RDataset, open_dataset
    from l2r_cli.faces import Crop, square_matrix
    from l2r_cli.metrics import cross_view_identity
    from l2r_cli.reconstruct import Reconstructor
    from l2r_cli.render.views import ViewRenderer

    device = device or torch.device("cpu")
    info = open_dataset(data)
    if split not in info.splits:
        raise L2RError(f"{data}: no split '{split}' (has {', '.join(info.splits)})")
    if input_field == "lq" and "lq" not in info.splits[split].fields:
        raise L2RError(f"{data}: dataset has no degraded 'lq' images (use --input image)")
    rec = Reconstructor(ckpt, device, detect=False, batch_size=batch_size, model=None)
    s = rec.image_size
    fields = ("image", "lq") if input_field == "lq" else ("image",)
    ds = L2RDataset(data, split, fields=fields, image_size=RENDER_SIZE)
    loader = DataLoader(ds, batch_size=batch_size, shuffle=False, num_workers=0)
    result = IdentityResult(str(ckpt), rec.predictor.kind, embedder.name)
    result.per_view = {"original": [], **{v[0]: [] for v in VIEWS}}
    done = 0
    for batch in loader:
        x = pick_variant(batch["lq"], "first") if input_field == "lq" else batch["image"]
        x = F.interpolate(x, size=(s, s), mode="bilinear", align_corners=False, antialias=True)
        crops = [Crop(img, square_matrix(s, s, s)) for img in _to_uint8(x)]
        faces = rec.predict_crops(crops)
        hq = embedder.embed(_to_uint8(batch["image"]))
        renders = {k: [] for k in result.per_view}
        for f in faces:
            vr = ViewRenderer(f.canonical(), RENDER_SIZE, device=str(device))
            renders["original"].append(vr.render_view(f.view))
            for name, yaw, pitch in VIEWS:
                renders[name].append(vr.render(yaw, pitch))
        names = list(renders)
        embs = np.stack([embedder.embed(np.stack(renders[k])) for k in names], 1)  # (B, V, D)
        orig, views = torch.from_numpy(hq).double(), torch.from_numpy(embs).double()
        result.scores += cross_view_identity(orig, views).tolist()
        if len(faces) > 1:
            result.chance += cross_view_identity(orig.roll(1, 0), views).tolist()
        for j, k in enumerate(names):
            cos = F.cosine_similarity(views[:, j], orig, dim=-1)
            result.per_view[k] += cos.tolist()
        done += len(faces)
        if limit and done >= limit:
            break
    if limit:
        result.scores = result.scores[:limit]
        result.per_view = {k: v[:limit] for k, v in result.per_view.items()}
        result.chance = result.chance[:limit]
    return result
