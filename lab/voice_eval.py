"""`csops eval-voice`: the voice classifiers against the generator's truth on a held-out generated set.

The generator writes every ticket, survey comment and CSM note from templates chosen by cause and sentiment, and
records both in `_truth/text_labels.parquet`. This generates a fresh set with a seed of its own (the rules in
ml/voice/voice.yaml were written looking at the demo's seed), classifies every labelled text, and reports accuracy
and macro-F1 of sentiment and primary topic, per classifier, overall and per source.

Caveat: a new seed draws new combinations, people, injections and personal data, but from the same templates; a
keyword classifier tuned on those templates scores higher here than on real customer text. Claude runs only with
ANTHROPIC_API_KEY set (on `--claude-sample` texts, to bound the cost); pointed at a local fake server it measures the
fake, not Claude: a plumbing check.
"""

from __future__ import annotations

import argparse
import tempfile
from pathlib import Path

import pandas as pd
from sklearn.metrics import accuracy_score, f1_score

from csops.llm.client import api_key_from_env
from ml.voice.classify import make_classifier
from ml.voice.rules import VoiceRules

DEFAULT_ACCOUNTS, DEFAULT_MONTHS, DEFAULT_SEED = 600, 12, 2027


def held_out_texts(accounts: int, months: int, seed: int, out: Path | None = None) -> pd.DataFrame:
    from lab.generator import generate

    out = Path(out or tempfile.mkdtemp(prefix="csops-eval-voice-"))
    generate(out, accounts=accounts, months=months, seed=seed)
    labels = pd.read_parquet(out / "_truth" / "text_labels.parquet")
    labels["source"] = labels["text_id"].str.split(":").str[0]
    return labels


def scores(truth: pd.Series, predicted: pd.Series) -> dict:
    return {"accuracy": round(float(accuracy_score(truth, predicted)), 3),
            "macro_f1": round(float(f1_score(truth, predicted, average="macro", zero_division=0)), 3)}


def evaluate(texts: pd.DataFrame, classifier) -> dict:
    """Metrics of one classifier on `texts` (columns text, sentiment, topic, source). Identical texts are classified
    once (the pipeline's cache does the same) and scored once per occurrence."""
    unique = texts["text"].drop_duplicates().tolist()
    labels = dict(zip(unique, classifier.classify(unique)))
    ok = texts[[("error" not in labels[t]) for t in texts["text"]]].copy()
    ok["p_sentiment"] = [labels[t]["sentiment"] for t in ok["text"]]
    ok["p_topic"] = [labels[t]["primary_topic"] for t in ok["text"]]
    out = {"model": classifier.model, "texts": len(texts), "labelled": len(ok), "distinct": len(unique),
           "sentiment": scores(ok["sentiment"], ok["p_sentiment"]), "topic": scores(ok["topic"], ok["p_topic"]),
           "by_source": {}}
    for source, part in ok.groupby("source"):
        out["by_source"][source] = {"texts": len(part), "sentiment": scores(part["sentiment"], part["p_sentiment"]),
                                    "topic": scores(part["topic"], part["p_topic"])}
    return out


def _row(label: str, m: dict, note: str = "") -> None:
    print(f"{label:20s} {m['sentiment']['accuracy']:13.3f} {m['sentiment']['macro_f1']:12.3f} "
          f"{m['topic']['accuracy']:9.3f} {m['topic']['macro_f1']:8.3f}{note}")


def _parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="csops eval-voice", description=__doc__.split("\n\n")[0])
    p.add_argument("--accounts", type=int, default=DEFAULT_ACCOUNTS, help="accounts to generate (%(default)s)")
    p.add_argument("--months", type=int, default=DEFAULT_MONTHS, help="months of history (%(default)s)")
    p.add_argument("--seed", type=int, default=DEFAULT_SEED, help="generator seed of the held-out set (%(default)s)")
    p.add_argument("--out", type=Path, default=None, help="work folder (default: a new temp folder)")
    p.add_argument("--claude-sample", type=int, default=300,
                   help="texts sent to Claude when ANTHROPIC_API_KEY is set (%(default)s)")
    return p


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    texts = held_out_texts(args.accounts, args.months, args.seed, args.out)
    rules = VoiceRules.load()
    runs = [("offline", texts)]
    if api_key_from_env():
        runs.append(("claude", texts.sample(min(args.claude_sample, len(texts)), random_state=args.seed)))
    print(f"=== csops eval-voice: held-out set of {args.accounts} accounts x {args.months} months, seed {args.seed}: "
          f"{len(texts):,} labelled texts ({texts['text'].nunique():,} distinct) ===")
    for name, part in runs:
        r = evaluate(part, make_classifier(rules, name))
        print(f"\n--- {name} ({r['model']}): {r['labelled']:,} of {r['texts']:,} texts labelled")
        print(f"{'':20s} {'sentiment acc':>13s} {'sentiment F1':>12s} {'topic acc':>9s} {'topic F1':>8s}")
        for label, m in [("all", r), *r["by_source"].items()]:
            _row(label, m)
    modes = {k: texts[k].mode()[0] for k in ("sentiment", "topic")}
    _row("majority class", {k: scores(texts[k], pd.Series(v, index=texts.index)) for k, v in modes.items()},
         f"   (always {modes['sentiment']!r}, always {modes['topic']!r})")
    if len(runs) == 1:
        print("\n(claude not evaluated: set ANTHROPIC_API_KEY to include it)")
    return 0
