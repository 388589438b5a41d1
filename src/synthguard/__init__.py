"""SynthGuard: GB 45438-2025 labels, review and audit for generative-AI services.

The content layer works as a plain library:

    >>> import synthguard
    >>> synthguard.label("in.jpg", "out.jpg", producer=code, produce_id="img-1")
    >>> synthguard.inspect("out.jpg").verdict
    'compliant'

With keys (`synthguard.Protection`, or the configuration), `label` also embeds the robust
watermark, signs the label and adds C2PA; `inspect` reports them (docs/protection.md).
"""

from __future__ import annotations

from synthguard.labels import AIGCLabel, Protection, Report, inspect, label

__version__ = "0.1.0"
__all__ = ["AIGCLabel", "Protection", "Report", "__version__", "inspect", "label"]
