"""The domain core: plain functions and classes, no Kafka, no ClickHouse.

Each stage takes an event and a state mapping (a dict, or a Faust table: both are
MutableMappings) and returns what changed. The Faust agents, the replay path and the tests
all drive the same code.
"""
