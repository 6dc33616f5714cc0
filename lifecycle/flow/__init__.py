"""The flow's executor (snapshot -> decide -> actions -> status) and what reconcilers share."""
