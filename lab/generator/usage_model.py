"""How hidden state turns into product usage: user pool, daily activity probabilities, events per user.

Shared by the state simulation (expected seat utilization drives expansion) and the usage event writer.
"""

from __future__ import annotations

import numpy as np

POOL_BASE, POOL_SLOPE = 0.35, 0.9  # enabled users per licensed seat = base + slope * value_realized
EFFECTIVE_DAYS_30 = 22 + 8 * 0.2  # weekdays + down-weighted weekend days in 30 days


def pool_ratio(value: np.ndarray) -> np.ndarray:
    return POOL_BASE + POOL_SLOPE * value


def day_probs(value: np.ndarray, fit: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Weekday probability that a power user / a regular user is active."""
    p_power = 0.08 + 0.45 * value
    p_regular = 0.002 + 0.09 * value ** 2.5 * (0.4 + fit)
    return p_power, p_regular


def events_per_user(value: np.ndarray) -> np.ndarray:
    """Mean of the Poisson number of events after the login (total per active user-day is 1 + this)."""
    return 0.9 + 2.3 * value


def expected_utilization(value: np.ndarray, fit: np.ndarray, power_frac: np.ndarray) -> np.ndarray:
    """Expected distinct 30-day users per licensed seat."""
    p_power, p_regular = day_probs(value, fit)
    cover_p = 1 - (1 - p_power) ** EFFECTIVE_DAYS_30
    cover_r = 1 - (1 - p_regular) ** EFFECTIVE_DAYS_30
    return pool_ratio(value) * (power_frac * cover_p + (1 - power_frac) * cover_r)
