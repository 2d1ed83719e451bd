"""Helpers every stage may import: they import no stage of the pipeline themselves."""
