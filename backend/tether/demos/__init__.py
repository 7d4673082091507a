"""The demo tasks served when ``tether serve`` is given no module.

- ``email_demo``: input form, five streamed steps, a failure offered for retry, a
  confirmation, the submitted values as result.
- ``email_assistant``: clarifying questions, drafts and feedback rounds, all in state.
- ``calculator``: a batch of jobs fanned out with ``ctx.map``.
- ``ticker``: a stream of events as fast as the hub takes them (for benchmarks).
- ``expense_approval``: a confirmation assigned to ``group:finance`` (or a user), answered
  from the assignee's inbox.
"""

from tether.demos.calculator import register as _register_calculator
from tether.demos.email_assistant import OfflineDrafter, register_email_assistant
from tether.demos.email_demo import register as _register_email_demo
from tether.demos.expense_approval import register as _register_expense_approval
from tether.demos.ticker import register as _register_ticker
from tether.hub import Hub


def build_demo_hub() -> Hub:
    """A fresh hub with every demo task."""
    demo = Hub()
    _register_email_demo(demo)
    register_email_assistant(demo, OfflineDrafter())
    _register_calculator(demo)
    _register_ticker(demo)
    _register_expense_approval(demo)
    return demo


hub = build_demo_hub()

__all__ = ["OfflineDrafter", "build_demo_hub", "hub", "register_email_assistant"]
