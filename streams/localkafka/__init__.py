"""A single-node Apache Kafka broker from the official jars, for the demo and the tests.

:mod:`streams.localkafka.broker` uses only the standard library, so
``deploy/kafka/local_kafka.py`` can run it before the project is installed; the jars are
resolved by Maven from ``pom.xml`` beside it, which ships in the package so that
``coselling demo --streaming`` works from an installed wheel.
"""
