"""Robust invisible watermarks for generated images and audio, keyed and blind.

`keys` holds key management and keyed randomness, `payload` the shared 64-bit payload
(key id + content id) with CRC, Reed-Solomon and whitening; `image` the image mark.
"""

from synthguard.watermark.keys import KeyRing, WatermarkKey, WatermarkKeyError, keyed_rng, whiten
from synthguard.watermark.payload import Payload, content_id_from

__all__ = [
    "KeyRing",
    "Payload",
    "WatermarkKey",
    "WatermarkKeyError",
    "content_id_from",
    "keyed_rng",
    "whiten",
]
