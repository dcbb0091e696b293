"""The HTTP API (FastAPI): ``vivim.api.app.create_app(vivim)``; see docs/API.md."""
