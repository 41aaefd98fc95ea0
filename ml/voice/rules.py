"""The offline classifier's policy, read from `voice.yaml` (or a file named by CSOPS_VOICE_RULES)."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

import yaml

RULES_FILE = Path(__file__).with_name("voice.yaml")
SENTIMENTS = ("negative", "neutral", "positive")
FEEDBACK_KINDS = ("bug", "feature_request")


def _pattern(phrases: list[str]) -> re.Pattern:
    # Word-bounded where the phrase starts/ends with a word character, so "api" does not match "rapid".
    parts = [(r"\b" if p[0].isalnum() else "") + p.lower() + (r"\b" if p[-1].isalnum() else "")
             for p in sorted(phrases, key=len, reverse=True)]
    return re.compile("|".join(parts))


@dataclass(frozen=True)
class VoiceRules:
    version: str
    negative_below: float
    positive_above: float
    lexicon: dict[str, float]
    topics: dict[str, re.Pattern]
    competitors: dict[str, re.Pattern]
    intent_to_leave: re.Pattern
    intent_to_downgrade: re.Pattern
    bug_topics: tuple[str, ...]
    request_topics: tuple[str, ...]
    areas: dict[str, re.Pattern]
    classifier: str
    claude: dict

    @property
    def topic_names(self) -> tuple[str, ...]:
        return tuple(self.topics)

    @classmethod
    def load(cls, path: str | Path | None = None) -> VoiceRules:
        path = Path(path or os.environ.get("CSOPS_VOICE_RULES") or RULES_FILE)
        raw = yaml.safe_load(path.read_text())
        s, fb = raw["sentiment"], raw["feedback"]
        return cls(
            version=str(raw["version"]),
            negative_below=float(s["negative_below"]), positive_above=float(s["positive_above"]),
            lexicon={str(k): float(v) for k, v in (s.get("lexicon") or {}).items()},
            topics={name: _pattern(p) for name, p in raw["topics"].items()},
            competitors={name: _pattern([re.escape(name)]) for name in raw["competitors"]},
            intent_to_leave=_pattern(raw["intent_to_leave"]), intent_to_downgrade=_pattern(raw["intent_to_downgrade"]),
            bug_topics=tuple(fb["bug_topics"]), request_topics=tuple(fb["request_topics"]),
            areas={name: _pattern(p) for name, p in fb["areas"].items()},
            classifier=os.environ.get("CSOPS_VOICE_CLASSIFIER") or str(raw.get("classifier", "offline")),
            claude=dict(raw.get("claude") or {}),
        )
