"""fleet: supervise fleets of AI coding agents running on remote hosts."""

__version__ = "0.1.0"
