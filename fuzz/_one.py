"""Run one fuzz target under atheris (called by `python -m fuzz`)."""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from fuzz import HERE, load


def main() -> None:
    name, seconds = sys.argv[1], int(sys.argv[2])
    # Import the target (and through it the carrier) inside the instrumentation block,
    # or atheris fuzzes blind with no coverage feedback.
    with atheris.instrument_imports(include=["synthguard", "fuzz"]):
        module = load(name)
        from synthguard.errors import SynthGuardError

    def one_input(data: bytes) -> None:
        try:
            module.target(data)
        except SynthGuardError:
            pass

    corpus = Path(tempfile.mkdtemp(prefix=f"fuzz-{name}-"))
    for i, seed in enumerate(module.seeds()):
        (corpus / f"seed{i}").write_bytes(seed)
    crashes = HERE / "crashes"
    crashes.mkdir(exist_ok=True)
    atheris.Setup([sys.argv[0], str(corpus), f"-max_total_time={seconds}", "-timeout=10",
                   "-rss_limit_mb=2048", f"-artifact_prefix={crashes}/{name}-"], one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
