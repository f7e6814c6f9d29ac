"""The one seeded hash behind every random draw that must be reproducible: masks, window offsets, strand flips,
validation blocks and batch order.

Each draw is keyed on a tuple of integers (seed, epoch, step, rank, ...) rather than on a generator's running state,
so a resumed run, another worker count or another process draws the same values. splitmix64 (Steele et al., 2014)
mixes the tuple: stable across numpy and torch versions and platforms, and vectorised over an array of keys (one
draw per window without a Python loop).
"""

from __future__ import annotations

import numpy as np
import torch

_GOLDEN = np.uint64(0x9E3779B97F4A7C15)


def _mix(values) -> np.ndarray:
    """splitmix64's finaliser: a well-spread 64-bit hash of each value (wrapping uint64 arithmetic)."""
    x = np.asarray(values).astype(np.uint64)
    with np.errstate(over="ignore"):
        x = x + _GOLDEN
        x = (x ^ (x >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        x = (x ^ (x >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        return x ^ (x >> np.uint64(31))


def seed_hash(*parts) -> np.ndarray:
    """uint64 hash of a tuple of integers; the last part may be an array (one hash per element)."""
    value = _mix(np.uint64(0))
    for part in parts:
        value = _mix(value ^ _mix(np.asarray(part).astype(np.int64).astype(np.uint64)))
    return value


def keyed_generator(*keys: int) -> torch.Generator:
    """A CPU torch generator seeded from ``seed_hash(*keys)`` (CPU, so draws never depend on the device)."""
    return torch.Generator().manual_seed(int(seed_hash(*keys)) & (2**63 - 1))
