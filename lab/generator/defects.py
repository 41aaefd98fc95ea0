"""Data-quality defects injected into landing batches, counted exactly.

Each kind hits a share `rate` of the rows of the sources where it makes sense; a row gets at most one defect.
Late arrivals (facts of month m landing in the batch of month m+1) are chosen here too; they are not defects but
are counted. Duplicates and late rows destined for a later batch are returned as a carry table.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from csops import contract

KINDS = ("duplicate", "null_required", "malformed_timestamp", "unknown_enum", "orphan_account")
APPLICABLE: dict[str, tuple[str, ...]] = {
    "accounts": ("unknown_enum",),
    "contracts": ("orphan_account",),  # extra contract lines for accounts the CRM does not have
    "handoffs": ("null_required", "malformed_timestamp", "orphan_account"),
    "contacts": ("null_required", "malformed_timestamp", "unknown_enum", "orphan_account"),
    "usage_events": ("duplicate", "null_required", "malformed_timestamp", "orphan_account"),
    "support_tickets": ("null_required", "malformed_timestamp", "unknown_enum", "orphan_account"),
    "survey_responses": ("duplicate", "null_required", "malformed_timestamp", "unknown_enum", "orphan_account"),
    "activities": ("duplicate", "null_required", "malformed_timestamp", "unknown_enum", "orphan_account"),
}
TS_COLUMN = {
    "usage_events": "occurred_at", "support_tickets": "opened_at", "survey_responses": "responded_at",
    "activities": "occurred_at", "contacts": "created_at", "handoffs": "closed_at",
}
UNKNOWN_ENUM = {
    "accounts": ("segment", ("Strategic", "Key Account")),
    "support_tickets": ("priority", ("critical", "P1")),
    "activities": ("activity_type", ("webinar", "lunch")),
    "survey_responses": ("survey", ("ces", "csat_v2")),
    "contacts": ("role", ("intern", "procurement")),
}
LATE_SOURCES = ("usage_events", "survey_responses", "activities")
LATE_RATE = 0.015
BROKEN_BATCH = {"source": "support_tickets", "renamed": ("opened_at", "open_date")}


class DefectInjector:
    def __init__(self, rate: float, ghost_ids: list[str]):
        if not 0 <= rate < 0.1:
            raise ValueError("defect_rate must be in [0, 0.1)")
        self.rate = float(rate)
        self.ghost_ids = pa.array(ghost_ids, pa.string())
        self.counts: dict[str, dict[str, int]] = {s: {k: 0 for k in APPLICABLE[s]} for s in contract.SOURCE_NAMES}
        self.late: dict[str, int] = {s: 0 for s in LATE_SOURCES}
        self.broken: list[dict] = []
        self._extra_contract = 0

    def process(self, source: str, table: pa.Table, rng: np.random.Generator, *, allow_carry: bool,
                eligible: np.ndarray | None = None) -> tuple[pa.Table, pa.Table | None]:
        """Inject defects into one batch's rows; return (rows for this batch, rows for the next batch).

        `eligible` restricts which rows may get a defect (all by default).
        """
        n = table.num_rows
        kinds = APPLICABLE[source] if self.rate > 0 else ()
        n_late = int(rng.binomial(n, LATE_RATE)) if (allow_carry and source in LATE_SOURCES) else 0
        counts = {k: int(rng.binomial(n, self.rate)) for k in kinds}
        if source == "contracts":  # orphans there are extra rows, not mutations
            n_orph = counts.pop("orphan_account", 0)
        else:
            n_orph = 0
        pool = np.arange(n) if eligible is None else np.nonzero(eligible)[0]
        total = n_late + sum(counts.values())
        if total > len(pool):  # tiny batches: scale down
            scale = len(pool) / total
            n_late = int(n_late * scale)
            counts = {k: int(v * scale) for k, v in counts.items()}
            total = n_late + sum(counts.values())
        pick = pool[rng.choice(len(pool), size=total, replace=False)] if total else np.zeros(0, np.int64)
        parts: dict[str, np.ndarray] = {}
        pos = 0
        for k, c in [("late", n_late)] + list(counts.items()):
            parts[k] = np.sort(pick[pos:pos + c])
            pos += c
        out = table
        for k in ("null_required", "malformed_timestamp", "unknown_enum", "orphan_account"):
            if k in parts and len(parts[k]):
                out = getattr(self, "_" + k)(source, out, parts[k], rng)
                self.counts[source][k] += len(parts[k])
        carry: list[pa.Table] = []
        if n_late:
            carry.append(table.take(pa.array(parts["late"])))
            keep = np.ones(n, bool)
            keep[parts["late"]] = False
            out = out.filter(pa.array(keep))
            self.late[source] += n_late
        extra: list[pa.Table] = []
        if "duplicate" in parts and len(parts["duplicate"]):
            dup = parts["duplicate"]
            nxt = rng.random(len(dup)) < 0.5 if allow_carry else np.zeros(len(dup), bool)
            if (~nxt).any():
                extra.append(table.take(pa.array(dup[~nxt])))
            if nxt.any():
                carry.append(table.take(pa.array(dup[nxt])))
            self.counts[source]["duplicate"] += len(dup)
        if n_orph:
            extra.append(self._extra_contracts(table, n_orph, rng))
            self.counts[source]["orphan_account"] += n_orph
        if extra:
            out = pa.concat_tables([out] + [e.select(out.column_names).cast(out.schema) for e in extra])
        carry_t = pa.concat_tables(carry) if carry else None
        return out, carry_t

    # -- kinds --------------------------------------------------------------------------------------------------
    @staticmethod
    def _mask(n: int, idx: np.ndarray) -> np.ndarray:
        m = np.zeros(n, bool)
        m[idx] = True
        return m

    def _replace(self, table: pa.Table, col: str, idx: np.ndarray, values: pa.Array) -> pa.Table:
        i = table.column_names.index(col)
        arr = table.column(i).combine_chunks()
        values = values.cast(arr.type)
        new = pc.replace_with_mask(arr, pa.array(self._mask(table.num_rows, idx)), values)
        return table.set_column(i, table.field(i), new)

    def _null_required(self, source: str, table: pa.Table, idx: np.ndarray, rng: np.random.Generator) -> pa.Table:
        src = contract.SOURCES[source]
        cols = [c for c in src.required_columns if c != src.primary_key and c in table.column_names]
        which = rng.integers(0, len(cols), len(idx))
        for j, c in enumerate(cols):
            sel = idx[which == j]
            if len(sel):
                typ = table.schema.field(c).type
                table = self._replace(table, c, sel, pa.nulls(len(sel), typ))
        return table

    def _malformed_timestamp(self, source: str, table: pa.Table, idx: np.ndarray,
                             rng: np.random.Generator) -> pa.Table:
        col = TS_COLUMN[source]
        orig = table.column(col).combine_chunks().take(pa.array(idx))
        y = pc.utf8_slice_codeunits(orig, 0, 4)
        variants = [
            pc.binary_join_element_wise(y, "-13-45T25:61:00", ""),
            pc.binary_join_element_wise(
                pc.utf8_slice_codeunits(orig, 5, 7), pc.utf8_slice_codeunits(orig, 8, 10),
                pc.binary_join_element_wise(y, pc.utf8_slice_codeunits(orig, 11, 16), " "), "/"),
            pa.array(["yesterday"] * len(idx)),
            pa.array(["not set"] * len(idx)),
        ]
        which = rng.integers(0, len(variants), len(idx))
        vals = variants[0]
        for j in range(1, len(variants)):
            vals = pc.if_else(pa.array(which == j), variants[j], vals)
        return self._replace(table, col, idx, vals)

    def _unknown_enum(self, source: str, table: pa.Table, idx: np.ndarray, rng: np.random.Generator) -> pa.Table:
        col, values = UNKNOWN_ENUM[source]
        vals = pa.array(list(values)).take(pa.array(rng.integers(0, len(values), len(idx))))
        return self._replace(table, col, idx, vals)

    def _orphan_account(self, source: str, table: pa.Table, idx: np.ndarray, rng: np.random.Generator) -> pa.Table:
        vals = self.ghost_ids.take(pa.array(rng.integers(0, len(self.ghost_ids), len(idx))))
        return self._replace(table, "account_id", idx, vals)

    def _extra_contracts(self, table: pa.Table, k: int, rng: np.random.Generator) -> pa.Table:
        rows = table.take(pa.array(rng.integers(0, table.num_rows, k)))
        seq = np.arange(self._extra_contract, self._extra_contract + k)
        self._extra_contract += k
        cid = pc.binary_join_element_wise("CX", pc.utf8_lpad(pc.cast(pa.array(seq + 1), pa.string()), 7, "0"), "")
        rows = rows.set_column(rows.column_names.index("contract_id"), "contract_id", cid)
        acc = self.ghost_ids.take(pa.array(rng.integers(0, len(self.ghost_ids), k)))
        return rows.set_column(rows.column_names.index("account_id"), "account_id", acc)

    # -- report -------------------------------------------------------------------------------------------------
    def report(self) -> dict:
        totals = {k: sum(c.get(k, 0) for c in self.counts.values()) for k in KINDS}
        return {
            "defect_rate": self.rate,
            "by_source": self.counts,
            "totals": totals,
            "late_arrivals": self.late,
            "broken_batches": self.broken,
            "ghost_account_ids": self.ghost_ids.to_pylist(),
        }
