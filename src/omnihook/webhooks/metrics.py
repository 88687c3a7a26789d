"""Prometheus metrics of the webhook engine (served at GET /metrics)."""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

DELIVERED = Counter("omnihook_webhook_deliveries_delivered", "Deliveries that succeeded", ["endpoint"])
FAILED_ATTEMPTS = Counter(
    "omnihook_webhook_attempts_failed", "Attempts that failed (will be retried or are dead)", ["endpoint"]
)
DEAD = Counter("omnihook_webhook_deliveries_dead", "Deliveries that exhausted their retries", ["endpoint"])
ATTEMPT_SECONDS = Histogram(
    "omnihook_webhook_attempt_duration_seconds",
    "Duration of one webhook request",
    ["endpoint"],
    buckets=(0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
PENDING = Gauge("omnihook_webhook_deliveries_pending", "Deliveries not yet delivered nor dead")
AUTO_DISABLED = Counter(
    "omnihook_endpoints_auto_disabled",
    "Endpoints disabled because every attempt failed for the auto-disable period",
    ["endpoint"],
)
DISABLED_ENDPOINTS = Gauge("omnihook_endpoints_disabled", "Webhook endpoints disabled (not deleted)")
HELD = Gauge("omnihook_webhook_deliveries_held", "Pending deliveries held for disabled endpoints")
