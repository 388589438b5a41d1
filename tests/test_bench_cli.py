"""`python -m bench` front end: an unknown benchmark name is a one-line error, before any
benchmark runs or prints."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def test_unknown_benchmark_name_is_a_one_line_error() -> None:
    done = subprocess.run([sys.executable, "-m", "bench", "watermark_audio", "nosuch"],
                          cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert done.returncode == 2
    assert done.stdout == ""
    assert done.stderr.strip().splitlines() == [
        "unknown benchmark 'nosuch'; choose from image_labels, mp4_large, explicit_marks, "
        "gateway_overhead, watermark_image, watermark_audio, moderation, audit_log"]
