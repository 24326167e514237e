"""The console's message catalogues (zh-CN, en): every label the console shows comes from one."""

from __future__ import annotations

import json
from functools import cache
from importlib import resources

LANGUAGES = ("zh-CN", "en")
DEFAULT_LANGUAGE = "zh-CN"  # the platform's users are Chinese enterprises and their auditors


@cache
def catalogue(lang: str) -> dict[str, str]:
    """The messages of one language, by key."""
    if lang not in LANGUAGES:
        raise KeyError(lang)
    text = resources.files("api.console").joinpath("i18n", f"{lang}.json").read_text("utf-8")
    messages: dict[str, str] = json.loads(text)
    return messages


def negotiate(asked: str | None, cookie: str | None, accept_language: str | None) -> str:
    """The language to answer in: an explicit choice, then the remembered one, then the browser's."""
    for choice in (asked, cookie):
        if choice in LANGUAGES:
            return choice
    for part in (accept_language or "").split(","):
        tag = part.split(";")[0].strip().lower()
        if tag.startswith("zh"):
            return "zh-CN"
        if tag.startswith("en"):
            return "en"
    return DEFAULT_LANGUAGE
