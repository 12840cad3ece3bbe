"""Domain errors. Each message says what went wrong and how to fix it.

Library code raises these; the edges translate them (the CLI into ``click.ClickException``,
the UI into ``gr.Error`` or a polite in-persona message).
"""

from __future__ import annotations


class CloneError(Exception):
    """Base class for every error this project raises on purpose."""


class ConfigError(CloneError):
    """A setting has a value that cannot be used."""


class PersonaError(CloneError):
    """The persona card is missing or invalid."""


class ContentError(CloneError):
    """A content folder cannot be ingested (missing, empty, nothing readable)."""


class IndexNotBuiltError(CloneError):
    """Retrieval was asked of an index that does not exist yet."""


class UnknownBackendError(CloneError):
    """``CLONE_BACKEND`` names a backend that is not registered."""


class BackendError(CloneError):
    """A backend failed while answering (timeout, server error, bad response).

    The pipeline turns it into a short in-persona apology and a log line; a fan never sees it.
    """


class SurveyError(CloneError):
    """A survey submission is incomplete or out of range."""


class InboxError(CloneError):
    """A question left for the creator, or the creator's answer, cannot be stored as given."""


class DeploymentKeyError(CloneError):
    """The deployment's receipt-signing key under ``CLONE_HOME/keys/`` cannot be read or created."""


class ConsentError(CloneError):
    """The creator's signed consent manifest is missing, invalid, expired or does not cover this use.

    Every message ends with how to fix it, naming ``python -m clone consent init <creator folder>``.
    """


class ReceiptError(CloneError):
    """A receipt this deployment did not sign, or that was changed (e.g. sent to rate a reply)."""
