"""The researcher console at ``/research``: the study's status, charts of the answers, and the data export.
Behind the research token."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import gradio as gr
from gradio.utils import get_upload_folder

from clone.gate import sweep_exports, sweep_later
from clone.services import Services
from clone.survey import write_study_export
from clone.survey.charts import item_distribution, n_per_condition, pre_post_means
from clone.ui.auth import gate, require
from clone.ui.limits import Limits


@dataclass
class ResearchHandlers:
    """The researcher console's events, each checking the research token."""

    services: Services
    limits: Limits | None = None

    def __post_init__(self) -> None:
        # Per-client limits, shared by every screen and route of this process (see clone.ui.limits).
        self.limits = self.limits or Limits(self.services.settings)

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

    def status(self, token: str, request: gr.Request | None = None) -> str:
        """The study at a glance (needs the research token): its id and version, conditions, participants."""
        self._require(token, "The study status", request)
        s = self.services
        records = s.store.records()
        finished = sum(r.post_at is not None for r in records)
        conditions = ", ".join(f"`{c.id}`" for c in s.study.conditions)
        return (
            f"**Study `{s.study.id}`, version {s.study.version}.** Conditions: {conditions}. "
            f"{len(records)} participants, {finished} finished."
        )

    def export_files(self, token: str, request: gr.Request | None = None) -> list[str]:
        """Write the wide CSV, long CSV and codebook (CSV, JSON); return their paths (needs the research token).

        The files are not kept: Gradio's copy is removed once downloaded (:class:`clone.gate.Gate`), and
        every copy after ``CLONE_EXPORT_KEEP_MINUTES``.
        """
        self._require(token, "The export", request)
        s = self.services
        keep = s.settings.export_keep_minutes * 60
        folders = [s.settings.export_dir, Path(get_upload_folder())]
        sweep_exports(folders, keep)
        paths = [str(p) for p in write_study_export(s.study, s.store, s.settings.export_dir)]
        sweep_later(folders, keep)
        return paths

    def charts(self, token: str, instrument_id: str | None = None, request: gr.Request | None = None) -> tuple:
        """Chart data (needs the research token): item distributions of one instrument, pre/post means, N.

        Returns three DataFrames for the Researchers tab's plots. Gradio stacks bars of one x value, so each
        item gets one bar stacked by answer value (as text: a colour per value, not a binned axis), and each
        condition gets separate assigned and finished bars.
        """
        self._require(token, "The charts", request)
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
