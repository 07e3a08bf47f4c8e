from fastapi import FastAPI
from gongkai_shared.service import create_service_app

from gongkai_catalog.annual_report_api import router as annual_report_router
from gongkai_catalog.assessment_api import router as assessment_router
from gongkai_catalog.endpoints import router
from gongkai_catalog.participation_api import router as participation_router
from gongkai_catalog.search_api import router as search_router
from gongkai_catalog.settings import CatalogSettings


def create_app(settings: CatalogSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or CatalogSettings(),
        title="Gongkai 目录服务 (catalog)",
        description="主动公开：机关、政府信息公开目录与信息发布。",
        routers=[router, search_router, annual_report_router, participation_router, assessment_router],
    )
