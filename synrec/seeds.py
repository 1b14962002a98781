"""Deterministic seeds derived from names, so every image and sentence can be regenerated on its own.

A seed depends on (base seed, dataset, class, index) only - not on batch size, job split or run order - which is
what lets a killed generation job resume and a single class be regenerated bit-for-bit (on the same hardware).
"""

from __future__ import annotations

import hashlib


def derive_seed(base: int, *parts) -> int:
    """A 63-bit seed from the base seed and any names/indices (``derive_seed(0, 'eurosat', 3, 17)``)."""
    text = "|".join([str(base), *map(str, parts)])
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "big") >> 1
