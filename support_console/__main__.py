"""Allow ``python -m support_console``."""

from support_console.cli.main import main

raise SystemExit(main())
