"""The Textual console: the app, its screens, its widgets and its styles."""
