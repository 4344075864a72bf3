"""Usage events: the validated model and the parsers for the native and CloudEvents forms."""
