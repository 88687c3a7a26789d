"""omnihook: omnichannel livechat with durable, Rocket.Chat-compatible CRM webhooks."""

__version__ = "0.1.0"
