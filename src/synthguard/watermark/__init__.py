"""Robust invisible watermarks for generated images and audio, keyed and blind.

`keys` holds key management and keyed randomness, `payload` the shared 64-bit payload
(key id + content id) with CRC, Reed-Solomon and whitening; `image` the image mark and
`image_file` the file-level step the labeling pipeline runs before writing the label.
"""

from synthguard.watermark.image import Detection, detect_image, embed_image
from synthguard.watermark.image_file import detect_file, watermark_file
from synthguard.watermark.keys import KeyRing, WatermarkKey, WatermarkKeyError, keyed_rng, whiten
from synthguard.watermark.payload import Payload, content_id_from

__all__ = [
    "Detection",
    "KeyRing",
    "Payload",
    "WatermarkKey",
    "WatermarkKeyError",
    "content_id_from",
    "detect_file",
    "detect_image",
    "embed_image",
    "keyed_rng",
    "watermark_file",
    "whiten",
]
