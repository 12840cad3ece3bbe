"""The participant, the fan's receipts and the creator in a real browser, on a desktop (1280×900) and a touch phone
(390×844): every mistake a person can make on the way, and the taps it takes. Screenshots land in the test's
tmp_path (kept by pytest as artifacts)."""

import re
import shutil

import pytest

from clone.survey import load_study
from clone.ui.items import pages
from tests.conftest import CREATOR_TOKEN
from tests.test_browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.browser

if not shutil.which(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)

SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
# Taps a participant needs beyond one per required item: I agree — start, Continue to the chat, the input (on a
# phone, for its keyboard) and Send once per required reply, I have finished chatting, Next per extra page,
# Submit. The default study fits in MAX_TAPS (the bound); study_full.yaml does not, by design.
MAX_TAPS = 25
QUESTIONS = {
    "desktop": ("Do you ever go ice skating in winter?", "Ice skating scares me; I walk by the frozen lake instead."),
    "phone": ("Have you ever tried scuba diving?", "Scuba diving is on my list; I snorkel in the summer for now."),
}


@pytest.fixture(scope="module")
def browser():
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield browser
        browser.close()


@pytest.fixture(params=list(SIZES))
def device(request, browser, app_server):
    """A fresh page at one size (its own cookies and session), with the clipboard allowed."""
    url, _ = app_server
    context = browser.new_context(**SIZES[request.param])
    context.grant_permissions(["clipboard-read", "clipboard-write"], origin=url.rstrip("/"))
    page = context.new_page()
    page.set_default_timeout(60_000)
    yield request.param, page
    context.close()


class Taps:
    """Clicks on a desktop, taps on a phone, counted."""

    def __init__(self, page, phone: bool):
        self.page, self.phone, self.n = page, phone, 0

    def __call__(self, locator) -> None:
        self.n += 1
        locator.scroll_into_view_if_needed()
        if self.phone:
            locator.tap()
        else:
            locator.click()


def no_error_badge(page) -> None:
    """Nothing went red: no Gradio error toast, no "Error" badge over a component."""
    assert page.locator(".toast-body.error, .toast-body").count() == 0
    assert page.locator(".error", has_text=re.compile(r"^\s*Error\s*$")).count() == 0


def choose(page, tap, column, value: int) -> None:
    tap(page.locator(f"#survey-{column.name}").get_by_text(str(value), exact=True))


def open_tab(page, tap, name: str, tabs: str = "#clone-tabs") -> None:
    tab = page.locator(tabs).get_by_role("tab", name=name)
    more = page.locator(f"{tabs} .overflow-menu button[aria-label='More tabs']")
    # Gradio measures the tab bar after layout and then moves the tabs that do not fit into its "More tabs"
    # menu (on a phone): decide only once the bar has settled, or a tab seen a moment ago may be gone.
    tab.or_(more).first.wait_for()
    page.wait_for_timeout(500)
    if not tab.is_visible():
        tap(more)
        tab = page.locator(f"{tabs} .overflow-dropdown button", has_text=name)
    tap(tab)


def test_participant_finishes_without_a_dead_end(app_server, device, tmp_path):
    size, page = device
    url, _ = app_server
    study = load_study()
    tap = Taps(page, size == "phone")
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#ai-banner").first.wait_for()
    open_tab(page, tap, "Survey")

    # Consent is one affirmative act on the consent text: the button that says "I agree". Nothing of the study
    # shows before it (there is no box left to forget: the old "Start without ticking" mistake cannot happen).
    start = page.locator("#survey-start")
    assert "I agree" in start.inner_text() and page.locator("#survey-pre-step").is_hidden()
    assert "I agree" in page.locator("#survey-agree-text").inner_text()
    assert page.locator("#survey-consent-text").is_visible()
    tap(start)
    page.locator("#survey-pre-step").wait_for()
    no_error_badge(page)

    # Mistake 1: Continue with one rating missing. Marked beside the item, focus moved there, answers kept.
    pre = study.columns("pre")
    skipped = pre[2]
    for c in pre:
        if c is not skipped:
            choose(page, tap, c, c.question.item.attention or 4)
    tap(page.locator("#survey-pre-submit"))
    page.locator("#survey-status", has_text="question 3").wait_for()
    item = page.locator(f"#survey-{skipped.name}")
    page.wait_for_function(
        f"() => document.querySelector('#survey-{skipped.name}').classList.contains('survey-missing')"
    )
    page.wait_for_function(f"() => document.querySelector('#survey-{skipped.name}').contains(document.activeElement)")
    assert "needs an answer" in item.inner_text()
    assert page.locator(f"#survey-{pre[0].name} input:checked").count() == 1  # nothing lost
    no_error_badge(page)
    page.screenshot(path=str(tmp_path / f"survey-missing-{size}.png"), full_page=True)
    if size == "phone":  # one row per scale, targets of at least 44 px
        boxes = [b.bounding_box() for b in item.locator("label").all()]
        assert len({round(b["y"]) for b in boxes}) == 1, boxes
        assert all(b["height"] >= 44 and b["width"] >= 40 for b in boxes), boxes
    choose(page, tap, skipped, 4)
    assert "Continue to the chat" in page.locator("#survey-pre-submit").inner_text()
    tap(page.locator("#survey-pre-submit"))  # the chat tab, the study reminder on it

    # Mistake 2: finishing before chatting. The reminder's button stays disabled until the study's minimum.
    reminder = page.locator("#study-reminder").first
    reminder.wait_for()
    finish = page.locator("#study-finish")
    assert finish.is_disabled()
    chat_input = page.locator("#chat-input textarea")
    for n in range(study.min_turns):
        # "Continue to the chat" puts the cursor in the chat box; a phone still wants a tap to open its keyboard.
        if size == "desktop" and n == 0:
            page.wait_for_function("() => document.activeElement === document.querySelector('#chat-input textarea')")
        else:
            tap(chat_input)
        chat_input.fill("How big is your balcony?")
        tap(page.locator("#chat-send"))
        page.wait_for_function(
            "n => document.querySelector('#clone-chat').innerText.split('· receipt').length - 1 > n", arg=n
        )
    page.wait_for_function("() => !document.querySelector('#study-finish').disabled")
    page.screenshot(path=str(tmp_path / f"chat-reminder-{size}.png"))
    tap(finish)  # straight to the questions after the chat
    page.locator("#survey-post-step").wait_for()

    # Mistake 3: Next with a rating missing on a page of the questions after the chat.
    paged = pages(study.columns("post"))
    for i, page_columns in enumerate(paged):
        for k, c in enumerate(page_columns):
            if not (i == 0 and k == 1):
                choose(page, tap, c, c.question.item.attention or 5)
        if i == 0:
            tap(page.locator("#survey-next-1"))
            page.locator(f"#survey-{page_columns[1].name}.survey-missing").first.wait_for()
            assert page.locator("#survey-page-1").is_visible()
            no_error_badge(page)
            choose(page, tap, page_columns[1], 5)
        if size == "phone":  # no page longer than two phone screens
            height = page.locator(f"#survey-page-{i + 1}").bounding_box()["height"]
            assert height <= 2 * 844, (i, height)
        last = i == len(paged) - 1
        tap(page.locator("#survey-submit" if last else f"#survey-next-{i + 1}"))
        if not last:
            page.locator(f"#survey-page-{i + 2}").wait_for()

    page.locator("#survey-done-step").wait_for()
    thanks = page.locator("#survey-thanks").inner_text()
    code = page.locator("#survey-code input, #survey-code textarea").first.input_value()
    assert re.fullmatch(r"p[0-9a-f]{16}", code) and code in thanks and "paste it where the study asked" in thanks
    copy = page.locator("#survey-code button[aria-label*='Copy' i], #survey-code button[title*='Copy' i]").first
    copy.click()
    assert page.evaluate("() => navigator.clipboard.readText()") == code
    no_error_badge(page)
    page.screenshot(path=str(tmp_path / f"survey-done-{size}.png"), full_page=True)

    # The taps of a participant who makes none of the mistakes above (shown in the report).
    required = len(study.columns("pre")) + len(study.columns("post"))
    mistakes = 2  # the untimely Continue and Next
    clean = tap.n - mistakes - 1  # the tab switch to the survey at the start is not part of the study
    print(f"\n{size}: {clean} taps for {required} required items; overhead {clean - required}")
    # Beyond the items: I agree, Continue to the chat, I have finished chatting, a Next per extra page and Submit,
    # Send per required reply and a tap on the input for each (but the first on a desktop, focused for it).
    inputs = study.min_turns - (size == "desktop" and study.min_turns > 0)
    assert clean - required == 3 + len(paged) + study.min_turns + inputs, (clean, required)
    assert clean <= MAX_TAPS


def test_receipts_copy_wrap_and_verify_from_the_short_code(app_server, device, tmp_path):
    size, page = device
    url, _ = app_server
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#chat-input textarea").fill("How big is your balcony?")
    page.locator("#chat-send").click()
    chat = page.locator("#clone-chat")
    button = chat.locator("button.clone-copy-receipt").last
    button.wait_for()
    assert button.get_attribute("aria-label") == "Copy receipt"
    summary = chat.locator("details summary").last.inner_text()
    code = re.search(r"[A-Z2-7]{4}(?:-[A-Z2-7]{4}){3}", summary).group(0)
    button.click()
    token = page.evaluate("() => navigator.clipboard.readText()")
    assert re.fullmatch(r"[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{86}", token)

    # The full receipt wraps inside the bubble instead of running past its edge.
    chat.locator("details").last.evaluate("d => { d.open = true; }")
    bubble = chat.locator(".message.bot, .bot.message, [data-testid='bot']").last
    receipt = chat.locator("details code").last
    assert receipt.bounding_box()["x"] + receipt.bounding_box()["width"] <= (
        bubble.bounding_box()["x"] + bubble.bounding_box()["width"] + 1
    )
    page.screenshot(path=str(tmp_path / f"receipt-{size}.png"))

    # The reply's own copy button copies plain text, which verifies with the short code alone.
    chat.locator("button[aria-label='Copy message'], button[title='Copy message']").last.click()
    copied = page.evaluate("() => navigator.clipboard.readText()")
    assert "<details>" not in copied and "**" not in copied and "](" not in copied and token in copied
    open_tab(page, Taps(page, size == "phone"), "Verify")
    page.locator("#verify-text textarea").fill(copied)
    page.locator("#verify-receipt textarea").fill(code)
    page.locator("#verify-button").click()
    page.locator("#verify-result", has_text="Genuine").wait_for()
    # The short code with the reply's plain words only: told kindly where the full receipt is.
    page.locator("#verify-text textarea").fill(copied.split("\n\n")[0])
    page.locator("#verify-button").click()
    page.locator("#verify-result", has_text="needs the full receipt").wait_for()
    assert "not issued" not in page.locator("#verify-result").inner_text()


def test_creator_console_reads_right(app_server, device, tmp_path):
    size, page = device
    url, _ = app_server
    # Unlike each other and the other browser tests' questions, so each one reaches the inbox.
    question, answer = QUESTIONS[size]
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#chat-input textarea").fill(question)
    page.locator("#chat-send").click()
    page.locator("#clone-chat button", has_text="Ask the creator instead").click()  # inside the declined reply
    page.locator("#chat-inbox").first.wait_for()
    page.locator("#chat-inbox-notify input").check()
    page.locator("#chat-inbox-email input, #chat-inbox-email textarea").first.fill(f"{size}@example.org")
    page.locator("#chat-inbox-send").click()
    page.locator("#chat-inbox-result", has_text="inbox").wait_for()

    page.goto(url + "creator", wait_until="domcontentloaded")
    said = page.locator("#creator-login-result")
    page.locator("#creator-open").click()  # no token yet: asked for, not called wrong
    said.filter(has_text="Please paste").wait_for()
    page.locator("#creator-token input").fill("not-the-token")
    page.locator("#creator-open").click()
    said.filter(has_text="not right").wait_for()
    no_error_badge(page)
    page.locator("#creator-token input").fill(CREATOR_TOKEN)
    page.locator("#creator-open").click()
    page.locator("#creator-body").first.wait_for()
    assert "not right" not in page.locator("body").inner_text()  # said once, gone on success
    no_error_badge(page)

    tap = Taps(page, size == "phone")
    open_tab(page, tap, "Embed", "#creator-tabs")
    page.locator("#creator-embed", has_text=f'src="{url}widget"').wait_for()
    assert "YOUR-APP-URL" not in page.locator("#creator-embed").inner_text()

    open_tab(page, tap, "Inbox", "#creator-tabs")
    page.locator("#inbox-show").click()
    summary = page.locator("#inbox-summary")
    summary.filter(has_text="open question").wait_for()
    assert not re.search(r"\b1 open questions|\b1 groups", summary.inner_text())
    page.locator("#inbox-group input").click()
    page.get_by_role("option", name=re.compile(re.escape(question[:40]))).click()
    page.wait_for_function(f"() => document.querySelector('#inbox-question textarea').value === {question!r}")
    page.locator("#inbox-answer textarea").fill(answer)
    page.locator("#inbox-publish").click()
    result = page.locator("#inbox-result")
    result.filter(has_text="Published").wait_for()
    assert "1 fan asked" in result.inner_text() and "1 questions" not in result.inner_text()
    page.wait_for_function("() => document.querySelector('#inbox-answer textarea').value === ''")
    page.screenshot(path=str(tmp_path / f"creator-{size}.png"), full_page=True)

    # The fan now gets the creator's own words, cited, with no dead "#" link and no persona lead-in.
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#chat-input textarea").fill(question)
    page.locator("#chat-send").click()
    chat = page.locator("#clone-chat")
    chat.filter(has_text="Creator answer: " + question).wait_for()
    assert chat.locator("a[href='#']").count() == 0
    reply = chat.locator(".message.bot, .bot.message, [data-testid='bot']").last.inner_text()
    assert reply.lstrip().startswith(answer.split()[0]), reply
