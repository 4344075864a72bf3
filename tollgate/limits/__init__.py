"""Usage limits in real time: usage = the last pipeline publication + events accepted since.

See ``docs/architecture.md`` ("Limits in real time") for the data flow.
"""
