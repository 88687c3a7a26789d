"""HTTP API: the Rocket.Chat-compatible /api/v1 routes and omnihook's own."""
