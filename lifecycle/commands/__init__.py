"""The `klt` command line and its subcommands (status, trace, convert, timeline)."""
