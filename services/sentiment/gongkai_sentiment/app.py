from fastapi import FastAPI
from gongkai_shared.service import create_service_app

from gongkai_sentiment.endpoints import router
from gongkai_sentiment.figures_api import router as figures_router
from gongkai_sentiment.settings import SentimentSettings


def create_app(settings: SentimentSettings | None = None) -> FastAPI:
    async def warm_up(app: FastAPI) -> None:
        # Load the committed model once at start (~1 s), not inside the first request.
        import asyncio

        from gongkai_sentiment.classifier import load_model
        from gongkai_sentiment.state import freeze_startup_objects

        model = await asyncio.to_thread(load_model)
        _ = model.compiled, model.topic_compiled
        freeze_startup_objects()

    return create_service_app(
        settings=settings or SentimentSettings(),
        title="Gongkai 舆情服务 (sentiment)",
        description="政务舆情：收集、研判、回应（国办发〔2016〕61号、80号）；政务新媒体检查。",
        routers=[router, figures_router],
        on_startup=warm_up,
    )
