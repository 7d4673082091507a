"""A task module that imports in ``tether serve``'s own process but raises in a worker
process of ``--workers N``: task code that cannot load where it must run."""

from __future__ import annotations

import multiprocessing

from tether import Hub

if multiprocessing.parent_process() is not None:
    raise RuntimeError("this module refuses to load in a worker process")

hub = Hub()
