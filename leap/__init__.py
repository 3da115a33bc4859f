"""LEAP survey platform: shared core (configuration, instrument definition, event contract) and the `leap` CLI."""

__version__ = "0.1.0"
