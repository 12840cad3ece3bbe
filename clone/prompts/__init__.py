"""Prompt and disclosure copy, kept as data files so every change shows in a diff."""
