"""Import jobs: an uploaded folder imported on a worker thread, with progress to poll.

Jobs live in this process's memory (a restart forgets them; what they imported and the
capture attempts they recorded stay in the databases). Each job's files are in its own
folder under ``<data dir>/tmp/uploads/<job id>``, removed when the job ends.
"""

from __future__ import annotations

import logging
import shutil
import threading
from collections import OrderedDict
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import select

from vivim.api.preflight import display_names
from vivim.app import Vivim
from vivim.capture.importer import FileSummary, Importer, ImportSummary
from vivim.domain.errors import NotFound
from vivim.domain.times import utcnow
from vivim.store.master.models import CaptureAttempt

log = logging.getLogger("vivim.api.jobs")
_attempts = CaptureAttempt.__table__
MAX_ERRORS_SHOWN = 100
_ATTEMPT_COLUMNS = [
    _attempts.c[name]
    for name in (
        "id", "source_url", "provider", "status", "error_code", "error_message", "started_at", "completed_at",
        "duration", "ip_address", "conversation_id", "retry_count", "retry_of", "created_at",
    )
]


@dataclass
class ImportJob:
    id: str
    user_id: str
    dir: Path
    files: list[dict[str, Any]]
    provider: str | None
    ip_address: str | None
    user_agent: str | None
    bytes_uploaded: int
    bytes_total: int
    created_at: datetime = field(default_factory=utcnow)
    status: str = "queued"
    started_at: datetime | None = None
    finished_at: datetime | None = None
    bytes_read: int = 0
    current_file: str | None = None
    counts: dict[str, int] = field(
        default_factory=lambda: dict.fromkeys(("created", "updated", "unchanged", "failed"), 0)
    )
    messages: dict[str, int] = field(default_factory=lambda: {"new": 0, "changed": 0})
    results: list[dict[str, Any]] = field(default_factory=list)
    errors: list[dict[str, str]] = field(default_factory=list)
    error_count: int = 0
    conversation_ids: set[str] = field(default_factory=set)
    lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    @property
    def finished(self) -> bool:
        return self.status in ("succeeded", "partial", "failed")

    def snapshot(self) -> dict[str, Any]:
        with self.lock:
            return {
                "id": self.id,
                "status": self.status,
                "created_at": self.created_at,
                "started_at": self.started_at,
                "finished_at": self.finished_at,
                "provider": self.provider,
                "files": list(self.files),
                "bytes_uploaded": self.bytes_uploaded,
                "bytes_total": self.bytes_total,
                "bytes_read": min(self.bytes_read, self.bytes_total) if self.finished else self.bytes_read,
                "current_file": self.current_file,
                "conversations": dict(self.counts),
                "messages": dict(self.messages),
                "results": list(self.results),
                "errors": list(self.errors[:MAX_ERRORS_SHOWN]),
                "error_count": self.error_count,
            }


class _JobProgress:
    """The importer's progress callbacks, folded into the job (read by pollers)."""

    def __init__(self, job: ImportJob) -> None:
        self.job = job
        self.show = display_names(job.dir)

    def start_file(self, name: str, total_bytes: int | None) -> None:
        with self.job.lock:
            self.job.current_file = self.show(name)

    def advance(self, n_bytes: int) -> None:
        with self.job.lock:
            self.job.bytes_read += n_bytes

    def conversation(self, status: str) -> None:
        with self.job.lock:
            if status in self.job.counts:
                self.job.counts[status] += 1

    def end_file(self, summary: FileSummary) -> None:
        data = summary.to_json()
        data["source"] = self.show(data["source"])
        for error in data["errors"]:
            error["message"] = self.show(error.get("message", ""))
        with self.job.lock:
            self.job.results.append(data)
            self.job.conversation_ids.update(summary.conversation_ids)
            for error in data["errors"]:
                self.job.error_count += 1
                if len(self.job.errors) < MAX_ERRORS_SHOWN:
                    self.job.errors.append(
                        {
                            "source": data["source"],
                            "record": str(error.get("record", "")),
                            "code": str(error.get("code", "")),
                            "message": str(error.get("message", "")),
                        }
                    )


class JobManager:
    def __init__(self, vivim: Vivim, root: Path, *, workers: int = 1, kept_per_user: int = 50) -> None:
        self.vivim = vivim
        self.root = root
        self.kept_per_user = kept_per_user
        self._jobs: OrderedDict[str, ImportJob] = OrderedDict()
        self._lock = threading.Lock()
        self._executor = ThreadPoolExecutor(max_workers=max(1, workers), thread_name_prefix="vivim-import-job")

    # -- lifecycle --------------------------------------------------------------------------
    def sweep_stale_uploads(self, older_than: timedelta = timedelta(hours=24)) -> None:
        """Remove upload folders a crashed server left behind (old enough not to be live)."""
        if not self.root.exists():
            return
        cutoff = (utcnow() - older_than).timestamp()
        for child in self.root.iterdir():
            try:
                if child.is_dir() and child.stat().st_mtime < cutoff:
                    shutil.rmtree(child, ignore_errors=True)
            except OSError:
                continue

    def shutdown(self) -> None:
        self._executor.shutdown(wait=True, cancel_futures=True)
        with self._lock:
            for job in self._jobs.values():
                if job.status == "queued":
                    job.status = "failed"
                    job.errors.append({"source": "", "record": "", "code": "cancelled", "message": "the server stopped"})
                    job.error_count += 1
                    shutil.rmtree(job.dir, ignore_errors=True)

    # -- jobs -------------------------------------------------------------------------------
    def submit(self, job: ImportJob, paths: list[Path]) -> ImportJob:
        with self._lock:
            self._jobs[job.id] = job
            self._trim(job.user_id)
        self._executor.submit(self._run, job, paths)
        return job

    def get(self, user_id: str, job_id: str) -> ImportJob:
        with self._lock:
            job = self._jobs.get(job_id)
        if job is None or job.user_id != user_id:
            raise NotFound(f"no import job {job_id[:40]!r}")
        return job

    def list(self, user_id: str) -> list[ImportJob]:
        """The user's jobs, newest first."""
        with self._lock:
            return [j for j in reversed(self._jobs.values()) if j.user_id == user_id]

    def _trim(self, user_id: str) -> None:
        mine = [j for j in self._jobs.values() if j.user_id == user_id and j.finished]
        for job in mine[: max(0, len(mine) - self.kept_per_user)]:
            del self._jobs[job.id]

    def _run(self, job: ImportJob, paths: list[Path]) -> None:
        with job.lock:
            job.status = "running"
            job.started_at = utcnow()
        try:
            store = self.vivim.store(job.user_id)
            importer = Importer(
                store=store,
                master=self.vivim.master,
                user_id=job.user_id,
                provider_hint=job.provider,
                progress=_JobProgress(job),
                ip_address=job.ip_address,
                user_agent=job.user_agent,
            )
            summary = importer.import_paths(paths)
            self._finish(job, summary)
        except Exception as exc:  # the job must end, and say why, whatever happened
            log.exception("import job %s failed", job.id)
            with job.lock:
                job.status = "failed"
                job.error_count += 1
                job.errors.append(
                    {"source": "", "record": "", "code": "internal_error", "message": f"the import stopped: {type(exc).__name__}"}
                )
        finally:
            with job.lock:
                job.finished_at = utcnow()
                job.current_file = None
            shutil.rmtree(job.dir, ignore_errors=True)

    def _finish(self, job: ImportJob, summary: ImportSummary) -> None:
        totals = summary.totals()
        with job.lock:
            # The summary is authoritative (files skipped as unchanged report no per-conversation progress).
            for key in ("created", "updated", "unchanged", "failed"):
                job.counts[key] = totals[key]
            job.messages = {"new": totals["new_messages"], "changed": totals["changed_messages"]}
            if not summary.ok:
                job.status = "failed"
            elif any(f.status in ("partial", "failed") for f in summary.files) or totals["errors"]:
                job.status = "partial"
            else:
                job.status = "succeeded"

    # -- the capture attempts a job made ------------------------------------------------------
    def attempts(
        self, job: ImportJob, *, after: tuple[datetime, str] | None, limit: int
    ) -> tuple[list[dict[str, Any]], tuple[datetime, str] | None]:
        """The job's capture attempts, oldest first, and the key to continue after (or None).

        An attempt belongs to the job when it was recorded for the job's user while the job
        ran, and names either one of the job's files (its source URL is under the job's
        folder) or a conversation the job imported.
        """
        with job.lock:
            started, finished = job.started_at, job.finished_at
            conversation_ids = set(job.conversation_ids)
        if started is None:
            return [], None
        # File-level attempts name the file as a file:// URL, record-level ones as a plain path.
        prefixes = tuple({f"{scheme}{d}/" for scheme in ("file://", "") for d in (job.dir, job.dir.resolve())})
        end = (finished or utcnow()) + timedelta(seconds=1)
        found: list[dict[str, Any]] = []
        cursor = after
        while True:
            q = select(*_ATTEMPT_COLUMNS).where(
                _attempts.c.user_id == job.user_id,
                _attempts.c.created_at >= started - timedelta(seconds=1),
                _attempts.c.created_at <= end,
            )
            if cursor is not None:
                created, attempt_id = cursor
                q = q.where(
                    (_attempts.c.created_at > created)
                    | ((_attempts.c.created_at == created) & (_attempts.c.id > attempt_id))
                )
            q = q.order_by(_attempts.c.created_at, _attempts.c.id).limit(500)
            with self.vivim.master.connect() as c:
                rows = [dict(r._mapping) for r in c.execute(q)]
            for row in rows:
                cursor = (row["created_at"], row["id"])
                if row["source_url"].startswith(prefixes) or row["conversation_id"] in conversation_ids:
                    row["source_url"] = _strip_job_dir(row["source_url"], prefixes)
                    found.append(row)
                    if len(found) > limit:
                        last = found[limit - 1]
                        return found[:limit], (last["created_at"], last["id"])
            if len(rows) < 500:
                return found, None


def _strip_job_dir(url: str, prefixes: tuple[str, ...]) -> str:
    """``<job dir>/<n>/<name>[!member][#record]`` -> ``upload:<name>[!member][#record]``:
    the uploaded name, not a server path that no longer exists."""
    for prefix in sorted(prefixes, key=len, reverse=True):
        if url.startswith(prefix):
            rest = url[len(prefix) :]
            _, _, tail = rest.partition("/")
            return f"upload:{tail or rest}"
    return url
