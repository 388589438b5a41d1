"""Model servers behind the gateway, one per public model name (`Config.backends`)."""

from __future__ import annotations

from collections.abc import Mapping

from synthguard.config import BackendRoute
from synthguard.gateway.backends.base import (
    SPEECH_FORMATS,
    Backend,
    BackendError,
    ChatDelta,
    ChatResult,
)
from synthguard.gateway.backends.demo import DemoBackend
from synthguard.gateway.backends.openai_compat import OpenAICompatBackend


def build_backends(routes: Mapping[str, BackendRoute], *, demo_delay_s: float = 0.0
                   ) -> dict[str, Backend]:
    """One backend per route; demo routes share one generator."""
    demo = DemoBackend(delay_s=demo_delay_s)
    backends: dict[str, Backend] = {}
    for name, route in routes.items():
        backends[name] = demo if route.kind == "demo" else OpenAICompatBackend(route)
    return backends


__all__ = ["SPEECH_FORMATS", "Backend", "BackendError", "ChatDelta", "ChatResult",
           "DemoBackend", "OpenAICompatBackend", "build_backends"]
