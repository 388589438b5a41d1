"""`python -m fuzz [--seconds N] [NAME ...]`: run each fuzz target under atheris.

Every target runs in its own process (atheris owns the process), seeded with its
`seeds()`; a crash leaves the input in fuzz/crashes/ and makes the run fail.
"""

from __future__ import annotations

import argparse
import subprocess
import sys

from fuzz import HERE, target_names


def main() -> int:
    parser = argparse.ArgumentParser(prog="python -m fuzz")
    parser.add_argument("names", nargs="*", help=f"targets (default all: {target_names()})")
    parser.add_argument("--seconds", type=int, default=30, help="time per target")
    args = parser.parse_args()
    names = args.names or target_names()
    unknown = sorted(set(names) - set(target_names()))
    if unknown:
        print(f"fuzz: unknown target {unknown[0]}", file=sys.stderr)
        return 2
    failed = []
    for name in names:
        print(f"== fuzz {name} ({args.seconds}s)", flush=True)
        rc = subprocess.call([sys.executable, str(HERE / "_one.py"), name, str(args.seconds)])
        if rc != 0:
            failed.append(name)
    print(f"fuzz: {len(names) - len(failed)} passed, {len(failed)} failed", flush=True)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
