"""`python -m trademesh_queue_autoscaler`: the operator, cluster-wide, peering for HA."""

import logging
import os

import kopf

from . import handlers  # noqa: F401 - registers the handlers


class QuietTicks(logging.Filter):
    """kopf logs every successful handler call: with a 1 s tick per CR that is the bulk of
    the log (and of the CPU) while saying nothing; scales are logged and posted as Events."""

    def filter(self, record: logging.LogRecord) -> bool:
        return not record.getMessage().endswith("succeeded.")


def main() -> None:
    logging.basicConfig(
        level=os.environ.get("TRADEMESH_LOG_LEVEL", "INFO"),
        format="%(asctime)s %(levelname)s %(name)s %(message)s",
    )
    logging.getLogger("kopf.objects").addFilter(QuietTicks())
    standalone = os.environ.get("TRADEMESH_QAS_STANDALONE") == "1"
    kopf.run(
        clusterwide=True,
        standalone=standalone,
        peering_name=None
        if standalone
        else os.environ.get("TRADEMESH_QAS_PEERING", "trademesh-queue-autoscaler"),
    )


if __name__ == "__main__":
    main()
