#!/usr/bin/env python3
"""Start, stop and inspect the local Kafka broker from a checkout, before installing.

    python3 deploy/kafka/local_kafka.py start     # prints the bootstrap address
    python3 deploy/kafka/local_kafka.py stop
    python3 deploy/kafka/local_kafka.py status
    python3 deploy/kafka/local_kafka.py classpath # fetches the Kafka jars (cached)

The broker itself lives in :mod:`streams.localkafka.broker` (standard library only), so the
installed package can start it too (``coselling demo --streaming``).
"""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from streams.localkafka.broker import main  # noqa: E402

if __name__ == "__main__":
    sys.exit(main())
