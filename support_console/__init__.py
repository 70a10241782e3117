"""support-console: draft customer-support replies with an LLM; the agent approves every word sent."""

__version__ = "0.1.0"
