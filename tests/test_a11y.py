"""What people see, on a desktop (1280x900) and a touch phone (390x844): WCAG 2.2 AA checked by axe-core on
every page and console, contrast computed from the browser's own styles, real names on inputs and images,
and the phone chat (a one-line banner, the conversation filling the screen, Send always visible).

The browser tests save a screenshot of every state they check under ``test-results/a11y/``. The first
tests need no browser: the banner's and the chat's HTML and messages.
"""

from __future__ import annotations

import re
import shutil
from pathlib import Path

import pytest
from bs4 import BeautifulSoup

from clone.ui.chat import ASK_CREATOR
from clone.ui.page import banner_html
from tests.conftest import CREATOR_TOKEN, RESEARCH_TOKEN

# As in tests/test_browser.py (importing it would skip this whole module, the tests without a browser too).
CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync"]  # fmt: skip

RESULTS = Path(__file__).resolve().parent.parent / "test-results" / "a11y"
SIZES = {
    "desktop": {"viewport": {"width": 1280, "height": 900}},
    "phone": {"viewport": {"width": 390, "height": 844}, "is_mobile": True, "has_touch": True},
}
NAME = "Rosa Lindqvist"
DECLINED = "What is your favourite board game?"  # nothing in the demo content: the clone declines
LONG = "What is your cat called?"  # a long cited reply


# --- without a browser ------------------------------------------------------------------------------
def test_the_banner_has_a_one_line_form_and_the_full_text_behind_more(demo_clone):
    banner = BeautifulSoup(banner_html(demo_clone.persona), "html.parser")
    short = banner.select_one(".clone-banner-short").get_text()
    assert "AI clone" in short and f"not the real {NAME}" in short
    more = banner.select_one("details.clone-banner-more")
    assert more.select_one("summary").get_text() == "more"
    assert f"You are chatting with an AI clone of {NAME}, not with {NAME}." in more.get_text()
    assert "fictional creator" in more.get_text()
    # Without the stylesheet (or on a wide screen) the full text shows and the phone parts stay hidden.
    full = banner.select_one(".clone-banner-full")
    assert "display:none" not in full.get("style", "") and f"not with {NAME}" in full.get_text()
    assert "display:none" in more["style"] and "display:none" in banner.select_one(".clone-banner-short")["style"]


def test_a_declined_reply_carries_the_ask_the_creator_offer_and_an_answer_does_not(screens):
    *_, (chat, _, session) = screens.chat.respond(DECLINED, [], None)
    assert chat[-1]["options"] == [{"label": ASK_CREATOR, "value": ASK_CREATOR}]
    form, question, _ = screens.chat.inbox_offer(session)
    assert form["visible"] is True and question == DECLINED
    assert screens.chat.inbox_close(session)[0]["visible"] is False  # the next reply closes an open form
    *_, (chat, _, session) = screens.chat.respond(LONG, [], session)
    assert "options" not in chat[-1]


# --- in a real browser ------------------------------------------------------------------------------
def _ratio(fg: str, bg: str) -> float:
    """WCAG contrast of two CSS ``rgb(...)``/``rgba(...)`` colours (alpha ignored: both are opaque here)."""

    def lum(css: str) -> float:
        r, g, b = (int(v) / 255 for v in re.findall(r"[\d.]+", css)[:3])
        lin = [c / 12.92 if c <= 0.03928 else ((c + 0.055) / 1.055) ** 2.4 for c in (r, g, b)]
        return 0.2126 * lin[0] + 0.7152 * lin[1] + 0.0722 * lin[2]

    light, dark = sorted([lum(fg), lum(bg)], reverse=True)
    return (light + 0.05) / (dark + 0.05)


@pytest.fixture(scope="module")
def browser():
    if not shutil.which(CHROMIUM):
        pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)")
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        b = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        yield b
        b.close()


@pytest.fixture(params=list(SIZES))
def page(request, browser):
    context = browser.new_context(**SIZES[request.param])
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.size = request.param
    yield page
    context.close()


def shot(page, name: str) -> None:
    RESULTS.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(RESULTS / f"{page.size}-{name}.png"), full_page=True)


def ask(page, prefix: str, question: str, done: str) -> None:
    """Send ``question`` from the chat ``prefix`` and wait for ``done`` (a selector) in its conversation."""
    chat = "#clone-chat" if prefix == "chat" else f"#{prefix}-chat"
    page.locator(f"#{prefix}-input textarea").fill(question)
    if page.size == "phone":
        page.locator(f"#{prefix}-send").tap()
    else:
        page.locator(f"#{prefix}-send").click()
    page.locator(f"{chat} {done}").first.wait_for()
    page.wait_for_timeout(600)  # the scroll after the reply runs once the reply is complete


def pick_tab(page, name: str) -> None:
    """Open a tab; on a phone Gradio moves the tabs that do not fit behind "More tabs"."""
    tab = page.get_by_role("tab", name=name, exact=True)
    if tab.count():
        tab.click()
    else:
        page.get_by_role("button", name="More tabs").click()
        page.locator(".overflow-dropdown button", has_text=name).click()
    page.wait_for_timeout(300)


def open_console(page, prefix: str, token: str) -> None:
    page.locator(f"#{prefix}-token input").fill(token)
    page.locator(f"#{prefix}-open").click()
    page.locator(f"#{prefix}-body").first.wait_for()


def axe_problems(page, where: str) -> list[str]:
    """Serious and critical axe-core violations on the page as it is now (axe-core ships in the wheel)."""
    from axe_playwright_python.sync_playwright import Axe

    shot(page, where)
    found = Axe().run(page).response["violations"]
    return [
        f"{page.size} {where}: {v['id']} ({v['impact']}) at {[n['target'] for n in v['nodes']][:3]}"
        for v in found
        if v["impact"] in ("serious", "critical")
    ]


@pytest.mark.browser
def test_axe_finds_no_serious_or_critical_violation_anywhere(app_server, page):
    url, _ = app_server
    problems = []
    page.goto(url, wait_until="domcontentloaded")
    page.locator("#ai-banner").first.wait_for()
    problems += axe_problems(page, "chat")
    ask(page, "chat", LONG, "a[href^='https://example.com/']")
    problems += axe_problems(page, "chat-reply")
    for tab in ("Survey", "Verify", "About this clone"):
        pick_tab(page, tab)
        problems += axe_problems(page, tab.split()[0].lower())
    page.goto(url + "widget", wait_until="domcontentloaded")
    page.locator("#ai-banner").first.wait_for()
    ask(page, "widget", DECLINED, f"button:has-text('{ASK_CREATOR}')")
    problems += axe_problems(page, "widget-declined")

    page.goto(url + "creator", wait_until="domcontentloaded")
    page.locator("#creator-token").first.wait_for()
    problems += axe_problems(page, "creator-locked")
    open_console(page, "creator", CREATOR_TOKEN)
    pick_tab(page, "Inbox")
    page.locator("#inbox-show").click()
    page.locator("#inbox-summary", has_text="question").wait_for()
    problems += axe_problems(page, "creator-inbox")
    pick_tab(page, "Analytics")
    page.locator("#analytics-show").click()
    page.locator("#analytics-topics figure").wait_for()
    problems += axe_problems(page, "creator-analytics")
    for tab in ("Embed", "Consent and keys"):
        pick_tab(page, tab)
        problems += axe_problems(page, "creator-" + tab.split()[0].lower())

    page.goto(url + "research", wait_until="domcontentloaded")
    page.locator("#research-token").first.wait_for()
    problems += axe_problems(page, "research-locked")
    open_console(page, "research", RESEARCH_TOKEN)
    page.locator("#research-charts").click()
    page.locator("#research-shift figure").wait_for()
    problems += axe_problems(page, "research-charts")
    assert problems == []


@pytest.mark.browser
def test_send_the_selected_tab_and_placeholders_have_4_5_to_1_contrast(app_server, page):
    url, _ = app_server
    page.goto(url, wait_until="domcontentloaded")
    send = page.locator("#chat-send")
    send.wait_for()
    fg, bg = (send.evaluate(f"e => getComputedStyle(e).{k}") for k in ("color", "backgroundColor"))
    assert _ratio(fg, bg) >= 4.5, (fg, bg)
    tab = page.locator("#clone-tabs button[role='tab'][aria-selected='true']")
    assert _ratio(tab.evaluate("e => getComputedStyle(e).color"), "rgb(255, 255, 255)") >= 4.5
    box = page.locator("#chat-input textarea")
    placeholder = box.evaluate("e => getComputedStyle(e, '::placeholder').color")
    assert _ratio(placeholder, box.evaluate("e => getComputedStyle(e).backgroundColor")) >= 4.5, placeholder


@pytest.mark.browser
def test_the_chat_input_and_the_avatar_have_real_names(app_server, page):
    url, _ = app_server
    for path in ("", "widget"):
        page.goto(url + path, wait_until="domcontentloaded")
        box = page.get_by_role("textbox", name=f"Your message to {NAME}'s AI clone")
        box.wait_for()
        assert box.count() == 1 and page.get_by_role("textbox", name="Textbox").count() == 0
        page.locator(".avatar-image").first.wait_for(state="attached")
        alts = page.locator(".avatar-image").evaluate_all("imgs => imgs.map((i) => i.alt)")
        assert alts and set(alts) == {f"Avatar of {NAME}'s AI clone"}
        # No floating label over the conversation: it covered the greeting's first line.
        assert page.locator("[role=log]").first.is_visible()
        labels = "#clone-chat [data-testid=block-label], #widget-chat [data-testid=block-label]"
        assert page.locator(labels).count() == 0


@pytest.mark.browser
@pytest.mark.parametrize("path,prefix", [("", "chat"), ("widget", "widget")])
def test_the_phone_chat_fills_the_screen_and_keeps_send_in_view(app_server, page, path, prefix):
    if page.size != "phone":
        pytest.skip("the phone layout")
    url, _ = app_server
    height = SIZES["phone"]["viewport"]["height"]
    chat = "#clone-chat" if prefix == "chat" else f"#{prefix}-chat"
    page.goto(url + path, wait_until="domcontentloaded")
    banner = page.locator("#ai-banner")
    banner.wait_for()
    page.wait_for_timeout(500)
    # The banner: one line and "more"; the AI disclosure is still said, and the full text is one tap away.
    assert banner.bounding_box()["height"] <= 48
    assert f"not the real {NAME}" in banner.inner_text() and "AI" in banner.inner_text()
    banner.locator("summary").tap()
    assert f"You are chatting with an AI clone of {NAME}, not with {NAME}." in banner.inner_text()
    banner.locator("summary").tap()
    log = page.locator(f"{chat} [role=log]")
    assert log.bounding_box()["height"] >= 0.6 * height  # the conversation fills the screen
    for element in (f"#{prefix}-input textarea", f"#{prefix}-send"):
        box = page.locator(element).bounding_box()
        assert box["y"] >= 0 and box["y"] + box["height"] <= height, element  # input and Send on screen
    assert page.evaluate("document.documentElement.scrollWidth") <= 390  # nothing runs off the side
    shot(page, f"{prefix}-phone-loaded")

    ask(page, prefix, LONG, "a[href^='https://example.com/']")
    shot(page, f"{prefix}-phone-reply")
    reply, view = page.locator(f"{chat} [data-testid=bot]").last.bounding_box(), log.bounding_box()
    assert view["y"] - 1 <= reply["y"] <= view["y"] + view["height"] - 40  # its first line is in view
    assert reply["width"] >= 0.9 * view["width"]  # the full width: no avatar gutter
    send = page.locator(f"#{prefix}-send").bounding_box()
    assert send["y"] + send["height"] <= height and banner.bounding_box()["y"] >= -1

    # A declined reply offers the creator inside the reply; the form opens beside it, above the input.
    ask(page, prefix, DECLINED, f"button:has-text('{ASK_CREATOR}')")
    offer = page.locator(f"{chat} button", has_text=ASK_CREATOR)
    offer.tap()
    form = page.locator(f"#{prefix}-inbox-question textarea")
    form.wait_for()
    assert form.input_value() == DECLINED
    assert form.bounding_box()["y"] < page.locator(f"#{prefix}-input textarea").bounding_box()["y"]
    shot(page, f"{prefix}-phone-offer")


@pytest.mark.browser
def test_consoles_show_no_chart_before_the_token_and_charts_fit_the_screen(app_server, page):
    url, _ = app_server
    for path, prefix, show, chart in (
        ("creator", "creator", None, "#analytics-topics"),
        ("research", "research", "#research-charts", "#research-shift"),
    ):
        page.goto(url + path, wait_until="domcontentloaded")
        page.locator(f"#{prefix}-token").first.wait_for()
        assert page.locator(".clone-chart, canvas, svg.marks").count() == 0
        assert page.locator(chart).first.is_hidden()
        open_console(page, prefix, CREATOR_TOKEN if prefix == "creator" else RESEARCH_TOKEN)
        if prefix == "creator":
            pick_tab(page, "Analytics")
            page.locator("#analytics-show").click()
        else:
            page.locator(show).click()
        page.locator(f"{chart} figure").wait_for()
        shot(page, f"{prefix}-charts")
        for figure in page.locator(".clone-chart").all():
            width = figure.evaluate("e => [e.scrollWidth, e.clientWidth]")
            assert width[0] <= width[1] + 1, figure.inner_text()[:80]  # no chart runs off the screen
        assert page.evaluate("document.documentElement.scrollWidth") <= SIZES[page.size]["viewport"]["width"]


@pytest.mark.browser
def test_the_dark_theme_keeps_the_contrast(app_server, browser):
    url, _ = app_server
    context = browser.new_context(viewport={"width": 1280, "height": 900}, color_scheme="dark")
    page = context.new_page()
    page.set_default_timeout(60_000)
    page.size = "dark"
    try:
        page.goto(url, wait_until="domcontentloaded")
        page.locator("#ai-banner").first.wait_for()
        page.wait_for_timeout(500)
        assert page.evaluate("document.body.classList.contains('dark')")  # Gradio follows the system
        problems = axe_problems(page, "chat")
        page.goto(url + "creator", wait_until="domcontentloaded")
        open_console(page, "creator", CREATOR_TOKEN)
        pick_tab(page, "Analytics")
        page.locator("#analytics-show").click()
        page.locator("#analytics-topics figure").wait_for()
        problems += axe_problems(page, "creator-analytics")
        assert problems == []
    finally:
        context.close()
