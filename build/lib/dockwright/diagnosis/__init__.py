"""Fleet diagnosis: the common Docker networking failures, read from every host and container.

- ``fact``: one read per host (``NetworkHealth``): counters, links, chains, networks, and each
  running container's own network namespace, framed so that no output is mistaken for a frame;
- ``findings``: pure judgement of one reading against the thresholds of the data's ``diagnose``
  section (and the previous run's reading, for counters since then), each finding with its fix;
- ``output``: the fleet table, worst first, and the Prometheus textfile.

``diagnose.py`` (top level) runs the read through pyinfra, read-only, and writes the outputs.
"""
