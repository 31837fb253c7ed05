"""MTCNN face detector (Zhang et al. 2016, "Joint Face Detection and Alignment using Multitask
Cascaded Convolutional Networks"): l2r's own implementation of the three-stage cascade, reading
the trained P-, R- and O-Net weights that PyPI's ``facenet-pytorch`` (MIT) ships in its wheel
(``facenet_pytorch/data/{pnet,rnet,onet}.pt``, state dicts, loaded with ``weights_only``).
Only the weight files are used: the package itself is never imported (its pins, numpy < 2 and
torch < 2.3, do not fit l2r's stack, so it is installed with ``--no-deps``; docs/dependencies.md).

Cascade, as the paper and the converted weights define it: an image pyramid (scale factor
0.709, the smallest face ``min_face`` px) through the fully convolutional P-Net (12 px cells,
stride 2), non-maximum suppression per scale (IoU 0.5) and over all (0.7), box regression and
squaring; each box cropped, resized (area) to 24 px for the R-Net and then 48 px for the O-Net,
each keeping boxes over its threshold (0.6, 0.7, 0.7) with regression, squaring and NMS (the
last by intersection over the smaller box, 0.7). Pixels are scaled as (v - 127.5) / 128. The
weights were converted from the authors' Caffe models, trained on transposed images: the R- and
O-Net flatten their last feature map in (width, height) order.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F
from torch import Tensor, nn

from l2r_cli.errors import L2RError

#: P-, R-, O-Net score thresholds and the pyramid's scale step (the paper's values).
THRESHOLDS = (0.6, 0.7, 0.7)
FACTOR = 0.709


def weights_dir() -> Path:
    """The folder of facenet-pytorch's MTCNN weights (one-line error if it is not installed)."""
    from l2r_cli.detectors import package_dir

    return (
        package_dir(
            "facenet_pytorch",
            "--detector mtcnn needs the weights in PyPI's facenet-pytorch: "
            "pip install --no-deps facenet-pytorch==2.6.0 (make install does), or pass "
            "--detector hog:2",
        )
        / "data"
    )


def _conv(cin: int, cout: int, k: int) -> tuple[nn.Conv2d, nn.PReLU]:
    return nn.Conv2d(cin, cout, k), nn.PReLU(cout)


class PNet(nn.Module):
    """(B, 3, H, W) -> box offsets (B, 4, H', W'), face probability (B, H', W')."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 10, 3)
        self.conv2, self.prelu2 = _conv(10, 16, 3)
        self.conv3, self.prelu3 = _conv(16, 32, 3)
        self.conv4_1 = nn.Conv2d(32, 2, 1)
        self.conv4_2 = nn.Conv2d(32, 4, 1)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 2, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(self.prelu2(self.conv2(x))))
        return self.conv4_2(x), self.conv4_1(x).softmax(1)[:, 1]


class RNet(nn.Module):
    """(N, 3, 24, 24) -> box offsets (N, 4), face probability (N,)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 28, 3)
        self.conv2, self.prelu2 = _conv(28, 48, 3)
        self.conv3, self.prelu3 = _conv(48, 64, 2)
        self.dense4, self.prelu4 = nn.Linear(576, 128), nn.PReLU(128)
        self.dense5_1 = nn.Linear(128, 2)
        self.dense5_2 = nn.Linear(128, 4)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = self.prelu3(self.conv3(x)).permute(0, 3, 2, 1).flatten(1)  # (W, H, C): Caffe order
        x = self.prelu4(self.dense4(x))
        return self.dense5_2(x), self.dense5_1(x).softmax(1)[:, 1]


class ONet(nn.Module):
    """(N, 3, 48, 48) -> box offsets (N, 4), 5 landmarks (N, 10: x's then y's, box units),
    face probability (N,)."""

    def __init__(self) -> None:
        super().__init__()
        self.conv1, self.prelu1 = _conv(3, 32, 3)
        self.conv2, self.prelu2 = _conv(32, 64, 3)
        self.conv3, self.prelu3 = _conv(64, 64, 3)
        self.conv4, self.prelu4 = _conv(64, 128, 2)
        self.dense5, self.prelu5 = nn.Linear(1152, 256), nn.PReLU(256)
        self.dense6_1 = nn.Linear(256, 2)
        self.dense6_2 = nn.Linear(256, 4)
        self.dense6_3 = nn.Linear(256, 10)

    def forward(self, x: Tensor) -> tuple[Tensor, Tensor, Tensor]:
        x = F.max_pool2d(self.prelu1(self.conv1(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu2(self.conv2(x)), 3, 2, ceil_mode=True)
        x = F.max_pool2d(self.prelu3(self.conv3(x)), 2, 2, ceil_mode=True)
        x = self.prelu4(self.conv4(x)).permute(0, 3, 2, 1).flatten(1)
        x = self.prelu5(self.dense5(x))
        return self.dense6_2(x), self.dense6_3(x), self.dense6_1(x).softmax(1)[:, 1]


def nms(boxes: np.ndarray, scores: np.ndarray, thresh: float, by_min: bool = False) -> np.ndarray:
    """Indices kept by greedy non-maximum suppression (best score first) of boxes (N, 4)
    [x0, y0, x1, y1] inclusive: overlap = intersection over union, or over the smaller box."""
    x0, y0, x1, y1 = boxes.T
    area = (x1 - x0 + 1) * (y1 - y0 + 1)
    order = np.argsort(-scores, kind="stable")
    keep = []
    while order.size:
        i, rest = order[0], order[1:]
        keep.append(i)
        w = np.maximum(0.0, np.minimum(x1[i], x1[rest]) - np.maximum(x0[i], x0[rest]) + 1)
        h = np.maximum(0.0, np.minimum(y1[i], y1[rest]) - np.maximum(y0[i], y0[rest]) + 1)
        inter = w * h
        den = np.minimum(area[i], area[rest]) if by_min else area[i] + area[rest] - inter
        order = rest[inter / den <= thresh]
    return np.array(keep, dtype=np.int64)


def _square(b: np.ndarray) -> np.ndarray:
    """Boxes (N, >=4) made square about their centres (side: the longer one)."""
    b = b.copy()
    w, h = b[:, 2] - b[:, 0], b[:, 3] - b[:, 1]
    side = np.maximum(w, h)
    b[:, 0] += w / 2 - side / 2
    b[:, 1] += h / 2 - side / 2
    b[:, 2] = b[:, 0] + side
    b[:, 3] = b[:, 1] + side
    return b


def _regress(b: np.ndarray, reg: np.ndarray, plus_one: bool = True) -> np.ndarray:
    b = b.copy()
    w = b[:, 2] - b[:, 0] + (1 if plus_one else 0)
    h = b[:, 3] - b[:, 1] + (1 if plus_one else 0)
    b[:, :4] += reg * np.stack([w, h, w, h], 1)
    return b


def _patches(img: Tensor, boxes: np.ndarray, size: int) -> Tensor:
    """Crops of img (1, 3, H, W) at boxes (clipped to the image, 1-based inclusive as the
    converted models expect), each resized (area) to size x size -> (N, 3, size, size)."""
    h, w = img.shape[2:]
    out = []
    for x0, y0, x1, y1 in boxes[:, :4].astype(np.int64):
        x0, y0, x1, y1 = max(x0, 1), max(y0, 1), min(x1, w), min(y1, h)
        x0, y0 = min(x0, x1), min(y0, y1)
        patch = img[:, :, y0 - 1 : y1, x0 - 1 : x1]
        out.append(F.interpolate(patch, size=(size, size), mode="area"))
    return torch.cat(out)


class Mtcnn:
    """The cascade with its three nets (CPU; weights from :func:`weights_dir`)."""

    def __init__(self, min_face: int = 12) -> None:
        root = weights_dir()
        self.nets = []
        for cls, name in ((PNet, "pnet.pt"), (RNet, "rnet.pt"), (ONet, "onet.pt")):
            net = cls()
            try:
                net.load_state_dict(torch.load(root / name, map_location="cpu", weights_only=True))
            except (OSError, RuntimeError) as exc:
                first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
                raise L2RError(f"MTCNN weights {root / name}: {first}") from None
            self.nets.append(net.eval())
        self.min_face = int(min_face)

    @torch.no_grad()
    def detect(self, photo: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """photo (H, W, 3) uint8 -> boxes (N, 5) [x0, y0, x1, y1, score] (pixels, inclusive)
        and 5 landmarks (N, 5, 2) (eyes, nose, mouth corners; x, y), best score first."""
        pnet, rnet, onet = self.nets
        img = torch.from_numpy(np.array(photo, np.float32)).permute(2, 0, 1)[None]
        h, w = photo.shape[:2]
        empty = np.zeros((0, 5)), np.zeros((0, 5, 2))
        scale, side, found = 12.0 / self.min_face, min(h, w) * 12.0 / self.min_face, []
        while side >= 12:
            im = F.interpolate(img, size=(int(h * scale + 1), int(w * scale + 1)), mode="area")
            reg, prob = pnet((im - 127.5) / 128)
            rows, cols = np.nonzero(prob[0].numpy() >= THRESHOLDS[0])
            if rows.size:
                xy = np.stack([cols, rows], 1).astype(np.float64)
                b = np.concatenate(
                    [
                        np.floor((2 * xy + 1) / scale),
                        np.floor((2 * xy + 12) / scale),
                        prob[0].numpy()[rows, cols][:, None],
                        reg[0].numpy()[:, rows, cols].T,
                    ],
                    1,
                )
                found.append(b[nms(b[:, :4], b[:, 4], 0.5)])
            scale, side = scale * FACTOR, side * FACTOR
        if not found:
            return empty
        b = np.concatenate(found)
        b = b[nms(b[:, :4], b[:, 4], 0.7)]
        b = _square(np.c_[_regress(b[:, :4], b[:, 5:9], plus_one=False), b[:, 4]])
        reg, prob = rnet((_patches(img, b, 24) - 127.5) / 128)
        ok = prob.numpy() > THRESHOLDS[1]
        if not ok.any():
            return empty
        b = np.c_[b[ok, :4], prob.numpy()[ok]]
        keep = nms(b[:, :4], b[:, 4], 0.7)
        b = _square(_regress(b[keep], reg.numpy()[ok][keep]))
        reg, pts, prob = onet((_patches(img, b, 48) - 127.5) / 128)
        ok = prob.numpy() > THRESHOLDS[2]
        if not ok.any():
            return empty
        b = np.c_[b[ok, :4], prob.numpy()[ok]]
        p = pts.numpy()[ok]
        bw, bh = b[:, 2] - b[:, 0] + 1, b[:, 3] - b[:, 1] + 1
        points = np.stack(
            [bw[:, None] * p[:, :5] + b[:, :1] - 1, bh[:, None] * p[:, 5:] + b[:, 1:2] - 1], -1
        )
        b = _regress(b, reg.numpy()[ok])
        keep = nms(b[:, :4], b[:, 4], 0.7, by_min=True)
        return b[keep], points[keep]
