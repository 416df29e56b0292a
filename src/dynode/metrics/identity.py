"""Face identity embeddings (dlib's 128-D ResNet) for TL-ID / TG-ID on real faces (extra ``face``)."""

from __future__ import annotations

import numpy as np
import torch

from dynode.align.face import Landmarker, load_dlib, model_file


class FaceEmbedder:
    """dlib's face recognition network: the largest face of a frame -> a 128-D identity embedding."""

    def __init__(self, landmarker: Landmarker | None = None):
        self.landmarker = landmarker or Landmarker()
        path = model_file("dlib_face_recognition_resnet_model_v1.dat")
        self.net = load_dlib().face_recognition_model_v1(str(path))

    def __call__(self, frames: np.ndarray) -> torch.Tensor:
        """uint8 (T, H, W, 3) -> (T, 128); rows of frames without a detected face are NaN."""
        out = torch.full((len(frames), 128), float("nan"))
        for i, frame in enumerate(frames):
            rects = self.landmarker.faces(frame)
            if rects:
                shape = self.landmarker.predictor(frame, rects[0])
                out[i] = torch.tensor(list(self.net.compute_face_descriptor(frame, shape)))
        return out
