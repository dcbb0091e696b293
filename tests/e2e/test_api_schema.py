"""Schemathesis against /openapi.json, in process, signed in: no 5xx, no answer outside the schema.

Every operation is exercised with generated valid and invalid input while authenticated as
a user who has data (a conversation, a unit, a link, a device, an API token), so the
handlers' real paths run, not only the 401 in front of them.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import schemathesis
from fastapi.testclient import TestClient
from hypothesis import HealthCheck, given, settings
from hypothesis.errors import Unsatisfiable
from schemathesis import GenerationMode
from schemathesis.specs.openapi import checks as openapi_checks

from tests.e2e.test_api_support import (
    API,
    conversation,
    generic_export,
    insert_link,
    insert_unit,
    new_account,
    wait_for_job,
)
from vivim.api.app import create_app
from vivim.api.config import ApiConfig, RateLimits
from vivim.app import open_vivim
from vivim.identity.ratelimit import Rule

GENEROUS = RateLimits(
    login_per_ip=Rule("login_ip", 100_000, 60.0),
    login_per_user=Rule("login_user", 100_000, 60.0),
    import_per_ip=Rule("import_ip", 100_000, 60.0),
    import_per_user=Rule("import_user", 100_000, 60.0),
)


@pytest.fixture
def api_state(tmp_path: Path) -> Iterator[dict[str, Any]]:
    v = open_vivim(tmp_path / "data")
    v.init()
    config = ApiConfig(rate_limits=GENEROUS, key_export_memory_kib=8 * 1024, key_export_iterations=1,
                       max_upload_bytes=256 * 1024)
    app = create_app(v, config=config)
    with TestClient(app) as client:
        alice = new_account(client, v, "alice")
        files = [("files", ("c.json", generic_export([conversation("c1", "T", "2026-01-02T00:00:00Z", ["q", "a"])]), "application/json"))]
        job = client.post(f"{API}/imports", files=files, headers=alice.headers).json()
        assert wait_for_job(client, alice, job["id"])["status"] == "succeeded"
        conv_id = client.get(f"{API}/conversations", headers=alice.headers).json()["items"][0]["id"]
        insert_unit(v, alice.user, unit_id="u" * 32, conversation_id=conv_id, content="a fact")
        insert_unit(v, alice.user, unit_id="w" * 32, conversation_id=conv_id, content="another")
        insert_link(v, alice.user, link_id="l" * 32, source="u" * 32, target="w" * 32)
        api_token = client.post(f"{API}/tokens", json={"name": "fuzz"}, headers=alice.headers).json()["id"]
        ids = {
            "conversation_id": conv_id,
            "unit_id": "u" * 32,
            "device_id": alice.device_id,
            "token_id": api_token,
            "job_id": job["id"],
        }
        yield {"app": app, "token": alice.access, "ids": ids}
    v.close()


def _cases() -> list[tuple[str, str, str]]:
    """(method, path, mode) for every operation, from the OpenAPI document of an app built
    around a Vivim that is never opened (building the app touches no database or file).

    Modes: ``valid`` and ``invalid`` generated input; ``known-ids`` (operations that take an
    id) valid input with the ids of objects that exist, so that the answers checked against
    the schema include real conversations, units, devices, tokens and jobs.
    """
    app = create_app(open_vivim(Path("/nonexistent/vivim-openapi-only")))
    out = []
    for path, item in app.openapi()["paths"].items():
        for method in item:
            if method in {"get", "post", "put", "patch", "delete"}:
                modes = ["valid", "invalid"] + (["known-ids"] if "{" in path else [])
                out.extend((method.upper(), path, mode) for mode in modes)
    return out


CHECKS = [
    schemathesis.checks.not_a_server_error,
    openapi_checks.status_code_conformance,
    openapi_checks.content_type_conformance,
    openapi_checks.response_headers_conformance,
    openapi_checks.response_schema_conformance,
]


@pytest.mark.parametrize(("method", "path", "mode"), _cases(), ids=lambda v: str(v))
def test_every_operation_answers_within_its_schema_and_never_with_a_server_error(
    method: str, path: str, mode: str, api_state: dict[str, Any]
) -> None:
    schema = schemathesis.openapi.from_asgi("/openapi.json", api_state["app"])
    operation = schema[path][method]
    # Logging out would end the session the rest of the run signs in with: logout is
    # exercised with a credential of its own (an unknown one, so 401).
    token = "vpt_" + "x" * 43 if path == f"{API}/auth/logout" else api_state["token"]
    headers = {"Authorization": f"Bearer {token}"}

    known = {k: v for k, v in api_state["ids"].items() if "{" + k + "}" in path} if mode == "known-ids" else None
    generation = GenerationMode.NEGATIVE if mode == "invalid" else GenerationMode.POSITIVE

    @given(case=operation.as_strategy(generation_mode=generation, path_parameters=known))
    @settings(max_examples=30, deadline=None, suppress_health_check=list(HealthCheck), database=None)
    def run(case: Any) -> None:
        case.call_and_validate(headers=headers, checks=CHECKS)

    try:
        run()
    except Unsatisfiable:
        # An operation with no input at all cannot be sent invalid input.
        assert mode == "invalid"
        pytest.skip(f"{method} {path} takes no input to make invalid")
