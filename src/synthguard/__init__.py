"""SynthGuard: GB 45438-2025 labels, review and audit for generative-AI services."""

from __future__ import annotations

__version__ = "0.1.0"
