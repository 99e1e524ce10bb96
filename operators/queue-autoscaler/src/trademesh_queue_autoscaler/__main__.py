"""`python -m trademesh_queue_autoscaler`: the operator, cluster-wide, peering for HA."""

import logging
import os

import kopf

from . import handlers  # noqa: F401 - registers the handlers
from .handlers import PEERING_NAME


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("TRADEMESH_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    kopf.run(
        clusterwide=True,
        peering_name=PEERING_NAME,
        standalone=os.environ.get("TRADEMESH_QAS_STANDALONE") == "1",
        liveness_endpoint=None,
    )


if __name__ == "__main__":
    main()
