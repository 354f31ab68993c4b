"""A layered top-to-bottom drawing of a flow's graph, computed on the server (pure, no I/O).

1. Nodes are the actions (first occurrence of an id wins); edges whose ends both exist are kept.
2. Cycles are broken by a depth-first search from the roots (actions nobody points to, the trigger
   first): an edge back to an ancestor is reversed for layering and drawn as it is.
3. Each action's layer is the longest path to it from a root, so every edge points downwards.
4. An edge spanning several layers gets a narrow dummy node in each layer between, so it is routed
   around boxes instead of through them.
5. Order within a layer: a few down and up sweeps placing each node at the barycenter (mean
   position) of its neighbours in the previous layer, the Sugiyama heuristic that removes most
   crossings cheaply.
6. Coordinates: each node wants to sit under the mean x of its predecessors; a left-to-right pass
   then pushes nodes apart to at least `GAP` (so no two boxes overlap, by construction), and the
   layer is shifted back by the amount it was pushed on average.
7. Edges are polylines from the bottom centre of their source, through their dummies, to the top
   centre of their target; the label sits on the first segment.
"""

import itertools
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from app.web.describe import edge_label, summary, type_name

BOX_WIDTH = 220
BOX_HEIGHT = 66
DUMMY_WIDTH = 24
GAP = 36
LAYER_GAP = 70
MARGIN = 24
SWEEPS = 4


@dataclass
class Node:
    id: str
    type: str
    type_name: str
    name: str
    summary: str
    x: float = 0.0  # left edge
    y: float = 0.0  # top edge
    width: float = BOX_WIDTH
    height: float = BOX_HEIGHT
    layer: int = 0

    @property
    def center_x(self) -> float:
        return self.x + self.width / 2


@dataclass
class Edge:
    source: str
    target: str
    label: str
    kind: str  # continue | branch
    points: list[tuple[float, float]] = field(default_factory=list)

    @property
    def label_at(self) -> tuple[float, float]:
        (x1, y1), (x2, y2) = self.points[0], self.points[1]
        return (x1 + x2) / 2, (y1 + y2) / 2


@dataclass
class Layout:
    nodes: list[Node]
    edges: list[Edge]
    width: float
    height: float

    def node(self, node_id: str) -> Node:
        return next(node for node in self.nodes if node.id == node_id)


@dataclass
class _Slot:
    """A box or a dummy in a layer."""

    id: str
    width: float
    layer: int
    x: float = 0.0
    preds: list[str] = field(default_factory=list)
    succs: list[str] = field(default_factory=list)


def _roots_first(ids: list[str], actions: dict[str, dict[str, Any]], incoming: dict[str, int]) -> list[str]:
    triggers = [i for i in ids if actions[i].get("type") == "trigger"]
    roots = [i for i in ids if incoming[i] == 0 and i not in triggers]
    rest = [i for i in ids if i not in triggers and i not in roots]
    return triggers + roots + rest


def _acyclic(ids: list[str], edges: list[tuple[str, str]], actions: dict[str, dict[str, Any]]) -> list[tuple[str, str]]:
    """The edges for layering: each edge closing a cycle is reversed (iterative DFS, no recursion limit)."""
    out: dict[str, list[str]] = defaultdict(list)
    incoming: dict[str, int] = defaultdict(int)
    for source, target in edges:
        out[source].append(target)
        incoming[target] += 1
    state: dict[str, int] = {}  # 1 = on the stack, 2 = done
    back: set[tuple[str, str]] = set()
    for root in _roots_first(ids, actions, incoming):
        if root in state:
            continue
        state[root] = 1
        stack: list[tuple[str, int]] = [(root, 0)]
        while stack:
            node, index = stack.pop()
            if index < len(out[node]):
                stack.append((node, index + 1))
                child = out[node][index]
                if state.get(child) == 1:
                    back.add((node, child))
                elif child not in state:
                    state[child] = 1
                    stack.append((child, 0))
            else:
                state[node] = 2
    return [(t, s) if (s, t) in back else (s, t) for s, t in edges if s != t]


def _layers(ids: list[str], dag: list[tuple[str, str]]) -> dict[str, int]:
    """Longest path from a root, by Kahn's topological order."""
    out: dict[str, list[str]] = defaultdict(list)
    indegree = dict.fromkeys(ids, 0)
    for source, target in dag:
        out[source].append(target)
        indegree[target] += 1
    layer = dict.fromkeys(ids, 0)
    queue = [i for i in ids if indegree[i] == 0]
    while queue:
        node = queue.pop()
        for child in out[node]:
            layer[child] = max(layer[child], layer[node] + 1)
            indegree[child] -= 1
            if indegree[child] == 0:
                queue.append(child)
    return layer


def _order(rows: list[list[str]], slots: dict[str, _Slot]) -> None:
    """Barycenter sweeps, down then up, reordering each row in place."""

    def sweep(row: list[str], neighbours_of: str, reference: list[str]) -> None:
        position = {slot_id: i for i, slot_id in enumerate(reference)}
        current = {slot_id: i for i, slot_id in enumerate(row)}

        def key(slot_id: str) -> float:
            neighbours = [position[n] for n in getattr(slots[slot_id], neighbours_of) if n in position]
            return sum(neighbours) / len(neighbours) if neighbours else float(current[slot_id])

        row.sort(key=key)

    for _ in range(SWEEPS):
        for i in range(1, len(rows)):
            sweep(rows[i], "preds", rows[i - 1])
        for i in range(len(rows) - 2, -1, -1):
            sweep(rows[i], "succs", rows[i + 1])


def _place(rows: list[list[str]], slots: dict[str, _Slot]) -> None:
    """x per slot: under the mean of its predecessors, then pushed apart left to right."""
    for row in rows:
        wanted = []
        for slot_id in row:
            slot = slots[slot_id]
            centers = [slots[p].x + slots[p].width / 2 for p in slot.preds]
            wanted.append(sum(centers) / len(centers) - slot.width / 2 if centers else None)
        cursor = 0.0
        placed: list[float] = []
        for slot_id, want in zip(row, wanted, strict=True):
            x = max(want if want is not None else cursor, cursor)
            placed.append(x)
            cursor = x + slots[slot_id].width + GAP
        # Pushing only goes right; move the row back left by the mean push, keeping the gaps.
        pushes = [x - w for x, w in zip(placed, wanted, strict=True) if w is not None]
        shift = sum(pushes) / len(pushes) if pushes else 0.0
        for slot_id, x in zip(row, placed, strict=True):
            slots[slot_id].x = x - shift


def layout(actions: Sequence[Any], edges: Sequence[Any]) -> Layout:
    by_id: dict[str, dict[str, Any]] = {}
    for action in actions:
        if isinstance(action, dict) and action.get("id") is not None and str(action["id"]) not in by_id:
            by_id[str(action["id"])] = action
    ids = list(by_id)
    kept = [e for e in edges if isinstance(e, dict) and str(e.get("from")) in by_id and str(e.get("to")) in by_id]
    pairs = [(str(e["from"]), str(e["to"])) for e in kept]
    layer = _layers(ids, _acyclic(ids, pairs, by_id))

    slots = {i: _Slot(i, BOX_WIDTH, layer[i]) for i in ids}
    routes: list[list[str]] = []  # slot ids along each kept edge, top to bottom
    for n, (source, target) in enumerate(pairs):
        top, bottom = (source, target) if layer[source] < layer[target] else (target, source)
        chain = [top]
        for depth in range(layer[top] + 1, layer[bottom]):
            dummy = f"\0{n}:{depth}"
            slots[dummy] = _Slot(dummy, DUMMY_WIDTH, depth)
            chain.append(dummy)
        chain.append(bottom)
        for upper, lower in itertools.pairwise(chain):
            if upper != lower:
                slots[upper].succs.append(lower)
                slots[lower].preds.append(upper)
        routes.append(chain)

    rows: list[list[str]] = [[] for _ in range(max(layer.values(), default=-1) + 1)]
    for slot in slots.values():
        rows[slot.layer].append(slot.id)
    _order(rows, slots)
    _place(rows, slots)

    left = min((slot.x for slot in slots.values()), default=0.0)
    right = max((slot.x + slot.width for slot in slots.values()), default=0.0)
    for slot in slots.values():
        slot.x += MARGIN - left

    def top_of(row: int) -> float:
        return MARGIN + row * (BOX_HEIGHT + LAYER_GAP)

    nodes = [
        Node(
            id=i,
            type=str(by_id[i].get("type") or ""),
            type_name=type_name(str(by_id[i].get("type") or "")),
            name=str(by_id[i].get("name") or i),
            summary=summary(by_id[i]),
            x=slots[i].x,
            y=top_of(layer[i]),
            layer=layer[i],
        )
        for i in ids
    ]
    drawn: list[Edge] = []
    for edge, (source, target), chain in zip(kept, pairs, routes, strict=True):
        points = []
        for k, slot_id in enumerate(chain):
            slot = slots[slot_id]
            center = slot.x + slot.width / 2
            row_top = top_of(slot.layer)
            if slot_id in by_id:
                points.append((center, row_top if k else row_top + BOX_HEIGHT))
            else:
                points.extend([(center, row_top), (center, row_top + BOX_HEIGHT)])
        if chain[0] != source:  # a back edge: from the lower box's top up to the upper box's bottom
            points.reverse()
        if source == target:
            node = slots[source]
            y = top_of(layer[source]) + BOX_HEIGHT / 2
            points = [(node.x + node.width, y - 10), (node.x + node.width + 30, y), (node.x + node.width, y + 10)]
        drawn.append(
            Edge(
                source=source,
                target=target,
                label=edge_label(by_id[source], edge),
                kind=str(edge.get("type") or "continue"),
                points=[(round(x, 1), round(y, 1)) for x, y in points],
            )
        )
    height = top_of(len(rows)) - LAYER_GAP + MARGIN if rows else 2 * MARGIN
    return Layout(nodes=nodes, edges=drawn, width=right - left + 2 * MARGIN + 40, height=height)
