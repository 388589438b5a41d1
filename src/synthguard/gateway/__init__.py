"""The compliance gateway: an OpenAI-compatible service in front of any generator."""

from synthguard.gateway.app import create_app
from synthguard.gateway.server import serve

__all__ = ["create_app", "serve"]
