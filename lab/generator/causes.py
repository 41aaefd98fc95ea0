"""What a customer or CSM would name as the reason behind a comment or note, derived from the hidden state."""

from __future__ import annotations

import numpy as np

from .state import F_COMPETITOR, F_NO_CHAMPION, F_ONBOARDING_FAIL, F_OUTAGE, F_PRICE, F_REORG, SimResult
from .text import CAUSES

C = {name: i for i, name in enumerate(CAUSES)}


def true_cause(sim: SimResult, day: np.ndarray, acc: np.ndarray, *, csm_view: bool) -> np.ndarray:
    """The most salient cause on (day, account), in priority order; index into text.CAUSES."""
    fl = sim.flags[day, acc]
    v = sim.value[day, acc]
    p = sim.pain[day, acc]
    h = sim.health[day, acc]
    out = np.full(len(acc), C["none"])
    rules = [
        (v > 0.68, "expansion"),
        (h > 0.68, "positive"),
        (v < 0.3, "low_usage"),
        ((fl & F_NO_CHAMPION) > 0, "champion_left"),
        (p > 0.45, "support"),
        ((fl & F_REORG) > 0, "reorg") if csm_view else (np.zeros(len(acc), bool), "reorg"),
        ((fl & F_ONBOARDING_FAIL) > 0, "onboarding"),
        ((fl & F_PRICE) > 0, "price"),
        ((fl & F_OUTAGE) > 0, "outage"),
        ((fl & F_COMPETITOR) > 0, "competitor"),
    ]
    for mask, name in rules:  # later rules win
        out[mask] = C[name]
    return out


def visible_cause(rng: np.random.Generator, cause: np.ndarray, p_visible: float) -> np.ndarray:
    """The cause is mentioned only some of the time."""
    return np.where(rng.random(len(cause)) < p_visible, cause, C["none"])
