"""One module per ``retrowalk`` subcommand: ``HELP``, ``add_arguments(parser)``, ``run(args) -> int``."""
