"""CRM webhooks: Rocket.Chat's settings, events and payloads, delivered from a durable outbox."""
