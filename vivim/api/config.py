"""What an API server is configured with (passed to ``create_app``; nothing read at import)."""

from __future__ import annotations

from dataclasses import dataclass, field

from vivim.identity.auth import AuthSettings
from vivim.identity.ratelimit import Rule

GIB = 1024**3


@dataclass(frozen=True)
class RateLimits:
    """Token-bucket rules (burst, refill period). Login covers challenge, token and refresh."""

    login_per_ip: Rule = Rule("login_ip", 30, 60.0)
    login_per_user: Rule = Rule("login_user", 10, 60.0)
    import_per_ip: Rule = Rule("import_ip", 20, 3600.0)
    import_per_user: Rule = Rule("import_user", 10, 3600.0)


@dataclass(frozen=True)
class ApiConfig:
    auth: AuthSettings = field(default_factory=AuthSettings)
    rate_limits: RateLimits = field(default_factory=RateLimits)
    max_upload_bytes: int = 2 * GIB
    """The largest import request body accepted (413 above it)."""
    max_upload_files: int = 20
    min_free_disk_bytes: int = 256 * 1024**2
    """An upload is refused (507) when it would leave less than this free in the data dir."""
    max_json_body_bytes: int = 1024**2
    """Every request body except uploads."""
    import_workers: int = 1
    """Import jobs run one at a time per worker thread; more queue up."""
    search_workers: int = 0
    """Processes that run searches (vivim.search.processes); 0 runs them in this process's
    threads. `vivim serve` starts one per core."""
    jobs_kept_per_user: int = 50
    key_export_memory_kib: int = 64 * 1024
    key_export_iterations: int = 3
    public_url: str | None = None
    """The origin clients reach this server at (e.g. ``https://vivim.example``); part of
    every signed login challenge. Default: taken from each request's Host."""
    trust_proxy_headers: bool = False
    """Take the client IP from X-Forwarded-For (only behind a proxy that sets it)."""
