"""The deploy file `dockwright deploy` hands to pyinfra: the packaged deploy, for every host of
the inventory, with the project's own group_data/ (the current directory's, or the inventory's)."""

from dockwright import docker_host, pyinfra_internals

pyinfra_internals.deploy_file_known(__file__)  # pyinfra's per-operation stack walk: a dict hit
docker_host()
