"""The creator and researcher consoles: tokens made on first start, pages apart from the fan app."""

from __future__ import annotations

import os
import re
import stat
import urllib.request
from dataclasses import replace

import pytest

from clone.errors import ConfigError
from clone.ui import CREATOR_PATH, RESEARCH_PATH, build_app
from clone.ui.auth import ensure_tokens, token_file
from tests.harness import serving_app


def test_first_start_makes_long_private_tokens_and_keeps_them(settings):
    bare = replace(settings, creator_token="", research_token="")
    first, made = ensure_tokens(bare)
    assert set(made) == {"CLONE_CREATOR_TOKEN", "CLONE_RESEARCH_TOKEN"}
    for path in made.values():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert len(first.creator_token) >= 32 and len(first.research_token) >= 32
    assert first.creator_token != first.research_token
    again, _ = ensure_tokens(bare)  # a restart reads the same tokens back
    assert (again.creator_token, again.research_token) == (first.creator_token, first.research_token)


def test_a_token_set_in_the_environment_wins_and_no_file_is_made(settings):
    kept, made = ensure_tokens(replace(settings, research_token=""))
    assert kept.creator_token == settings.creator_token and set(made) == {"CLONE_RESEARCH_TOKEN"}
    assert not token_file(settings, "CLONE_CREATOR_TOKEN").exists()


def test_a_token_file_others_can_read_is_refused(settings):
    bare = replace(settings, creator_token="", research_token="")
    _, made = ensure_tokens(bare)
    os.chmod(made["CLONE_CREATOR_TOKEN"], 0o644)
    with pytest.raises(ConfigError, match="chmod 600"):
        ensure_tokens(bare)


def test_consoles_are_pages_of_their_own_and_the_fan_page_holds_none(services):
    app = build_app(services)
    pages = {path: in_navbar for path, _name, in_navbar in app.pages}
    creator, research = CREATOR_PATH.strip("/"), RESEARCH_PATH.strip("/")
    assert {"", creator, research, "widget"} <= set(pages)
    assert not any(pages[p] for p in (creator, research, "widget"))  # never advertised in a navigation bar
    config = app.get_config_file()
    elem = {c["id"]: c.get("props", {}).get("elem_id") for c in config["components"]}
    on = {page: {elem.get(i) for i in config["page"][page]["components"]} for page in config["page"]}
    consoles = {"creator-token", "research-token", "inbox-show", "research-export", "creator-reindex"}
    assert not on[""] & consoles
    assert {"creator-token", "creator-reindex", "inbox-show"} <= on[creator]
    assert {"research-token", "research-export"} <= on[research]
    names = {d["api_name"] for d in app.config["dependencies"]}
    assert {"reindex", "inbox", "export_responses", "chat", "verify"} <= names


@pytest.mark.slow
def test_after_the_two_commands_the_printed_token_opens_the_research_export(tmp_path, demo_index_home):
    import shutil

    home = tmp_path / "home"
    shutil.copytree(demo_index_home / "index", home / "index")
    log = tmp_path / "server.log"
    env = {"CLONE_CREATOR_TOKEN": "", "CLONE_RESEARCH_TOKEN": "", "CLONE_BACKEND": "extractive"}
    with serving_app(home, log, **env) as url:
        printed = log.read_text()
        where = dict(re.findall(r"The (\w+) console is at /\w+ on this server; its token is in (\S+)", printed))
        assert set(where) == {"creator", "research"}, printed
        token = open(where["research"], encoding="utf-8").read().strip()
        request = urllib.request.Request(url + "research/export/wide.csv", headers={"Authorization": f"Bearer {token}"})
        with urllib.request.urlopen(request, timeout=30) as response:
            assert response.status == 200 and b"participant_id" in response.read()
        for page in ("creator", "research"):
            with urllib.request.urlopen(url + page, timeout=30) as response:
                assert response.status == 200
