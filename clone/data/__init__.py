"""Labelled data shipped with the package: the guard intents set (``guard_intents.jsonl``, split into
``train`` and ``test``), the held-out set written later (``guard_intents_heldout9.jsonl``), and the next
held-out set (``guard_intents_heldout10.jsonl``), written before the next version is tuned and not measured yet."""
