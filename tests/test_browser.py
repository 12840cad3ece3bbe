"""End to end in a real browser: Debian's Chromium, headless, driven by Playwright."""

import shutil

import pandas as pd
import pytest

from clone.survey import load_study
from clone.ui.items import pages
from tests.conftest import CREATOR_TOKEN, RESEARCH_TOKEN

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


def open_console(page, prefix: str, token: str) -> None:
    """Give a console its token once: a wrong one is said beside the field, the right one opens the console."""
    page.locator(f"#{prefix}-token input").fill("not-the-token")
    page.locator(f"#{prefix}-open").click()
    page.locator(f"#{prefix}-login-result", has_text="not right").wait_for()
    page.locator(f"#{prefix}-token input").fill(token)
    page.locator(f"#{prefix}-open").click()
    page.locator(f"#{prefix}-body").first.wait_for()
    assert page.locator(f"#{prefix}-login").first.is_hidden()


def test_the_fan_app_shows_no_console(app_server, page):
    url, _ = app_server
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#ai-banner").first.wait_for()
    tabs = [t.strip() for t in page.locator("#clone-tabs [role='tab']").all_inner_texts()]
    assert tabs == ["Chat", "Survey", "Verify", "About this clone"]
    assert page.locator("#creator-token, #research-token, #inbox-show, #research-export").count() == 0
    assert (
        page.get_by_role("link", name="Creator").count() == 0 and page.get_by_role("link", name="Research").count() == 0
    )


def answer(page, study, phase, columns=None):
    """Click an answer for every item of a phase (or ``columns``): the instructed one for attention checks, else 4."""
    for c in columns if columns is not None else study.columns(phase):
        value = c.question.item.attention or 4
        page.locator(f"#survey-{c.name}").get_by_text(str(value), exact=True).click()


def marks(page) -> int:
    """Finished replies in the chat: only a finished reply carries its receipt code (partial ones stream without)."""
    return page.evaluate("() => document.querySelector('#clone-chat').innerText.split('· receipt').length - 1")


def test_participant_flow_from_consent_to_the_researchers_csv(app_server, page, tmp_path):
    url, _ = app_server
    study = load_study()
    page.goto(url, wait_until="domcontentloaded")

    banner = page.locator("#ai-banner")
    banner.wait_for()
    assert "AI clone of Rosa Lindqvist, not with Rosa Lindqvist" in banner.inner_text()

    # Chat without taking part: a question about the creator's content gets a cited reply with links.
    page.locator("#chat-input textarea").fill("How big is your balcony?")
    page.locator("#chat-send").click()
    chat = page.locator("#clone-chat")
    source_link = chat.locator("a[href^='https://example.com/']").first
    source_link.wait_for()
    assert "Sources" in chat.inner_text()

    # Consent: the versioned text, an optional transcript box, and the affirmative "I agree — start".
    page.get_by_role("tab", name="Survey").click()
    assert "Taking part in this study" in page.locator("#survey-consent-text").inner_text()
    page.locator("#survey-start", has_text="I agree").click()
    page.locator("#survey-pre-step").wait_for()

    # Pre-chat questions; "Continue to the chat" opens the chat with the study reminder on it.
    answer(page, study, "pre")
    page.locator("#survey-pre-submit").click()
    page.locator("#study-reminder").first.wait_for()

    # Chat as a participant: the assigned condition decides whether this reply shows citations.
    page.get_by_role("tab", name="Chat").click()
    links_before, marks_before = chat.locator("a[href^='https://example.com/']").count(), marks(page)
    page.locator("#chat-input textarea").fill("What is your cat called?")
    page.locator("#chat-send").click()
    page.wait_for_function(
        f"() => document.querySelector('#clone-chat').innerText.split('· receipt').length - 1 > {marks_before}"
    )
    cited = chat.locator("a[href^='https://example.com/']").count() > links_before
    page.screenshot(path=str(tmp_path / "chat.png"))

    # Post-chat questions (here by the Survey tab's own "I have finished chatting"), then the completion code.
    page.get_by_role("tab", name="Survey").click()
    page.locator("#survey-chat-done:not([disabled])").click()
    page.locator("#survey-post-step").wait_for()
    paged = pages(study.columns("post"))
    for i, columns in enumerate(paged):
        answer(page, study, "post", columns)
        page.locator("#survey-submit" if i == len(paged) - 1 else f"#survey-next-{i + 1}").click()
    thanks = page.locator("#survey-thanks")
    page.locator("#survey-thanks", has_text="completion code").wait_for()
    code = thanks.locator("strong").inner_text().strip()
    assert len(code) == 17 and code.startswith("p")

    # The researcher console: unlock with the token and download the wide CSV; pandas reads it without options.
    page.goto(url + "research", wait_until="domcontentloaded")
    open_console(page, "research", RESEARCH_TOKEN)
    page.locator("#research-export").click()
    link = page.locator("#research-file a[download='study-wide.csv']")
    link.wait_for()
    with page.expect_download() as download_info:
        link.click()
    target = tmp_path / "wide.csv"
    download_info.value.save_as(target)
    wide = pd.read_csv(target)
    row = wide.set_index("participant_id").loc[code]
    assert row["finished"] == 1 and row["chat_turns"] == 1 and row["attention_check_01_post_pass"] == 1
    assert row["condition"] == ("citations_shown" if cited else "citations_hidden")
    assert all(row[c.name] == 4 for c in study.columns("post") if not c.question.item.attention)


def test_widget_embedded_in_a_page_keeps_the_banner_and_answers(app_server, page, tmp_path):
    import http.server
    import threading
    from functools import partial

    from clone.ui.creator import embed_snippets

    url, _ = app_server
    (tmp_path / "index.html").write_text(
        f"<!doctype html><html><body><h1>Sam's site</h1>{embed_snippets(url)}</body></html>", encoding="utf-8"
    )
    handler = partial(http.server.SimpleHTTPRequestHandler, directory=str(tmp_path))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        page.goto(f"http://127.0.0.1:{server.server_address[1]}/index.html", wait_until="domcontentloaded")
        frame = page.frame_locator("iframe")
        banner = frame.locator("#ai-banner")
        banner.wait_for()
        assert "AI clone of Rosa Lindqvist, not with Rosa Lindqvist" in banner.inner_text()
        frame.locator("#widget-input textarea").fill("What is your cat called?")
        frame.locator("#widget-send").click()
        frame.locator("#widget-chat a[href^='https://example.com/']").first.wait_for()
        assert "AI-generated reply" in frame.locator("#widget-chat").inner_text()
        assert frame.locator("#survey-submit, #research-token").count() == 0  # chat only
        assert frame.get_by_role("link", name="Home").is_hidden()  # no navigation bar with a lone link
        # Gradio's web component from the same snippet: banner and chat only, and it answers too.
        component = page.locator("gradio-app")
        component.locator("#ai-banner").wait_for()
        assert component.locator("#clone-tabs [role='tab']").first.is_hidden()
        assert component.locator("#survey-consent-step").is_hidden()
        component.locator("#chat-input textarea").fill("What is your cat called?")
        component.locator("#chat-send").click()
        component.locator("#clone-chat a[href^='https://example.com/']").first.wait_for()
    finally:
        server.shutdown()


def test_a_fan_leaves_a_question_and_the_creators_answer_is_cited(app_server, page):
    url, _ = app_server
    question = "What is your favourite board game?"
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#chat-input textarea").fill(question)
    page.locator("#chat-send").click()
    page.locator("#clone-chat button", has_text="Ask the creator instead").click()  # inside the declined reply
    page.locator("#chat-inbox").first.wait_for()  # a gr.Group puts its id on two nested divs
    assert page.locator("#chat-inbox-question textarea").input_value() == question
    page.locator("#chat-inbox-notify input").check()
    page.locator("#chat-inbox-email input, #chat-inbox-email textarea").first.fill("fan@example.org")
    page.locator("#chat-inbox-send").click()
    page.locator("#chat-inbox-result", has_text="inbox").wait_for()

    page.goto(url + "creator", wait_until="domcontentloaded")
    open_console(page, "creator", CREATOR_TOKEN)
    page.get_by_role("tab", name="Inbox").click()
    page.locator("#inbox-show").click()
    page.locator("#inbox-summary", has_text="open question").wait_for()
    assert question in page.locator("#inbox-groups").inner_text()
    assert page.locator("#inbox-question textarea").input_value() == question
    page.locator("#inbox-answer textarea").fill("Carcassonne is my favourite board game; we play it on the balcony.")
    page.locator("#inbox-publish").click()
    page.locator("#inbox-result", has_text="Published").wait_for()
    assert "fan@example.org" in page.locator("#inbox-result").inner_text()

    page.get_by_role("tab", name="Analytics").click()
    page.locator("#analytics-show").click()
    page.locator("#analytics-summary", has_text="conversations").wait_for()
    page.locator("#analytics-days-plot figure").first.wait_for()

    page.goto(url, wait_until="domcontentloaded")
    page.locator("#chat-input textarea").fill(question)
    page.locator("#chat-send").click()
    page.locator("#clone-chat", has_text="Creator answer: " + question).wait_for()
    assert "Carcassonne" in page.locator("#clone-chat").inner_text()
