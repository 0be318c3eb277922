"""The REST routes, the page and Plotly, against the real server."""

from __future__ import annotations

import httpx
from conftest import get_json


def test_health(live_server: str) -> None:
    health = get_json(live_server + "/api/health")
    assert health["status"] == "ok"
    assert health["protocol"] == 2
    assert health["max_sessions"] == 8
    assert {"sessions", "detached", "workers"} <= health.keys()


def test_schema_lists_every_loss_and_regularizer_with_a_formula(live_server: str) -> None:
    schema = get_json(live_server + "/api/schema")
    assert schema["protocol"] == 2
    loss_names = [loss["name"] for loss in schema["losses"]]
    assert {"minimax", "nonsaturating", "wgan", "hinge"} <= set(loss_names)
    assert schema["config"]["properties"]["loss"]["enum"] == loss_names
    for entry in schema["losses"] + schema["regularizers"]:
        assert entry["description"] and entry["formula"], entry["name"]
    gp = next(reg for reg in schema["regularizers"] if reg["name"] == "gp")
    assert gp["weight_name"] == "lambda"
    assert "g_hidden" in schema["reset_only"]
    assert schema["limits"]["view"]["grid"] == [8, 128]
    assert "grid" in schema["view"]["properties"]
    assert "fps" in schema["pace"]["properties"]


def test_presets_list_and_detail(live_server: str) -> None:
    presets = get_json(live_server + "/api/presets")
    names = [preset["name"] for preset in presets]
    assert names[0] == "ring8_wgan_gp"
    assert {"saturated_discriminator", "dirac_gan"} <= set(names)
    detail = get_json(live_server + "/api/presets/dirac_gan")
    assert detail["config"]["dataset"] == "dirac"
    assert detail["title"] and detail["note"]
    assert all("label" in item for item in detail["try_next"])
    saturated = get_json(live_server + "/api/presets/saturated_discriminator")
    assert saturated["warmup"] == [["d", 300]]


def test_unknown_preset_is_404_listing_the_names(live_server: str) -> None:
    response = httpx.get(live_server + "/api/presets/nope")
    assert response.status_code == 404
    assert "ring8_wgan_gp" in response.json()["detail"]


def test_page_and_plotly_are_served_locally(live_server: str) -> None:
    page = httpx.get(live_server + "/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "/vendor/plotly.min.js" in page.text
    plotly = httpx.get(live_server + "/vendor/plotly.min.js")
    assert plotly.status_code == 200
    assert "javascript" in plotly.headers["content-type"]
    assert len(plotly.content) > 1_000_000


def test_openapi_documents_the_api(live_server: str) -> None:
    paths = get_json(live_server + "/openapi.json")["paths"]
    assert {"/api/health", "/api/schema", "/api/presets", "/api/presets/{name}"} <= paths.keys()
    assert httpx.get(live_server + "/docs").status_code == 200
