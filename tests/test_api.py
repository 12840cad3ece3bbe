"""The Gradio API of the running app, through gradio_client (as a developer would use it)."""

import io
import json
import urllib.error
import urllib.request

import pandas as pd
import pytest
from gradio_client import Client

from clone.survey import load_study
from tests.conftest import RESEARCH_TOKEN


@pytest.fixture(scope="module")
def client(app_server):
    url, _ = app_server
    return Client(url, verbose=False)


def test_chat_endpoint_answers_with_sources(client):
    data = client.predict(message="How big is your balcony?", api_name="/chat")
    assert data["ai_generated"] is True
    assert not data["abstained"]
    assert data["sources"] and data["sources"][0]["url"].startswith("https://example.com/")
    assert "AI clone of Rosa Lindqvist" in data["disclosure"]
    assert "Sources" in data["markdown"]


def test_chat_endpoint_abstains_off_topic(client):
    data = client.predict(message="How do I reverse a linked list in Python?", api_name="/chat")
    assert data["abstained"] is True and data["sources"] == []
    assert data["text"].startswith("I haven't talked about that")


def test_chat_endpoint_handles_bad_input(client):
    assert client.predict(message="", api_name="/chat")["reason"] == "empty"
    assert client.predict(message="x" * 5000, api_name="/chat")["reason"] == "too_long"


def test_participant_flow_over_the_api_then_http_export(client, app_server):
    url, _ = app_server
    study = load_study()
    client.predict(True, False, api_name="/consent")  # the server assigns id and condition; state stays server-side
    pre = [c.question.item.attention or 3 for c in study.columns("pre")]
    client.predict(*pre, api_name="/submit_pre")
    # The chat step comes first; order is enforced, and said in place rather than raised (no dead end).
    assert "already done" in str(client.predict(*pre, api_name="/submit_pre"))

    def get(name, token=RESEARCH_TOKEN):
        request = urllib.request.Request(f"{url}research/export/{name}")
        if token:
            request.add_header("Authorization", f"Bearer {token}")
        return urllib.request.urlopen(request, timeout=30)

    for token in (None, "wrong"):
        with pytest.raises(urllib.error.HTTPError) as err:
            get("wide.csv", token)
        assert err.value.code == 401
    with get("wide.csv") as response:
        assert response.headers["Content-Type"].startswith("text/csv")
        wide = pd.read_csv(io.BytesIO(response.read()))
    assert len(wide) >= 1 and (wide[study.columns("pre")[0].name] == 3).any()
    assert set(wide.condition) <= {"citations_shown", "citations_hidden"}
    with get("codebook.json") as response:
        assert [c["column"] for c in json.load(response)["columns"]] == list(wide.columns)
    with get("long.csv") as response:
        assert pd.read_csv(response).phase.tolist()[: len(pre)] == ["pre"] * len(pre)


def test_verify_endpoint_checks_a_reply_and_its_receipt(client):
    data = client.predict(message="What is your cat called?", api_name="/chat")
    token = data["receipt"]["receipt"]
    result = client.predict(text=data["markdown"], receipt=token, api_name="/verify")
    assert result["status"] == "genuine" and result["sources"] == [s["document"] for s in data["sources"]]
    assert client.predict(text=data["text"] + " And I love Python.", receipt=token, api_name="/verify")["status"] == (
        "altered"
    )
    assert client.predict(text=data["text"], receipt="garbage", api_name="/verify")["status"] == "unknown"
