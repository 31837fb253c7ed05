"""MTCNN (l2r_cli/mtcnn.py): non-maximum suppression by hand, the cascade on a real face, on
noise and on a small copy, and the one-line error without the weights."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image
from skimage import data

from l2r_cli.errors import L2RError
from l2r_cli.mtcnn import Mtcnn, nms


def test_nms_by_hand():
    boxes = np.array([[0, 0, 9, 9], [1, 1, 10, 10], [20, 20, 29, 29], [0, 0, 4, 4]], float)
    scores = np.array([0.9, 0.95, 0.5, 0.8])
    # IoU of the first two: 81 / 119 = 0.68: the better (index 1) suppresses the other below
    # 0.68, not above; the small box overlaps index 1 by 16 / 109 (union), 16 / 25 (smaller box)
    assert nms(boxes, scores, 0.5).tolist() == [1, 3, 2]
    assert nms(boxes, scores, 0.6).tolist() == [1, 3, 2]
    assert nms(boxes, scores, 0.7).tolist() == [1, 0, 3, 2]
    assert nms(boxes, scores, 0.5, by_min=True).tolist() == [1, 2]
    assert nms(boxes[:0], scores[:0], 0.5).tolist() == []


@pytest.fixture(scope="module")
def mtcnn():
    return Mtcnn()


def test_finds_the_astronaut_with_her_eyes_and_mouth(mtcnn):
    boxes, points = mtcnn.detect(data.astronaut())
    assert len(boxes) == 1 and boxes[0, 4] > 0.99
    x0, y0, x1, y1 = boxes[0, :4]
    assert 150 < x0 < x1 < 300 and 30 < y0 < y1 < 220  # her face, top middle of the photo
    eye_l, eye_r, nose, mouth_l, mouth_r = points[0]
    assert eye_l[0] < nose[0] < eye_r[0] and mouth_l[0] < mouth_r[0]
    assert eye_l[1] < nose[1] < mouth_l[1] and abs(eye_l[1] - eye_r[1]) < 8  # upright


def test_no_face_in_noise_and_a_small_copy_is_found(mtcnn):
    rng = np.random.default_rng(0)
    assert len(mtcnn.detect(rng.integers(0, 256, (200, 200, 3), dtype=np.uint8))[0]) == 0
    small = np.asarray(Image.fromarray(data.astronaut()).resize((96, 96), Image.BOX))
    boxes, _ = mtcnn.detect(small)  # her face is ~28 px wide here
    assert len(boxes) == 1 and 35 < (boxes[0, 0] + boxes[0, 2]) / 2 < 70


def test_missing_weights_are_a_one_line_error(monkeypatch):
    import importlib.util

    real = importlib.util.find_spec
    monkeypatch.setattr(
        importlib.util, "find_spec", lambda n, *a: None if n == "facenet_pytorch" else real(n, *a)
    )
    with pytest.raises(L2RError, match="pip install --no-deps facenet-pytorch"):
        Mtcnn()
