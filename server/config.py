"""Runtime settings, read once from the environment (12-factor style)."""

from pathlib import Path

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from models.boosts import BoostPolicy
from models.plans import PlanPolicy
from models.referrals import ReferralPolicy


class Settings(BaseSettings):
    """Every knob the server has; the README lists them with their defaults."""

    model_config = SettingsConfigDict(env_prefix="", case_sensitive=False, extra="ignore")

    host: str = "0.0.0.0"
    port: int = 8080
    mongodb_uri: str | None = None
    mongodb_db: str = "marketplace"
    redis_url: str | None = None
    rq_queue: str = "marketplace"
    platform_fee_bps: int = Field(default=500, ge=0, le=10_000)
    service_fee_bps: int = Field(default=2000, ge=0, le=10_000)
    offer_ttl_seconds: float = Field(default=7 * 24 * 3600, gt=0)
    expiry_sweep_seconds: float = Field(default=3600, gt=0)
    max_upload_bytes: int = Field(default=25 * 1024 * 1024, gt=0)
    writes_per_second: int = Field(default=20, ge=1)
    writes_per_minute: int = Field(default=300, ge=1)
    connect_timeout_seconds: float = Field(default=10.0, gt=0)
    max_pending_sessions_per_ip: int = Field(default=50, ge=1)
    trusted_proxy_hops: int = Field(default=0, ge=0)
    chat_messages_per_window: int = Field(default=30, ge=1)
    chat_window_seconds: int = Field(default=10, ge=1)
    chat_typing_interval_seconds: int = Field(default=2, ge=1)
    presence_heartbeat_seconds: float = Field(default=5.0, gt=0)
    data_dir: Path = Path("./data")
    snapshot_interval_seconds: float = Field(default=600.0, gt=0)
    snapshot_journal_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    jwt_secret: str | None = None
    access_token_ttl_seconds: int = Field(default=900, gt=0)
    refresh_token_ttl_seconds: int = Field(default=30 * 24 * 3600, gt=0)
    bcrypt_rounds: int = Field(default=12, ge=4, le=31)
    login_max_failures: int = Field(default=5, ge=1)
    login_max_failures_per_ip: int = Field(default=50, ge=1)
    login_failure_window_seconds: int = Field(default=15 * 60, gt=0)
    log_level: str = "INFO"
    shutdown_timeout_seconds: float = 10.0
    public_url: str = "http://localhost:8080"
    smtp_url: str | None = None
    mail_from: str = "Marketplace <no-reply@localhost>"
    email_token_ttl_seconds: int = Field(default=86_400, gt=0)
    reset_token_ttl_seconds: int = Field(default=1_800, gt=0)
    stripe_price_pro: str | None = None
    stripe_price_elite: str | None = None
    free_listing_limit: int = Field(default=1, ge=0, le=1_000_000)
    free_partner_limit: int = Field(default=1, ge=0, le=1_000_000)
    pro_listing_limit: int = Field(default=3, ge=0, le=1_000_000)
    pro_partner_limit: int = Field(default=3, ge=0, le=1_000_000)
    plan_grace_seconds: float = Field(default=259_200, ge=0)
    elite_monthly_boosts: int = Field(default=3, ge=0, le=1_000)
    bump_cooldown_seconds: float = Field(default=86_400, ge=0)
    featured_boost_seconds: float = Field(default=604_800, gt=0)
    bump_price_cents: int = Field(default=200, ge=1, le=100_000_000)
    featured_price_cents: int = Field(default=1_000, ge=1, le=100_000_000)
    featured_slots: int = Field(default=3, ge=0, le=20)
    referral_reward_cents: int = Field(default=500, ge=1, le=100_000_000)
    referral_max_rewards: int = Field(default=50, ge=0, le=1_000_000)
    firebase_project_id: str | None = None
    firebase_jwks_url: str = "https://www.googleapis.com/service_accounts/v1/jwk/securetoken@system.gserviceaccount.com"
    app_return_url: str | None = None
    stripe_secret_key: str | None = None
    stripe_api_base: str | None = None
    stripe_webhook_secret: str | None = None
    stripe_webhook_tolerance_seconds: int = Field(default=300, gt=0)
    payout_max_attempts: int = Field(default=5, ge=1)
    payout_retry_seconds: float = Field(default=60.0, gt=0)
    payout_lease_seconds: float = Field(default=120.0, gt=0)
    payout_resume_seconds: float = Field(default=300.0, gt=0)
    reconcile_seconds: float = Field(default=600.0, gt=0)
    reconcile_min_age_seconds: float = Field(default=60.0, ge=0)
    reconcile_lookback_seconds: float = Field(default=30 * 24 * 3600, gt=0)

    @property
    def plans(self) -> PlanPolicy:
        return PlanPolicy(
            free_listings=self.free_listing_limit, free_partners=self.free_partner_limit, pro_listings=self.pro_listing_limit,
            pro_partners=self.pro_partner_limit, grace_seconds=self.plan_grace_seconds, elite_monthly_boosts=self.elite_monthly_boosts,
            price_pro=self.stripe_price_pro, price_elite=self.stripe_price_elite,
        )  # fmt: skip

    @property
    def boosts(self) -> BoostPolicy:
        return BoostPolicy(
            bump_cooldown_seconds=self.bump_cooldown_seconds, featured_seconds=self.featured_boost_seconds, bump_price=self.bump_price_cents,
            featured_price=self.featured_price_cents, featured_slots=self.featured_slots,
        )  # fmt: skip

    @property
    def referrals(self) -> ReferralPolicy:
        return ReferralPolicy(reward_cents=self.referral_reward_cents, max_rewards=self.referral_max_rewards)

    @property
    def embedded_db(self) -> bool:
        return not self.mongodb_uri

    @property
    def rq_jobs(self) -> bool:
        """Separate RQ workers can share the database only when it is not the server's embedded one."""
        return bool(self.redis_url) and not self.embedded_db
