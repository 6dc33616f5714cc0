"""The pure core: phases, the version machine, actions, names, kinds, runtimes (no I/O)."""
