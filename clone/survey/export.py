"""Study records -> the wide, long and codebook files: CSV (UTF-8, RFC 4180, CRLF line ends), safe to open in a
spreadsheet, and the codebook as JSON."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import asdict, dataclass, fields
from datetime import datetime
from pathlib import Path

from clone.files import write_atomic
from clone.survey.design import parse_cell
from clone.survey.instruments import PHASES, Study, pages
from clone.survey.package import conditions
from clone.survey.store import ParticipantRecord

_FORMULA_START = ("=", "+", "-", "@", "\t", "\r", "\n")


def neutralise(cell: object) -> object:
    """Defuse spreadsheet formula injection (OWASP): prefix a quote to text starting with = + - @ or a control.

    Numbers are left as numbers; the stored data stays raw.
    """
    if isinstance(cell, str) and cell.startswith(_FORMULA_START):
        return "'" + cell
    return cell


@dataclass(frozen=True)
class CodebookEntry:
    """One column of the wide file, described for the codebook."""

    column: str
    label: str
    type: str  # "string", "integer", "number", "datetime"
    instrument: str = ""
    subscale: str = ""
    phase: str = ""
    anchors: str = ""
    min: int | None = None
    max: int | None = None
    reverse: bool | None = None
    citation: str = ""
    validated: bool | None = None
    version: str = ""
    adaptation: str = ""


CODEBOOK_COLUMNS = [f.name for f in fields(CodebookEntry)]

_META: tuple[tuple[str, str, str], ...] = (
    ("participant_id", "string", "Random participant id (64 bits from secrets); also the completion and deletion code"),
    ("study", "string", "Study id from study.yaml"),
    ("study_version", "string", "Study version from study.yaml"),
    ("study_package_sha256", "string", "sha256 of the study package (python -m clone study package) at consent"),
    ("condition", "string", "Condition assigned by the server after consent (blocked randomization)"),
    ("consent_version", "string", "Version of the consent text the participant agreed to"),
    ("consented_at", "datetime", "When the participant consented and was assigned (ISO-8601 UTC)"),
    ("pre_at", "datetime", "When the pre-chat answers were saved (ISO-8601 UTC); empty if not reached"),
    ("post_at", "datetime", "When the post-chat answers were saved (ISO-8601 UTC); empty if not reached"),
    ("finished", "integer", "1 if the post-chat answers were saved, else 0"),
    ("duration_s", "integer", "Seconds from consent to the post-chat answers; empty if not finished"),
    ("persona_id", "string", "Which creator's clone the participant talked to"),
    ("app_version", "string", "Version of the app"),
    ("backend", "string", "Answering backend"),
    ("panel", "string", "Panel that sent the participant: prolific, other (pid=) or empty (panel ids are never kept)"),
    ("panel_study_id", "string", "The panel's STUDY_ID from the link the participant arrived on, if any"),
    ("transcript_opt_in", "integer", "1 if the participant agreed to keep the chat transcript, else 0"),
    ("chat_turns", "integer", "Replies the participant got from the clone"),
    ("chat_duration_s", "number", "Seconds from the first message to the last reply"),
    ("chat_abstentions", "integer", "Replies where the clone gave no answer from the content (refusals included)"),
    ("chat_refusals", "integer", "Replies refused by the guardrails"),
    ("sources_clicked", "integer", "Clicks on source links in the clone's replies (each click counts)"),
    ("feedback_up", "integer", "Replies the participant rated thumbs up (their last rating of each reply counts)"),
    ("feedback_down", "integer", "Replies the participant rated thumbs down (their last rating of each reply counts)"),
    (
        "simulated",
        "integer",
        "1 for a simulated participant (python -m clone study simulate, a pilot run by the researchers; in the "
        "files only when asked for with include_simulated), 0 for a person",
    ),
)


def _anchors(anchors: dict[int, str]) -> str:
    return "; ".join(f"{k}={v}" for k, v in sorted(anchors.items()))


def _subscales(instrument) -> list[str]:
    seen: list[str] = []
    for q in instrument.questions:
        if q.item.scored and q.item.subscale not in seen:
            seen.append(q.item.subscale)
    return seen


def _order_columns(study: Study) -> list[CodebookEntry]:
    """The ``*_order`` columns of a study that shuffles: blocks per phase, then items per shuffled instrument."""
    out = []
    for phase in PHASES:
        if study.shuffle_blocks:
            out.append(
                CodebookEntry(
                    f"block_order_{phase}",
                    f"Instrument ids of the {phase}-chat questions in the order this participant saw them, "
                    "separated by | (drawn on the server at consent)",
                    "string", phase=phase,
                )
            )  # fmt: skip
        for i in study.phase(phase):
            if i.id in study.shuffle_items:
                out.append(
                    CodebookEntry(
                        f"{i.id}_order_{phase}",
                        f"Items of {i.title} ({phase}) in the order this participant saw them, by their number in "
                        "the instrument file (1 = first), separated by | (drawn on the server at consent)",
                        "string", i.id, "", phase, version=i.version,
                    )
                )  # fmt: skip
    return out


def _order_values(study: Study, order: dict[str, list[str]]) -> dict[str, str]:
    """A participant's ``*_order`` cells (empty where no order was recorded)."""
    out: dict[str, str] = {}
    for phase in PHASES:
        columns = {c.name: c for c in study.columns(phase)}
        shown = [columns[n] for n in order.get(phase, []) if n in columns]
        if study.shuffle_blocks:
            out[f"block_order_{phase}"] = "|".join(dict.fromkeys(c.instrument.id for c in shown))
        for i in study.phase(phase):
            if i.id in study.shuffle_items:
                number = {q.column: n for n, q in enumerate(i.questions, 1)}
                out[f"{i.id}_order_{phase}"] = "|".join(
                    str(number[c.question.column]) for c in shown if c.instrument.id == i.id
                )
    return out


def _steps(study: Study) -> list[tuple[str, str, str]]:
    """Each timed page: (column, step that starts it, step that ends it). Steps are the record's times:
    ``consented``, ``pre``, ``chat``, ``post_1`` … and ``post`` (the post-chat answers saved)."""
    n = len(pages(study.columns("post")))
    out = [("seconds_pre", "consented", "pre"), ("seconds_chat_step", "pre", "chat")]
    start = "chat"
    for k in range(1, n + 1):
        end = "post" if k == n else f"post_{k}"
        out.append((f"seconds_post_page_{k}", start, end))
        start = end
    return out


_STEP_LABELS = {
    "seconds_pre": "Seconds on the pre-chat questions (from consent to saving them)",
    "seconds_chat_step": "Seconds at the chat step (from the pre-chat answers to 'I have finished chatting')",
}


def _timings(study: Study, r: ParticipantRecord) -> dict[str, int | str]:
    """Seconds per page of one participant ("" where a step was not reached or not timed)."""
    times = {"consented": r.consented_at, "pre": r.pre_at, "post": r.post_at, **r.steps}
    return {column: _seconds(times.get(start), times.get(end)) for column, start, end in _steps(study)}


def _factor_columns(study: Study) -> list[CodebookEntry]:
    """One ``factor_<name>`` column per factor of a factorial design (none for a ``conditions:`` list)."""
    return [
        CodebookEntry(
            f"factor_{name}",
            f"Level of the factor {name} in the participant's cell (one of: {' | '.join(levels)})",
            "string",
            anchors="; ".join(levels),
        )
        for name, levels in study.factors.items()
    ]


def codebook(study: Study) -> list[CodebookEntry]:
    """Every column of the wide file, in order, with its meaning."""
    out = [CodebookEntry(name, label, kind) for name, kind, label in _META]
    if study.factors:  # the cell, then its factors' levels, each a column
        at = [e.column for e in out].index("condition") + 1
        out[at - 1] = CodebookEntry(
            "condition",
            "Cell of the factorial design assigned by the server after consent (blocked randomization over "
            "every cell), e.g. " + study.conditions[0].id,
            "string",
        )
        out[at:at] = _factor_columns(study)
    n = len(pages(study.columns("post")))
    for column, _start, _end in _steps(study):
        page = column.rsplit("_", 1)[-1]
        label = _STEP_LABELS.get(column) or (
            f"Seconds on page {page} of {n} of the post-chat questions (to its Next"
            + (" or Submit)" if page == str(n) else ")")
        )
        out.append(CodebookEntry(column, label + "; empty if not reached", "integer"))
    out += _order_columns(study)
    for name, choices in study.demographics.items():
        out.append(CodebookEntry(f"demo_{name}", f"Optional: {name} (one of: {' | '.join(choices)})", "string"))
    for phase in PHASES:
        for c in study.columns(phase):
            i, q = c.instrument, c.question
            out.append(
                CodebookEntry(
                    c.name, q.item.text, "integer", i.id, q.item.subscale, phase, _anchors(q.anchors(i.scale)),
                    i.scale.min, i.scale.max, q.item.reverse, i.citation, i.validated, i.version,
                    "; ".join(filter(None, [i.adaptation, q.item.source])),
                )
            )  # fmt: skip
    for phase in PHASES:
        for c in study.columns(phase):
            if c.question.item.attention is not None:
                i = c.instrument
                out.append(
                    CodebookEntry(
                        f"{c.name}_pass",
                        f"1 if {c.name} = {c.question.item.attention} (the instructed answer), else 0. "
                        "Nobody is excluded automatically.",
                        "integer", i.id, c.question.item.subscale, phase, "0=failed; 1=passed", 0, 1,
                        citation=i.citation, validated=i.validated, version=i.version,
                    )
                )  # fmt: skip
    for phase in PHASES:
        for c in study.columns(phase):
            if c.question.item.manipulation is not None:
                i, what = c.instrument, c.question.item.manipulation
                out.append(
                    CodebookEntry(
                        f"{c.name}_correct",
                        f"Manipulation check on {what.replace('_', ' ')}: 1 if {c.name} lies on the side the "
                        f"participant's condition calls for (above {(i.scale.min + i.scale.max) / 2:g} where it is on, "
                        "below where off; the disclosure is on in every condition), else 0. Nobody is excluded "
                        "automatically.",
                        "integer", i.id, c.question.item.subscale, phase, "0=not as expected; 1=as expected", 0, 1,
                        citation=i.citation, validated=i.validated, version=i.version,
                    )
                )  # fmt: skip
    for phase in PHASES:
        for i in study.phase(phase):
            for sub in _subscales(i):
                out.append(
                    CodebookEntry(
                        f"{i.id}_{sub}_mean_{phase}",
                        f"Mean of the {sub} items of {i.title} ({phase}), reverse items reversed (min + max - value)",
                        "number", i.id, sub, phase, "", i.scale.min, i.scale.max, None, i.citation, i.validated,
                        i.version, i.adaptation,
                    )
                )  # fmt: skip
    out.append(CodebookEntry("transcript", "Chat transcript as JSON, only if the participant opted in", "string"))
    return out


def _mean(values: list[float]) -> float | str:
    return round(sum(values) / len(values), 4) if values else ""


def _seconds(start: str | None, end: str | None) -> int | str:
    if not start or not end:
        return ""
    parse = lambda t: datetime.fromisoformat(t.replace("Z", "+00:00"))  # noqa: E731
    return int((parse(end) - parse(start)).total_seconds())


def wide_rows(study: Study, records: list[ParticipantRecord]) -> list[dict[str, object]]:
    """One dict per participant, keyed by the codebook's columns."""
    rows = []
    for r in records:
        chat = r.chat
        row: dict[str, object] = {
            "participant_id": r.participant_id,
            "study": r.study,
            "study_version": r.study_version,
            "study_package_sha256": r.study_package_sha256,
            "condition": r.condition,
            "consent_version": r.consent_version,
            "consented_at": r.consented_at,
            "pre_at": r.pre_at or "",
            "post_at": r.post_at or "",
            "finished": int(r.post_at is not None),
            "duration_s": _seconds(r.consented_at, r.post_at),
            "persona_id": r.persona_id,
            "app_version": r.app_version,
            "backend": r.backend,
            "panel": r.panel,
            "panel_study_id": r.panel_study_id,
            "transcript_opt_in": int(r.transcript_opt_in),
            "chat_turns": chat.turns if chat else "",
            "chat_duration_s": chat.seconds if chat else "",
            "chat_abstentions": chat.abstentions if chat else "",
            "chat_refusals": chat.refusals if chat else "",
            "sources_clicked": len(r.clicks),
            "feedback_up": sum(f.rating == "up" for f in r.feedback),
            "feedback_down": sum(f.rating == "down" for f in r.feedback),
            "simulated": int(r.simulated),
        }
        levels = parse_cell(r.condition)
        for name in study.factors:
            row[f"factor_{name}"] = levels.get(name, "")
        row |= _timings(study, r)
        row |= _order_values(study, r.order)
        for name in study.demographics:
            row[f"demo_{name}"] = r.demographics.get(name, "")
        for phase in PHASES:
            for c in study.columns(phase):
                row[c.name] = r.answers.get((phase, c.question.column), "")
        for phase in PHASES:
            for c in study.columns(phase):
                if c.question.item.attention is not None:
                    value = r.answers.get((phase, c.question.column))
                    row[f"{c.name}_pass"] = "" if value is None else int(value == c.question.item.attention)
        for phase in PHASES:
            for c in study.columns(phase):
                if c.question.item.manipulation is not None:
                    value = r.answers.get((phase, c.question.column))
                    scored = (
                        None if value is None else study.as_expected(c.question, c.instrument.scale, r.condition, value)
                    )
                    row[f"{c.name}_correct"] = "" if scored is None else scored
        for phase in PHASES:
            for i in study.phase(phase):
                lo, hi = i.scale.min, i.scale.max
                for sub in _subscales(i):
                    values = [
                        (lo + hi - v) if q.item.reverse else v
                        for q in i.questions
                        if q.item.subscale == sub and q.item.scored
                        for v in [r.answers.get((phase, q.column))]
                        if v is not None
                    ]
                    row[f"{i.id}_{sub}_mean_{phase}"] = _mean(values)
        row["transcript"] = json.dumps(r.transcript, ensure_ascii=False) if r.transcript is not None else ""
        rows.append(row)
    return rows


def _csv(header: list[str], rows: list[list[object]]) -> str:
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n", quoting=csv.QUOTE_MINIMAL)
    writer.writerow(header)
    for row in rows:
        writer.writerow([neutralise(cell) for cell in row])
    return buffer.getvalue()


def wide_csv(study: Study, records: list[ParticipantRecord]) -> str:
    """The wide file: one row per participant, one column per codebook entry."""
    header = [e.column for e in codebook(study)]
    return _csv(header, [[row[c] for c in header] for row in wide_rows(study, records)])


LONG_COLUMNS = ["participant_id", "condition", "phase", "instrument", "item", "value"]


def long_csv(study: Study, records: list[ParticipantRecord]) -> str:
    """The long file: one row per answered item (``item`` is the column name without the phase), then one per
    timed page (``phase`` ``timing``, ``item`` the wide file's ``seconds_…`` column, ``value`` the seconds), then
    the chat's events in time order (``phase`` ``chat``): a rating (``instrument`` ``feedback``, ``item`` the
    reply's receipt code, ``value`` ``up`` or ``down``), its reason if one was given (``feedback_reason``, the
    text), and a click on a source link (``source_click``, ``item`` the link, ``value`` 1)."""
    rows = []
    for r in records:
        for phase in PHASES:
            for c in study.columns(phase):
                value = r.answers.get((phase, c.question.column))
                if value is not None:
                    rows.append([r.participant_id, r.condition, phase, c.instrument.id, c.question.column, value])
        for column, seconds in _timings(study, r).items():
            if seconds != "":
                rows.append([r.participant_id, r.condition, "timing", "", column, seconds])
        events = [(f.at, 0, f.reply, "feedback", f.rating) for f in r.feedback]
        events += [(f.at, 1, f.reply, "feedback_reason", f.reason) for f in r.feedback if f.reason]
        events += [(c.at, 2, c.url, "source_click", 1) for c in r.clicks]
        for _at, _kind, item, instrument, value in sorted(events, key=lambda e: e[:2]):
            rows.append([r.participant_id, r.condition, "chat", instrument, item, value])
    return _csv(LONG_COLUMNS, rows)


def _cell(value: object) -> object:
    if value is None:
        return ""
    if isinstance(value, bool):
        return int(value)
    return value


def codebook_csv(study: Study) -> str:
    """The codebook as CSV: one row per wide column."""
    return _csv(CODEBOOK_COLUMNS, [[_cell(getattr(e, f)) for f in CODEBOOK_COLUMNS] for e in codebook(study)])


def codebook_json(study: Study) -> str:
    """The codebook as JSON: the study, then one object per wide column."""
    return json.dumps(
        {
            "study": study.id,
            "study_version": study.version,
            "consent_version": study.consent_version,
            "conditions": conditions(study),
            **({"factors": study.factors} if study.factors else {}),
            "columns": [asdict(e) for e in codebook(study)],
        },
        ensure_ascii=False,
        indent=2,
    )


# Each file from the study and the store; simulated participants only when ``include_simulated`` is true.
EXPORTS = {
    "wide.csv": lambda study, store, include_simulated=False: wide_csv(
        study, store.records(include_simulated=include_simulated)
    ),
    "long.csv": lambda study, store, include_simulated=False: long_csv(
        study, store.records(include_simulated=include_simulated)
    ),
    "codebook.csv": lambda study, store, include_simulated=False: codebook_csv(study),
    "codebook.json": lambda study, store, include_simulated=False: codebook_json(study),
}


def write_study_export(study: Study, store, folder: Path, *, include_simulated: bool = False) -> list[Path]:
    """Write the wide, long and codebook files atomically into ``folder`` (replacing older ones); simulated
    participants only with ``include_simulated``."""
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for name, make in EXPORTS.items():
        # Private (0600): the files hold participants' answers.
        paths.append(write_atomic(folder / f"study-{name}", make(study, store, include_simulated), mode=0o600))
    return paths
