"""`python -m synthguard`: the same as the `synthguard` command."""

from synthguard.cli import main

main()
