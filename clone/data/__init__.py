"""Labelled data shipped with the package: the guard intents set (``guard_intents.jsonl``)."""
