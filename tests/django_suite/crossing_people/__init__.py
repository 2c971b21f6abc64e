"""People on ``default``: the target of crossing_settings' one ForeignKey across databases."""
