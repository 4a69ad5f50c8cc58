"""Checking a night's parameters, without Prefect: `newsdesk collect` and the CLI fail fast with it."""
from __future__ import annotations

from newsdesk.config import STAGES, STYLES, ConfigError, Settings, parse_day


def validate_params(settings: Settings, day: str | None, from_stage: str, style: str | None, max_stories: int | None) -> tuple[str, str, int]:
    day = parse_day(day).isoformat() if day else settings.today()
    if from_stage not in STAGES:
        raise ConfigError(f"unknown stage {from_stage!r}: use one of {', '.join(STAGES)}")
    style = style or settings.style
    if style not in STYLES:
        raise ConfigError(f"unknown style {style!r}: use one of {', '.join(STYLES)}")
    max_stories = settings.max_stories if max_stories is None else max_stories
    if max_stories < 1:
        raise ConfigError("max_stories must be at least 1")
    return day, style, max_stories
