"""Every fuzz target runs on its seeds and on deterministic mutations of them.

This keeps the atheris targets working between `make fuzz` runs, and is a small
mutation fuzzer in its own right: only `SynthGuardError` may escape a parser.
"""

from __future__ import annotations

import random

import pytest

from fuzz import load, target_names
from synthguard.errors import SynthGuardError


def mutations(seed: bytes, rng: random.Random, n: int) -> list[bytes]:
    out = []
    for _ in range(n):
        data = bytearray(seed)
        kind = rng.randrange(4)
        if kind == 0 and data:  # flip bytes
            for _ in range(rng.randint(1, 8)):
                data[rng.randrange(len(data))] = rng.randrange(256)
        elif kind == 1:  # truncate
            del data[rng.randrange(len(data) + 1):]
        elif kind == 2 and data:  # overwrite a 4-byte word with an extreme value
            pos = rng.randrange(len(data))
            data[pos:pos + 4] = rng.choice([b"\xff\xff\xff\xff", b"\x00\x00\x00\x00",
                                            b"\x7f\xff\xff\xff", b"\x00\x00\x00\x01"])
        else:  # duplicate a slice
            a = rng.randrange(len(data) + 1)
            b = rng.randrange(a, len(data) + 1)
            data[a:a] = data[a:b]
        out.append(bytes(data))
    return out


@pytest.mark.parametrize("name", target_names())
def test_target_survives_mutations(name: str) -> None:
    module = load(name)
    seeds = module.seeds()
    assert seeds, "a fuzz target needs seeds"
    rng = random.Random(name)
    for seed in seeds:
        for data in [seed, *mutations(seed, rng, 150)]:
            try:
                module.target(data)
            except SynthGuardError:
                pass
