"""support-console: draft customer-support replies with an LLM; the agent approves every word that goes out."""

__version__ = "0.1.0"
