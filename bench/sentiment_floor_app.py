"""HTTP floor of issue 6's ingestion benchmark: ``POST /posts/batch`` with the service's request model, nothing else.

bench/sentiment.py (``--floors``, and after phase 4 of a servers run) sends the sustained phase's batches here with
the same client code (``send_all``) to learn what receiving and validating the posts alone costs. The request model
is the sentiment service's own (``gongkai_sentiment.schemas.BatchIn``: a list of ``PostInV1``), imported, not
copied, so a change to it changes this floor too; the answer is the service's response model with counts only.
Nothing is normalised, stored, understood or clustered; no authentication, request-id middleware or logging.

Served as ``python -m gongkai_sentiment api`` serves the service (gongkai_shared/cli.py): ``uvicorn.run`` of an app
factory, default loop and HTTP implementations (uvloop and httptools when installed, as they are here),
``access_log=False``, ``proxy_headers=True``, ``log_level="warning"``, ``--workers`` processes.

Run: ``.venv/bin/python bench/sentiment_floor_app.py --port 8099 [--workers 1]``
"""

from __future__ import annotations

import argparse
from typing import Any

import uvicorn
from fastapi import FastAPI
from gongkai_sentiment.schemas import BatchIn, IngestOut


def create_app() -> FastAPI:
    app = FastAPI(title="sentiment ingestion floor: HTTP + validation only")

    @app.get("/readyz")
    async def readyz() -> dict[str, str]:
        return {"status": "ready"}

    @app.post("/posts/batch", response_model=IngestOut)
    async def ingest_batch(data: BatchIn) -> dict[str, Any]:
        return {
            "received": len(data.posts),
            "stored": 0,
            "already_stored": 0,
            "near_duplicates": 0,
            "event_ids": [],
            "alerts": [],
        }

    return app


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--workers", type=int, default=1)
    args = parser.parse_args(argv)
    uvicorn.run(
        "sentiment_floor_app:create_app",
        factory=True,
        host=args.host,
        port=args.port,
        workers=args.workers,
        access_log=False,
        proxy_headers=True,
        log_level="warning",
    )


if __name__ == "__main__":
    main()
