"""dockwright: put Docker hosts into the state declared in group_data/, then prove it.

    pyinfra inventories/prod.py deploy.py

The deploy itself is packaged (dockwright/deploy.py: ``docker_host``), so that a pyinfra repo of
one's own runs the same two lines with its own inventory and group data.
"""

from dockwright import docker_host, pyinfra_internals

pyinfra_internals.deploy_file_known(__file__)  # pyinfra's per-operation stack walk: a dict hit
docker_host()
