"""REST fuzzing of the server's OpenAPI spec with schemathesis, against the real server.

Every operation of the live server's /openapi.json (the websocket /ws is not in it) gets
generated requests (the preset name in the path: any text, percent-encoded); every response
must be free of 5xx and conform to the spec: a documented status code, content type,
headers and body schema (schemathesis' default checks).

schemathesis' pytest integration (``schemathesis.pytest.from_fixture``) does not run under
pytest 9 (it reads ``request.node._nodeid``, which pytest 9 removed), so each operation's
hypothesis strategy is drawn from directly.
"""

from __future__ import annotations

from typing import Any

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode

pytestmark = pytest.mark.timeout(120)

ROUTES = {"/api/health", "/api/schema", "/api/presets", "/api/presets/{name}"}


@pytest.fixture(scope="module")
def api_schema(live_server: str) -> Any:
    return schemathesis.openapi.from_url(live_server + "/openapi.json")


def operations(api_schema: Any) -> dict[str, Any]:
    found = {}
    for result in api_schema.get_all_operations():
        operation = result.ok()
        found[operation.path] = operation
    return found


def test_the_spec_lists_every_rest_route_and_not_the_websocket(api_schema: Any) -> None:
    paths = set(operations(api_schema))
    assert paths >= ROUTES
    assert "/ws" not in paths


def fuzz(operation: Any, base_url: str, **validate: Any) -> None:
    """Generated requests for one operation, each checked (all default checks unless told)."""

    @settings(
        max_examples=40,
        deadline=None,
        derandomize=True,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=operation.as_strategy(generation_mode=GenerationMode.POSITIVE))
    def run(case: schemathesis.Case) -> None:
        case.call_and_validate(base_url=base_url, **validate)

    run()


@pytest.mark.parametrize("path", sorted(ROUTES))
def test_every_route_answers_without_5xx_and_as_documented(
    api_schema: Any, live_server: str, path: str
) -> None:
    # Positive cases only: the one parameter (a preset name in the path) is a free string,
    # so schemathesis has no negative (schema-violating) value to make for it.
    fuzz(operations(api_schema)[path], live_server)
