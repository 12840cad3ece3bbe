"""The researcher console at ``/research``: the study's status, charts of the answers, and the data export.
Behind the research token."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from clone.gate import sweep_exports, sweep_later
from clone.survey import write_study_export
from clone.survey.charts import (
    condition_means,
    dropouts,
    item_distribution,
    n_per_condition,
    pre_post_means,
    readable,
)
from clone.survey.package import package_sha256
from clone.ui import plot
from clone.ui.auth import gate, require
from clone.ui.limits import Screen

PHASE_WORDS = {"pre": "before the chat", "post": "after the chat"}
DIST_TITLE = "Answers per item"
SHIFT_TITLE = "Mean score before and after the chat, with 95% intervals (finished participants)"
N_TITLE = "Participants per condition"


def distribution_chart(instrument, dist) -> str:
    """Answers per item of one instrument as 100% bars, pre before post, item text as the label."""
    title = f"{DIST_TITLE}: {instrument.title}"
    if dist.empty or not dist["count"].sum():
        return plot.empty(title, "No answers yet: the chart fills in as participants answer.")
    rows = []
    for phase in PHASE_WORDS:
        for item in dict.fromkeys(dist.loc[dist.phase == phase, "item"]):
            part = dist[(dist.phase == phase) & (dist["item"] == item)].sort_values("value")
            rows.append((f"{part['label'].iloc[0]} ({PHASE_WORDS[phase]})", part["count"].tolist()))
    # The legend names a value by its anchor only where every item shares it (semantic differentials label
    # their ends per item, in the item's text): otherwise by its number.
    legend = []
    for value, part in dist.groupby("value", sort=True):
        labels = set(part["value_label"])
        legend.append(labels.pop() if len(labels) == 1 else str(value))
    return plot.stacked(title, rows, legend)


def instrument_scale(study) -> tuple[int, int]:
    """The answer range shared by the repeated instruments (the means' axis)."""
    repeated = [i for i in study.instruments if i.phase == "both"] or study.instruments
    return min(i.scale.min for i in repeated), max(i.scale.max for i in repeated)


def shift_chart(scale: tuple[int, int], shift) -> str:
    """Each subscale's mean before and after the chat per condition, each with its 95% interval on its own row."""
    if shift.empty or shift["n"].max() == 0:
        return plot.empty(SHIFT_TITLE, "No finished participants yet: means appear once someone finishes.")
    groups = []
    for measure in dict.fromkeys(shift["measure"]):
        part = shift[shift.measure == measure]
        rows = []
        for condition in dict.fromkeys(part["condition"]):
            for phase in PHASE_WORDS:
                r = part[(part.condition == condition) & (part.phase == phase)].iloc[0]
                label = f"{r['condition_label']}, {PHASE_WORDS[phase]}"
                rows.append((label, float(r["mean"]), float(r["low"]), float(r["high"]), int(r["n"])))
        groups.append((part["label"].iloc[0], rows))
    return plot.intervals(SHIFT_TITLE, groups, *scale)


def n_chart(n) -> str:
    """Assigned and finished participants per condition, side by side from 0."""
    rows = []
    for condition in dict.fromkeys(n["condition"]):
        part = n[n.condition == condition].set_index("status")
        rows.append((part["condition_label"].iloc[0], [int(part.loc["assigned", "n"]), int(part.loc["finished", "n"])]))
    return plot.bars(
        N_TITLE,
        rows,
        series=("Assigned", "Finished"),
        empty_message="Nobody has taken part yet.",
        header=("Condition", "Participants"),
    )


def _interval(row) -> str:
    """``5.12 [4.80, 5.44]``, or the mean alone (``5.00 [too few]``) below two people, or a dash."""
    if not row["n"]:
        return "–"
    if math.isnan(row["low"]):
        return f"{row['mean']:.2f} [too few]"
    return f"{row['mean']:.2f} [{row['low']:.2f}, {row['high']:.2f}]"


def glance(study, records) -> str:
    """Markdown: each scale's mean per condition with its 95% interval and N (finished participants), then how
    many of each condition reached each step."""
    means, steps = condition_means(study, records), dropouts(study, records)
    labels = [readable(c.id) for c in study.conditions]
    out = [
        "**Means per condition, 95% confidence intervals (t), finished participants**",
        "",
        "| Scale | Phase | " + " | ".join(labels) + " |",
        "|---|---|" + "---|" * len(labels),
    ]
    for (_measure, phase), part in means.groupby(["measure", "phase"], sort=False):
        cells = [f"{_interval(r)} (n={r['n']})" for _, r in part.iterrows()]
        out.append(f"| {part['label'].iloc[0]} | {PHASE_WORDS[phase]} | " + " | ".join(cells) + " |")
    out += ["", "**Participants reaching each step**", "", "| Step | " + " | ".join(labels) + " |"]
    out.append("|---|" + "---|" * len(labels))
    for _step, part in steps.groupby("step", sort=False):
        out.append(f"| {part['label'].iloc[0]} | " + " | ".join(str(n) for n in part["n"]) + " |")
    return "\n".join(out)


@dataclass
class ResearchHandlers(Screen):
    """The researcher console's events, each checking the research token."""

    def _require(self, token: str, what: str, request: gr.Request | None = None) -> None:
        """The research token, with the wrong-token throttle of ``CLONE_WRONG_TOKENS_PER_HOUR`` per client."""
        limits = self.limits
        require(
            token,
            self.services.settings.research_token,
            "CLONE_RESEARCH_TOKEN",
            what,
            client=limits.client(request),
            wrong=limits.wrong_tokens,
        )

    def status(self, token: str, include_simulated: bool = False, request: gr.Request | None = None) -> str:
        """The study at a glance (needs the research token): its id and version, conditions, participants
        (simulated ones only with ``include_simulated``)."""
        self._require(token, "The study status", request)
        s = self.services
        records = s.store.records(include_simulated=include_simulated is True)
        finished = sum(r.post_at is not None for r in records)
        conditions = "Conditions: " + ", ".join(f"`{c.id}`" for c in s.study.conditions)
        if s.study.factors:  # a factorial design: its factors, not every cell's id
            crossing = " x ".join(f"{name} ({', '.join(levels)})" for name, levels in s.study.factors.items())
            conditions = f"Factors: {crossing}, {len(s.study.conditions)} cells"
        package = package_sha256(s.study)
        # Participants who took part under another package (the study or the app changed since): say so loudly.
        others = sum(1 for r in records if r.study_package_sha256 and r.study_package_sha256 != package)
        line = (
            f"**Study `{s.study.id}`, version {s.study.version}.** {conditions}. "
            f"{len(records)} participants, {finished} finished"
            + (f" ({sum(r.simulated for r in records)} of them simulated)" if include_simulated is True else "")
            + f". Study package sha256 `{package}` "
            "(`python -m clone study package` writes it)."
        )
        line += "\n\n" + glance(s.study, records)
        if others:
            line += (
                f"\n\n**Warning: {others} participant{'s' if others != 1 else ''} took part under a different study "
                "package** (the study files or the app version changed since): compare `study_package_sha256` in "
                "the wide file before pooling their answers."
            )
        return line

    def export_files(self, token: str, include_simulated: bool = False, request: gr.Request | None = None) -> list[str]:
        """Write the wide CSV, long CSV and codebook (CSV, JSON); return their paths (needs the research token).
        Simulated participants are in the files only with ``include_simulated``.

        The files are not kept: Gradio's copy is removed once downloaded (:class:`clone.gate.Gate`), and
        every copy after ``CLONE_EXPORT_KEEP_MINUTES``.
        """
        self._require(token, "The export", request)
        s = self.services
        keep = s.settings.export_keep_minutes * 60
        folders = [s.settings.export_dir, Path(get_upload_folder())]
        sweep_exports(folders, keep)
        include = include_simulated is True
        paths = [str(p) for p in write_study_export(s.study, s.store, s.settings.export_dir, include_simulated=include)]
        sweep_later(folders, keep)
        return paths

    def chart_data(
        self,
        token: str,
        instrument_id: str | None = None,
        include_simulated: bool = False,
        request: gr.Request | None = None,
    ) -> tuple:
        """Chart data (needs the research token): item distributions of one instrument, pre/post means with
        95% intervals, and N per condition, as three DataFrames (see :mod:`clone.survey.charts`). Simulated
        participants count only with ``include_simulated`` (they hold no slot of the randomization log, so
        the assigned bars count people only)."""
        self._require(token, "The charts", request)
        study = self.services.study
        records = self.services.store.records(include_simulated=include_simulated is True)
        instrument_id = instrument_id or study.instruments[0].id
        dist = item_distribution(study, records, instrument_id)
        shift = pre_post_means(study, records)
        n = n_per_condition(study, records, self.services.store.assignments())
        return dist, shift, n

    def charts(
        self,
        token: str,
        instrument_id: str | None = None,
        include_simulated: bool = False,
        request: gr.Request | None = None,
    ) -> tuple:
        """The three charts as HTML (needs the research token): answers per item, means before and after the
        chat with their 95% intervals, and participants per condition. Labels are the codebook's words."""
        dist, shift, n = self.chart_data(token, instrument_id, include_simulated, request)
        study = self.services.study
        instrument = next((i for i in study.instruments if i.id == instrument_id), study.instruments[0])
        return (
            distribution_chart(instrument, dist),
            shift_chart(instrument_scale(study), shift),
            n_chart(n),
        )

    def export_csv(self, token: str, request: gr.Request | None = None) -> str:
        """Write the export files and return the wide CSV's path (needs the research token)."""
        return self.export_files(token, request)[0]


def build(h: ResearchHandlers) -> None:
    """The researcher console: token form, then study status, export and charts."""
    study = h.services.study
    gr.Markdown("## Researcher console\nThe reaction study: who took part, what they answered, and the data.")
    token, body = gate(
        h.services.settings.research_token, "CLONE_RESEARCH_TOKEN", "Research token", "research", h.limits
    )
    with body:
        simulated = gr.Checkbox(
            label="Include simulated participants (python -m clone study simulate) in the status, data and charts",
            value=False,
            elem_id="research-include-simulated",
        )
        include = gr.State(False)  # a State, so the export API keeps its one argument (the token)
        simulated.change(lambda on: on is True, simulated, include, api_visibility="private")
        status = gr.Markdown(elem_id="research-status")
        refresh = gr.Button("Show the study status", elem_id="research-status-show")
        refresh.click(h.status, [token, include], status, api_visibility="private")
        gr.Markdown(
            "Download the study data: the wide CSV (one row per participant), the long CSV (one row "
            "per answer) and the codebook (CSV and JSON), or show charts of the answers. Also over HTTP: "
            "`GET /research/export/wide.csv` with `Authorization: Bearer <token>` (add `?include_simulated=1` for "
            "the simulated participants of a pilot)."
        )
        export = gr.Button("Download study data", elem_id="research-export")
        # Hidden until there are files: Gradio's empty file box carries an aria-label on a plain div.
        csv_file = gr.File(label="Study data", file_count="multiple", elem_id="research-file", visible=False)
        export.click(h.export_files, [token, include], csv_file, api_name="export_responses").success(
            lambda: gr.update(visible=True), None, csv_file, api_visibility="private"
        )
        with gr.Row():
            chart_instrument = gr.Dropdown(
                choices=[(i.title, i.id) for i in study.instruments],
                value=study.instruments[0].id,
                label="Instrument for the answer distributions",
                elem_id="research-chart-instrument",
            )
            show_charts = gr.Button("Show charts", elem_id="research-charts")
        # HTML charts, empty until asked for: nothing is drawn before the token opens the console.
        dist_plot = gr.HTML(elem_id="research-dist")
        shift_plot = gr.HTML(elem_id="research-shift")
        n_plot = gr.HTML(elem_id="research-n")
        show_charts.click(
            h.charts,
            [token, chart_instrument, include],
            [dist_plot, shift_plot, n_plot],
            api_visibility="private",
        )
