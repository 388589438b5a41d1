"""SynthGuard: GB 45438-2025 labels, review and audit for generative-AI services.

The content layer works as a plain library:

    >>> import synthguard
    >>> synthguard.label("in.jpg", "out.jpg", producer=code, produce_id="img-1")
    >>> synthguard.inspect("out.jpg").verdict
    'compliant'
"""

from __future__ import annotations

from synthguard.labels import AIGCLabel, Report, inspect, label

__version__ = "0.1.0"
__all__ = ["AIGCLabel", "Report", "__version__", "inspect", "label"]
