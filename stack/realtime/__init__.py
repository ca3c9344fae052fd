"""Realtime: Faker transactions -> Kafka -> PostgreSQL, with Quix Streams."""
