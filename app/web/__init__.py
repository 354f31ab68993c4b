"""The web page at `/`: flows, their graphs with live counts, runs on the graph, logs."""

from pathlib import Path

from fastapi import FastAPI
from fastapi.staticfiles import StaticFiles

from app.web.routes import router


def mount_web(app: FastAPI) -> None:
    app.include_router(router)
    app.mount("/web/static", StaticFiles(directory=Path(__file__).parent / "static"), name="static")
