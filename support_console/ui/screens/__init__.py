"""Screens of the agent console: the main console and its modals."""
