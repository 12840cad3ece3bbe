"""The researcher console at ``/research``: the study's status, charts of the answers, and the data export.
Behind the research token."""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from clone.services import Services
from clone.survey import write_study_export
from clone.survey.charts import item_distribution, n_per_condition, pre_post_means
from clone.ui.auth import gate, require


@dataclass
class ResearchHandlers:
    """The researcher console's events, each checking the research token."""

    services: Services

    def _require(self, token: str, what: str) -> None:
        require(token, self.services.settings.research_token, "CLONE_RESEARCH_TOKEN", what)

    def status(self, token: str) -> str:
        """The study at a glance (needs the research token): its id and version, conditions, participants."""
        self._require(token, "The study status")
        s = self.services
        records = s.store.records()
        finished = sum(r.post_at is not None for r in records)
        conditions = ", ".join(f"`{c.id}`" for c in s.study.conditions)
        return (
            f"**Study `{s.study.id}`, version {s.study.version}.** Conditions: {conditions}. "
            f"{len(records)} participants, {finished} finished."
        )

    def export_files(self, token: str) -> list[str]:
        """Write the wide CSV, long CSV and codebook (CSV, JSON); return their paths (needs the research token)."""
        self._require(token, "The export")
        s = self.services
        return [str(p) for p in write_study_export(s.study, s.store, s.settings.export_dir)]

    def charts(self, token: str, instrument_id: str | None = None) -> tuple:
        """Chart data (needs the research token): item distributions of one instrument, pre/post means, N.

        Returns three DataFrames for the Researchers tab's plots. Gradio stacks bars of one x value, so each
        item gets one bar stacked by answer value (as text: a colour per value, not a binned axis), and each
        condition gets separate assigned and finished bars.
        """
        self._require(token, "The charts")
        records = self.services.store.records()
        instrument_id = instrument_id or self.services.study.instruments[0].id
        dist = item_distribution(self.services.study, records, instrument_id)
        dist["value"] = dist["value"].astype(str)
        dist["series"] = dist["item"] + " (" + dist["phase"] + ")"
        shift = pre_post_means(self.services.study, records)
        shift["series"] = shift["measure"] + " · " + shift["condition"]
        n = n_per_condition(self.services.study, records, self.services.store.assignments())
        n["group"] = n["condition"] + " · " + n["status"]
        return dist, shift, n

    def export_csv(self, token: str) -> str:
        """Write the export files and return the wide CSV's path (needs the research token)."""
        return self.export_files(token)[0]


def build(h: ResearchHandlers) -> None:
    """The researcher console: token form, then study status, export and charts."""
    study = h.services.study
    gr.Markdown("## Researcher console\nThe reaction study: who took part, what they answered, and the data.")
    token, body = gate(h.services.settings.research_token, "Research token", "research")
    with body:
        status = gr.Markdown(elem_id="research-status")
        refresh = gr.Button("Show the study status", elem_id="research-status-show")
        refresh.click(h.status, token, status, api_visibility="private")
        gr.Markdown(
            "Download the study data: the wide CSV (one row per participant), the long CSV (one row "
            "per answer) and the codebook (CSV and JSON), or show charts of the answers. Also over HTTP: "
            "`GET /research/export/wide.csv` with `Authorization: Bearer <token>`."
        )
        export = gr.Button("Download study data", elem_id="research-export")
        csv_file = gr.File(label="Study data", file_count="multiple", elem_id="research-file")
        export.click(h.export_files, token, csv_file, api_name="export_responses")
        with gr.Row():
            chart_instrument = gr.Dropdown(
                choices=[(i.title, i.id) for i in study.instruments],
                value=study.instruments[0].id,
                label="Instrument for the answer distributions",
                elem_id="research-chart-instrument",
            )
            show_charts = gr.Button("Show charts", elem_id="research-charts")
        dist_plot = gr.BarPlot(
            x="series",
            y="count",
            color="value",
            title="Answers per item",
            x_label_angle=-45,
            elem_id="research-dist",
        )
        shift_plot = gr.LinePlot(
            x="phase",
            y="mean",
            color="series",
            sort=["pre", "post"],
            title="Subscale means before and after the chat (finished participants)",
            elem_id="research-shift",
        )
        n_plot = gr.BarPlot(x="group", y="n", color="status", title="Participants per condition", elem_id="research-n")
        show_charts.click(
            h.charts,
            [token, chart_instrument],
            [dist_plot, shift_plot, n_plot],
            api_visibility="private",
        )
