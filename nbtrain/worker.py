"""``python -m nbtrain.worker RUNFILE``: one rank of an exported run (see nbtrain.distributed.worker)."""

from nbtrain.distributed.worker import main

if __name__ == "__main__":
    main()
