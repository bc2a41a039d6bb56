"""What the operations stand on, one module each:

    model       the merged desired state of a host, and what it resolves to on that host
    schema      typed validation of that state (the list of concerns lives here)
    preflight   fleet-wide checks before the first remote change
    factcache   the run context: one snapshot of each host's facts per run
    secrets     which values are secrets, and how they are masked
    templating  the templates/ directory
    remote      commands run from Python callbacks, with the operation's connector arguments

plans/ holds one pure plan per concern (desired values and facts in; drift items, problems,
refusal and decisions out), shared by the operations, preflight and drift.py.

plumbing/ connects runs to their consumers: report (the plans' drift items, for drift.py), verification
(hands the fleet to the testinfra suite), fleet (an inventory as JSON, for the suite).
"""
