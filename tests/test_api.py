"""The Gradio API of the running app, through gradio_client (as a developer would use it)."""

import csv
import io

import pytest
from gradio_client import Client

from clone.survey import load_instrument
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


def test_submit_survey_then_export(client):
    n = len(load_instrument().columns)
    message = client.predict(*([3] * n), "via the API", api_name="/submit_survey")
    code = message.split("**")[1]
    path = client.predict(RESEARCH_TOKEN, api_name="/export_responses")
    with open(path, encoding="utf-8", newline="") as fh:
        rows = list(csv.DictReader(io.StringIO(fh.read())))
    row = next(r for r in rows if r["participant_id"] == code)
    assert row["free_text"] == "via the API" and row["clone_trust_01"] == "3"


def test_verify_endpoint_checks_a_reply_and_its_receipt(client):
    data = client.predict(message="What is your cat called?", api_name="/chat")
    token = data["receipt"]["receipt"]
    result = client.predict(text=data["markdown"], receipt=token, api_name="/verify")
    assert result["status"] == "genuine" and result["sources"] == [s["document"] for s in data["sources"]]
    assert client.predict(text=data["text"] + " And I love Python.", receipt=token, api_name="/verify")["status"] == (
        "altered"
    )
    assert client.predict(text=data["text"], receipt="garbage", api_name="/verify")["status"] == "unknown"
