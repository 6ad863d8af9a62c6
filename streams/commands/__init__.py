"""The ``coselling`` subcommands, one module per group; ``streams.cli`` wires them up."""
