"""LangGraph doing what `plan` does for a 10,000-agent fork-join: fan out N no-op
workers with the Send API (map-reduce), then join them.

usage: python langgraph_fanout.py N
"""
import operator
import sys
from typing import Annotated, TypedDict

from langgraph.graph import END, START, StateGraph

try:
    from langgraph.types import Send
except ImportError:  # older langgraph
    from langgraph.constants import Send


class State(TypedDict):
    n: int
    results: Annotated[list, operator.add]


class Item(TypedDict):
    i: int


def fan_out(state: State):
    return [Send("work", {"i": i}) for i in range(state["n"])]


def work(item: Item):
    return {"results": [item["i"]]}


def join(state: State):
    return {}


def main():
    n = int(sys.argv[1])
    graph = StateGraph(State)
    graph.add_node("work", work)
    graph.add_node("join", join)
    graph.add_conditional_edges(START, fan_out, ["work"])
    graph.add_edge("work", "join")
    graph.add_edge("join", END)
    app = graph.compile()
    out = app.invoke({"n": n, "results": []})
    assert len(out["results"]) == n, len(out["results"])


if __name__ == "__main__":
    main()
