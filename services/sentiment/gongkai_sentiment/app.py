from fastapi import FastAPI
from gongkai_shared.service import create_service_app

from gongkai_sentiment.settings import SentimentSettings


def create_app(settings: SentimentSettings | None = None) -> FastAPI:
    return create_service_app(
        settings=settings or SentimentSettings(),
        title="Gongkai sentiment service",
        description="政务舆情：收集、研判、回应。",
        routers=[],
    )
