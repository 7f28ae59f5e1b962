"""Development tools: a local Kafka broker for tests, benchmarks and trying things out."""
