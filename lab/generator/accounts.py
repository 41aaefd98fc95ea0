"""The account population: segments, sizes, firmographics, CSM owners and the hidden per-account traits."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from csops import contract

from .timegrid import REGIONS, Calendar

SEGMENTS = contract.SEGMENTS  # ("enterprise", "mid_market", "smb")
ENT, MID, SMB = 0, 1, 2
SEGMENT_SHARE = np.array([0.10, 0.30, 0.60])
MONTHLY_SMB_SHARE = 0.5
# lognormal seat counts: (median, sigma, min, max)
SEAT_PARAMS = ((380.0, 0.55, 200, 2000), (70.0, 0.55, 30, 300), (9.0, 0.55, 3, 40))
EXISTING_SHARE = 0.70

INDUSTRIES = (
    "software", "financial_services", "healthcare", "retail", "manufacturing", "education", "media",
    "logistics", "professional_services", "public_sector", "hospitality", "energy",
)
REGION_SHARE = np.array([0.45, 0.30, 0.15, 0.10])
# UTC offsets (minutes) per region, ignoring daylight saving
TZ_CHOICES = ((-300, -360, -420, -480), (0, 60, 120), (330, 480, 540, 600), (-180, -300))

ARCHETYPES = ("healthy", "steady", "struggling", "erratic")
ARCHETYPE_SHARE = np.array([0.35, 0.35, 0.18, 0.12])
FIT_BETA = ((9.0, 3.0), (6.0, 5.0), (3.0, 6.0), (4.0, 5.0))
ERRATIC_RANGE = ((0.02, 0.15), (0.08, 0.3), (0.2, 0.5), (0.6, 1.0))
DRIFT_MEAN = (0.02, 0.0, -0.05, -0.01)

CSM_NAMES = (
    "csm_ana.silva", "csm_ben.okafor", "csm_chloe.martin", "csm_david.kim", "csm_elena.rossi",
    "csm_farid.haddad", "csm_grace.lee", "csm_hugo.bernard", "csm_ines.garcia", "csm_jonas.weber",
    "csm_kavya.nair", "csm_liam.murphy", "csm_maria.lopez", "csm_noah.fischer", "csm_olivia.chen",
    "csm_pedro.santos", "csm_quinn.walsh", "csm_rina.tanaka", "csm_sam.cohen", "csm_tara.singh",
)
CSM_CHANGE_PER_YEAR = 0.12

_PREFIX = (
    "Blue", "Northwind", "Silver", "Granite", "Apex", "Bright", "Cedar", "Summit", "Harbor", "Lumen", "Nimbus",
    "Orchid", "Pioneer", "Quantum", "Redwood", "Sterling", "Tidal", "Vertex", "Willow", "Zenith", "Acme", "Beacon",
    "Cobalt", "Delta", "Ember", "Falcon", "Golden", "Helix", "Iron", "Juniper", "Keystone", "Lakeside", "Maple",
    "Nova", "Oak", "Pacific", "Quarry", "River", "Sable", "Tundra", "Union", "Vista", "Wren", "Yellowstone",
    "Atlas", "Birch", "Crescent", "Drift", "Evergreen", "Frontier", "Glacier", "Highland", "Indigo", "Jade",
    "Kestrel", "Lighthouse", "Meridian", "Northstar", "Onyx", "Prairie",
)
_NOUN = (
    "Logistics", "Health", "Analytics", "Foods", "Robotics", "Capital", "Energy", "Media", "Labs", "Retail",
    "Freight", "Insurance", "Pharma", "Studios", "Learning", "Motors", "Textiles", "Builders", "Networks", "Clinics",
    "Hotels", "Farms", "Aviation", "Marine", "Software", "Consulting", "Partners", "Payments", "Outfitters",
    "Brewing", "Dental", "Legal", "Realty", "Security", "Telecom", "Water", "Wellness", "Works", "Supply", "Print",
)
_SUFFIX = ("", "", "", "Inc", "Group", "GmbH", "Ltd", "Co", "Systems", "Holdings", "SA", "LLC", "Corp", "AG", "BV")


@dataclass
class Accounts:
    n: int
    ids: pa.Array  # "A0001234"
    user_prefix: pa.Array  # "U0001234-"
    names: pa.Array
    domains: pa.Array  # "blueharborlogistics.com"
    segment: np.ndarray  # int8 index into SEGMENTS
    region: np.ndarray  # index into REGIONS
    industry: np.ndarray
    tz_offset_min: np.ndarray
    seats0: np.ndarray  # licensed seats of the contract running at window start (or the first one)
    term_months: np.ndarray
    is_new: np.ndarray  # created during the window
    created_day: np.ndarray  # customer since: first contract starts (new logos) / account exists (others)
    created_sec: np.ndarray
    crm_created_day: np.ndarray  # the CRM record (accounts.created_at); before the deal closes for new logos
    archetype: np.ndarray
    fit_base: np.ndarray
    erratic: np.ndarray
    drift: np.ndarray  # per year, on product fit
    champ_base: np.ndarray
    pain_base: np.ndarray
    weekend_factor: np.ndarray
    power_frac: np.ndarray
    attentive: np.ndarray  # CSM reacts to risk with more touches
    csm_names: tuple[str, ...]
    csm: np.ndarray  # initial owner index
    csm_change_day: np.ndarray  # -1 = no change
    csm_new: np.ndarray
    price_factor: np.ndarray  # negotiated discount / premium on list price


def _seg_choice(rng: np.random.Generator, seg: np.ndarray, per_seg: tuple) -> np.ndarray:
    out = np.empty(len(seg))
    for s, val in enumerate(per_seg):
        m = seg == s
        out[m] = val(rng, int(m.sum())) if callable(val) else val
    return out


def make_accounts(rng: np.random.Generator, n: int, cal: Calendar) -> Accounts:
    if n < 1:
        raise ValueError("accounts must be >= 1")
    seg = rng.choice(3, size=n, p=SEGMENT_SHARE).astype(np.int8)
    seats = np.empty(n, dtype=np.int64)
    for s, (med, sig, lo, hi) in enumerate(SEAT_PARAMS):
        m = seg == s
        seats[m] = np.clip(np.round(med * np.exp(rng.normal(0.0, sig, m.sum()))), lo, hi)
    region = rng.choice(len(REGIONS), size=n, p=REGION_SHARE).astype(np.int8)
    tz = np.empty(n, dtype=np.int64)
    for r, opts in enumerate(TZ_CHOICES):
        m = region == r
        tz[m] = rng.choice(np.array(opts), size=m.sum())
    industry = rng.integers(0, len(INDUSTRIES), n).astype(np.int8)

    term = np.full(n, 12, dtype=np.int64)
    # most SMB customers are on monthly self-serve plans: they can leave at any month, not only once a year
    term[(seg == SMB) & (rng.random(n) < MONTHLY_SMB_SHARE)] = 1
    term[(seg == MID) & (rng.random(n) < 0.10)] = 24
    r = rng.random(n)
    term[(seg == ENT) & (r < 0.25)] = 24
    term[(seg == ENT) & (r >= 0.25) & (r < 0.40)] = 36

    is_new = rng.random(n) >= EXISTING_SHARE
    created_day = np.empty(n, dtype=np.int64)
    n_new = int(is_new.sum())
    created_day[~is_new] = cal.first_day - rng.integers(1, 3 * 365, n - n_new)
    created_day[is_new] = cal.first_day + rng.integers(0, max(cal.window_days - 3, 1), n_new)
    # new logos land on weekdays
    wd = cal.weekday[np.clip(created_day, 0, cal.n_days - 1)]
    shift = np.where(is_new & (wd >= 5), 7 - wd, 0)
    created_day = np.minimum(created_day + shift, cal.n_days - 1)
    created_sec = (rng.normal(14.0, 2.5, n).clip(7, 21) * 3600).astype(np.int64) - tz * 60
    created_sec = np.clip(created_sec, 0, 86399)
    crm_created_day = np.where(is_new, created_day - rng.integers(20, 75, n), created_day)

    arch = rng.choice(len(ARCHETYPES), size=n, p=ARCHETYPE_SHARE).astype(np.int8)
    fit = np.empty(n)
    erratic = np.empty(n)
    drift = np.empty(n)
    for a in range(len(ARCHETYPES)):
        m = arch == a
        k = int(m.sum())
        fit[m] = rng.beta(*FIT_BETA[a], k)
        erratic[m] = rng.uniform(*ERRATIC_RANGE[a], k)
        drift[m] = rng.normal(DRIFT_MEAN[a], 0.05, k)
    champ = np.clip(rng.uniform(0.55, 0.9, n) + 0.1 * (fit - 0.5), 0.3, 0.95)
    pain = np.clip(0.32 - 0.28 * fit + rng.normal(0, 0.05, n), 0.03, 0.6)

    n_csm = int(np.clip(round(8 + n / 800), 8, len(CSM_NAMES)))
    order = rng.permutation(len(CSM_NAMES))[:n_csm]
    csm_names = tuple(CSM_NAMES[i] for i in sorted(order.tolist()))
    csm = rng.integers(0, n_csm, n)
    p_change = 1 - (1 - CSM_CHANGE_PER_YEAR) ** (cal.window_days / 365)
    change = rng.random(n) < p_change
    change_day = np.where(change, cal.first_day + rng.integers(0, cal.window_days, n), -1)
    change_day = np.where(change_day > created_day + 30, change_day, -1)
    csm_new = (csm + rng.integers(1, n_csm, n)) % n_csm

    ids, prefix, names, domains = _names(rng, n)
    return Accounts(
        n=n, ids=ids, user_prefix=prefix, names=names, domains=domains, segment=seg, region=region,
        industry=industry, tz_offset_min=tz, seats0=seats, term_months=term, is_new=is_new,
        created_day=created_day, created_sec=created_sec, crm_created_day=crm_created_day, archetype=arch,
        fit_base=fit, erratic=erratic,
        drift=drift, champ_base=champ, pain_base=pain, weekend_factor=rng.uniform(0.15, 0.25, n),
        power_frac=rng.uniform(0.08, 0.2, n), attentive=rng.random(n) < 0.6, csm_names=csm_names, csm=csm,
        csm_change_day=change_day, csm_new=csm_new, price_factor=rng.uniform(0.85, 1.1, n),
    )


def _names(rng: np.random.Generator, n: int) -> tuple[pa.Array, pa.Array, pa.Array, pa.Array]:
    digits = pc.utf8_lpad(pc.cast(pa.array(np.arange(1, n + 1)), pa.string()), 7, "0")
    ids = pc.binary_join_element_wise("A", digits, "")
    prefix = pc.binary_join_element_wise("U", digits, "-", "")
    total = len(_PREFIX) * len(_NOUN) * len(_SUFFIX)
    combo = rng.choice(total, size=n, replace=n > total)
    p, rest = combo // (len(_NOUN) * len(_SUFFIX)), combo % (len(_NOUN) * len(_SUFFIX))
    w, s = rest // len(_SUFFIX), rest % len(_SUFFIX)
    names, domains = [], []
    seen: dict[str, int] = {}
    for i, (a, b, c) in enumerate(zip(p.tolist(), w.tolist(), s.tolist())):
        base = f"{_PREFIX[a]} {_NOUN[b]}"
        name = f"{base} {_SUFFIX[c]}" if _SUFFIX[c] else base
        dom = (_PREFIX[a] + _NOUN[b]).lower()
        k = seen.get(dom, 0)
        seen[dom] = k + 1
        if k:  # two companies with the same stem get distinct domains
            dom = f"{dom}{_SUFFIX[c].lower() or 'hq'}{k}"
        if n > total and k:
            name = f"{name} {k}"
        names.append(name)
        domains.append(dom + ".com")
    return ids, prefix, pa.array(names), pa.array(domains)


def accounts_table(acc: Accounts, cal: Calendar,
                   rng: np.random.Generator) -> tuple[pa.Table, np.ndarray, np.ndarray]:
    """CRM account rows: one version when the account lands, a newer one when its CSM changes later.

    Returns (rows, batch index per row, whether a row is superseded by a newer version in a later batch).
    """
    from .timegrid import fmt_ts

    lm_created = cal.landing_month(acc.crm_created_day)
    changed = acc.csm_change_day >= 0
    lm_change = np.where(changed, cal.landing_month(np.maximum(acc.csm_change_day, 0)), -1)
    same = changed & (lm_change == lm_created)
    csm_names = pa.array(list(acc.csm_names))
    use_off = rng.random(acc.n) < 0.04
    base = pa.table({
        "account_id": acc.ids,
        "account_name": acc.names,
        "segment": pa.array(list(SEGMENTS)).take(pa.array(acc.segment.astype(np.int64))),
        "industry": pa.array(list(INDUSTRIES)).take(pa.array(acc.industry.astype(np.int64))),
        "region": pa.array(list(REGIONS)).take(pa.array(acc.region.astype(np.int64))),
        "created_at": fmt_ts(cal, acc.crm_created_day, acc.created_sec, acc.tz_offset_min, use_off),
    })
    v1 = base.append_column("csm_owner", csm_names.take(pa.array(np.where(same, acc.csm_new, acc.csm))))
    later = np.nonzero(changed & ~same)[0]
    v2 = base.take(pa.array(later)).append_column("csm_owner", csm_names.take(pa.array(acc.csm_new[later])))
    superseded = np.concatenate([changed & ~same, np.zeros(len(later), bool)])
    return pa.concat_tables([v1, v2]), np.concatenate([lm_created, lm_change[later]]), superseded
