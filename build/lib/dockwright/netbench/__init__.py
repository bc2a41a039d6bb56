"""The network cost of each Docker network mode, and what the tuning buys, measured on the
user's own hosts (``python -m dockwright.netbench INVENTORY``; ``make netbench`` on the lab).

- ``modes``: the modes as commands (host, default bridge and user bridge through a published
  port, overlay, encrypted overlay, macvlan, ipvlan L2), the label every object carries;
- ``report``: medians, spread and ratios to host mode, the table and the chart;
- ``__main__``: the run (hosts opted in, interleaved rounds, the bursts, cleanup on any exit).
"""
