from fastapi import FastAPI
from gongkai_shared.service import create_service_app

from gongkai_interpretation.endpoints import router
from gongkai_interpretation.settings import InterpretationSettings


def create_app(settings: InterpretationSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or InterpretationSettings(),
        title="Gongkai 解读服务 (interpretation)",
        description="政策解读：每个政策文件按时解读（三同步）。",
        routers=[router],
    )
