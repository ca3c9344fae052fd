"""The agent: questions answered from the warehouse's facts and the documents' text, with
citations, read-only, offline by default (docs: README "Agent").

What the CLI calls (each returns a dataclass with `to_dict()`, none prints):
- `stack.agent.index.index(settings, on_event=...) -> IndexSummary`: warehouse -> Chroma;
- `stack.agent.graph.ask(settings, question, model=...) -> Answer`: the LangGraph agent;
- `stack.agent.eval.evaluate(settings, model=...) -> EvalReport`: execution accuracy.

Needs the `agent` extra (`pip install 'stack[agent]'`); nothing here is imported by the core.
"""
