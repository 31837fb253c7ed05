"""Time per face of `l2r reconstruct` on a folder of already-cropped faces, split into its steps,
against the model's pure forward pass at the same batch size (``l2r benchmark speed --case
reconstruct``; issue "Small, blurred faces in real photos", deliverable 3).

Steps, each summed over the folder and divided by the number of faces: ``read`` (decode the
file, take it as the crop: ``--no-detect``), ``predict`` (:meth:`Reconstructor.predict_crops`,
batches of ``batch_size``: the forward pass plus the canonical surface, shading and re-render
the outputs need), ``write`` (:meth:`FaceResult.save`: maps, canonical.npz, meta.json and the
meshes of ``formats``; with ``maps=False`` only the meshes and meta.json), after one face
through every step as a warm-up (the first mesh write imports open3d, ~0.8 s). ``forward`` is
the predictor's ``predict`` alone on one batch (median of ``repeats``, after one warm-up), per
face.
"""

from __future__ import annotations

import tempfile
import time
from pathlib import Path

import numpy as np
import torch


def _write_crops(root: Path, n: int, size: int) -> list[Path]:
    """n face crops (size px PNGs): scikit-image's astronaut face, turned a little each."""
    from PIL import Image
    from skimage import data

    face = Image.fromarray(data.astronaut()).crop((130, 20, 330, 220)).resize((size, size))
    paths = []
    for i in range(n):
        p = root / f"face{i:04d}.png"
        face.rotate(i % 7 - 3).save(p)
        paths.append(p)
    return paths


def run_reconstruct_speed(
    faces: int = 64,
    batch_size: int = 16,
    formats: tuple[str, ...] = ("ply",),
    repeats: int = 5,
    ckpt: str | None = None,
    device: torch.device | str = "cpu",
    maps: bool = True,
) -> dict[str, float]:
    """-> milliseconds per face of read, predict, write, their total and the pure forward, and
    forward / total (the pipeline's share of the model's throughput)."""
    from l2r_cli.reconstruct import Reconstructor, read_photo

    rec = Reconstructor(ckpt, device, detect=False, batch_size=batch_size, maps=maps)
    s = rec.image_size
    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp)
        paths = _write_crops(root, faces, s)
        # warm-up: one face through every step, so one-time costs (importing the mesh writer,
        # allocator growth) stay out of the per-face times
        for r in rec.predict_crops(rec.crops(read_photo(paths[0]))):
            r.save(root / "warmup", formats=formats, maps=maps)
        t = {"read": 0.0, "predict": 0.0, "write": 0.0}
        for start in range(0, faces, batch_size):
            t0 = time.perf_counter()
            crops = [c for p in paths[start : start + batch_size] for c in rec.crops(read_photo(p))]
            t1 = time.perf_counter()
            results = rec.predict_crops(crops)
            t2 = time.perf_counter()
            for k, r in enumerate(results):
                r.save(root / "out" / f"{start + k:04d}", formats=formats, maps=maps)
            t3 = time.perf_counter()
            t["read"] += t1 - t0
            t["predict"] += t2 - t1
            t["write"] += t3 - t2
        x = torch.from_numpy(np.stack([c.image for c in crops[:1]] * batch_size))
        x = x.to(rec.device).permute(0, 3, 1, 2).float() / 127.5 - 1
        with torch.no_grad():
            rec.predictor.predict(x)
            times = []
            for _ in range(repeats):
                t0 = time.perf_counter()
                rec.predictor.predict(x)
                if rec.device.type == "cuda":
                    torch.cuda.synchronize()
                times.append(time.perf_counter() - t0)
    out = {k: v / faces * 1000 for k, v in t.items()}
    out["total"] = sum(out.values())
    out["forward"] = float(np.median(times)) / batch_size * 1000
    out["forward_share"] = out["forward"] / out["total"]
    return out
