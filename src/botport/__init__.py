"""botport: a self-hosted gateway and web chat for Coze bots."""

__version__ = "0.1.0"
