"""Voice of the customer: what customers say in tickets, surveys, CSM notes and handoffs, as labels.

`classify.py` is the one interface and its two classifiers (offline: VADER plus the rules in `voice.yaml`; Claude
through `csops.llm`); `signals.py` keeps the warehouse table of labels up to date, classifying new texts only.
"""
