"""Widgets of the agent console. Each shows one thing and posts past-tense messages nested in itself."""
