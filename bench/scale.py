"""Sizes of every scenario: `full` is the issue's, `tiny` keeps the smoke test to seconds."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Scale:
    name: str
    # flood: events already in the outbox, then delivered to one Rocket.Chat-format endpoint
    flood_events: int
    flood_rooms: int
    flood_single_room_events: int
    concurrency: int  # omnihook's per-endpoint in-flight cap, and the baselines' concurrency
    # steady: messages per second through POST /api/v1/livechat/message
    steady_rate: int
    steady_seconds: float
    steady_rooms: int
    # ingest: closed-loop clients hammering the REST API
    ingest_seconds: float
    ingest_clients: int
    # isolation: endpoints, how many never answer, and the message rate that fans out to all of them
    isolation_endpoints: int
    isolation_hanging: int
    isolation_rate: int
    isolation_seconds: float
    isolation_timeout_ms: int
    # backlog: deliveries pending while the receiver is down
    backlog_deliveries: int
    backlog_endpoints: int
    backlog_rooms: int
    backlog_idle_seconds: float
    # postgres: flood on PostgreSQL with 1 and 2 workers
    pg_events: int
    pg_rooms: int
    # ... and the isolation scenario's endpoints (healthy and misbehaving) draining this many messages
    pg_hostile_messages: int


FULL = Scale(
    name="full",
    flood_events=20_000,
    flood_rooms=1_000,
    flood_single_room_events=2_000,
    concurrency=16,
    steady_rate=300,
    steady_seconds=20.0,
    steady_rooms=300,
    ingest_seconds=8.0,
    ingest_clients=32,
    isolation_endpoints=50,
    isolation_hanging=10,
    isolation_rate=20,
    isolation_seconds=10.0,
    isolation_timeout_ms=5_000,
    backlog_deliveries=100_000,
    backlog_endpoints=10,
    backlog_rooms=500,
    backlog_idle_seconds=10.0,
    pg_events=20_000,
    pg_rooms=1_000,
    pg_hostile_messages=400,
)

TINY = Scale(
    name="tiny",
    flood_events=120,
    flood_rooms=12,
    flood_single_room_events=20,
    concurrency=4,
    steady_rate=20,
    steady_seconds=1.0,
    steady_rooms=4,
    ingest_seconds=1.0,
    ingest_clients=4,
    isolation_endpoints=4,
    isolation_hanging=1,
    isolation_rate=5,
    isolation_seconds=1.0,
    isolation_timeout_ms=1_000,
    backlog_deliveries=60,
    backlog_endpoints=3,
    backlog_rooms=5,
    backlog_idle_seconds=0.5,
    pg_events=60,
    pg_rooms=6,
    pg_hostile_messages=10,
)

SCALES = {s.name: s for s in (FULL, TINY)}
