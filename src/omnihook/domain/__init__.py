"""Pure domain: entities, rules and events. Imports no framework."""
