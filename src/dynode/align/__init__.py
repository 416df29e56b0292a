"""Face alignment for real videos (optional extra ``face``): crops in, full frames out."""

from dynode.align.face import Alignment, Landmarker, align_video, ffhq_quad
from dynode.align.paste import face_mask, paste, paste_at, paste_stream

__all__ = ["Alignment", "Landmarker", "align_video", "face_mask", "ffhq_quad", "paste", "paste_at", "paste_stream"]
