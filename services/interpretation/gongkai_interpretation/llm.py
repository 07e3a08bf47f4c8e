"""Optional drafting backend: a language model behind an OpenAI-compatible chat completions API.

Off by default. When ``GK_INTERPRETATION_LLM_URL`` is set, a drafter may ask for a model-written
draft; it is given the deterministic draft (drafting.py) with its sources, and asked to explain the
policy in plain words without copying it (文件要点摘抄、文件压缩 are forbidden, domain.md §4). The
deterministic draft is always produced first and stays the reference: the model's text is stored
beside it, never instead of it, and goes through the same quality check.
"""

from __future__ import annotations

import httpx

from gongkai_interpretation.drafting import Draft
from gongkai_interpretation.settings import InterpretationSettings

__all__ = ["SYSTEM_PROMPT", "complete"]

SYSTEM_PROMPT = (
    "你是政府政策解读的起草助手。请根据提供的政策要素草稿，用通俗易懂的语言撰写政策解读，"
    "涵盖背景依据、目标任务、主要内容、适用范围、执行标准、注意事项、关键词注释、惠民利民举措和新旧政策差异，"
    "并附3至6条简明问答。不得照抄或压缩政策原文，不得编造原文没有的内容。"
)


async def complete(settings: InterpretationSettings, *, title: str, draft: Draft) -> str:
    """The model's draft text for ``draft`` (raises httpx errors; the caller reports them)."""
    assert settings.llm_url, "the LLM backend is off"
    headers = {"Content-Type": "application/json"}
    key = settings.llm_api_key.get_secret_value()
    if key:
        headers["Authorization"] = f"Bearer {key}"
    body = {
        "model": settings.llm_model,
        "temperature": 0.2,
        "messages": [
            {"role": "system", "content": SYSTEM_PROMPT},
            {"role": "user", "content": f"政策标题：{title}\n\n要素草稿：\n{draft.text()}"},
        ],
    }
    async with httpx.AsyncClient(timeout=settings.llm_timeout_seconds) as client:
        resp = await client.post(settings.llm_url.rstrip("/") + "/chat/completions", json=body, headers=headers)
        resp.raise_for_status()
        return str(resp.json()["choices"][0]["message"]["content"]).strip()
