"""The Slack outbox: every message csops sends is a row first, so each is delivered exactly once across failures and
restarts.

`chat.postMessage` has no idempotency key. A row is claimed (`sending`, with a lease and the time of the first
attempt) and committed BEFORE the post; the post carries the row's key in message metadata. When the outcome is
uncertain (timeout, dropped connection, 5xx, or a deliverer that died holding the lease), the next attempt first looks
for that key in `conversations.history` since the first attempt and re-posts only if it is absent. A 429 means "not
posted": wait `Retry-After`. Other failures back off exponentially with jitter. Posts are paced per channel.
"""

from __future__ import annotations

import hashlib
import random
import threading
import time
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from sqlalchemy import func, select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from csops.opdb import open_opdb
from csops.opdb.models import OutboxMessage, RefusedRequest, SeenRequest  # noqa: F401 (the outbox's tables)

from delivery.slack.blocks import DIGEST_CHUNK, SEVERITY_RANK, AlertMessage, alert_message, digest_message
from delivery.slack.routing import Routing
from delivery.slack.transport import Outcome

STALE_AFTER = 300  # seconds: Slack's rule for request timestamps (the approval app)
PENDING, SENDING, SENT, DIGESTED, FAILED = "pending", "sending", "sent", "digested", "failed"
IN_FLIGHT = float("inf")  # a channel's pace while a post to it is under way


def create_outbox_engine(url: str) -> Engine:
    """The operational database (its schema at Alembic's head, the outbox tables included): SQLite files in WAL mode
    with a busy timeout, so the sensor, the approval app and the CLI share the file."""
    return open_opdb(url)


@dataclass
class DeliveryReport:
    posted: int = 0
    found_after_uncertain: int = 0  # an uncertain post turned out to have landed: recorded, not re-posted
    rate_limited: int = 0
    uncertain: int = 0
    failed: int = 0
    left: int = 0  # still pending or sending when the time budget ran out
    errors: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (f"{self.posted} posted, {self.found_after_uncertain} found already posted, {self.rate_limited} "
                f"rate-limited, {self.uncertain} uncertain, {self.failed} failed, {self.left} left")


@dataclass
class EnqueueReport:
    new: int = 0
    already: int = 0
    digested: int = 0
    digests: int = 0


def _hash(parts: list[str]) -> str:
    return hashlib.sha256("\n".join(sorted(parts)).encode()).hexdigest()[:24]


def _pace_key(row: OutboxMessage) -> str:
    return row.channel or row.destination


def _priority(alert: AlertMessage) -> tuple:
    return (not alert.needs_decision, -SEVERITY_RANK[alert.severity], -alert.arr, alert.alert_id)


class Outbox:
    """`enqueue_*` writes rows (idempotent: a row per key); `deliver` drains due rows through a transport."""

    def __init__(self, engine: Engine, *, min_interval: float = 1.0, backoff_base: float = 1.0,
                 backoff_cap: float = 60.0, uncertain_grace: float = 2.0, lease_seconds: float = 60.0,
                 lookup_skew: float = 60.0, clock=time.time, sleep=time.sleep, rng: random.Random | None = None):
        self.engine = engine
        self.min_interval = min_interval  # seconds between posts to one channel
        self.backoff_base, self.backoff_cap = backoff_base, backoff_cap
        self.uncertain_grace = uncertain_grace  # let a message Slack is still storing show up before looking
        self.lease_seconds = lease_seconds  # longer than a post can take (client timeout + margin)
        self.lookup_skew = lookup_skew  # our clock vs Slack's `ts`
        self.clock, self.sleep, self.rng = clock, sleep, rng or random.Random()

    # ---------------------------------------------------------------- enqueue
    def enqueue_alerts(self, alerts: list[AlertMessage], routing: Routing) -> EnqueueReport:
        """One row per (alert, severity, destination): a re-sent batch adds nothing, an escalation (higher severity)
        posts again. A destination with more than `max_messages_per_channel_per_run` messages waiting gets the rest
        as digests (every alert listed in one), never dropped."""
        report = EnqueueReport()
        now = self.clock()
        by_destination: dict[str, list[tuple[str, AlertMessage]]] = defaultdict(list)
        for alert in alerts:
            for destination in routing.destinations(alert):
                by_destination[destination].append((f"alert:{alert.dedup_key}:{alert.severity}:{destination}", alert))
        with Session(self.engine) as session, session.begin():
            for destination, items in by_destination.items():
                keys = [key for key, _ in items]
                existing = set(session.scalars(select(OutboxMessage.key).where(OutboxMessage.key.in_(keys))))
                fresh = sorted({k: a for k, a in items if k not in existing}.items(), key=lambda ka: _priority(ka[1]))
                report.already += len(items) - len(fresh)
                waiting = session.scalar(select(func.count()).select_from(OutboxMessage).where(
                    OutboxMessage.destination == destination, OutboxMessage.status.in_([PENDING, SENDING])))
                room = max(routing.max_messages_per_channel_per_run - waiting, 0)
                alone, folded = fresh[:room], fresh[room:]
                for key, alert in alone:
                    session.add(self._row(key, "alert", destination, alert_message(
                        alert, routing.dagster_ui_url, routing.asset_path), now, alert.alert_id))
                for start in range(0, len(folded), DIGEST_CHUNK):
                    chunk = folded[start:start + DIGEST_CHUNK]
                    digest_key = f"digest:{destination}:{_hash([k for k, _ in chunk])}"
                    title = f"csops: {len(chunk)} more risk alerts for this channel"
                    session.add(self._row(digest_key, "channel_digest", destination, digest_message(
                        title, [a for _, a in chunk], routing.dagster_ui_url), now))
                    for key, alert in chunk:
                        row = self._row(key, "alert", destination, {}, now, alert.alert_id)
                        row.status, row.digest_key = DIGESTED, digest_key
                        session.add(row)
                    report.digests += 1
                report.new += len(alone)
                report.digested += len(folded)
        return report

    def enqueue_owner_digests(self, alerts: list[AlertMessage], routing: Routing, day: date) -> int:
        """Each owner's open queue as one DM a day (key: owner + day, so once a day however often this runs)."""
        queues: dict[str, list[AlertMessage]] = defaultdict(list)
        for alert in alerts:
            if alert.owner:
                queues[alert.owner.lower()].append(alert)
        added = 0
        now = self.clock()
        with Session(self.engine) as session, session.begin():
            for owner, queue in queues.items():
                for part, start in enumerate(range(0, len(queue), DIGEST_CHUNK)):
                    key = f"owner_digest:{owner}:{day.isoformat()}:{part}"
                    if session.scalar(select(OutboxMessage.id).where(OutboxMessage.key == key)) is None:
                        title = f"Your csops queue for {day.isoformat()}"
                        session.add(self._row(key, "owner_digest", routing.owner_destination(owner), digest_message(
                            title, queue[start:start + DIGEST_CHUNK], routing.dagster_ui_url), now))
                        added += 1
        return added

    @staticmethod
    def _row(key: str, kind: str, destination: str, payload: dict, now: float, alert_id: str | None = None):
        return OutboxMessage(key=key, kind=kind, destination=destination, payload=payload, alert_id=alert_id,
                             status=PENDING, attempts=0, next_attempt_at=now, uncertain=False, created_at=now)

    # ---------------------------------------------------------------- deliver
    def deliver(self, transport, budget_seconds: float = 20.0, on_sent=None, workers: int = 1) -> DeliveryReport:
        """Send due rows until none is due within the budget. `on_sent(row)` runs after a row is recorded as sent
        (the alert's lifecycle moves to notified), on whichever worker thread sent it. `workers` threads post to different channels at once (a timeout
        in one channel then does not hold up the others); a channel is reserved while a post to it is in flight.
        Rows are claimed, so several processes never send the same row; their paces are not shared."""
        report = DeliveryReport()
        deadline = self.clock() + budget_seconds
        pace = self._pace()
        lock = threading.Lock()
        recovered_at = [float("-inf")]

        def work() -> None:
            while True:
                with lock:
                    now = self.clock()
                    if now - recovered_at[0] >= 1.0:
                        self._recover_expired_leases(now)
                        recovered_at[0] = now
                    row_id, wait = self._next_due(now, pace)
                    row = self._claim(row_id, now) if row_id is not None else None
                    if row_id is not None and row is None:  # taken by another process
                        continue
                    if row is not None:
                        reserved = _pace_key(row)
                        before, pace[reserved] = pace.get(reserved, 0.0), IN_FLIGHT
                if row is None:
                    if wait is None or now + wait > deadline:
                        return
                    self.sleep(max(min(wait, 0.2 if workers > 1 else wait), 0.02))
                    continue
                outcome = self._attempt(transport, row, pace)
                with lock:
                    if pace.get(reserved) == IN_FLIGHT:  # no post happened (lookup, resolve) or the key changed
                        pace[reserved] = before
                    if outcome.kind == "rate_limited":  # Slack's word on this channel's pace
                        pace[_pace_key(row)] = max(pace.get(_pace_key(row), 0.0), self.clock() + outcome.retry_after)
                    values = self._next_state(row, outcome, report)
                with Session(self.engine) as session, session.begin():
                    session.execute(update(OutboxMessage).where(OutboxMessage.id == row.id).values(**values))
                if outcome.kind in ("ok", "found") and on_sent is not None:
                    on_sent(row)

        threads = [threading.Thread(target=work, daemon=True) for _ in range(max(workers, 1) - 1)]
        for thread in threads:
            thread.start()
        work()
        for thread in threads:
            thread.join()
        with Session(self.engine) as session:
            report.left = session.scalar(select(func.count()).select_from(OutboxMessage).where(
                OutboxMessage.status.in_([PENDING, SENDING])))
        return report

    def _pace(self) -> dict[str, float]:
        """Earliest time each channel may be posted to again, from the database so a restart keeps the pace: a second
        after the last answer, and not before the lease of a row another (maybe dead) deliverer is sending, whose
        message Slack may store at any moment until then."""
        channel = func.coalesce(OutboxMessage.channel, OutboxMessage.destination)
        with Session(self.engine) as session:
            last = session.execute(select(channel, func.max(OutboxMessage.last_post_at)).group_by(channel)).all()
            leased = session.execute(select(channel, func.max(OutboxMessage.lease_until)).where(
                OutboxMessage.status == SENDING).group_by(channel)).all()
        pace = {key: at + self.min_interval for key, at in last if at is not None}
        for key, until in leased:
            pace[key] = max(pace.get(key, 0.0), until)
        return pace

    def _recover_expired_leases(self, now: float) -> None:
        # A deliverer died (or hung) holding these: whether its post landed is unknown.
        with Session(self.engine) as session, session.begin():
            session.execute(update(OutboxMessage).where(
                OutboxMessage.status == SENDING, OutboxMessage.lease_until < now).values(
                status=PENDING, uncertain=True, lease_until=None, next_attempt_at=now, error="lease expired"))

    def _next_due(self, now: float, pace: dict[str, float]) -> tuple[int | None, float | None]:
        """The id of the oldest due row whose channel is not paced, or how long until one may be."""
        with Session(self.engine) as session:
            due = session.execute(select(OutboxMessage.id, OutboxMessage.channel, OutboxMessage.destination).where(
                OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at <= now)
                .order_by(OutboxMessage.next_attempt_at, OutboxMessage.id).limit(200)).all()
            waits = []
            for row_id, channel, destination in due:
                ready = pace.get(channel or destination, 0.0)
                if ready <= now:
                    return row_id, None
                if ready != IN_FLIGHT:
                    waits.append(ready - now)
            later = session.scalar(select(func.min(OutboxMessage.next_attempt_at)).where(
                OutboxMessage.status == PENDING, OutboxMessage.next_attempt_at > now))
            leased = session.scalar(select(func.min(OutboxMessage.lease_until))
                                    .where(OutboxMessage.status == SENDING))
            waits += [moment - now for moment in (later, leased) if moment is not None]
            return None, (min(waits) if waits else None)

    def _claim(self, row_id: int, now: float) -> OutboxMessage | None:
        """Take the row (committed before anything is sent: a crash from here on leaves it `sending` with the time
        of its first attempt, which is where a lookup starts). None if another deliverer took it first."""
        with Session(self.engine, expire_on_commit=False) as session, session.begin():
            return session.scalars(update(OutboxMessage).where(
                OutboxMessage.id == row_id, OutboxMessage.status == PENDING).values(
                status=SENDING, attempts=OutboxMessage.attempts + 1, lease_until=now + self.lease_seconds,
                last_post_at=now, first_attempt_at=func.coalesce(OutboxMessage.first_attempt_at, now))
                .returning(OutboxMessage)).first()

    def _attempt(self, transport, row: OutboxMessage, pace: dict[str, float]) -> Outcome:
        if row.channel is None:
            resolved = transport.resolve(row.destination)
            if resolved.kind != "ok":
                return resolved if resolved.kind != "uncertain" else Outcome("retry", error=resolved.error)
            row.channel = resolved.channel
            ready, now = pace.get(row.channel, 0.0), self.clock()
            if row.channel != row.destination and ready > now:  # another row of this DM channel went first
                return Outcome("paced", retry_after=self.min_interval if ready == IN_FLIGHT else ready - now)
        if row.uncertain:
            found = transport.find(row.channel, row.key, row.first_attempt_at - self.lookup_skew)
            if found.kind == "ok":
                return Outcome("found", channel=found.channel, ts=found.ts)
            if found.kind != "absent":  # the lookup itself failed: try it again later, never post blind
                return found if found.kind in ("rate_limited", "failed") else Outcome("retry", error=found.error)
        pace[row.channel] = IN_FLIGHT
        outcome = transport.post(row.channel, row.payload, row.key)
        # From the answer, not the request: Slack counts the message when it stores it, somewhere in between.
        pace[row.channel] = self.clock() + self.min_interval
        return outcome

    def _backoff(self, attempts: int) -> float:
        # Full jitter: spreads retries of many rows that failed together.
        return self.rng.uniform(0.5, 1.0) * min(self.backoff_cap, self.backoff_base * 2 ** max(attempts - 1, 0))

    def _next_state(self, row: OutboxMessage, outcome: Outcome, report: DeliveryReport) -> dict:
        """The row's columns after this outcome (and the report counted)."""
        now = self.clock()
        values: dict = {"lease_until": None, "channel": row.channel}
        if outcome.kind in ("ok", "uncertain"):  # a post was answered (or given up on) now: pace from here
            values["last_post_at"] = now
        if outcome.kind in ("ok", "found"):
            values.update(status=SENT, ts=outcome.ts, channel=outcome.channel, sent_at=now, uncertain=False,
                          error=None)
            report.posted += outcome.kind == "ok"
            report.found_after_uncertain += outcome.kind == "found"
        elif outcome.kind == "paced":  # not attempted: give the attempt back
            values.update(status=PENDING, next_attempt_at=now + outcome.retry_after,
                          attempts=OutboxMessage.attempts - 1)
        elif outcome.kind == "rate_limited":  # 429: nothing was posted
            values.update(status=PENDING, next_attempt_at=now + max(outcome.retry_after, self.min_interval),
                          error=outcome.error)
            report.rate_limited += 1
        elif outcome.kind == "uncertain":
            values.update(status=PENDING, uncertain=True, error=outcome.error,
                          next_attempt_at=now + max(self._backoff(row.attempts), self.uncertain_grace))
            report.uncertain += 1
        elif outcome.kind == "retry":  # a lookup or a DM resolution did not answer; nothing was posted
            values.update(status=PENDING, error=outcome.error, next_attempt_at=now + self._backoff(row.attempts))
            report.uncertain += 1
        else:  # failed: permanent; kept with its error for an operator, never retried blindly
            values.update(status=FAILED, error=outcome.error)
            report.failed += 1
            report.errors.append(f"{row.key}: {outcome.error}")
        return values

    def digested_alert_ids(self, digest_key: str) -> list[str]:
        with Session(self.engine) as session:
            return list(session.scalars(select(OutboxMessage.alert_id).where(OutboxMessage.digest_key == digest_key)))

    def counts(self) -> dict[str, int]:
        with Session(self.engine) as session:
            return dict(session.execute(select(OutboxMessage.status, func.count())
                                        .group_by(OutboxMessage.status)).tuples().all())
