"""Search over HTTP with the searches run in worker processes, as `vivim serve` runs them."""

from __future__ import annotations

import os
import signal
from pathlib import Path

from fastapi.testclient import TestClient

from tests.e2e.test_api_support import conversation, generic_export, new_account
from vivim.api.app import create_app
from vivim.api.config import ApiConfig
from vivim.app import Vivim
from vivim.capture.importer import Importer
from vivim.search.engine import Filters
from vivim.search.processes import SearchProcesses


def _vault(vivim: Vivim, tmp_path: Path, user_name: str, client: TestClient) -> dict[str, str]:
    account = new_account(client, vivim, user_name)
    export = tmp_path / "export.json"
    export.write_bytes(
        generic_export(
            [
                conversation("c1", "Tea", "2024-05-01T10:00:00Z", [
                    "How long should green tea steep?", "Steep green tea for two minutes at 80 degrees.",
                ]),
                conversation("c2", "Bikes", "2024-06-01T10:00:00Z", [
                    "My bike chain keeps slipping", "A worn chain or cassette makes it slip under load.",
                ]),
            ]
        )
    )
    store = vivim.store(account.user)
    Importer(store=store, master=vivim.master, user_id=account.user.id).import_paths([export])
    vivim.indexer(account.user).run()  # the real model: the workers embed queries with it too
    return account.headers


def test_searches_in_worker_processes_answer_as_the_server_process_would(vivim: Vivim, tmp_path: Path) -> None:
    app = create_app(vivim, config=ApiConfig(search_workers=1))
    with TestClient(app) as client:  # the lifespan starts the workers
        headers = _vault(vivim, tmp_path, "sam", client)
        sam = vivim.get_user("sam")
        for q, since in (("green tea steep", None), ("bike chain slipping", None), ("green tea", "2024-05-15")):
            params = {"q": q, "limit": 3} | ({"since": since} if since else {})
            res = client.get("/api/v1/search", params=params, headers=headers)
            assert res.status_code == 200, res.text
            in_process = vivim.search_engine().search(vivim.store(sam), q, limit=3, filters=Filters(since=since))
            assert in_process and res.json() == {"query": q, "hits": [h.to_json() for h in in_process]}
            if since:
                assert {h["conversation_id"] for h in res.json()["hits"]} == {in_process[0].conversation_id}
        # An error raised in a worker is the same error over HTTP.
        bad = client.get("/api/v1/search", params={"q": "tea", "since": "not a date"}, headers=headers)
        assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_input"
        # A worker only searches the vault of the user the server authenticated.
        eve = new_account(client, vivim, "eve").headers
        assert client.get("/api/v1/search", params={"q": "green tea"}, headers=eve).json()["hits"] == []


def test_a_search_worker_that_dies_is_replaced_and_no_search_fails(vivim: Vivim, tmp_path: Path) -> None:
    app = create_app(vivim, config=ApiConfig(search_workers=1))
    with TestClient(app) as client:
        headers = _vault(vivim, tmp_path, "sam", client)
        params = {"q": "green tea steep"}
        first = client.get("/api/v1/search", params=params, headers=headers).json()
        processes: SearchProcesses = app.state.search_processes
        [pid] = processes.pids()
        os.kill(pid, signal.SIGKILL)
        again = client.get("/api/v1/search", params=params, headers=headers)
        assert again.status_code == 200, again.text
        assert again.json() == first
        [replacement] = processes.pids()
        assert replacement != pid
    # Shutting the server down stops its workers.
    assert not _running(replacement)


def _running(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True
