"""`python -m bench [NAME ...]`: run the benchmarks and print Markdown for docs/benchmarks.md."""

from __future__ import annotations

import importlib
import sys

from bench._common import machine

BENCHES = {
    "image_labels": "Implicit labels on 1 MP images vs exiftool",
    "mp4_large": "Labeling a large MP4 (moov at the end) vs ffmpeg and exiftool",
    "explicit_marks": "Explicit labels vs the naive way (Pillow, ffmpeg)",
    "gateway_overhead": "Gateway overhead vs a direct call to the same upstream",
    "watermark_image": "Robust image watermarks vs invisible-watermark and blind-watermark",
    "watermark_audio": "Robust audio watermark (no offline peer to run beside it)",
    "moderation": "Keyword review with a 100,000-entry library vs pyahocorasick and flashtext2",
    "audit_log": "Audit log: durable appends and proofs vs pymerkle",
}


def main() -> int:
    names = sys.argv[1:] or list(BENCHES)
    unknown = [name for name in names if name not in BENCHES]
    if unknown:
        print(f"unknown benchmark {unknown[0]!r}; choose from {', '.join(BENCHES)}",
              file=sys.stderr)
        return 2
    print(f"Machine: {machine()}\n")
    for name in names:
        module = importlib.import_module(f"bench.{name}")
        print(f"## {BENCHES[name]}\n\nCommand: `make bench` (or `python -m bench {name}`)\n")
        print(module.run())
        print()
    return 0


if __name__ == "__main__":
    sys.exit(main())
