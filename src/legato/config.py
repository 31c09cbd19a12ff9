"""One typed settings object, read from the environment (``LEGATO_*``) at the edge.

Safe defaults for development (a SQLite file beside you); outside development it
refuses a missing or placeholder secret key.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Literal

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

PLACEHOLDER_SECRET = "dev-only-insecure-secret-key-change-me"


class UnsafeSettings(RuntimeError):
    """Raised when a setting is unsafe for the environment it runs in."""


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="LEGATO_", env_file=".env", extra="ignore")

    environment: Literal["development", "test", "production"] = "development"
    database_url: str = Field(
        "sqlite:///./legato.db", description="SQLAlchemy URL; postgresql://... for PostgreSQL"
    )
    secret_key: str = Field(
        PLACEHOLDER_SECRET, description="encrypts channel secrets at rest; 32+ characters"
    )
    host: str = "127.0.0.1"
    port: int = 8000
    log_level: str = "INFO"
    log_json: bool = True
    rounding: Literal["half_up", "half_even"] = "half_up"
    max_body_bytes: int = 5 * 1024 * 1024  # larger API requests get 413; a larger delivery is quarantined
    max_intake_bytes: int = 32 * 1024 * 1024  # what /intake/ still receives and stores (then 413)
    metrics_enabled: bool = True

    def check_safe(self) -> None:
        """Refuse to run outside development with a secret anyone could know."""
        if self.environment == "development":
            return
        if not self.secret_key or self.secret_key == PLACEHOLDER_SECRET or len(self.secret_key) < 32:
            raise UnsafeSettings(
                "LEGATO_SECRET_KEY is missing, a placeholder, or shorter than 32 characters; "
                f"refusing to start in {self.environment}. Generate one with: "
                "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
            )


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()
