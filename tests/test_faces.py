"""Crop convention and face detection (l2r_cli/faces.py)."""

from __future__ import annotations

import numpy as np
import pytest
from skimage import data

from l2r_cli.errors import L2RError
from l2r_cli.faces import (
    EYE_U,
    EYE_V,
    MOUTH_V,
    Crop,
    FaceDetector,
    alignment_matrix,
    crops_of,
    square_matrix,
    warp_crop,
)


def _landmarks_at(eye_l, eye_r, mouth_l, mouth_r) -> np.ndarray:
    lm = np.zeros((68, 2))
    lm[36:42] = eye_l
    lm[42:48] = eye_r
    lm[48], lm[54] = mouth_l, mouth_r
    return lm


def _crop_px(u: float, v: float, size: int) -> np.ndarray:
    return (np.array([u, v]) + 1) / 2 * (size - 1)


@pytest.mark.parametrize("angle", [0.0, 0.4, -1.0])
def test_alignment_puts_eyes_and_mouth_where_training_faces_have_them(angle):
    # A face in the photo whose features are at the convention's positions, rotated by
    # `angle`, scaled by 7 and shifted: the crop matrix must undo exactly that.
    size = 64
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])

    def photo(u, v):
        return 7.0 * rot @ np.array([u, v]) + np.array([300.0, 200.0])

    lm = _landmarks_at(
        photo(-EYE_U, EYE_V), photo(EYE_U, EYE_V), photo(-0.2, MOUTH_V), photo(0.2, MOUTH_V)
    )
    m = alignment_matrix(lm, size)
    crop = Crop(np.zeros((size, size, 3), np.uint8), m, lm)
    got = crop.to_crop(lm[[36, 42, 48, 54]])
    uv = [(-EYE_U, EYE_V), (EYE_U, EYE_V), (-0.2, MOUTH_V), (0.2, MOUTH_V)]
    want = [_crop_px(u, v, size) for u, v in uv]
    np.testing.assert_allclose(got, np.array(want), atol=1e-9)
    # the crop's corners are the photo points of (u, v) = (+-1, +-1)
    np.testing.assert_allclose(crop.quad[0], photo(-1, -1), atol=1e-9)
    np.testing.assert_allclose(crop.quad[2], photo(1, 1), atol=1e-9)


def test_degenerate_landmarks_are_a_one_line_error():
    with pytest.raises(L2RError, match="degenerate"):
        alignment_matrix(np.zeros((68, 2)), 64)


def test_warp_crop_samples_the_photo_through_the_matrix():
    # A horizontal ramp photo: a crop whose matrix is a pure shift reads the shifted values.
    photo = np.repeat(np.repeat(np.arange(100, dtype=np.uint8)[None, :, None], 50, 0), 3, 2)
    m = np.array([[1.0, 0.0, 20.0], [0.0, 1.0, 5.0]])
    crop = warp_crop(photo, m, 16)
    np.testing.assert_array_equal(crop[0, :, 0], np.arange(20, 36))
    # outside the photo: the nearest edge pixel
    far = warp_crop(photo, np.array([[1.0, 0.0, 95.0], [0.0, 1.0, 0.0]]), 16)
    assert far[0, -1, 0] == 99


def test_square_matrix_shows_the_whole_photo():
    m = square_matrix(40, 80, 64)
    crop = Crop(np.zeros((64, 64, 3), np.uint8), m)
    np.testing.assert_allclose(crop.quad[0], [0, -20], atol=1e-9)
    np.testing.assert_allclose(crop.quad[2], [79, 59], atol=1e-9)


@pytest.fixture(scope="module")
def detector():
    return FaceDetector()


def test_detects_the_astronaut_and_aligns_her(detector):
    photo = data.astronaut()
    crops = crops_of(photo, 64, detector)
    assert len(crops) == 1  # the mission patch (a weak detection) is dropped
    c = crops[0]
    x0, y0, x1, y1 = c.box
    assert 120 < x0 < x1 < 320 and 0 <= y0 < y1 < 260  # her face, top middle of the photo
    eyes = c.to_crop(c.landmarks[[36, 45]])  # outer eye corners level after alignment
    assert abs(eyes[0, 1] - eyes[1, 1]) < 3
    assert c.to_dict()["detector"].startswith("dlib")


def test_no_face_in_noise_and_largest_keeps_one(detector):
    rng = np.random.default_rng(0)
    assert crops_of(rng.integers(0, 255, (200, 200, 3), dtype=np.uint8), 64, detector) == []
    photo = data.astronaut()
    two = np.concatenate([photo, photo[::2, ::2].repeat(2, 0).repeat(2, 1)], 1)
    assert len(crops_of(two, 64, detector)) == 2
    assert len(crops_of(two, 64, detector, largest=True)) == 1


def test_upsampled_landmarks_map_back_onto_the_face():
    """Landmarks predicted on the enlarged region of a small face land on the face (a wrong
    offset or scale in the mapping back puts them tens of pixels off), and a large face is
    left to the plain predictor."""
    from PIL import Image

    photo = np.asarray(Image.fromarray(data.astronaut()).resize((1024, 1024), Image.BICUBIC))
    plain = FaceDetector(detector="hog:1")
    up = FaceDetector(detector="hog:1", upsample_landmarks=True)
    ((big_plain, _),) = plain.detect(photo)
    ((big_up, _),) = up.detect(photo)
    assert np.array_equal(big_plain, big_up)  # a 180 px box: nothing to enlarge
    f = 0.15
    small = np.asarray(Image.fromarray(photo).resize((154, 154), Image.BOX))
    ref = big_plain * f + (f - 1) / 2  # the full-size landmarks in the small photo's pixels
    iod = np.linalg.norm(ref[45] - ref[36])
    plain = FaceDetector(detector="hog:2")  # a 27 px face needs the second upsampling
    up = FaceDetector(detector="hog:2", upsample_landmarks=True)
    (lm_up, _), *_ = up.detect(small)
    (lm_plain, _), *_ = plain.detect(small)
    err_up = np.linalg.norm(lm_up - ref, axis=1).mean() / iod
    err_plain = np.linalg.norm(lm_plain - ref, axis=1).mean() / iod
    assert err_up < 0.15 and err_plain < 0.2, (err_up, err_plain)
    assert up.seconds["detect"] > 0 and up.seconds["landmarks"] > 0
