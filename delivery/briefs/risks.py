"""The risks a brief may name, each with the phrasings that name it. The fact sheet derives which of them the data
shows (`risk.<name>` facts); the grounding guardrail rejects any text naming one the cited facts do not show.

Risks with no rule in `facts.derive_risks` (competitor, budget cuts, leadership change, security concern) are the
classic invented ones: the warehouse cannot show them, so only an agent alert that names them lets a brief say so.
"""

from __future__ import annotations

import re
from dataclasses import dataclass


@dataclass(frozen=True)
class Risk:
    name: str
    label: str
    patterns: tuple[str, ...]

    def regex(self) -> re.Pattern:
        return re.compile("|".join(f"(?:{p})" for p in self.patterns), re.IGNORECASE)


RISKS: dict[str, Risk] = {r.name: r for r in [
    Risk("churn_risk", "high churn risk", (
        r"\bchurn risk\b", r"\bat risk of (?:churn|leaving|cancel)", r"\blikely to (?:churn|leave|cancel)",
        r"\bflight risk\b", r"\brisk of (?:losing|churn)", r"\bchurn(?:ing)? is likely\b")),
    Risk("low_usage", "low usage", (
        r"\blow usage\b", r"\busage (?:is )?(?:low|declining|dropping|falling|down)\b", r"\b(?:declining|falling) usage\b",
        r"\bunder-?us(?:ed|ing|age) (?:the )?product\b")),
    Risk("low_adoption", "low adoption", (
        r"\b(?:low|poor|weak|lagging) adoption\b", r"\badoption (?:is )?(?:low|poor|weak|lagging)\b")),
    # "Unused seats: 52" states a fact; naming it as a problem is the risk.
    Risk("unused_licences", "shelfware (over-licensed seats)", (
        r"\bshelfware\b", r"\bover-?licen[cs](?:ed|ing)\b", r"\bidle (?:seats?|licen[cs]es?)\b",
        r"\bwasted (?:seats?|licen[cs]es?|spend)\b", r"\btoo many unused\b",
        r"\bunused (?:seats?|licen[cs]es?) (?:is|are|as|pose) (?:a |an )?(?:risk|problem|concern|issue|waste)")),
    Risk("support_spike", "support spike", (
        r"\bsupport (?:ticket )?spike\b", r"\bspike in (?:support )?tickets\b", r"\bticket (?:volume )?spike\b",
        r"\bsurge (?:in|of) (?:support )?tickets\b")),
    Risk("health_decline", "declining health", (
        r"\bhealth(?: score)? (?:has )?(?:declin|dropp|fell|fall|deteriorat)\w*", r"\b(?:declining|falling) health\b",
        r"\bdeteriorat\w* health\b")),
    Risk("red_health", "red health", (
        r"\bred health\b", r"\bhealth (?:band )?(?:is )?red\b", r"\bpoor health\b", r"\bunhealthy\b")),
    Risk("detractor", "NPS detractor", (
        r"\bdetractors?\b", r"\bnegative nps\b", r"\bdissatisf\w+", r"\bunhappy\b")),
    Risk("low_engagement", "low engagement", (
        r"\blow engagement\b", r"\bdisengag\w+", r"\bgone (?:quiet|dark)\b", r"\bno recent (?:csm )?(?:touch|contact)")),
    Risk("erratic_usage", "erratic usage", (
        r"\berratic usage\b", r"\busage (?:is )?(?:erratic|volatile|unstable)\b", r"\b(?:volatile|unstable) usage\b")),
    Risk("no_executive_sponsor", "no executive sponsor", (
        r"\bno (?:executive|exec) sponsor\b", r"\bmissing (?:an )?(?:executive|exec) sponsor\b",
        r"\b(?:lack of|without) (?:an )?(?:executive|exec) sponsor\b")),
    Risk("no_champion", "no champion", (
        r"\bno champion\b", r"\bmissing (?:a )?champion\b", r"\bchampion (?:has )?(?:left|lost|departed|gone)\b",
        r"\blost (?:our|the|their) champion\b", r"\bwithout a champion\b")),
    Risk("handoff_incomplete", "incomplete handoff", (
        r"\bincomplete handoff\b", r"\bhandoff (?:is )?incomplete\b", r"\bhandoff gaps?\b", r"\bmissing handoff\b")),
    Risk("renewal_due", "renewal due", (
        r"\bupcoming renewal\b", r"\brenewal (?:is )?(?:due|approaching|coming up)\b")),
    Risk("churned", "churned", (r"\bchurned\b", r"\bcancell?ed (?:their|the) (?:contract|subscription)\b")),
    Risk("competitor", "competitor threat", (
        r"\bcompetitors?\b", r"\bcompetitive (?:threat|pressure)\b", r"\bevaluating alternatives\b", r"\brival vendor\b")),
    Risk("budget_cuts", "budget cuts", (
        r"\bbudget (?:cuts?|freeze|pressure|constraints?)\b", r"\blayoffs?\b", r"\bdownsiz\w+", r"\bcost[- ]cutting\b")),
    Risk("leadership_change", "leadership change", (
        r"\bleadership change\b", r"\bnew (?:ceo|cto|cio|cfo|leadership)\b", r"\breorg(?:anization|anisation)?\b")),
    Risk("security_concern", "security concern", (
        r"\bsecurity (?:concerns?|incident|breach|issue)\b", r"\bdata breach\b", r"\bcompliance (?:concern|issue)\b")),
]}

_REGEXES = {name: risk.regex() for name, risk in RISKS.items()}
# "churn risk is low", "expansion band: high": a band statement, checked against the band fact, not a named risk.
BAND_STATEMENT = re.compile(
    r"\b(churn|expansion)(?: risk| probability| likelihood| readiness)?(?: band)?(?: is| of|:)?\s+"
    r"(?:\w+\s+)?\(?(low|medium|high|critical)\b",
    re.IGNORECASE,
)


def named_risks(text: str) -> set[str]:
    """The risks `text` names (band statements such as "churn risk is low" are left to the band check)."""
    text = BAND_STATEMENT.sub(" ", text)
    return {name for name, regex in _REGEXES.items() if regex.search(text)}


def band_statements(text: str) -> list[tuple[str, str]]:
    """("churn" | "expansion", band) for each band statement in `text`."""
    return [(m.group(1).lower(), m.group(2).lower()) for m in BAND_STATEMENT.finditer(text)]
