"""I/O adapters: Kafka, files and stdio, in-memory, log sinks, task connectors."""
