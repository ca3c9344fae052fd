"""A scripted tool-calling chat model: LangChain's GenericFakeChatModel replays the replies
it is given, and `bind_tools` (which the fake lacks) returns it unchanged; every list of
messages it was invoked with is kept, so a test can check what the graph fed back."""

from __future__ import annotations

from typing import Any, ClassVar

from langchain_core.language_models.fake_chat_models import GenericFakeChatModel
from langchain_core.messages import AIMessage


class ScriptedModel(GenericFakeChatModel):
    seen: ClassVar[list] = []  # replaced per instance by scripted()

    def bind_tools(self, tools: Any, **kwargs: Any) -> ScriptedModel:
        return self

    def invoke(self, input: Any, config: Any = None, **kwargs: Any) -> Any:
        self.seen.append(list(input))
        return super().invoke(input, config, **kwargs)


def call(name: str, call_id: str, **args: Any) -> AIMessage:
    return AIMessage(content="", tool_calls=[{"name": name, "args": args, "id": call_id}])


def scripted(*replies: AIMessage) -> ScriptedModel:
    model = ScriptedModel(messages=iter(replies))
    object.__setattr__(model, "seen", [])
    return model
