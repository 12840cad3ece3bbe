"""Trust: consent manifest, kill switch, reply receipts."""
