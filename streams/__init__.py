"""The streaming side: domain core, Faust app and agents, settings and the CLI."""
