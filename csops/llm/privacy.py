"""Personal data and secrets out of customer text, before any prompt is built.

Presidio finds names with a spaCy NER model that downloads from outside the registries (it fails here), so this is the
tested equivalent: pattern recognizers (email, phone, secrets) plus an exact deny-list of the people csops knows for
the account (its contacts, the handoff's sponsor and champion, its CSM) and the names that follow a greeting, a
sign-off or "my name is". Replacements are typed placeholders (`[EMAIL]`, `[PHONE]`, `[NAME]`, `[SECRET]`).
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

EMAIL = re.compile(r"\b[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}\b")
# Runs of digits with separators; kept only when they hold 8+ digits and are not an ISO date or a plain number.
PHONE = re.compile(r"(?<![\w.])\+?\(?\d[\d\s().-]{6,}\d(?![\w.])")
ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}$")
SECRETS = [
    re.compile(r"\bsk-ant-[A-Za-z0-9_-]{8,}"),
    re.compile(r"\bsk-[A-Za-z0-9]{20,}"),
    re.compile(r"\bAKIA[0-9A-Z]{16}\b"),
    re.compile(r"\bxox[abprs]-[A-Za-z0-9-]{10,}"),
    re.compile(r"\bgh[pousr]_[A-Za-z0-9]{20,}"),
    re.compile(r"(?i)\b(?:password|passwd|pwd|api[_ -]?key|access[_ -]?token|secret|token)\s*[:=]\s*\S+"),
    re.compile(r"\b(?=[A-Za-z0-9+/_-]*\d)(?=[A-Za-z0-9+/_-]*[A-Za-z])[A-Za-z0-9+/_-]{32,}\b"),
]
# A capitalised name after a greeting, a sign-off or an introduction ("Hi Maria", "Regards, John Smith").
CONTEXT_NAME = re.compile(
    r"\b(?i:hi|hello|hey|dear|thanks|thank you|regards|cheers|best|sincerely|cc|attn|my name is|i am|i'm|this is|"
    r"contact|ask for|speak to|call|mr\.?|ms\.?|mrs\.?|dr\.?)[,:]?\s+((?:[A-Z][a-z'-]+)(?:\s+[A-Z][a-z'-]+)?)"
)
# Words that follow a greeting without being a name ("Hi team", "Thanks again").
NOT_NAMES = {"Team", "All", "Again", "There", "Everyone", "Support", "Folks", "The", "We", "You", "Our", "For", "So",
             "In", "It", "Sales", "Success", "Customer", "Please", "Sir", "Madam", "Regards", "Guys", "Hello", "Hi"}


@dataclass
class Redaction:
    text: str
    found: dict[str, int] = field(default_factory=dict)  # kind -> count

    @property
    def clean(self) -> bool:
        return not self.found


class Redactor:
    """Redacts one account's customer text; `known_names` are full names (contacts, sponsor, champion, CSM)."""

    def __init__(self, known_names: Iterable[str] = ()):
        known_names = list(known_names)
        parts: set[str] = set()
        for name in known_names:
            name = (name or "").strip()
            if not name:
                continue
            parts.add(name)
            parts.update(p for p in re.split(r"\s+", name) if len(p) >= 3 and p[0].isupper())
        full = {(n or "").strip() for n in known_names} - {""}
        self._names = self._alternation(parts)
        self._full_names = self._alternation(full)

    @staticmethod
    def _alternation(names: set[str]) -> re.Pattern | None:
        # Longest first, so "Maria Lopez" goes before "Maria".
        ordered = sorted(names, key=len, reverse=True)
        return re.compile(r"\b(?:" + "|".join(map(re.escape, ordered)) + r")\b") if ordered else None

    def _phone(self, match: re.Match) -> str:
        value = match.group(0)
        digits = re.sub(r"\D", "", value)
        if len(digits) < 8 or ISO_DATE.match(value.strip()) or re.fullmatch(r"[\d,.]+", value.strip()):
            return value
        return "[PHONE]"

    def redact(self, text: str | None, context_names: bool = True) -> Redaction:
        """`context_names=False` keeps to the exact recognizers and full names only (what an output check can trust:
        a first name alone, "May" or "Grant", is too often an ordinary word in a brief)."""
        if not text:
            return Redaction(text or "")
        found: dict[str, int] = {}

        def sub(pattern: re.Pattern, kind: str, value: str, repl=None) -> str:
            def replace(match: re.Match) -> str:
                out = repl(match) if repl else f"[{kind}]"
                if out != match.group(0):
                    found[kind] = found.get(kind, 0) + 1
                return out
            return pattern.sub(replace, value)

        for secret in SECRETS:
            text = sub(secret, "SECRET", text)
        text = sub(EMAIL, "EMAIL", text)
        text = sub(PHONE, "PHONE", text, self._phone)
        names = self._names if context_names else self._full_names
        if names:
            text = sub(names, "NAME", text)

        def context_name(match: re.Match) -> str:
            words = match.group(1).split()
            if words[0] in NOT_NAMES:
                return match.group(0)
            return match.group(0)[: match.start(1) - match.start(0)] + "[NAME]"
        if context_names:
            text = sub(CONTEXT_NAME, "NAME", text, context_name)
        return Redaction(text, found)

    def leaks(self, text: str) -> dict[str, int]:
        """Personal data or secrets in `text` (an output) by the exact recognizers: emails, phones, secrets, known
        full names."""
        return self.redact(text, context_names=False).found
