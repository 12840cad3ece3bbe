"""A factorial cell in a real browser: after consent the chat opens with the cell's disclosure wording and greeting,
without the creator's picture, and the reply comes without citations, while the page's banner stays."""

import shutil

import pytest

from clone.survey import load_study
from tests.conftest import RESEARCH_TOKEN
from tests.harness import serving_app
from tests.test_browser import CHROMIUM, FLAGS, answer
from tests.test_factorial import factorial_study

pytestmark = [pytest.mark.browser, pytest.mark.slow]

PLAIN = "This is an AI, a computer program. It is not {name}."
GREETING = "Hello, friend! So glad you dropped by."
# One cell, so the test knows what the participant gets.
ONE_CELL = f"""
factors:
  citations: [hidden]
  tone: [warm]
  avatar: [hidden]
  disclosure: [plain]
tones:
  warm: {{line: "Sound warm.", greeting: "{GREETING}"}}
disclosures:
  plain: "{PLAIN}"
"""


@pytest.fixture(scope="module")
def factorial_server(tmp_path_factory, demo_index_home):
    home = tmp_path_factory.mktemp("factorial-home")
    shutil.copytree(demo_index_home / "index", home / "index")
    study = factorial_study(tmp_path_factory.mktemp("study") / "s", ONE_CELL)
    with serving_app(
        home,
        home / "server.log",
        CLONE_RESEARCH_TOKEN=RESEARCH_TOKEN,
        CLONE_BACKEND="extractive",
        CLONE_STUDY=str(study),
    ) as url:
        yield url, study


def test_the_participants_cell_opens_the_chat_in_the_browser(factorial_server, tmp_path):
    from playwright.sync_api import sync_playwright

    url, path = factorial_server
    study = load_study(path)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 900})
        page.set_default_timeout(60_000)
        page.goto(url, wait_until="domcontentloaded")
        chat = page.locator("#clone-chat")
        chat.get_by_text("You are chatting with an AI clone of Rosa Lindqvist").first.wait_for()
        assert chat.locator("img[src*='avatar']").count() > 0  # before taking part: the creator's picture

        page.get_by_role("tab", name="Survey").click()
        page.locator("#survey-start").click()
        page.locator("#survey-pre-step").wait_for()
        page.get_by_role("tab", name="Chat").click()
        chat.get_by_text(GREETING).wait_for()
        text = chat.inner_text()
        assert PLAIN.replace("{name}", "Rosa Lindqvist") in text
        assert "You are chatting with an AI clone" not in text
        assert chat.locator("img[src*='avatar']").count() == 0  # the cell hides the avatar
        assert "AI clone of Rosa Lindqvist" in page.locator("#ai-banner").inner_text()  # the banner stays

        page.get_by_role("tab", name="Survey").click()
        answer(page, study, "pre")
        page.locator("#survey-pre-submit").click()
        page.locator("#study-reminder:visible").first.wait_for()  # "Continue to the chat" opens the chat
        page.locator("#chat-input textarea").fill("How big is your balcony?")
        page.locator("#chat-send").click()
        page.wait_for_function("() => document.querySelector('#clone-chat').innerText.includes('· receipt')")
        page.screenshot(path=str(tmp_path / "cell.png"))
        assert chat.locator("a[href^='https://example.com/']").count() == 0  # citations hidden
        assert "AI-generated reply" in chat.inner_text()
        browser.close()
