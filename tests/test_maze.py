"""Keys-Finding Maze: plans checked by a simulator and a breadth-first search written here, independently
of maze.py; the A* trace's invariants; layout-disjoint splits; determinism; score()."""

import json
import os
import re
import subprocess
import sys
from collections import deque
from pathlib import Path

import pytest

from token_assorted.errors import ConfigError
from token_assorted.tasks import maze

DEFAULT = maze.Params()
SMALL = maze.Params(rooms=2, room_size=2, doors=1)
EVENT = re.compile(r"(create|close) (\d+) (\d+) k(\d+) c(\d+) h(\d+)")
STEPS = {(0, 1), (0, -1), (1, 0), (-1, 0)}


@pytest.fixture(scope="module")
def records() -> list[dict]:
    default = maze.generate(DEFAULT, {"train": 300}, seed=11, progress=False)["train"]
    small = maze.generate(SMALL, {"train": 300}, seed=12, progress=False)["train"]
    return default + small


def read_maze(record: dict) -> dict:
    """The question's layout; the grid side comes from the record's extras, not from the walls."""
    words = record["question"].split()
    assert words[0] == "start" and words[3] == "goal"
    layout = {"start": (int(words[1]), int(words[2])), "goal": (int(words[4]), int(words[5])),
              "walls": set(), "keys": {}, "doors": {}, "side": record["rooms"] * (record["room_size"] + 1) - 1}
    rest = words[6:]
    while rest:
        if rest[0] == "wall":
            layout["walls"].add((int(rest[1]), int(rest[2])))
            rest = rest[3:]
        else:
            assert rest[0] in ("key", "door")
            layout[rest[0] + "s"][int(rest[2]), int(rest[3])] = rest[1]
            rest = rest[4:]
    return layout


def passable(layout: dict, cell: tuple, held: frozenset) -> bool:
    x, y = cell
    inside = 0 <= x < layout["side"] and 0 <= y < layout["side"]
    door = layout["doors"].get(cell)
    return inside and cell not in layout["walls"] and (door is None or door in held)


def shortest(layout: dict, source: tuple, target: tuple, held=frozenset(), pick_keys=True) -> int | None:
    """Breadth-first search over (cell, keys held): the fewest moves from source to target, or None."""
    first = (source, held)
    dist = {first: 0}
    queue = deque([first])
    while queue:
        cell, keys = state = queue.popleft()
        if cell == target:
            return dist[state]
        for dx, dy in STEPS:
            nxt = (cell[0] + dx, cell[1] + dy)
            if not passable(layout, nxt, keys):
                continue
            found = layout["keys"].get(nxt) if pick_keys else None
            nxt_state = (nxt, keys | {found} if found else keys)
            if nxt_state not in dist:
                dist[nxt_state] = dist[state] + 1
                queue.append(nxt_state)
    return None


def walk(layout: dict, plan: str) -> int | None:
    """Number of moves of a plan written in the generator's exact format, or None if any word is wrong."""
    words = plan.split()
    if words[:1] != ["plan"]:
        return None
    words = words[1:]
    cells, held, pending_open = [], set(), None
    while words:
        if words[0] == "open":
            pending_open, words = words[1], words[2:]
            continue
        if words[0] == "pickup":
            return None  # every pickup is consumed right after its cell below
        cell = (int(words[0]), int(words[1]))
        words = words[2:]
        if cells and (cell[0] - cells[-1][0], cell[1] - cells[-1][1]) not in STEPS:
            return None
        if not passable(layout, cell, frozenset(held)) or pending_open != layout["doors"].get(cell):
            return None
        pending_open = None
        colour = layout["keys"].get(cell)
        if colour and colour not in held:
            if words[:2] != ["pickup", colour]:
                return None
            held.add(colour)
            words = words[2:]
        cells.append(cell)
    if not cells or cells[0] != layout["start"] or cells[-1] != layout["goal"] or pending_open:
        return None
    return len(cells) - 1


def write_plan(layout: dict, cells: list) -> str:
    words, held = ["plan"], set()
    for cell in cells:
        if cell in layout["doors"]:
            words += ["open", layout["doors"][cell]]
        words += [str(cell[0]), str(cell[1])]
        colour = layout["keys"].get(cell)
        if colour and colour not in held:
            words += ["pickup", colour]
            held.add(colour)
    return " ".join(words)


def plan_cells(plan: str) -> list:
    words = [w for w in plan.split()[1:] if w.isdigit()]
    return [(int(x), int(y)) for x, y in zip(words[::2], words[1::2])]


def test_plans_are_legal_and_as_short_as_breadth_first_search(records):
    for record in records:
        layout = read_maze(record)
        moves = walk(layout, record["answer"])
        assert moves is not None, record["answer"]
        assert moves == shortest(layout, layout["start"], layout["goal"])


def test_goal_needs_the_keys_and_keys_form_a_chain(records):
    for record in records:
        layout = read_maze(record)
        no_doors = {**layout, "walls": layout["walls"] | set(layout["doors"])}
        assert shortest(no_doors, layout["start"], layout["goal"], pick_keys=False) is None
        colours = maze.COLOURS[: record["doors"]]
        assert sorted(layout["keys"].values()) == sorted(colours) == sorted(layout["doors"].values())
        key_cell = {colour: cell for cell, colour in layout["keys"].items()}
        for i, colour in enumerate(colours):
            assert shortest(layout, layout["start"], key_cell[colour], frozenset(colours[:i]), False) is not None
            if i:
                assert shortest(layout, layout["start"], key_cell[colour], frozenset(colours[: i - 1]), False) is None
        picked = [w for prev, w in zip(record["answer"].split(), record["answer"].split()[1:]) if prev == "pickup"]
        assert picked == list(colours)


def test_rooms_share_at_most_one_doorway(records):
    for record in records:
        layout, s = read_maze(record), record["room_size"]
        line = [c for c in range(layout["side"]) if c % (s + 1) == s]
        for x in range(layout["side"]):
            for y in range(layout["side"]):
                assert ((x, y) in layout["walls"]) <= (x in line or y in line)
        for wall in line:
            for room in range(record["rooms"]):
                segment = [(wall, room * (s + 1) + o) for o in range(s)]
                for cells in (segment, [(y, x) for x, y in segment]):
                    assert sum(cell not in layout["walls"] for cell in cells) <= 1


def test_trace_follows_a_star(records):
    for record in records:
        layout = read_maze(record)
        gx, gy = layout["goal"]
        events = [EVENT.fullmatch(step) for step in record["steps"]]
        assert all(events), record["steps"]
        events = [(m[1], (int(m[2]), int(m[3])), int(m[4]), int(m[5]), int(m[6])) for m in events]
        start = layout["start"]
        assert events[0] == ("create", start, 0, 0, abs(start[0] - gx) + abs(start[1] - gy))
        created, closed, last_f, parent = {}, set(), 0, None
        mask = {colour: 1 << i for i, colour in enumerate(maze.COLOURS)}
        for kind, cell, held, cost, h in events:
            assert h == abs(cell[0] - gx) + abs(cell[1] - gy)
            state = (cell, held)
            assert state not in closed
            if kind == "close":
                assert created[state] == cost and cost + h >= last_f
                closed.add(state)
                last_f, parent = cost + h, (cell, held, cost)
            elif parent is not None:
                (px, py), pheld, pcost = parent
                assert (cell[0] - px, cell[1] - py) in STEPS and cost == pcost + 1
                assert held == pheld | mask.get(layout["keys"].get(cell), 0)
                assert cost < created.get(state, cost + 1)
                created[state] = cost
            else:
                created[state] = cost
        assert events[-1][0] == "close" and events[-1][1] == layout["goal"]
        assert events[-1][3] == len(plan_cells(record["answer"])) - 1


def test_test_layouts_are_disjoint_from_train():
    splits = maze.generate(SMALL, {"train": 600, "valid": 50, "test": 100}, seed=3, progress=False)
    keys = {name: [maze.key(r) for r in split] for name, split in splits.items()}
    assert all(len(set(k)) == len(k) for k in keys.values())
    assert not set(keys["train"]) & set(keys["test"])
    assert not set(keys["train"]) & set(keys["valid"])
    assert not set(keys["valid"]) & set(keys["test"])
    assert all(maze.key(r) == r["question"] for r in splits["test"])


def test_generation_is_deterministic():
    sizes = {"train": 40, "test": 10}
    first = maze.generate(DEFAULT, sizes, seed=5, progress=False)
    assert first == maze.generate(DEFAULT, sizes, seed=5, progress=False)
    assert first["train"] != maze.generate(DEFAULT, sizes, seed=6, progress=False)["train"]


def test_generation_does_not_depend_on_string_hashing():
    code = ("import json; from token_assorted.tasks import maze; "
            "print(json.dumps(maze.generate(maze.Params(), {'train': 30}, seed=2, progress=False)))")
    root = Path(__file__).resolve().parents[1]
    outputs = [
        subprocess.run([sys.executable, "-c", code], cwd=root, capture_output=True, text=True, check=True,
                       env={**os.environ, "PYTHONHASHSEED": seed}).stdout
        for seed in ("1", "2")
    ]
    assert outputs[0] == outputs[1] and json.loads(outputs[0])["train"]


def test_score_accepts_the_records_own_plan(records):
    for record in records[::10]:
        moves = len(plan_cells(record["answer"])) - 1
        trace = "\n".join(record["steps"])
        result = maze.score(record, f"{trace}\n### {record['answer']}")
        assert result == {"correct": True, "feasible": True, "optimal": True, "plan_length": moves}


def test_score_rejects_walking_through_a_door_without_its_key(records):
    tried = 0
    for record in records:
        layout = read_maze(record)
        # Doors open to anyone, keys turned into walls: a route that never touches a key.
        keyless = {**layout, "doors": {}, "walls": layout["walls"] | set(layout["keys"])}
        route = route_cells(keyless, layout["start"], layout["goal"])
        if route is None:
            continue
        tried += 1
        for plan in (write_plan(layout, route), "plan " + " ".join(f"{x} {y}" for x, y in route)):
            result = maze.score(record, "### " + plan)
            assert not result["feasible"] and not result["correct"] and result["plan_length"] is None
    assert tried >= 50


def route_cells(layout: dict, source: tuple, target: tuple) -> list | None:
    came = {source: None}
    queue = deque([source])
    while queue:
        cell = queue.popleft()
        if cell == target:
            path = []
            while cell is not None:
                path.append(cell)
                cell = came[cell]
            return path[::-1]
        for dx, dy in sorted(STEPS):
            nxt = (cell[0] + dx, cell[1] + dy)
            if nxt not in came and passable(layout, nxt, frozenset()):
                came[nxt] = cell
                queue.append(nxt)
    return None


def test_score_marks_a_detour_feasible_but_not_optimal(records):
    for record in records[::10]:
        layout = read_maze(record)
        cells = plan_cells(record["answer"])
        start = cells[0]
        aside = next(
            (start[0] + dx, start[1] + dy)
            for dx, dy in sorted(STEPS)
            if passable(layout, (start[0] + dx, start[1] + dy), frozenset())
            and (start[0] + dx, start[1] + dy) not in layout["keys"]
        )
        detour = write_plan(layout, [start, aside] + cells)
        assert walk(layout, detour) == len(cells) + 1
        result = maze.score(record, "### " + detour)
        assert result == {"correct": True, "feasible": True, "optimal": False, "plan_length": len(cells) + 1}


@pytest.mark.parametrize("completion", [
    "", "#", "### ", "### plan", "### plan 1", "### plan x y", "### plan 99 99", "### plan ² ³", "### plan -1 0",
    "### plan 1 1 pickup", "### open", "no answer at all", "### plan " + "7 " * 10001, "### " + "9" * 5000,
])
def test_score_survives_garbage(records, completion):
    result = maze.score(records[0], completion)
    assert result == {"correct": False, "feasible": False, "optimal": False, "plan_length": None}


def test_score_rejects_near_misses(records):
    record = records[0]
    answer = record["answer"]
    words = answer.split()
    at = words.index("pickup")
    near_misses = [
        " ".join(words[:at] + words[at + 2:]),  # the pickup goes unannounced
        " ".join(w for w in words if w != "open" and w not in maze.COLOURS),  # no annotations at all
        " ".join(words[:-2]),  # stops one cell short of the goal
        answer + " {} {}".format(*plan_cells(answer)[-2]),  # steps back off the goal
        answer.replace("plan", "path", 1),
    ]
    for plan in near_misses:
        assert not maze.score(record, "### " + plan)["feasible"], plan


@pytest.mark.parametrize("question, message", [
    ("start 0 0 goal 1 1 wall 2", "expected two whole numbers after 'wall' (word 7 of the question)"),
    ("start 0 0 goal 1 1 key pink 0 1 wall 2 2", "expected a colour after 'key' (word 6 of the question): red, "),
    ("start 0 0 goal 1 1", "a maze question must list walls"),
    ("start a 0 goal 1 1 wall 2 2", "expected two whole numbers after 'start'"),
    ("go from 0 0 to 1 1", "a maze question starts with 'start x y goal x y'"),
])
def test_a_question_that_is_no_maze_is_refused_before_any_generation(records, question, message):
    from token_assorted.errors import DataError
    from token_assorted.evaluation.harness import check_records

    check_records(maze, records)  # the generator's are fine
    bad = [*records[:2], {**records[2], "question": question}]
    with pytest.raises(DataError) as err:
        check_records(maze, bad, file="test.json")
    assert str(err.value).startswith(f"test.json, record 2, field 'question': {message}")


def test_params_are_checked():
    for bad in ({"rooms": 1}, {"room_size": 1}, {"doors": 0}, {"rooms": 2, "doors": 4}, {"loop_prob": 1.5}):
        with pytest.raises(ConfigError):
            maze.Params(**bad)
