"""Allow ``python -m support_console``."""

from support_console.cli import main

raise SystemExit(main())
