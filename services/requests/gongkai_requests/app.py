from fastapi import FastAPI
from gongkai_shared.service import create_service_app

from gongkai_requests.settings import RequestsSettings


def create_app(settings: RequestsSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or RequestsSettings(),
        title="Gongkai requests service",
        description="依申请公开：申请、法定期限、答复。",
        routers=[],
    )
