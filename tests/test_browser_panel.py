"""A participant from Prolific in a real browser: the link's PROLIFIC_PID reaches the server with the consent (and is
kept only as a keyed hash), their own shuffled item order is on the page, they finish and get the link back to
Prolific with its completion code; the same link again is refused at consent."""

import json
import shutil
import sqlite3

import pytest

from clone.survey import load_study
from clone.survey.instruments import DEFAULT_STUDY, FULL_STUDY
from clone.ui.items import pages
from tests.harness import serving_app
from tests.test_browser import CHROMIUM, FLAGS
from tests.test_browser_people import Taps, choose, no_error_badge, open_tab

pytestmark = pytest.mark.browser

if not shutil.which(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

PID = "5f1e2d3c4b5a69788796a5b4"
LINK = f"?PROLIFIC_PID={PID}&STUDY_ID=65aa00bb11cc22dd33ee44ff&SESSION_ID=abc123"
PANEL = """
panel:
  completion_code: C1ABC23
  completion_url: https://app.prolific.com/submissions/complete?cc={code}
  screen_out_code: SCREENED
  screen_out_url: https://app.prolific.com/submissions/complete?cc={code}
"""


@pytest.fixture(scope="module")
def panel_server(tmp_path_factory, demo_index_home):
    """The app with a study that shuffles the trust items, needs no chat turn and sends panel participants back."""
    home = tmp_path_factory.mktemp("panel-home")
    shutil.copytree(demo_index_home / "index", home / "index")
    folder = home / "instruments"
    shutil.copytree(DEFAULT_STUDY.parent, folder)
    path = folder / FULL_STUDY.name  # the full battery: trust items to shuffle, three pages after the chat
    text = path.read_text(encoding="utf-8").split("\npanel:")[0]
    text = text.replace("  - trust_jian.yaml\n", "  - {file: trust_jian.yaml, shuffle_items: true}\n")
    path.write_text(text.replace("min_turns: 1", "min_turns: 0") + PANEL, encoding="utf-8")
    with serving_app(home, home / "server.log", CLONE_STUDY=str(path), CLONE_BACKEND="extractive") as url:
        yield url, home, load_study(path)


def test_a_prolific_participant_is_counted_once_sees_their_order_and_is_sent_back(panel_server, tmp_path):
    from playwright.sync_api import sync_playwright

    url, home, study = panel_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_context(viewport={"width": 1280, "height": 900}).new_page()
        page.set_default_timeout(60_000)
        tap = Taps(page, False)
        page.goto(url + LINK, wait_until="domcontentloaded")
        page.locator("#ai-banner").first.wait_for()
        open_tab(page, tap, "Survey")
        tap(page.locator("#survey-start"))
        page.locator("#survey-pre-step").wait_for()
        with sqlite3.connect(home / "survey.sqlite3") as conn:
            panel, study_id, hashed, order = conn.execute(
                "SELECT panel, panel_study_id, panel_pid_hash, item_order FROM participants"
            ).fetchone()
        assert (panel, study_id) == ("prolific", "65aa00bb11cc22dd33ee44ff") and PID not in hashed
        shown = study.shown("pre", json.loads(order))
        slots = study.columns("pre")
        # Each slot carries the participant's own item (the slots keep the file order's element ids).
        for n, (slot, item) in enumerate(zip(slots, shown, strict=True), 1):
            page.locator(f"#survey-{slot.name}", has_text=f"{n}. {item.question.item.text}").wait_for()
        values = {}
        for n, (slot, item) in enumerate(zip(slots, shown, strict=True)):
            values[item.question.column] = item.question.item.attention or 1 + n % 7
            choose(page, tap, slot, values[item.question.column])
        tap(page.locator("#survey-pre-submit"))  # to the chat, where no turn is needed here
        tap(page.locator("#study-finish:not([disabled])"))
        paged = pages(study.columns("post"))
        for i, page_columns in enumerate(paged):
            page.locator(f"#survey-page-{i + 1}").wait_for()
            for c in page_columns:
                choose(page, tap, c, c.question.item.attention or 4)
            tap(page.locator("#survey-submit" if i == len(paged) - 1 else f"#survey-next-{i + 1}"))
        thanks = page.locator("#survey-thanks")
        thanks.get_by_role("link").first.wait_for()
        assert thanks.get_by_role("link").first.get_attribute("href") == (
            "https://app.prolific.com/submissions/complete?cc=C1ABC23"
        )
        assert page.locator("#survey-code textarea, #survey-code input").first.input_value() == "C1ABC23"
        no_error_badge(page)
        page.screenshot(path=str(tmp_path / "panel-done.png"), full_page=True)
        with sqlite3.connect(home / "survey.sqlite3") as conn:
            stored = dict(conn.execute("SELECT item, value FROM item_answers WHERE phase = 'pre'").fetchall())
        assert stored == values  # each answer filed under the item shown in its slot

        # The same link in a new tab: refused at consent, nothing stored.
        again = browser.new_context().new_page()
        again.set_default_timeout(60_000)
        again.goto(url + LINK, wait_until="domcontentloaded")
        again.locator("#ai-banner").first.wait_for()
        open_tab(again, Taps(again, False), "Survey")
        again.locator("#survey-start").click()
        again.locator("#survey-status", has_text="already taken part").wait_for()
        assert again.locator("#survey-pre-step").is_hidden()
        with sqlite3.connect(home / "survey.sqlite3") as conn:
            assert conn.execute("SELECT COUNT(*) FROM participants").fetchone()[0] == 1
        browser.close()
