"""Checks of free-text fields (names, purposes, references) shared by the services."""

from __future__ import annotations

from synthguard.identity import errors

MAX_PERSON_NAME = 64


def check_text(value: str, what: str, limit: int) -> str:
    """`value` stripped; refused when empty, longer than `limit` or not printable."""
    text = value.strip()
    if not text:
        raise errors.invalid("invalid_input", f"{what} must not be empty")
    if len(text) > limit:
        raise errors.invalid("invalid_input", f"{what} is {len(text)} characters, limit {limit}")
    if not text.isprintable():
        raise errors.invalid("invalid_input", f"{what} contains control characters")
    return text


def check_name(value: str) -> str:
    """A person's name as on their ID: letters, spaces and the middle dot of transcribed
    names (e.g. 阿依古丽·买买提), no digits."""
    name = check_text(value, "name", MAX_PERSON_NAME)
    if any(c.isdigit() for c in name):
        raise errors.invalid("invalid_name", "a name has no digits")
    return name
