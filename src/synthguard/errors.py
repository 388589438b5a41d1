"""The error types SynthGuard raises. Every message names the thing that is wrong."""

from __future__ import annotations


class SynthGuardError(Exception):
    """Base class: a problem we can describe to the user in one line."""

    code = "error"


class LabelValueError(SynthGuardError, ValueError):
    """A label field value breaks Annex E (charset, Label enum, provider code...)."""

    code = "invalid_label"

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field


class UnsupportedFormat(SynthGuardError):
    """No carrier recognises the file, or the carrier cannot write it."""

    code = "unsupported_format"


class MalformedFile(SynthGuardError):
    """The container is truncated, lies about its sizes, or is otherwise not parseable."""

    code = "malformed_file"


class VerificationFailed(SynthGuardError):
    """A written file did not read back with exactly the label we wrote."""

    code = "verification_failed"
