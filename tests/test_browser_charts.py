"""The Researchers tab's charts in a real browser: unlocked by the token, drawn as HTML (clone/ui/plot.py)."""

import shutil

import pytest

from tests.conftest import RESEARCH_TOKEN
from tests.test_browser import CHROMIUM, FLAGS

pytestmark = pytest.mark.browser

if not shutil.which(CHROMIUM):
    pytest.skip("Debian's chromium is not installed (apt-get install -y chromium)", allow_module_level=True)


def test_show_charts_draws_the_three_plots(app_server, tmp_path):
    from playwright.sync_api import sync_playwright

    url, _ = app_server
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        page = browser.new_page(viewport={"width": 1280, "height": 1800})
        page.set_default_timeout(60_000)
        try:
            page.goto(url + "research", wait_until="domcontentloaded")
            page.locator("#research-token input").fill(RESEARCH_TOKEN)
            page.locator("#research-open").click()
            page.locator("#research-charts").click()
            for plot in ("#research-dist", "#research-shift", "#research-n"):
                # Each chart is a figure with its title, or says why it is empty.
                page.locator(f"{plot} figure figcaption").first.wait_for()
            page.screenshot(path=str(tmp_path / "charts.png"), full_page=True)
            assert "That token is not right" not in page.content()
        finally:
            browser.close()
