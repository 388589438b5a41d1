"""The audio mark's inner code: the rate-1/2, constraint-length-7 convolutional code
(generators 133/171 octal, the NASA/CCSDS/802.11 code), zero-terminated, decoded with a
soft-decision Viterbi decoder.

The shared payload's Reed-Solomon code works on bytes and corrects few of them; audio
symbols fail one at a time and with graded confidence, which a soft Viterbi decoder
turns into about 5 dB of coding gain. The Reed-Solomon code and CRC stay as the outer
code: they clean up what Viterbi leaves and make a false decode improbable.
"""

from __future__ import annotations

import numpy as np
import numpy.typing as npt

CONSTRAINT = 7
MEMORY = CONSTRAINT - 1
STATES = 1 << MEMORY
GENERATORS = (0o133, 0o171)


def _parity(values: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    bits = np.zeros_like(values)
    for shift in range(CONSTRAINT):
        bits ^= (values >> shift) & 1
    return bits


def _outputs(registers: npt.NDArray[np.intp]) -> npt.NDArray[np.intp]:
    """Coded bit pair of each 7-bit register (newest bit highest), as (n, 2)."""
    return np.stack([_parity(registers & g) for g in GENERATORS], axis=-1)


def coded_length(bits: int) -> int:
    return 2 * (bits + MEMORY)


def encode(bits: npt.ArrayLike) -> npt.NDArray[np.uint8]:
    """0/1 `bits` followed by MEMORY zero tail bits, two coded bits per input bit."""
    message = np.concatenate([np.asarray(bits, dtype=np.intp).reshape(-1),
                              np.zeros(MEMORY, dtype=np.intp)])
    registers = np.zeros(len(message), dtype=np.intp)
    state = 0
    for i, bit in enumerate(message):
        registers[i] = (int(bit) << MEMORY) | state
        state = registers[i] >> 1
    return _outputs(registers).reshape(-1).astype(np.uint8)


_NEXT = np.arange(STATES)
_U = (_NEXT >> (MEMORY - 1)).astype(np.intp)  # the input bit that leads into each state
_PRED = np.stack([((_NEXT << 1) | low) & (STATES - 1) for low in (0, 1)])  # (2, STATES)
_SIGNS = 2 * _outputs((_U[None, :] << MEMORY) | _PRED) - 1  # (2, STATES, 2), ±1


def decode(soft: npt.ArrayLike, bits: int) -> npt.NDArray[np.uint8]:
    """Most likely `bits` message bits for soft coded values (positive = 1)."""
    values = np.asarray(soft, dtype=np.float64).reshape(-1, 2)
    if len(values) != bits + MEMORY:
        raise ValueError(f"expected {coded_length(bits)} soft values")
    metric = np.full(STATES, -np.inf)
    metric[0] = 0.0
    choices = np.zeros((len(values), STATES), dtype=np.intp)
    for step, pair in enumerate(values):
        candidates = metric[_PRED] + _SIGNS @ pair  # (2, STATES)
        choices[step] = np.argmax(candidates, axis=0)
        metric = np.max(candidates, axis=0)
    state = 0  # the tail bits bring the encoder back to state 0
    message = np.zeros(len(values), dtype=np.uint8)
    for step in range(len(values) - 1, -1, -1):
        message[step] = _U[state]
        state = int(_PRED[choices[step, state], state])
    return message[:bits]
