"""GB 45438-2025 implicit (file-metadata) labels: write, read and judge them."""

from synthguard.labels.aigc import AIGCLabel, Finding, decode, parse_provider_code, provider_code
from synthguard.labels.api import Report, SiteReport, inspect, label, write_label
from synthguard.labels.protect import Protection

__all__ = [
    "AIGCLabel",
    "Finding",
    "Protection",
    "Report",
    "SiteReport",
    "decode",
    "inspect",
    "label",
    "parse_provider_code",
    "provider_code",
    "write_label",
]
