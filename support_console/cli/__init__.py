"""The command line: ``support-console`` and its headless subcommands (entry point: ``cli.main.main``)."""
