"""The deployment flow: CRD models, the pure state machine, controllers and the operator."""
