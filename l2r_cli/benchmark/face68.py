"""A generic 3D face at the 68 iBUG / dlib landmarks: the reference shape of
``l2r benchmark photos`` (:mod:`l2r_cli.benchmark.photos`).

Source. The numbers are derived from MediaPipe's canonical face model
(``mediapipe/modules/face_geometry/data/canonical_face_model.obj``, the 468-vertex neutral
face of MediaPipe Face Mesh, in centimetres), Copyright The MediaPipe Authors, licensed under
the Apache License 2.0 (https://www.apache.org/licenses/LICENSE-2.0). l2r derived the 68
points itself; no MediaPipe code is used or shipped. Derivation, with MediaPipe's contour
index lists of ``FaceLandmarksConnections`` (vertex index = landmark index):

- eyes 36-47: the corners are MediaPipe 33/133 (right eye) and 362/263 (left eye); the two
  upper and the two lower lid points are at 1/3 and 2/3 of the arc length of the upper and
  lower lid contours between the corners;
- brows 17-26: the five vertices of each brow's upper contour (70, 63, 105, 66, 107 and
  336, 296, 334, 293, 300);
- nose 27-35: 27 is 168 (between the eyes), 30 the most prominent vertex 4, 28 and 29 at 1/3
  and 2/3 of the ridge 168-6-197-195-5-4; the nostril points 31-35 are 98, 97, 2, 326, 327;
- mouth 48-67: corners 61/291 (outer) and 78/308 (inner), mid-points 0/17 (outer) and 13/14
  (inner); the other outer points at 1/3 and 2/3 of each half contour, the inner ones at 1/2;
- jaw 0-16: the face-oval contour from the height of the outer eye corners down to the chin
  (152), split into eight equal arc lengths on each side. These contour points are where a
  frontal face's outline is; on a turned face the visible outline slides over the cheek, so
  :func:`l2r_cli.benchmark.photos.fit_reference_pose` leaves them out of the pose fit.

Axes are l2r's camera axes (:mod:`l2r_cli.render.camera`): x to the image right (the
subject's left), y down, z away from the camera (MediaPipe's (x, y, z) -> (x, -y, -z)); the
face looks down -z, so a frontal face seen by l2r's camera has its nose tip nearest. Units:
centimetres, origin as in MediaPipe's model (inside the head, about 7.5 cm behind the nose
tip). Point i is dlib's / iBUG's landmark i (0-based): 0-16 jaw from the subject's right ear
to the left one, 17-21 right brow, 22-26 left brow, 27-30 nose bridge down to the tip, 31-35
nostrils, 36-41 right eye, 42-47 left eye (each from the outer or inner corner clockwise in
the image), 48-59 outer lip, 60-67 inner lip.
"""

from __future__ import annotations

import numpy as np

#: (68, 3) generic landmark positions, centimetres, l2r camera axes (module docstring).
GENERIC_68 = (
    (-7.711, -2.664, +1.831),  #  0 jaw
    (-7.649, -0.462, +2.435),  #  1 jaw
    (-7.427, +1.829, +2.356),  #  2 jaw
    (-6.939, +4.033, +1.947),  #  3 jaw
    (-6.130, +5.874, +0.903),  #  4 jaw
    (-5.101, +7.161, -0.690),  #  5 jaw
    (-3.752, +8.192, -2.249),  #  6 jaw
    (-2.159, +9.022, -3.681),  #  7 jaw
    (+0.000, +9.403, -4.264),  #  8 jaw
    (+2.159, +9.022, -3.681),  #  9 jaw
    (+3.752, +8.192, -2.249),  # 10 jaw
    (+5.101, +7.161, -0.690),  # 11 jaw
    (+6.130, +5.874, +0.903),  # 12 jaw
    (+6.939, +4.033, +1.947),  # 13 jaw
    (+7.427, +1.829, +2.356),  # 14 jaw
    (+7.649, -0.462, +2.435),  # 15 jaw
    (+7.711, -2.664, +1.831),  # 16 jaw
    (-5.721, -4.255, -2.831),  # 17 right brow
    (-4.986, -4.802, -3.752),  # 18 right brow
    (-3.987, -5.109, -4.466),  # 19 right brow
    (-2.760, -5.101, -5.016),  # 20 right brow
    (-1.396, -5.012, -5.316),  # 21 right brow
    (+1.396, -5.012, -5.316),  # 22 left brow
    (+2.760, -5.101, -5.016),  # 23 left brow
    (+3.987, -5.109, -4.466),  # 24 left brow
    (+4.986, -4.802, -3.752),  # 25 left brow
    (+5.721, -4.255, -2.831),  # 26 left brow
    (+0.000, -3.271, -5.236),  # 27 nose bridge
    (+0.000, -2.061, -6.081),  # 28 nose bridge
    (+0.000, -0.845, -6.919),  # 29 nose bridge
    (+0.000, +0.463, -7.587),  # 30 nose bridge
    (-1.406, +1.714, -5.241),  # 31 nostril
    (-0.597, +2.014, -5.866),  # 32 nostril
    (+0.000, +2.089, -6.058),  # 33 nostril
    (+0.597, +2.014, -5.866),  # 34 nostril
    (+1.406, +1.714, -5.241),  # 35 nostril
    (-4.446, -2.664, -3.173),  # 36 right eye
    (-3.677, -2.926, -3.720),  # 37 right eye
    (-2.718, -2.961, -3.871),  # 38 right eye
    (-1.856, -2.585, -3.758),  # 39 right eye
    (-2.740, -2.315, -3.777),  # 40 right eye
    (-3.670, -2.360, -3.635),  # 41 right eye
    (+1.856, -2.585, -3.758),  # 42 left eye
    (+2.718, -2.961, -3.871),  # 43 left eye
    (+3.677, -2.926, -3.720),  # 44 left eye
    (+4.446, -2.664, -3.173),  # 45 left eye
    (+3.670, -2.360, -3.635),  # 46 left eye
    (+2.740, -2.315, -3.777),  # 47 left eye
    (-2.456, +4.343, -4.284),  # 48 outer lip
    (-1.887, +3.786, -5.056),  # 49 outer lip
    (-1.059, +3.412, -5.693),  # 50 outer lip
    (+0.000, +3.406, -5.980),  # 51 outer lip
    (+1.059, +3.412, -5.693),  # 52 outer lip
    (+1.887, +3.786, -5.056),  # 53 outer lip
    (+2.456, +4.343, -4.284),  # 54 outer lip
    (+1.794, +4.853, -4.857),  # 55 outer lip
    (+0.980, +5.209, -5.339),  # 56 outer lip
    (+0.000, +5.365, -5.535),  # 57 outer lip
    (-0.980, +5.209, -5.339),  # 58 outer lip
    (-1.794, +4.853, -4.857),  # 59 outer lip
    (-2.153, +4.276, -4.038),  # 60 inner lip
    (-1.191, +4.007, -4.806),  # 61 inner lip
    (+0.000, +3.994, -5.219),  # 62 inner lip
    (+1.191, +4.007, -4.806),  # 63 inner lip
    (+2.153, +4.276, -4.038),  # 64 inner lip
    (+1.243, +4.447, -4.997),  # 65 inner lip
    (+0.000, +4.542, -5.405),  # 66 inner lip
    (-1.243, +4.447, -4.997),  # 67 inner lip
)

#: Landmark i of a face is landmark MIRROR_68[i] of its mirror image (left and right swap).
MIRROR_68 = (
    *range(16, -1, -1),
    *range(26, 16, -1),
    27, 28, 29, 30,
    35, 34, 33, 32, 31,
    45, 44, 43, 42, 47, 46,
    39, 38, 37, 36, 41, 40,
    54, 53, 52, 51, 50, 49, 48, 59, 58, 57, 56, 55,
    64, 63, 62, 61, 60, 67, 66, 65,
)  # fmt: skip

#: Indices of the inner landmarks (brows, nose, eyes, mouth): fixed points of the face's
#: surface, unlike the jaw contour.
INNER_68 = tuple(range(17, 68))


def generic_face() -> np.ndarray:
    """The generic face (68, 3) float64, centimetres, l2r camera axes."""
    return np.array(GENERIC_68, dtype=np.float64)
