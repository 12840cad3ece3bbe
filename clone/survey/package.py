"""The study as a preregistrable package: one JSON file that fixes what participants see and how they are
assigned, with a sha256 that every participant's row carries (``study_package_sha256``).

The package holds ``study.yaml``'s settings, every instrument (id, version, validation, citation and the
sha256 of its file), the consent text's version and sha256, the conditions (for a factorial design the
factors and every cell with its levels), the randomisation scheme, an
analysis-plan template to fill in and the app version. Nothing about the creator is in it (several
creators' deployments run the same package), and nothing of ``study.yaml``'s ``panel`` block: completion
codes must not be published, and each site may recruit on its own panel study. It is written canonically
(sorted keys, two-space indent, UTF-8, one final newline), so the same study on the same app version
always gives the same bytes and the same hash.
"""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

from clone.files import write_atomic
from clone.survey.instruments import Study

FORMAT = "clone-study-package/1"

ANALYSIS_PLAN = {
    "hypotheses": "Fill in before the first participant: each hypothesis, its direction, and the measure it uses "
    "(a subscale mean column of the wide file, e.g. stias_trust_mean_post).",
    "primary_outcome": "Fill in: the one column the main test uses.",
    "tests": "Fill in: the test for each hypothesis (e.g. Welch's t-test of the post-chat mean between conditions, "
    "or ANCOVA with the pre-chat mean as covariate), with alpha and any correction for multiple tests.",
    "exclusions": "Fill in: the exclusion rule, decided now (e.g. failed any attention check, *_pass = 0; or a "
    "manipulation check answered against the condition, *_correct = 0). The app excludes nobody.",
    "sample_size": "Fill in: the planned N per condition and how it was chosen (power analysis: effect size, power).",
    "stopping_rule": "Fill in: when data collection stops.",
    "order_effects": "Fill in: how the *_order columns enter the analysis, if orders are shuffled.",
}


def _sha256(data: str | bytes) -> str:
    return hashlib.sha256(data.encode("utf-8") if isinstance(data, str) else data).hexdigest()


def study_package(study: Study) -> dict:
    """The package of a loaded study, as a dict (see the module's docstring for what is in it)."""
    from clone import __version__

    return {
        "format": FORMAT,
        "study": {"id": study.id, "version": study.version},
        "study_yaml": study.spec,
        "consent": {"version": study.consent_version, "sha256": _sha256(study.consent_text)},
        "instruments": [
            {
                "id": i.id,
                "title": i.title,
                "version": i.version,
                "validated": i.validated,
                "citation": i.citation,
                "phase": i.phase,
                "items": len(i.items),
                "file": study.files[i.id],
                "sha256": study.file_hashes[i.id],
            }
            for i in study.instruments
        ],
        "conditions": conditions(study),
        "randomisation": {
            "conditions": scheme(study),
            "shuffle_blocks": study.shuffle_blocks,
            "shuffle_items": list(study.shuffle_items),
            "orders": "Drawn on the server at consent with secrets and recorded per participant (*_order columns).",
        },
        **({"factors": study.factors} if study.factors else {}),
        "min_turns": study.min_turns,
        "demographics": study.demographics,
        "analysis_plan": ANALYSIS_PLAN,
        "app_version": __version__,
    }


def conditions(study: Study) -> list[dict]:
    """The conditions as the package lists them: for a factorial design, each cell with its levels and what the
    chat does in it; for a ``conditions:`` list, each condition's id and settings as study.yaml gives them."""
    if not study.factors:
        return [{"id": c.id, "show_citations": c.show_citations} for c in study.conditions]
    return [c.model_dump() for c in study.conditions]


def scheme(study: Study) -> str:
    """The randomisation scheme in words."""
    times = {1: "once", 2: "twice"}.get(study.block_repeats, f"{study.block_repeats} times")
    if study.factors:
        crossing = " x ".join(f"{name} ({len(levels)})" for name, levels in study.factors.items())
        what = f"every cell of the full crossing {crossing} = {len(study.conditions)} cells {times}"
    else:
        what = f"every condition {times}"
    return (
        f"Blocked randomisation on the server at consent: blocks of {what}, shuffled with the operating system's "
        "CSPRNG (Python secrets), shared by every replica."
    )


def package_text(study: Study) -> str:
    """The package as canonical JSON text: the bytes its sha256 is taken of."""
    return json.dumps(study_package(study), ensure_ascii=False, sort_keys=True, indent=2) + "\n"


def package_sha256(study: Study) -> str:
    """The package's sha256 (hex), as stored on every participant's row."""
    return _sha256(package_text(study))


def write_package(study: Study, out: Path) -> str:
    """Write the package to ``out`` (atomically) and return its sha256."""
    text = package_text(study)
    write_atomic(Path(out), text)
    return _sha256(text)
