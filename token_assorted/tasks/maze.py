"""Keys-Finding Maze: find the goal in a maze of rooms whose doors open only with keys found on the way.

Geometry. R x R rooms of s x s free cells, separated by 1-cell wall lines (no outer wall: the grid is
n x n with n = R(s+1) - 1 and everything outside it is blocked). Coordinates are (x, y) = (column, row),
y growing downward. Rooms touching along a wall may share one doorway cell in that wall: the doorways
form a random spanning tree of the rooms, plus extra doorways (chance `loop_prob`) between adjacent rooms
that no door separates, so there are loops but every door cuts the room graph.

Keys and doors. K doors sit on K tree doorways along the tree path from the start room to the goal room,
in order, splitting the rooms into regions C0 (start) .. CK (goal). Key i lies in region Ci, so it is
reachable only with keys 0..i-1 and the goal only with all K: an optimal plan fetches the keys in order.
Stepping on a key picks it up, keys are kept, and a door cell is passable only with its key.

Words (one token each, Searchformer-style):
    question  start x y goal x y wall x y ... key c x y ... door c x y ...
              (walls row by row, keys and doors by colour index; c is a colour word)
    steps     one A* event each: "create x y kM cG hH" or "close x y kM cG hH", where M is the bitmask of
              the keys held (bit i = colour i), G the cost so far and H the Manhattan distance to the goal
    answer    plan x y x y ... x y, every cell from start to goal, with "open c" right before each entry
              into a door cell and "pickup c" right after the cell where key c is picked up.

A* searches states (x, y, keys held). The heuristic ignores keys, so it is consistent: closed f values
never decrease and a closed state is never reopened. Tie-break: the open state with the smallest f = g + h,
then the smallest h, then the one created (or improved) most recently; successors are made in the move
order U, D, L, R. A state whose cost improves is created again (a new "create" event).

A layout, the unit that never repeats across or within splits, is the whole question: walls, doorways,
doors, keys, start and goal. key(record) is therefore the question string.
"""

from __future__ import annotations

import heapq
import math
import random
from dataclasses import dataclass
from typing import Hashable

from ..errors import ConfigError
from . import base

NAME = "maze"
SAMPLED = True  # scored 1-Feasible-k: solved when one of k sampled plans is feasible
SPLITS = {"train": 8000, "valid": 200, "test": 100}  # test: 1-Feasible-10 samples 10 plans per problem
COLOURS = ("red", "blue", "green", "yellow", "purple", "orange", "white", "black")
MOVES = ((0, -1), (0, 1), (-1, 0), (1, 0))  # U, D, L, R

MAX_REDRAWS = 10_000  # mazes drawn for one whose trace fits task.params.max_trace, before giving up

Cell = tuple[int, int]
Room = tuple[int, int]
State = tuple[Cell, int]  # a cell and the bitmask of the keys held


@dataclass
class Params:
    rooms: int = 3  # R: the maze is R x R rooms
    room_size: int = 3  # s: each room has s x s free cells
    doors: int = 2  # K: coloured doors, each with its key
    loop_prob: float = 0.5  # chance of a doorway between adjacent rooms beyond the spanning tree
    max_trace: int | None = None  # redraw mazes whose A* trace has more events than this (+task.params.max_trace=N)

    def __post_init__(self):
        if self.rooms < 2 or self.room_size < 2:
            raise ConfigError(f"maze needs rooms >= 2 and room_size >= 2, got {self.rooms} and {self.room_size}")
        if not 1 <= self.doors <= min(len(COLOURS), self.rooms**2 - 1):
            raise ConfigError(f"maze doors must be 1..{min(len(COLOURS), self.rooms**2 - 1)}, got {self.doors}")
        if not 0.0 <= self.loop_prob <= 1.0:
            raise ConfigError(f"maze loop_prob must be in [0, 1], got {self.loop_prob}")
        if self.max_trace is not None and (type(self.max_trace) is not int or self.max_trace < 1):
            raise ConfigError(f"maze max_trace must be a whole number of trace events >= 1, got {self.max_trace!r}")


@dataclass
class Maze:
    size: int  # the grid is size x size cells
    walls: frozenset[Cell]
    start: Cell
    goal: Cell
    keys: dict[Cell, int]  # cell -> colour index
    doors: dict[Cell, int]


# ---- drawing a maze ----


def _room_pairs(rooms: int) -> list[tuple[Room, Room]]:
    """Every pair of side-by-side rooms, left or upper room first, in a fixed order."""
    pairs = []
    for j in range(rooms):
        for i in range(rooms):
            if i + 1 < rooms:
                pairs.append(((i, j), (i + 1, j)))
            if j + 1 < rooms:
                pairs.append(((i, j), (i, j + 1)))
    return pairs


def _spanning_tree(rng: random.Random, rooms: int) -> list[tuple[Room, Room]]:
    """Randomised Kruskal: shuffle the room pairs and keep those that join two separate groups."""
    pairs = _room_pairs(rooms)
    rng.shuffle(pairs)
    group = {(i, j): (i, j) for j in range(rooms) for i in range(rooms)}

    def root(room: Room) -> Room:
        while group[room] != room:
            room = group[room]
        return room

    tree = []
    for a, b in pairs:
        ra, rb = root(a), root(b)
        if ra != rb:
            group[ra] = rb
            tree.append((a, b))
    return tree


def _tree_paths(tree: list[tuple[Room, Room]], origin: Room) -> dict[Room, list[tuple[Room, Room]]]:
    """Every room reachable from origin over tree edges, with its path as (near room, far room) steps."""
    neighbours: dict[Room, list[Room]] = {}
    for a, b in tree:
        neighbours.setdefault(a, []).append(b)
        neighbours.setdefault(b, []).append(a)
    paths = {origin: []}
    frontier = [origin]
    while frontier:
        room = frontier.pop()
        for other in neighbours.get(room, []):
            if other not in paths:
                paths[other] = paths[room] + [(room, other)]
                frontier.append(other)
    return paths


def _regions(tree: list[tuple[Room, Room]], start: Room, doors: list[tuple[Room, Room]]) -> dict[Room, int]:
    """Region of every room: 0 on the start side, i + 1 on the far side of door i."""
    cut = [sorted(pair) for pair in doors]
    kept = [pair for pair in tree if sorted(pair) not in cut]
    origins = [start] + [far for _, far in doors]
    return {room: index for index, origin in enumerate(origins) for room in _tree_paths(kept, origin)}


def _doorway(rng: random.Random, a: Room, b: Room, s: int) -> Cell:
    """A random cell of the wall between room a and room b to its right or below it."""
    (i, j), offset = a, rng.randrange(s)
    if b[0] > i:
        return (i + 1) * (s + 1) - 1, j * (s + 1) + offset
    return i * (s + 1) + offset, (j + 1) * (s + 1) - 1


def _room_cells(room: Room, s: int) -> list[Cell]:
    i, j = room
    return [(i * (s + 1) + dx, j * (s + 1) + dy) for dy in range(s) for dx in range(s)]


def random_maze(rng: random.Random, params: Params) -> Maze:
    """Draw the room tree, the door chain along one of its paths, extra doorways, then the cells."""
    R, s, K = params.rooms, params.room_size, params.doors
    rooms = [(i, j) for j in range(R) for i in range(R)]
    routes: list[list[tuple[Room, Room]]] = []
    while not routes:  # a tree too shallow for K doors on one path is drawn again
        tree = _spanning_tree(rng, R)
        routes = [path for origin in rooms for _, path in sorted(_tree_paths(tree, origin).items()) if len(path) >= K]
    route = rng.choice(routes)
    door_pairs = [route[i] for i in sorted(rng.sample(range(len(route)), K))]
    region = _regions(tree, route[0][0], door_pairs)

    tree_pairs = [tuple(sorted(pair)) for pair in tree]
    doorways = {}
    for a, b in _room_pairs(R):
        if (a, b) in tree_pairs or (region[a] == region[b] and rng.random() < params.loop_prob):
            doorways[a, b] = _doorway(rng, a, b, s)
    doors = {doorways[tuple(sorted(pair))]: colour for colour, pair in enumerate(door_pairs)}

    cells = [[c for room in rooms if region[room] == k for c in _room_cells(room, s)] for k in range(K + 1)]
    start = rng.choice(cells[0])
    keys: dict[Cell, int] = {}
    for colour in range(K):
        keys[rng.choice([c for c in cells[colour] if c != start and c not in keys])] = colour
    goal = rng.choice(cells[K])

    n = R * (s + 1) - 1
    passages = set(doorways.values())
    walls = frozenset(
        (x, y) for y in range(n) for x in range(n) if s in (x % (s + 1), y % (s + 1)) and (x, y) not in passages
    )
    return Maze(n, walls, start, goal, keys, doors)


# ---- moving and searching ----


def _enter(maze: Maze, cell: Cell, held: int) -> int | None:
    """The keys held (bitmask) after stepping onto cell, or None where the cell cannot be entered."""
    x, y = cell
    if not (0 <= x < maze.size and 0 <= y < maze.size) or cell in maze.walls:
        return None
    door = maze.doors.get(cell)
    if door is not None and not held >> door & 1:
        return None
    key = maze.keys.get(cell)
    return held if key is None else held | 1 << key


def _event(kind: str, cell: Cell, held: int, cost: int, heuristic: int) -> str:
    return f"{kind} {cell[0]} {cell[1]} k{held} c{cost} h{heuristic}"


def solve(maze: Maze) -> tuple[list[str], list[Cell]]:
    """A* over (cell, keys held): the trace events and the cells of the optimal plan."""
    gx, gy = maze.goal

    def h(cell: Cell) -> int:
        return abs(cell[0] - gx) + abs(cell[1] - gy)

    first: State = (maze.start, 0)
    cost: dict[State, int] = {first: 0}
    parent: dict[State, State | None] = {first: None}
    closed: set[State] = set()
    events = [_event("create", maze.start, 0, 0, h(maze.start))]
    heap = [(h(maze.start), h(maze.start), 0, first)]
    created = 0
    while heap:
        f, hh, _, state = heapq.heappop(heap)
        if state in closed or f - hh != cost[state]:  # an entry superseded by a cheaper one
            continue
        closed.add(state)
        cell, held = state
        events.append(_event("close", cell, held, cost[state], hh))
        if cell == maze.goal:
            path = []
            while state is not None:
                path.append(state[0])
                state = parent[state]
            return events, path[::-1]
        for dx, dy in MOVES:
            nxt_cell = (cell[0] + dx, cell[1] + dy)
            nxt_held = _enter(maze, nxt_cell, held)
            nxt = (nxt_cell, nxt_held)
            if nxt_held is None or nxt in closed or cost[state] + 1 >= cost.get(nxt, math.inf):
                continue
            cost[nxt], parent[nxt] = cost[state] + 1, state
            created += 1
            heapq.heappush(heap, (cost[nxt] + h(nxt_cell), h(nxt_cell), -created, nxt))
            events.append(_event("create", nxt_cell, nxt_held, cost[nxt], h(nxt_cell)))
    raise ValueError("the goal cannot be reached")


def simulate(maze: Maze, cells: list[Cell]) -> bool:
    """Whether walking cells one step at a time is legal and ends on the goal."""
    if not cells or cells[0] != maze.start:
        return False
    held = 0
    for (x0, y0), (x1, y1) in zip(cells, cells[1:]):
        if abs(x1 - x0) + abs(y1 - y0) != 1:
            return False
        held = _enter(maze, (x1, y1), held)
        if held is None:
            return False
    return cells[-1] == maze.goal


# ---- words ----


def render_question(maze: Maze) -> str:
    words = ["start", *map(str, maze.start), "goal", *map(str, maze.goal)]
    for x, y in sorted(maze.walls, key=lambda c: (c[1], c[0])):
        words += ["wall", str(x), str(y)]
    for kind, items in (("key", maze.keys), ("door", maze.doors)):
        for cell, colour in sorted(items.items(), key=lambda item: item[1]):
            words += [kind, COLOURS[colour], str(cell[0]), str(cell[1])]
    return " ".join(words)


def render_plan(maze: Maze, cells: list[Cell]) -> str:
    words = ["plan"]
    held = 0
    for cell in cells:
        if cell in maze.doors:
            words += ["open", COLOURS[maze.doors[cell]]]
        words += [str(cell[0]), str(cell[1])]
        key = maze.keys.get(cell)
        if key is not None and not held >> key & 1:
            words += ["pickup", COLOURS[key]]
            held |= 1 << key
    return " ".join(words)


def _grid_size(walls: frozenset[Cell]) -> int:
    """The grid side read off the walls: the only walls on the diagonal are the R - 1 crossings of wall lines,
    at s, 2s + 1, ..., so they give both s and R."""
    crossings = sorted(x for x, y in walls if x == y)
    if not crossings:
        raise ValueError("a maze question must list walls")
    return (len(crossings) + 1) * (crossings[0] + 1) - 1


def parse_question(question: str) -> Maze:
    """The maze a question describes; ValueError saying what is wrong if it is malformed."""
    words = question.split()

    def cell(i: int) -> Cell:
        if i + 2 > len(words) or not all(w.isascii() and w.isdigit() for w in words[i : i + 2]):
            raise ValueError(f"expected two whole numbers after '{words[i - 1]}' (word {i} of the question)")
        return int(words[i]), int(words[i + 1])

    if len(words) < 6 or words[0] != "start" or words[3] != "goal":
        raise ValueError(f"a maze question starts with 'start x y goal x y': {question[:40]!r}")
    start, goal = cell(1), cell(4)
    walls, keys, doors = [], {}, {}
    i = 6
    while i < len(words):
        if words[i] == "wall":
            walls.append(cell(i + 1))
            i += 3
        elif words[i] in ("key", "door"):
            if i + 1 >= len(words) or words[i + 1] not in COLOURS:
                colours = ", ".join(COLOURS)
                raise ValueError(f"expected a colour after '{words[i]}' (word {i} of the question): {colours}")
            items = keys if words[i] == "key" else doors
            items[cell(i + 2)] = COLOURS.index(words[i + 1])
            i += 4
        else:
            raise ValueError(f"unexpected word '{words[i]}' in a maze question")
    return Maze(_grid_size(frozenset(walls)), frozenset(walls), start, goal, keys, doors)


def parse_plan(plan: str) -> list[Cell] | None:
    """The cells a plan visits, skipping its annotations, or None if it does not read as a plan."""
    words = plan.split()
    if not words or words[0] != "plan":
        return None
    cells = []
    i = 1
    while i < len(words):
        if words[i] in ("pickup", "open"):
            i += 2  # checked later, by rendering the cells again
            continue
        if i + 1 >= len(words) or not all(w.isascii() and w.isdigit() for w in words[i : i + 2]):
            return None
        cells.append((int(words[i]), int(words[i + 1])))
        i += 2
    return cells


# ---- the task contract ----


def sample(rng: random.Random, params: Params) -> dict:
    shortest = None
    for _ in range(MAX_REDRAWS):
        maze = random_maze(rng, params)
        steps, cells = solve(maze)
        if params.max_trace is None or len(steps) <= params.max_trace:
            break
        shortest = min(shortest or len(steps), len(steps))
    else:
        raise ConfigError(
            f"task.params.max_trace={params.max_trace}: none of {MAX_REDRAWS:,} mazes drawn had a trace that short "
            f"(the shortest had {shortest} events)"
        )
    return {
        "question": render_question(maze),
        "steps": steps,
        "answer": render_plan(maze, cells),
        "rooms": params.rooms,
        "room_size": params.room_size,
        "doors": params.doors,
    }


def key(record: dict) -> Hashable:
    return record["question"]


def generate(
    params: Params, sizes: dict[str, int], seed: int, progress: bool = True, train_mix: dict[str, list] | None = None
) -> dict[str, list[dict]]:
    return base.generate_splits(
        sample, key, params, sizes, seed, train_mix, desc=f"generating {NAME}", progress=progress
    )


def difficulty(params: Params) -> str:
    doors = f"{params.doors} door" + ("s" if params.doors > 1 else "")
    return f"{params.rooms}x{params.rooms} rooms of {params.room_size}x{params.room_size}, {doors}"


def check(record: dict) -> None:
    """A record's question must describe a maze, since scoring reads the maze off it; ValueError if not."""
    parse_question(record["question"])


def score(record: dict, completion: str) -> dict:
    """Feasible: the plan after the last '#' is legal, ends on the goal and is written exactly as the
    generator writes that walk (annotations included). Optimal: feasible and as short as the record's plan."""
    maze = parse_question(record["question"])
    plan = base.extract_answer(completion)
    cells = parse_plan(plan)
    feasible = cells is not None and simulate(maze, cells) and render_plan(maze, cells) == " ".join(plan.split())
    length = len(cells) - 1 if feasible else None
    best = len(parse_plan(record["answer"]) or []) - 1
    return {"correct": feasible, "feasible": feasible, "optimal": feasible and length == best, "plan_length": length}
