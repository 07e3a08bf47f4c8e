from fastapi import FastAPI
from gongkai_shared.service import create_service_app

from gongkai_requests.endpoints import router
from gongkai_requests.figures_api import router as figures_router
from gongkai_requests.settings import RequestsSettings


def create_app(settings: RequestsSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or RequestsSettings(),
        title="Gongkai 依申请公开服务 (requests)",
        description="政府信息公开申请：受理、法定期限台账、处理结果、送达、收费、复议诉讼、统计。",
        routers=[router, figures_router],
    )
