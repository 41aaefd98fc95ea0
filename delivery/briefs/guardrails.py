"""Checks every output passes before it is stored: grounding, draft safety, privacy and prompt injection.

Each check returns a `Verdict` (passed + reasons); the reasons go back to the writer when an output is regenerated,
and into the audit log. They read the output's text only: titles, headings and every claim.
"""

from __future__ import annotations

import re
from dataclasses import asdict, dataclass, field

from csops.llm.privacy import Redactor
from delivery.briefs.facts import Fact, FactSheet
from delivery.briefs.risks import RISKS, band_statements, named_risks


@dataclass
class Verdict:
    check: str
    passed: bool
    reasons: list[str] = field(default_factory=list)

    def as_dict(self) -> dict:
        return asdict(self)


def claims(brief: dict) -> list[dict]:
    return [c for s in brief.get("sections", []) for part in ("facts", "hypotheses") for c in s.get(part, [])]


def texts(brief: dict) -> list[str]:
    """Every piece of text of an output."""
    out = [brief.get("title", "")]
    for section in brief.get("sections", []):
        out.append(section.get("heading", ""))
        out += [c.get("text", "") for part in ("facts", "hypotheses") for c in section.get(part, [])]
    return out


# ------------------------------------------------------------------------------------------------------ grounding
ISO_DATE = re.compile(r"\b\d{4}-\d{2}-\d{2}\b")
BRACKETED = re.compile(r"\[[^\]]{1,80}\]")  # inline fact ids and redaction placeholders
NUMBER = re.compile(r"(?<![\w.])[-+]?\d[\d,]*(?:\.\d+)?")
NO_RISK = re.compile(r"\bno (?:known |open |significant |major |real )?(?:risks?|concerns?|issues?)\b|\brisk[- ]free\b",
                     re.IGNORECASE)


def _numbers(text: str) -> list[tuple[float, int]]:
    """(value, decimals) of each number in `text`, dates and bracketed ids removed."""
    text = BRACKETED.sub(" ", ISO_DATE.sub(" ", text))
    out = []
    for match in NUMBER.finditer(text):
        raw = match.group(0).replace(",", "")
        try:
            out.append((float(raw), len(raw.split(".")[1]) if "." in raw else 0))
        except ValueError:
            continue
    return out


def _allowed_numbers(fact: Fact) -> list[float]:
    values: list[float] = []

    def add(value) -> None:
        if isinstance(value, bool) or value is None:
            return
        if isinstance(value, (int, float)):
            values.extend([float(value), abs(float(value))])
            if "share" in fact.unit or "probability" in fact.unit:
                values.extend([float(value) * 100, abs(float(value)) * 100])
        elif isinstance(value, str):
            values.extend(abs(v) for v, _ in _numbers(value))
            values.extend(v for v, _ in _numbers(value))
        elif isinstance(value, list):
            for item in value:
                add(item)

    add(fact.value)
    values.extend(v for v, _ in _numbers(fact.unit))
    return values


def _dates(fact: Fact) -> set[str]:
    return set(ISO_DATE.findall(str(fact.value))) | ({fact.as_of} if fact.as_of else set())


def check_grounding(brief: dict, sheet: FactSheet) -> Verdict:
    """Every claim cites facts of the sheet; its numbers and dates are in the trusted facts it cites; every risk it
    names is a risk the sheet shows and the claim cites; every band it states is the cited band."""
    facts = sheet.by_id()
    reasons: list[str] = []
    for claim in claims(brief):
        text, cited = claim.get("text", ""), claim.get("fact_ids", [])
        label = f"claim {text[:60]!r}"
        unknown = [i for i in cited if i not in facts]
        if not cited:
            reasons.append(f"{label} cites no fact")
        if unknown:
            reasons.append(f"{label} cites facts not in the sheet: {unknown}")
        trusted = [facts[i] for i in cited if i in facts and not facts[i].untrusted]
        allowed = [v for f in trusted for v in _allowed_numbers(f)]
        for value, decimals in _numbers(text):
            tolerance = 0.5 * 10 ** -decimals + 1e-9
            if not any(abs(value - a) <= tolerance for a in allowed):
                reasons.append(f"{label}: the number {value:g} is not in its cited facts")
        dates = set().union(*(_dates(f) for f in trusted)) if trusted else set()
        for day in ISO_DATE.findall(text):
            if day not in dates:
                reasons.append(f"{label}: the date {day} is not in its cited facts")
        cited_ids = set(cited)
        for risk in sorted(named_risks(text)):
            fact = facts.get(f"risk.{risk}")
            if fact is None:
                reasons.append(f"{label} names the risk '{RISKS[risk].label}', which the facts do not show")
            elif not ({fact.id, *fact.supports} & cited_ids):
                reasons.append(f"{label} names the risk '{RISKS[risk].label}' without citing risk.{risk}")
        for model, band in band_statements(text):
            actual = facts.get(f"{model}.band")
            if actual is None or f"{model}.band" not in cited_ids and f"{model}.probability" not in cited_ids:
                reasons.append(f"{label} states a {model} band without citing {model}.band")
            elif actual.value != band:
                reasons.append(f"{label} says the {model} band is {band}; the facts say {actual.value}")
        if NO_RISK.search(text) and sheet.risks:
            reasons.append(f"{label} says there are no risks; the facts show {sorted(sheet.risks)}")
    title = brief.get("title", "").replace(sheet.account_name, "")
    for text in [title] + [s.get("heading", "") for s in brief.get("sections", [])]:
        if _numbers(text) or named_risks(text) - set(sheet.risks):
            reasons.append(f"heading {text[:60]!r} holds a number or a risk outside a claim")
    return Verdict("grounding", not reasons, reasons)


# --------------------------------------------------------------------------------------------------- draft safety
# Commitments a draft may never make, by category. Tested phrasings: tests/test_briefs_guardrails.py.
_WE = r"(?:we|i|our team|the company|[A-Z]\w+ (?:inc|ltd))\s*(?:will|'ll|can|could|are able to|am able to|would be happy to|are happy to|are prepared to|commit to|promise to|guarantee to|agree to)"
POLICY: dict[str, list[str]] = {
    "pricing": [
        r"\bprice (?:freeze|lock|guarantee|protection|hold)\b",
        r"\block(?:ed|ing)? (?:in )?(?:your |the |current )*(?:price|pricing|rate)s?\b",
        r"\b(?:price|pricing|rate)s? (?:will|won't|will not) (?:stay|remain|go up|increase|change|rise)\b",
        r"\bno (?:price|pricing) (?:increase|change|uplift)s?\b",
        r"\bhold (?:your |the )?(?:price|pricing|rate)s?\b",
        r"\bprice match\w*\b", r"\bmatch (?:their|the competitor'?s?|any) (?:price|offer|quote)\b",
        r"\bspecial (?:pricing|price|rate|offer|deal)\b", r"\bbetter (?:price|pricing|rate|deal)\b",
        rf"\b{_WE}\s+(?:\w+\s+)?(?:lower|reduce|cut|freeze|cap|adjust|hold)\s+(?:\w+\s+)?(?:price|pricing|rate|fee|bill|cost)",
        r"\bsame (?:price|pricing|rate) (?:at|for|on) (?:the |your )?(?:renewal|next term)\b",
        r"\b(?:cheaper|lower) (?:price|pricing|rate|plan) (?:for you|at renewal)\b",
    ],
    "discount": [
        r"\bdiscount\w*\b", r"\b\d+\s?(?:%|percent) off\b", r"\bwaiv\w* (?:\w+ ){0,2}(?:fees?|charges?|costs?)\b",
        r"\bfree (?:of charge|months?|seats?|licen[cs]es?|upgrade|add-?ons?|period|quarter)\b",
        r"\bat no (?:extra |additional )?(?:cost|charge)\b", r"\bcomplimentary\b", r"\bon the house\b",
        r"\bpromo(?:tion(?:al)?)? (?:code|price|rate|offer)\b", r"\bmarkdown\b", r"\brebate\b",
        r"\b(?:extra|bonus) (?:seats?|licen[cs]es?|months?) for free\b",
    ],
    "refund": [
        r"\brefund\w*\b", r"\breimburs\w+\b", r"\bmoney back\b", r"\bcredit (?:back|to your account|on your (?:next )?invoice)\b",
        r"\b(?:service|account|sla) credits?\b", r"\bpay (?:you )?back\b", r"\bcompensat\w+\b", r"\bchargeback\b",
        r"\bpro-?rat(?:ed|a) (?:credit|refund|return)\b", r"\breturn (?:your|the) (?:payment|money|fees?)\b",
    ],
    "contract": [
        rf"\b{_WE}\s+(?:\w+\s+)?(?:extend|amend|change|modify|rewrite|renegotiate|waive|terminate|cancel|shorten|release you from)\s+(?:\w+\s+)?(?:contract|agreement|term|terms|notice|commitment|renewal)",
        r"\b(?:contract|agreement) (?:amendment|extension|change)s? (?:for you|is approved|approved)\b",
        r"\bout of (?:your|the) (?:contract|agreement)\b", r"\bwithout (?:any )?(?:penalty|penalties|termination fee)\b",
        r"\bcancel (?:at )?any ?time\b", r"\bwaive (?:the )?(?:notice period|termination|early termination|auto-?renewal)\b",
        r"\bguarantee\w* (?:uptime|availability|sla|renewal terms|the same terms)\b",
        r"\b(?:renew|renewal) (?:at|on) the same terms\b", r"\bmonth-to-month\b", r"\bopt out of (?:the )?renewal\b",
        r"\bno (?:minimum )?commitment\b",
    ],
    "roadmap": [
        r"\b(?:feature|it|this|that|fix|integration|capability|functionality)s? (?:will|is going to|are going to) (?:be )?(?:ship|release|launch|available|deliver|live|ready)\w*",
        r"\b(?:on|in) (?:our|the) (?:product )?roadmap\b", r"\bcoming (?:soon|next (?:quarter|month|release|year))\b",
        r"\bin (?:the|our) (?:next|upcoming) (?:release|version|update|sprint)\b",
        rf"\b{_WE}\s+(?:\w+\s+)?(?:build|ship|release|deliver|add|develop|launch)\b",
        r"\bwe(?:'re| are) (?:building|adding|developing|planning to (?:add|build|ship|release))\b",
        r"\b(?:by|in|before) (?:the end of )?q[1-4]\b", r"\b(?:release|launch|ship) date\b",
        r"\bguarantee\w* (?:the |a |this )?(?:feature|fix|release|delivery)\b",
        r"\bpromis\w+ (?:the |a |this |that )?(?:feature|fix|release|delivery|it)\b",
    ],
}
_POLICY = {kind: [re.compile(p, re.IGNORECASE) for p in patterns] for kind, patterns in POLICY.items()}


def unsafe_phrases(text: str) -> list[tuple[str, str]]:
    """(category, phrase) of every commitment in `text`."""
    return [(kind, m.group(0)) for kind, patterns in _POLICY.items() for p in patterns for m in p.finditer(text)]


def check_safety(brief: dict) -> Verdict:
    reasons = [f"{kind} commitment: {phrase!r}" for text in texts(brief) for kind, phrase in unsafe_phrases(text)]
    return Verdict("draft_safety", not reasons, reasons)


# -------------------------------------------------------------------------------------------------------- privacy
def check_privacy(brief: dict, redactor: Redactor) -> Verdict:
    reasons = []
    for text in texts(brief):
        for kind, count in redactor.leaks(text).items():
            reasons.append(f"{count} {kind.lower()} value(s) in {text[:50]!r}")
    return Verdict("privacy", not reasons, reasons)


# ----------------------------------------------------------------------------------------------- prompt injection
URL = re.compile(r"(?i)\b(?:https?://|www\.)\S+|\b[a-z0-9-]+\.(?:com|net|org|io|ru|xyz|co|info|biz|app|dev)\b(?:/\S*)?")
OBEYED = re.compile(
    r"(?i)\bignor\w* (?:all |any |the )?(?:previous|prior|above|earlier|other) (?:instructions|rules|prompts?)|"
    r"\bsystem prompt\b|\bas (?:instructed|requested|you asked|the customer (?:asked|requested|instructed))\b|"
    r"\bi (?:have been|was) (?:told|instructed)\b|\bnew instructions\b|\bdeveloper mode\b|\bjailbr\w+|\bpwn\w*|"
    r"\bhacked\b|\boverride\w*\b|\bdisregard\w*\b"
)
# Upper-case words and letter-digit codes that are ordinary in a brief, not canaries.
COMMON_TOKENS = {"NPS", "ARR", "CSM", "QBR", "EBR", "SSO", "API", "CSAT", "SLA", "USD", "EUR", "GBP", "CRM", "SAML",
                 "NAME", "EMAIL", "PHONE", "SECRET", "SMB", "ROI", "KPI", "KPIS", "MRR", "EOD", "FAQ", "HTTP", "JSON",
                 "PDF", "CSV", "AI", "URL", "UI", "UX", "IT", "HR", "CEO", "CTO", "CFO", "CIO", "VP", "Q1", "Q2", "Q3",
                 "Q4", "MFA", "IDP", "SCIM", "ETL", "BI"}
WORD = re.compile(r"[A-Za-z0-9']+")


def _canaries(text: str) -> set[str]:
    tokens = re.findall(r"[A-Za-z0-9][A-Za-z0-9_-]*[A-Za-z0-9]", text)
    out = set()
    for token in tokens:
        if token.upper() in COMMON_TOKENS:
            continue
        mixed = re.search(r"[A-Za-z]", token) and re.search(r"\d", token) and len(token) >= 4
        shouting = token.isupper() and len(re.sub(r"[^A-Z]", "", token)) >= 4
        if mixed or shouting:
            out.add(token.lower())
    return out


def _shingles(text: str, n: int = 6) -> set[tuple[str, ...]]:
    words = [w.lower() for w in WORD.findall(BRACKETED.sub(" ", text))]
    return {tuple(words[i:i + n]) for i in range(len(words) - n + 1)}


def check_injection(brief: dict, sheet: FactSheet) -> Verdict:
    """Customer text is data: an output must not carry its links, its code words, six words of it in a row, or the
    marks of having followed an instruction."""
    untrusted = [str(f.value) for f in sheet.untrusted()]
    trusted_text = " ".join(str(f.value) for f in sheet.trusted())
    canaries = set().union(*(_canaries(t) for t in untrusted)) - _canaries(trusted_text) if untrusted else set()
    shingles = set().union(*(_shingles(t) for t in untrusted)) if untrusted else set()
    reasons = []
    for text in texts(brief):
        if URL.search(text):
            reasons.append(f"link in the output: {URL.search(text).group(0)!r}")
        if OBEYED.search(text):
            reasons.append(f"follows an instruction: {OBEYED.search(text).group(0)!r}")
        seen = {t.lower() for t in re.findall(r"[A-Za-z0-9][A-Za-z0-9_-]*[A-Za-z0-9]", text)} & canaries
        if seen:
            reasons.append(f"repeats code words from customer text: {sorted(seen)}")
        if _shingles(text) & shingles:
            reasons.append(f"copies customer text verbatim: {text[:60]!r}")
    return Verdict("prompt_injection", not reasons, reasons)


def check_output(brief: dict, sheet: FactSheet, redactor: Redactor) -> list[Verdict]:
    """Every guardrail on one output, in order."""
    return [check_grounding(brief, sheet), check_safety(brief), check_privacy(brief, redactor),
            check_injection(brief, sheet)]
