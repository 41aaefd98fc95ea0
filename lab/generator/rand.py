"""Deterministic random streams.

Every part of the generator draws from its own child generator, keyed by the user's seed and a fixed stream name
(plus e.g. a month index), so that the output does not depend on the order in which parts run.
"""

from __future__ import annotations

import zlib

import numpy as np


def _key(k: object) -> int:
    if isinstance(k, str):
        return zlib.crc32(k.encode("utf-8"))
    return int(k) & 0xFFFFFFFF


def stream(seed: int, *keys: object) -> np.random.Generator:
    """A child generator for `seed` and the stream named by `keys` (strings and/or ints)."""
    if int(seed) < 0:
        raise ValueError("seed must be a non-negative integer")
    entropy = [int(seed)] + [_key(k) for k in keys]
    return np.random.default_rng(np.random.SeedSequence(entropy))


def sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))
