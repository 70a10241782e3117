"""The work the CLI and the console share, built on the store, the model client and the core: the service
factory, drafting, import and export."""
