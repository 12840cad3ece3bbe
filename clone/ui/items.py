"""Rating items on a survey page: one row of numbered choices (one row on a phone) with the scale's labelled
ends under the question, missing answers marked beside their item, and the pages the items come in."""

from __future__ import annotations

import gradio as gr

from clone.survey.instruments import MAX_ITEMS_PER_PAGE, Column, pages  # noqa: F401 (the pages, re-exported)

MISSING = "survey-missing"
ITEM_CLASSES = ["survey-item"]
# After a step is refused: bring the first question that needs an answer into view and focus it.
FOCUS_MISSING_JS = """() => { setTimeout(() => {
  const item = document.querySelector('.survey-missing');
  if (!item) return;
  item.scrollIntoView({block: 'center'});
  const input = item.querySelector('input');
  if (input) input.focus({preventScroll: true});
}, 150); }"""
# "Go to the chat": the participant can type at once (a phone may still want a tap for its keyboard).
FOCUS_CHAT_JS = """() => { setTimeout(() => {
  const box = document.querySelector('#chat-input textarea');
  if (box) box.focus();
}, 150); }"""
# "Continue to the chat": a question that needs an answer first, else the chat box (the chat tab is shown).
FOCUS_MISSING_OR_CHAT_JS = """() => { setTimeout(() => {
  const item = document.querySelector('.survey-missing');
  if (item) {
    item.scrollIntoView({block: 'center'});
    const input = item.querySelector('input');
    if (input) input.focus({preventScroll: true});
    return;
  }
  const box = document.querySelector('#chat-input textarea');
  if (box) box.focus();
}, 150); }"""
# Back from the chat to the questions after it: their first page from its top.
SHOW_POST_JS = """() => { setTimeout(() => {
  document.querySelector('#survey-post-step')?.scrollIntoView({block: 'start'});
}, 150); }"""
WHERE_TO_PASTE = (
    "Copy it with the copy button on the box below and paste it where the study asked you to, such as the "
    "page of the panel that sent you here (for example Prolific), so your participation is credited."
)


def marked(columns: list[Column], missing: set[int] | None = None) -> list[dict]:
    """Updates for the items of ``columns``: the ones in ``missing`` (indexes) marked, the others cleared."""
    missing = missing or set()
    return [
        gr.update(
            elem_classes=ITEM_CLASSES + ([MISSING] if n in missing else []),
            info=f"Question {n + 1} needs an answer: choose one of the numbers." if n in missing else scale_ends(c),
        )
        for n, c in enumerate(columns)
    ]


def scale_ends(c: Column) -> str:
    """The scale's labelled ends under an item, e.g. ``1 = Strongly disagree … 7 = Strongly agree``."""
    anchors = c.question.anchors(c.instrument.scale)
    scale = c.instrument.scale
    ends = [v for v in (scale.min, scale.max) if v in anchors]
    middle = [v for v in anchors if v not in (scale.min, scale.max)]
    shown = sorted(set(ends + middle))
    return " · ".join(f"{v} = {anchors[v]}" for v in shown) if shown else f"{scale.min} (lowest) to {scale.max}"


def missing_answers(answers) -> set[int]:
    return {n for n, a in enumerate(answers) if a is None or a == ""}


def ask_for(missing: set[int], columns: list[Column], numbers: dict[str, int]) -> str:
    ns = sorted(numbers[columns[n].name] for n in missing)
    listed = ", ".join(str(n) for n in ns)
    return f"Please answer question{'s' if len(ns) > 1 else ''} {listed} (marked in red); your other answers are kept."


def rating(n: int, c: Column) -> gr.Radio:
    """One item as a row of numbered choices (one row on a phone), its labelled ends under the question."""
    scale = c.instrument.scale
    choices = [(str(v), v) for v in range(scale.min, scale.max + 1)]
    return gr.Radio(
        choices=choices,
        label=f"{n}. {c.question.item.text}",
        info=scale_ends(c),
        elem_id=f"survey-{c.name}",
        elem_classes=ITEM_CLASSES,
    )


def paged_ratings(
    paged: list[list[Column]], numbers: dict[str, int]
) -> tuple[dict[str, gr.Radio], list[gr.Column], list[gr.Button], gr.Column]:
    """The rating items in pages (the first shown), each but the last ending with a Next button.

    Returns the items by column name, the page columns, the Next buttons and the last page, for the
    caller to add what ends the step (questions about the participant, Submit).
    """
    by_name: dict[str, gr.Radio] = {}
    columns: list[gr.Column] = []
    nexts: list[gr.Button] = []
    for i, page in enumerate(paged):
        with gr.Column(visible=i == 0, elem_id=f"survey-page-{i + 1}") as column:
            if len(paged) > 1:
                gr.Markdown(f"<sub>Page {i + 1} of {len(paged)}</sub>")
            for c in page:
                by_name[c.name] = rating(numbers[c.name], c)
            if i < len(paged) - 1:
                nexts.append(gr.Button("Next", variant="primary", elem_id=f"survey-next-{i + 1}"))
        columns.append(column)
    return by_name, columns, nexts, columns[-1]
