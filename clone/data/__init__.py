"""Labelled data shipped with the package: the guard intents set (``guard_intents.jsonl``, split into
``train`` and ``test``) and the held-out set written later (``guard_intents_heldout9.jsonl``)."""
