"""``python -m rnnkit`` runs the command-line tool."""
from rnnkit.cli.main import main

raise SystemExit(main())
