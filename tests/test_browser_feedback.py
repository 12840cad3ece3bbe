"""The thumbs under a reply, in a real browser: a fan's rating lands in the creator's analytics with no identifier, a
participant's rating and source clicks in the study's data."""

from __future__ import annotations

import uuid

import pytest

from clone import db
from clone.survey import load_study
from tests.conftest import make_settings
from tests.test_browser import CHROMIUM, FLAGS, answer, marks

pytestmark = pytest.mark.browser

# Source links open in a new tab: keep the page where it is (the count happens before the browser follows).
STAY = "document.addEventListener('click', (e) => { if (e.target.closest('a')) e.preventDefault(); })"


@pytest.fixture(scope="module")
def page(app_server):
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        context = browser.new_context(viewport={"width": 1280, "height": 900})
        page = context.new_page()
        page.set_default_timeout(60_000)
        yield page
        context.close()
        browser.close()


def ask(page, question: str) -> None:
    before = marks(page)
    page.locator("#chat-input textarea").fill(question)
    page.locator("#chat-send").click()
    page.wait_for_function(
        f"() => document.querySelector('#clone-chat').innerText.split('· receipt').length - 1 > {before}"
    )


def thumb(page, name: str) -> None:
    """Press a thumb (``Like`` or ``Dislike``) under the last reply."""
    page.locator(f"#clone-chat button[aria-label='{name}']").last.click()


def rows(home, sql: str, **params) -> list:
    return db.fetch(db.engine_for(make_settings(home).database), sql, params)


def test_thumbs_under_a_reply_record_a_rating_and_its_reason(app_server, page):
    url, home = app_server
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#chat-input textarea").wait_for()
    page.evaluate(STAY)
    ask(page, "How big is your balcony?")

    # A fan (not in the study): the rating goes to the creator's analytics, with no identifier.
    thumb(page, "Dislike")
    page.locator("#chat-feedback-note", has_text="What was wrong").wait_for()
    reason = f"Too vague {uuid.uuid4().hex[:8]}"
    page.locator("#chat-feedback-reason textarea").fill(reason)
    page.locator("#chat-feedback-send").click()
    page.locator("#chat-feedback-note", has_text="your reason is saved").wait_for()
    [(reply, rating)] = rows(home, "SELECT reply, rating FROM feedback_events WHERE reason = :r", r=reason)
    assert rating == "down"
    # A second press changes it: one rating per reply.
    thumb(page, "Like")
    page.locator("#chat-feedback-note", has_text="What did you like").wait_for()
    assert rows(home, "SELECT rating, reason FROM feedback_events WHERE reply = :r", r=reply) == [("up", "")]

    # A participant: the rating and a click on a source are research data.
    study = load_study()
    page.get_by_role("tab", name="Survey").click()
    page.locator("#survey-start").click()
    page.locator("#survey-pre-step").wait_for()
    answer(page, study, "pre")
    page.locator("#survey-pre-submit").click()
    page.locator("#study-reminder:visible").first.wait_for()  # "Continue to the chat" opens the chat
    ask(page, "What do you grow on the balcony?")
    thumb(page, "Like")
    page.locator("#chat-feedback-note", has_text="What did you like").wait_for()
    [(pid,)] = rows(home, "SELECT participant_id FROM participants ORDER BY consented_at DESC LIMIT 1")
    owned = rows(home, "SELECT reply FROM participant_replies WHERE participant_id = :p", p=pid)
    assert rows(home, "SELECT reply, rating FROM reply_feedback WHERE participant_id = :p", p=pid) == [
        (owned[-1][0], "up")
    ]
    assert not rows(home, "SELECT 1 FROM feedback_events WHERE reply = :r", r=owned[-1][0])
    last = page.locator("#clone-chat [data-testid=bot]").last
    links = last.locator("a[href^='https://example.com/']")
    if links.count():  # the condition shows sources: a click on one is counted
        links.first.click()
        page.wait_for_timeout(1500)
        assert rows(home, "SELECT COUNT(*) FROM source_clicks WHERE participant_id = :p", p=pid) == [(1,)]
    else:
        assert rows(home, "SELECT participant_id FROM participants WHERE participant_id = :p", p=pid)
