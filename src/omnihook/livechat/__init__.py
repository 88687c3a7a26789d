"""Use cases of the livechat: each runs in one unit of work and records its domain events."""
