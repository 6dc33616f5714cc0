"""Controllers: thin reconciles around the pure machine, one module per resource."""
