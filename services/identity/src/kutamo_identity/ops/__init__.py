"""Operators' view of the pipeline: the /ops page, its JSON summary and `ops status` in a terminal."""
