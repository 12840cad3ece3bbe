"""End to end in a real browser: Debian's Chromium, headless, driven by Playwright."""

import csv
import io
import shutil
import uuid

import pytest

from clone.survey import load_instrument
from tests.conftest import RESEARCH_TOKEN

CHROMIUM = "/usr/bin/chromium"
FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]

pytestmark = pytest.mark.browser

if not shutil.which(CHROMIUM):
    # .ci/run installs Debian's chromium; a machine without it cannot run a real browser.
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)


@pytest.fixture(scope="module")
def page(app_server, tmp_path_factory):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        context = browser.new_context(accept_downloads=True, viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        context.close()
        browser.close()


def test_fan_chats_answers_survey_and_researcher_downloads_csv(app_server, page, tmp_path):
    url, _ = app_server
    page.goto(url, wait_until="domcontentloaded")

    banner = page.locator("#ai-banner")
    banner.wait_for()
    assert "AI clone of Rosa Lindqvist, not with Rosa Lindqvist" in banner.inner_text()

    # Chat: a question about the creator's content gets a cited reply with links.
    page.locator("#chat-input textarea").fill("How big is your balcony?")
    page.locator("#chat-send").click()
    chat = page.locator("#clone-chat")
    source_link = chat.locator("a[href^='https://example.com/']").first
    source_link.wait_for()
    assert "Sources" in chat.inner_text()
    page.screenshot(path=str(tmp_path / "chat.png"))

    # Survey: answer every item and leave a unique comment.
    page.get_by_role("tab", name="Survey").click()
    comment = f"browser test {uuid.uuid4().hex[:8]}"
    for column in load_instrument().columns:
        page.locator(f"#survey-{column}").get_by_text("5 - Somewhat agree").click()
    page.locator("#survey-comment textarea").fill(comment)
    page.locator("#survey-submit").click()
    thanks = page.locator("#survey-thanks")
    page.wait_for_function("() => document.querySelector('#survey-thanks').innerText.includes('participant code')")
    code = thanks.locator("strong").inner_text().strip()
    assert len(code) == 16

    # Researchers: unlock with the token and download the CSV.
    page.get_by_role("tab", name="Researchers").click()
    page.locator("#research-token input").fill(RESEARCH_TOKEN)
    page.locator("#research-export").click()
    link = page.locator("#research-file a").first
    link.wait_for()
    with page.expect_download() as download_info:
        link.click()
    target = tmp_path / "responses.csv"
    download_info.value.save_as(target)
    rows = list(csv.DictReader(io.StringIO(target.read_text(encoding="utf-8"))))
    row = next(r for r in rows if r["participant_id"] == code)
    assert row["free_text"] == comment
    assert all(row[c] == "5" for c in load_instrument().columns)
