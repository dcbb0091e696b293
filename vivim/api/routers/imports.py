"""Imports: upload export files and saved pages; the import runs as a job you poll."""

from __future__ import annotations

import shutil
from typing import Annotated, Any

from fastapi import APIRouter, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import JSONResponse

from vivim.api.deps import ClientIp, ConfigDep, CurrentUser, LimiterDep, VivimDep
from vivim.api.errors import AUTHENTICATED, ApiError, error_responses
from vivim.api.jobs import ImportJob, JobManager
from vivim.api.pagination import CursorParam, Limit, decode_cursor, encode_cursor, time_key
from vivim.api.preflight import check_provider, preflight
from vivim.api.schemas.imports import AttemptList, ImportJobList, ImportJobOut, ImportJobSummary
from vivim.api.uploads import receive_upload
from vivim.domain.ids import new_id

router = APIRouter(prefix="/imports", tags=["imports"], responses={**AUTHENTICATED, **error_responses(404)})
JobId = Annotated[str, Path(max_length=64)]
FIRST_ATTEMPTS = 100

_UPLOAD_BODY: dict[str, Any] = {
    "requestBody": {
        "required": True,
        "content": {
            "multipart/form-data": {
                "schema": {
                    "type": "object",
                    "required": ["files"],
                    "properties": {
                        "files": {
                            "type": "array",
                            "items": {"type": "string", "format": "binary"},
                            "description": "Export files (.json, .zip) and saved share pages (.html).",
                        },
                        "provider": {"type": "string", "description": "Skip detection: the format or provider."},
                    },
                }
            }
        },
    }
}


def _jobs(request: Request) -> JobManager:
    return request.app.state.jobs


def _job_out(jobs: JobManager, job: ImportJob) -> dict[str, Any]:
    attempts, more = jobs.attempts(job, after=None, limit=FIRST_ATTEMPTS)
    return {
        **job.snapshot(),
        "attempts": attempts,
        "attempts_next_cursor": encode_cursor(f"attempts:{job.id}", [more[0].isoformat(), more[1]]) if more else None,
    }


@router.post(
    "",
    status_code=202,
    response_model=ImportJobOut,
    openapi_extra=_UPLOAD_BODY,
    responses=error_responses(400, 413, 415, 429, 507),
    summary="Upload files to import; answers at once with the job to poll",
)
async def create_import(
    request: Request,
    user: CurrentUser,
    v: VivimDep,
    config: ConfigDep,
    limiter: LimiterDep,
    ip: ClientIp,
    provider: Annotated[str | None, Query(max_length=64, description="Skip detection: the format or provider.")] = None,
    allow_partial: Annotated[
        bool, Query(description="Import the good records of damaged JSON instead of refusing the upload.")
    ] = False,
) -> JSONResponse:
    limiter.hit(config.rate_limits.import_per_ip, ip)
    limiter.hit(config.rate_limits.import_per_user, user.id)
    check_provider(provider)
    jobs = _jobs(request)
    root = jobs.root
    await run_in_threadpool(root.mkdir, parents=True, exist_ok=True)
    declared = request.headers.get("content-length")
    need = (int(declared) if declared and declared.isdigit() else 0) + config.min_free_disk_bytes
    if shutil.disk_usage(root).free < need:
        raise ApiError(507, "insufficient_storage", "not enough free disk space for this upload")
    job_id = new_id()
    dest = root / job_id
    dest.mkdir()
    try:
        received = await receive_upload(
            request, dest, max_bytes=config.max_upload_bytes, max_files=config.max_upload_files
        )
        if not received.files:
            raise ApiError(422, "no_files", "no files: send them in the multipart field 'files'")
        hint = provider or received.fields.get("provider") or None
        check_provider(hint)
        paths = [f.path for f in received.files]
        checked = await run_in_threadpool(
            preflight, paths, provider=hint, check_json=not allow_partial, job_dir=dest
        )
    except BaseException:
        # Nothing of a refused or broken upload stays on disk.
        await run_in_threadpool(shutil.rmtree, dest, True)
        raise
    job = ImportJob(
        id=job_id,
        user_id=user.id,
        dir=dest,
        files=[{"name": f.name, "size": f.size} for f in received.files],
        provider=hint,
        ip_address=ip,
        user_agent=(request.headers.get("user-agent") or "")[:500] or None,
        bytes_uploaded=sum(f.size for f in received.files),
        bytes_total=checked["bytes_total"],
    )
    jobs.submit(job, paths)
    body = ImportJobOut(**_job_out(jobs, job)).model_dump(mode="json")
    return JSONResponse(body, status_code=202, headers={"Location": f"{request.url.path}/{job.id}"})


@router.get("", response_model=ImportJobList, summary="Your import jobs, newest first (this server run)")
def list_imports(request: Request, user: CurrentUser, limit: Limit = 20, cursor: CursorParam = None) -> ImportJobList:
    after = time_key(decode_cursor(cursor, "imports", 2))
    jobs = _jobs(request).list(user.id)
    if after is not None:
        jobs = [j for j in jobs if (j.created_at, j.id) < after]
    page = jobs[: limit + 1]
    next_cursor = None
    if len(page) > limit:
        page = page[:limit]
        next_cursor = encode_cursor("imports", [page[-1].created_at.isoformat(), page[-1].id])
    return ImportJobList(items=[ImportJobSummary(**j.snapshot()) for j in page], next_cursor=next_cursor)


@router.get("/{job_id}", response_model=ImportJobOut, summary="An import job: status, progress, errors, attempts")
def get_import(job_id: JobId, request: Request, user: CurrentUser) -> dict[str, Any]:
    jobs = _jobs(request)
    return _job_out(jobs, jobs.get(user.id, job_id))


@router.get("/{job_id}/attempts", response_model=AttemptList, summary="The capture attempts an import job made")
def get_import_attempts(
    job_id: JobId, request: Request, user: CurrentUser, limit: Limit = 100, cursor: CursorParam = None
) -> AttemptList:
    jobs = _jobs(request)
    job = jobs.get(user.id, job_id)
    after = time_key(decode_cursor(cursor, f"attempts:{job.id}", 2))
    rows, more = jobs.attempts(job, after=after, limit=limit)
    next_cursor = encode_cursor(f"attempts:{job.id}", [more[0].isoformat(), more[1]]) if more else None
    return AttemptList(items=rows, next_cursor=next_cursor)  # type: ignore[arg-type]
