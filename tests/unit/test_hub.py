"""The task catalogue: a task may name the app view that renders its sessions."""

from __future__ import annotations

import pytest
from pydantic import BaseModel

from tether import Context, Hub
from tether.messages import TaskInfo


class Inputs(BaseModel):
    text: str = ""


def test_a_task_names_its_view_and_the_catalogue_carries_it() -> None:
    hub = Hub()

    @hub.task(view="drafts")
    async def drafted(ctx: Context, inputs: Inputs) -> None: ...

    @hub.task()
    async def plain(ctx: Context, inputs: Inputs) -> None: ...

    assert hub.tasks["drafted"].view == "drafts"
    assert hub.tasks["plain"].view is None
    info = TaskInfo(name="drafted", title="t", description="", input_schema={}, view="drafts")
    assert info.model_dump()["view"] == "drafts"
    # No view: the field is left out of the catalogue, as other optional fields are.
    plain_info = TaskInfo(name="plain", title="t", description="", input_schema={})
    assert "view" not in plain_info.model_dump_json()


@pytest.mark.parametrize("name", ["", "Drafts", "1drafts", "drafts view", "d" * 65, "dr/afts"])
def test_a_view_name_that_is_no_plain_identifier_is_refused(name: str) -> None:
    hub = Hub()
    with pytest.raises(ValueError, match="View name"):

        @hub.task(view=name)
        async def task(ctx: Context, inputs: Inputs) -> None: ...


def test_the_email_assistant_demo_names_its_view() -> None:
    from tether.demos import build_demo_hub

    assert build_demo_hub().tasks["email_assistant"].view == "email_assistant"
