"""The ``rnnkit`` command: one module per subcommand, each a parser builder and ``run(args)``."""
