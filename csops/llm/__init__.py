"""What every LLM caller in csops shares: the `anthropic` client built from the environment, usage accounting,
redaction of personal data (`privacy`) and the framing of customer text as quoted data (`untrusted`)."""
