"""The one place for settings: read from the environment (and an optional `.env`)."""

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = "sqlite+aiosqlite:///./var/registry.db"
    database_echo: bool = False
    db_pool_size: int = 10
    db_max_overflow: int = 20
    db_connect_timeout_s: float = 5.0
    db_statement_timeout_ms: int = 15_000

    # Lists
    page_size_default: int = Field(50, ge=1)
    page_size_max: int = Field(500, ge=1)

    # Clinical settings, defaults from DOMAIN.md
    workup_imaging_max_age_days: int = 90
    workup_platelets_min_10e9_per_l: float = 50.0
    workup_inr_max: float = 1.5
    baseline_window_days: int = 30
    improvement_points: float = 2.0
    improvement_fraction: float = 0.30
    future_tolerance_s: int = 300


@lru_cache
def get_settings() -> Settings:
    return Settings()
