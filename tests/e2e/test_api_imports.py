"""Uploading over HTTP: jobs and their progress, bad inputs, size limits, nothing left on disk."""

from __future__ import annotations

import io
import json
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from tests.e2e.test_api_support import API, Account, conversation, generic_export, new_account, wait_for_job
from vivim.api.app import create_app
from vivim.api.config import ApiConfig, RateLimits
from vivim.app import Vivim
from vivim.identity.ratelimit import Rule

LIMIT = 64 * 1024


@pytest.fixture
def client(vivim: Vivim) -> Iterator[TestClient]:
    with TestClient(create_app(vivim, config=ApiConfig(max_upload_bytes=LIMIT))) as c:
        yield c


@pytest.fixture
def alice(client: TestClient, vivim: Vivim) -> Account:
    return new_account(client, vivim, "alice")


def uploads_dir(vivim: Vivim) -> Path:
    return vivim.settings.data_dir / "tmp" / "uploads"


def leftovers(vivim: Vivim) -> list[Path]:
    root = uploads_dir(vivim)
    return sorted(root.rglob("*")) if root.exists() else []


def upload(client: TestClient, account: Account, *files: tuple[str, bytes], query: str = "") -> object:
    return client.post(
        f"{API}/imports{query}",
        files=[("files", (name, data, "application/octet-stream")) for name, data in files],
        headers=account.headers,
    )


CHATGPT_ONE = [
    {
        "title": "kept",
        "id": "conv-1",
        "mapping": {
            "r": {"id": "r", "message": None, "parent": None, "children": ["a"]},
            "a": {
                "id": "a",
                "parent": "r",
                "children": [],
                "message": {
                    "id": "a",
                    "author": {"role": "user"},
                    "content": {"content_type": "text", "parts": ["hello there"]},
                    "create_time": 1.0,
                },
            },
        },
        "current_node": "a",
    }
]


def test_an_upload_becomes_a_job_whose_progress_results_and_attempts_can_be_polled(
    client: TestClient, vivim: Vivim, alice: Account
) -> None:
    export = generic_export(
        [
            conversation("c1", "First", "2026-01-01T10:00:00Z", ["What is WAL?", "Write-ahead logging."]),
            conversation("c2", "Second", "2026-01-02T10:00:00Z", ["Hi", "Hello", "Bye"], provider="claude"),
        ]
    )
    r = upload(client, alice, ("my export.json", export))
    assert r.status_code == 202, r.text
    job = r.json()
    assert r.headers["location"] == f"{API}/imports/{job['id']}"
    assert job["status"] in {"queued", "running", "succeeded"}
    assert job["files"] == [{"name": "my export.json", "size": len(export)}] and job["bytes_uploaded"] == len(export)
    done = wait_for_job(client, alice, job["id"])
    assert done["status"] == "succeeded"
    assert done["conversations"] == {"created": 2, "updated": 0, "unchanged": 0, "failed": 0}
    assert done["messages"] == {"new": 5, "changed": 0}
    assert done["bytes_read"] == done["bytes_total"] == len(export)
    [result] = done["results"]
    assert result["source"] == "my export.json" and result["format"] == "vivim-json" and result["status"] == "imported"
    # One attempt for the file, one per conversation; names are the uploaded ones.
    sources = sorted(a["source_url"] for a in done["attempts"])
    assert sources == ["upload:my export.json", "upload:my export.json#c1", "upload:my export.json#c2"]
    assert {a["status"] for a in done["attempts"]} == {"success"}
    paged = client.get(f"{API}/imports/{job['id']}/attempts?limit=2", headers=alice.headers).json()
    assert len(paged["items"]) == 2 and paged["next_cursor"]
    rest = client.get(f"{API}/imports/{job['id']}/attempts?limit=2&cursor={paged['next_cursor']}", headers=alice.headers)
    assert len(rest.json()["items"]) == 1 and rest.json()["next_cursor"] is None
    assert sorted(a["id"] for a in paged["items"] + rest.json()["items"]) == sorted(a["id"] for a in done["attempts"])
    listed = client.get(f"{API}/imports", headers=alice.headers).json()["items"]
    assert [j["id"] for j in listed] == [job["id"]]
    assert leftovers(vivim) == []
    titles = sorted(c["title"] for c in client.get(f"{API}/conversations", headers=alice.headers).json()["items"])
    assert titles == ["First", "Second"]


def test_reuploading_the_same_file_changes_nothing(client: TestClient, alice: Account) -> None:
    export = generic_export([conversation("c1", "First", "2026-01-01T10:00:00Z", ["a", "b"])])
    first = wait_for_job(client, alice, upload(client, alice, ("e.json", export)).json()["id"])
    second = wait_for_job(client, alice, upload(client, alice, ("e.json", export)).json()["id"])
    assert first["conversations"]["created"] == 1
    assert second["status"] == "succeeded"
    assert second["conversations"] == {"created": 0, "updated": 0, "unchanged": 1, "failed": 0}


def _truncated_zip() -> bytes:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("conversations.json", "[" + ",".join(['{"x": 1}'] * 2000) + "]")
    return buf.getvalue()[: len(buf.getvalue()) // 2]


@pytest.mark.parametrize(
    ("name", "data", "code", "words"),
    [
        ("conversations.json", json.dumps(CHATGPT_ONE)[:-1].encode() + b', {"title": "cut', "malformed_json",
         ["conversations.json", "not valid JSON"]),
        ("export.zip", _truncated_zip(), "bad_archive", ["export.zip", "zip"]),
        ("empty.json", b"", "empty_file", ["empty.json", "empty"]),
        ("blank.json", b"  \n ", "empty_file", ["blank.json", "empty"]),
        ("notes.json", b'{"hello": "world"}', "unknown_format", ["notes.json", "unrecognised format"]),
        ("page.html", b"<html><body>not a chat</body></html>", "unknown_format", ["page.html", "HTML page"]),
    ],
)
def test_bad_inputs_are_refused_with_a_422_naming_the_file_and_leave_nothing_behind(
    client: TestClient, vivim: Vivim, alice: Account, name: str, data: bytes, code: str, words: list[str]
) -> None:
    r = upload(client, alice, (name, data))
    assert r.status_code == 422, r.text
    error = r.json()["error"]
    assert error["code"] == code
    for word in words:
        assert word in error["message"]
    assert str(vivim.settings.data_dir) not in error["message"]  # no server paths
    assert leftovers(vivim) == []
    assert client.get(f"{API}/conversations", headers=alice.headers).json()["items"] == []


def test_one_bad_file_refuses_the_whole_upload(client: TestClient, vivim: Vivim, alice: Account) -> None:
    good = generic_export([conversation("c1", "ok", "2026-01-01T10:00:00Z", ["a"])])
    r = upload(client, alice, ("good.json", good), ("empty.json", b""))
    assert r.status_code == 422 and r.json()["error"]["code"] == "empty_file"
    assert leftovers(vivim) == [] and client.get(f"{API}/imports", headers=alice.headers).json()["items"] == []


def test_allow_partial_keeps_the_good_records_of_damaged_json(client: TestClient, alice: Account) -> None:
    broken = json.dumps(CHATGPT_ONE)[:-1].encode() + b', {"title": "cut'
    r = upload(client, alice, ("conversations.json", broken), query="?allow_partial=true")
    assert r.status_code == 202
    job = wait_for_job(client, alice, r.json()["id"])
    assert job["status"] == "partial"
    assert job["conversations"]["created"] == 1 and job["error_count"] >= 1
    error = job["errors"][0]
    assert error["source"] == "conversations.json" and "record 1" in error["message"]
    [conv] = client.get(f"{API}/conversations", headers=alice.headers).json()["items"]
    assert conv["title"] == "kept" and conv["provider"] == "chatgpt"


def test_requests_that_are_not_uploads_are_refused(client: TestClient, alice: Account) -> None:
    r = client.post(f"{API}/imports", json={"files": []}, headers=alice.headers)
    assert r.status_code == 415 and r.json()["error"]["code"] == "unsupported_media_type"
    r = client.post(f"{API}/imports", files=[("other", ("x.json", b"{}", "application/json"))], headers=alice.headers)
    assert r.status_code == 422 and r.json()["error"]["code"] == "unexpected_file"
    r = client.post(f"{API}/imports", data={"provider": "chatgpt"}, files=[], headers={**alice.headers,
                    "Content-Type": "multipart/form-data; boundary=xyz"}, content=b"--xyz--\r\n")
    assert r.status_code == 422 and r.json()["error"]["code"] == "no_files"
    r = upload(client, alice, ("a.json", b"[]"), query="?provider=myspace")
    assert r.status_code == 422 and r.json()["error"]["code"] == "unknown_provider"


def test_an_upload_over_the_declared_limit_is_refused_before_it_is_read(
    client: TestClient, vivim: Vivim, alice: Account
) -> None:
    big = b"[" + b" " * (LIMIT + 10) + b"]"
    r = upload(client, alice, ("big.json", big))
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert leftovers(vivim) == []


def test_an_upload_without_content_length_is_cut_off_at_the_limit(
    client: TestClient, vivim: Vivim, alice: Account
) -> None:
    boundary = "vivimtestboundary"
    head = (
        f"--{boundary}\r\nContent-Disposition: form-data; name=\"files\"; filename=\"big.json\"\r\n"
        "Content-Type: application/json\r\n\r\n"
    ).encode()
    sent = {"bytes": 0}

    def body() -> Iterator[bytes]:
        yield head
        for _ in range(64):  # 4 MiB offered, far past the 64 KiB limit
            sent["bytes"] += 65536
            yield b" " * 65536
        yield f"\r\n--{boundary}--\r\n".encode()

    r = client.post(
        f"{API}/imports",
        content=body(),
        headers={**alice.headers, "Content-Type": f"multipart/form-data; boundary={boundary}"},
    )
    assert r.status_code == 413 and r.json()["error"]["code"] == "payload_too_large"
    assert leftovers(vivim) == []
    written = list(uploads_dir(vivim).rglob("*"))
    assert written == []


def test_an_upload_that_would_fill_the_disk_is_refused(vivim: Vivim) -> None:
    config = ApiConfig(min_free_disk_bytes=1 << 62)
    with TestClient(create_app(vivim, config=config)) as c:
        account = new_account(c, vivim, "alice")
        r = upload(c, account, ("a.json", generic_export([])))
        assert r.status_code == 507 and r.json()["error"]["code"] == "insufficient_storage"
        assert leftovers(vivim) == []


def test_imports_are_rate_limited_per_user(vivim: Vivim) -> None:
    config = ApiConfig(rate_limits=RateLimits(import_per_user=Rule("import_user", 2, 3600.0)))
    with TestClient(create_app(vivim, config=config)) as c:
        account = new_account(c, vivim, "alice")
        codes = [upload(c, account, ("e.json", b"")).status_code for _ in range(3)]
        assert codes == [422, 422, 429]
        other = new_account(c, vivim, "bob")
        assert upload(c, other, ("e.json", b"")).status_code == 422


def test_a_zip_export_and_a_json_file_import_in_one_upload(client: TestClient, alice: Account) -> None:
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w") as zf:
        zf.writestr("conversations.json", json.dumps(CHATGPT_ONE))
        zf.writestr("user.json", "{}")
    second = generic_export([conversation("g1", "Generic", "2026-01-03T10:00:00Z", ["x", "y"])])
    r = upload(client, alice, ("chatgpt-export.zip", buf.getvalue()), ("second.json", second))
    assert r.status_code == 202, r.text
    job = wait_for_job(client, alice, r.json()["id"])
    assert job["conversations"]["created"] == 2
    assert sorted(res["source"] for res in job["results"]) == [
        "chatgpt-export.zip!conversations.json",
        "chatgpt-export.zip!user.json",
        "second.json",
    ]
    # The importer reports the archive's non-conversation member; the upload was not refused for it.
    assert job["status"] == "partial"
    assert [e["source"] for e in job["errors"]] == ["chatgpt-export.zip!user.json"]
