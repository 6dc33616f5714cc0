"""Helpers shared by the test folders: waiting, the sandbox, CRD schema checks, clocks."""
