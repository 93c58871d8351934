"""The Kafka transport: consuming, fetching, producing, topics and dead letters."""
