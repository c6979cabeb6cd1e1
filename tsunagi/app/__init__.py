"""The tsunagi command, its configuration and the daemon that wires the parts together."""
