"""The random holdout: a seeded draw per account and playbook, recorded once, so lift can be measured later."""

from __future__ import annotations

import hashlib


def draw(seed: int, account_id: str, playbook: str) -> float:
    """A uniform number in [0, 1) fixed by (seed, account, playbook): the same on every run, process and machine."""
    digest = hashlib.sha256(f"{seed}:{account_id}:{playbook}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2**64
