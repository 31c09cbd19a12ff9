"""One typed settings object, read from the environment (``LEGATO_*``) at the edge.

Safe defaults for development (a SQLite file beside you); outside development it
refuses a missing or placeholder secret key.
"""

from __future__ import annotations

from decimal import Decimal
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
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
    # the workflow engine's workers (docs/workflows/engine.md)
    workflow_in_process: bool = Field(True, description="legato serve runs a workflow worker in-process")
    workflow_poll_seconds: float = Field(0.5, gt=0, le=60, description="a worker's sleep when idle")
    workflow_batch: int = Field(100, ge=1, le=1000, description="outbox events dispatched per transaction")
    workflow_jobs_per_claim: int = Field(10, ge=1, le=100, description="jobs a worker claims at once")
    workflow_lease_seconds: int = Field(300, ge=5, le=86400, description="a job running longer was lost")
    workflow_backoff_base_seconds: float = Field(2.0, gt=0, le=3600, description="first retry delay cap")
    workflow_backoff_cap_seconds: float = Field(3600.0, gt=0, le=86400, description="longest retry delay")
    # ERP push destinations by name, as JSON (docs/workflows/erp.md; checked by legato.workflow.outbound.erp
    # when used, every bad option named); a "${NAME}" value is read from the environment variable NAME
    erp_destinations: dict[str, dict[str, Any]] = Field(
        default_factory=dict, description='{"main": {"kind": "http", "url": "https://erp.example/orders"}}'
    )
    import_dir: Path = Path("./imports")  # spreadsheet imports: each raw file is kept here
    # currency rates and conversion (docs/pricing/currency.md)
    base_currency: str = Field("EUR", description="the currency of the base list prices")
    fx_provider: Literal["ecb", "manual"] = "ecb"
    fx_url: str = "https://www.ecb.europa.eu/stats/eurofxref/eurofxref-daily.xml"
    fx_refresh_minutes: int = Field(60, ge=0, le=7 * 24 * 60, description="0: never fetch")
    fx_max_age_days: int = Field(4, ge=1, le=366, description="older rates are stale (allow for weekends)")
    fx_stale_policy: Literal["use_last", "wait"] = "use_last"
    fx_margin_percent: Decimal = Field(Decimal("0"), ge=0, le=100, max_digits=9, decimal_places=4)
    fx_price_rule: str = "minor"
    loyalty: dict[str, Any] | None = Field(
        None,
        description="the loyalty programme as JSON: "
        '{"point_value": {"EUR": "0.01"}, "max_share_percent": "50"}',
    )
    workflow_custom_modules: str = Field(
        "", description="run_custom: comma-separated module prefixes whose functions workflows may call"
    )
    # outbound webhooks (docs/workflows/webhooks.md)
    webhooks_allow_private: bool | None = Field(
        None, description="deliver to loopback and private-network addresses; unset: yes except in production"
    )
    webhooks_disable_after: int = Field(
        20, ge=1, le=100_000, description="consecutive dead deliveries that disable a subscription"
    )
    webhooks_timeout_seconds: float = Field(15.0, gt=0, le=300, description="per webhook/HTTP request")
    webhooks_signing_secret: str | None = Field(
        None, pattern=r"^whsec_[A-Za-z0-9+/]{32,}={0,2}$", description="signs send_webhook steps (whsec_...)"
    )
    # notifications: send_email over SMTP, send_sms via a Twilio-shaped API (docs/workflows/notifications.md)
    smtp_host: str | None = Field(None, description="the SMTP server (relay); unset: send_email steps fail")
    smtp_port: int | None = Field(None, ge=1, le=65535, description="unset: 587 starttls, 465 ssl, 25 none")
    smtp_tls: Literal["starttls", "ssl", "none"] = "starttls"
    smtp_username: str | None = None
    smtp_password: str | None = None
    smtp_from: str | None = Field(None, description='"Shop <orders@shop.example>"; ends the Message-IDs')
    smtp_ca_file: Path | None = Field(None, description="trust this CA (PEM file) for the SMTP server")
    smtp_timeout_seconds: float = Field(15.0, gt=0, le=300)
    templates_dir: Path | None = Field(None, description="email/ and sms/ templates here win over built-ins")
    sms_base_url: str = Field("https://api.twilio.com", pattern=r"^https?://[^\s/]+(/[^\s]*)?$")
    sms_account_sid: str | None = None
    sms_auth_token: str | None = None
    sms_from: str | None = Field(
        None, pattern=r"^(\+[1-9][0-9]{6,14}|MG[0-9a-fA-F]{32}|[A-Za-z0-9 ]{1,11})$",
        description="an E.164 number, an alphanumeric sender ID, or a Messaging Service SID (MG...)",
    )  # fmt: skip
    sms_timeout_seconds: float = Field(15.0, gt=0, le=300)
    # backorders (docs/allocation.md): the fill sequence, and the account tiers best first
    backorder_sequence: list[Literal["priority", "tier", "age"]] = ["priority", "tier", "age"]
    tier_rank: list[str] = Field(default_factory=list, description='best first, e.g. ["gold", "silver"]')

    @field_validator("smtp_from")
    @classmethod
    def _sender(cls, value: str | None) -> str | None:
        from email.utils import parseaddr

        local, _, domain = parseaddr(value or "")[1].rpartition("@")
        if value is not None and not (local and domain):
            raise ValueError(f"{value!r} is not an address, e.g. 'Shop <orders@shop.example>'")
        return value

    @field_validator("base_currency")
    @classmethod
    def _known_currency(cls, value: str) -> str:
        from legato.domain.money import is_currency

        if not is_currency(value):
            raise ValueError(f"{value!r} is not an ISO 4217 currency code (e.g. EUR)")
        return value

    @field_validator("fx_url")
    @classmethod
    def _http_url(cls, value: str) -> str:
        if not value.startswith(("https://", "http://")):
            raise ValueError(f"{value!r} is not an http(s) URL")
        return value

    @field_validator("fx_margin_percent", mode="before")
    @classmethod
    def _no_float(cls, value: object) -> object:
        if isinstance(value, float):
            raise ValueError("give the margin as a decimal string (e.g. '2.5'), never a float")
        return value

    @field_validator("loyalty")
    @classmethod
    def _loyalty(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        from legato.domain.errors import ValidationFailed
        from legato.domain.promotions import loyalty_policy

        if value is not None:
            try:
                loyalty_policy(value)
            except ValidationFailed as exc:
                raise ValueError("; ".join(f"{i.path}: {i.message}" for i in exc.issues)) from None
        return value

    @field_validator("fx_price_rule")
    @classmethod
    def _price_rule(cls, value: str) -> str:
        from legato.domain.errors import ValidationFailed
        from legato.domain.fx import check_price_rule

        try:
            return check_price_rule(value)
        except ValidationFailed as exc:
            raise ValueError(exc.detail) from exc

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
