"""Study files: the examples load, and every invalid case names the file, the line and the field."""

from __future__ import annotations

from pathlib import Path

import pytest

from geoquiz.errors import StudyDefinitionError
from geoquiz.paths import studies_dir
from geoquiz.study.definition import StudyDefinition, load_study, loads_study, read_answer_list
from geoquiz.study.store import install_study
from geoquiz.study.tomlpos import key_lines

VALID = """\
slug = "t1"
title = "A test study"

[consent]
text = "Do you agree?"

[instructions]
text = "Guess the country."

[items]
dataset = "geoscenes"
split = "test"
selection = "stratified"
seed = 1

[trials]
count = 3
practice = 1
attention = 1
time_limit_s = 0
feedback = false

[answers]
list = "geoscenes"

[responses]
top_k = 3
confidence_levels = 5
"""


def test_valid_study_loads_with_defaults():
    study = loads_study(VALID, "t1.toml")
    assert isinstance(study, StudyDefinition)
    assert (study.slug, study.n_trials, study.n_practice, study.n_attention, study.n_total) == (
        "t1",
        3,
        1,
        1,
        5,
    )
    assert study.items.split == "test" and study.items.method == "stratified" and study.items.seed == 1
    assert study.answer_options == ("France", "India", "Japan")
    assert study.responses.top_k == 3 and study.responses.rationale and study.responses.cue_boxes
    assert study.randomise is True and study.feedback is False and study.views == ()


@pytest.mark.parametrize("name", ["geoscenes_countries.toml", "geoscenes_4view.toml"])
def test_example_studies_are_valid(name):
    study = load_study(studies_dir() / name)
    assert study.source.endswith(name)
    assert study.n_trials > 0 and study.consent_text.strip() and study.instructions.strip()


def test_example_studies_shape():
    single = load_study(studies_dir() / "geoscenes_countries.toml")
    four = load_study(studies_dir() / "geoscenes_4view.toml")
    assert single.items.dataset == "geoscenes" and single.views == () and single.n_practice == 2
    assert single.n_attention == 1 and single.answer_options == ("France", "India", "Japan")
    assert four.items.dataset == "geoscenes-4view" and four.views == ("north", "east", "south", "west")
    assert four.responses.top_k == 5 and len(four.answer_options) > 190


def test_answer_lists_in_assets():
    countries = read_answer_list("countries")
    states = read_answer_list("us_states")
    assert len(countries) == len(set(countries)) == 197
    assert {"France", "India", "Japan", "United States"} <= set(countries)
    assert len(states) == 50 and "Kansas" in states
    assert set(read_answer_list("geoscenes")) <= set(countries)


def test_geoscenes_list_matches_the_generator():
    from geoquiz.data.geoscenes import COUNTRIES

    assert read_answer_list("geoscenes") == tuple(COUNTRIES)


def _replace(old: str, new: str) -> str:
    assert old in VALID, old
    return VALID.replace(old, new, 1)


# (mutated text, line, field, part of the message)
INVALID = {
    "syntax error": (_replace("seed = 1", "seed = = 1"), 14, "", "TOML syntax error"),
    "missing slug": (_replace('slug = "t1"\n', ""), 1, "slug", "missing required field"),
    "bad slug": (_replace('slug = "t1"', 'slug = "Bad Slug!"'), 1, "slug", "lower-case letters"),
    "empty title": (_replace('title = "A test study"', 'title = "  "'), 2, "title", "must not be empty"),
    "unknown top key": (
        _replace('title = "A test study"', 'title = "x"\ncolour = "red"'),
        3,
        "colour",
        "unknown field",
    ),
    "missing consent": (
        _replace('[consent]\ntext = "Do you agree?"\n', ""),
        1,
        "consent",
        "missing table [consent]",
    ),
    "consent not text": (
        _replace('text = "Do you agree?"', "text = 3"),
        5,
        "consent.text",
        "must be a string",
    ),
    "missing instructions text": (
        _replace('text = "Guess the country."', 'txt = "Guess"'),
        8,
        "instructions.txt",
        "unknown field",
    ),
    "missing dataset": (
        _replace('dataset = "geoscenes"\n', ""),
        10,
        "items.dataset",
        "missing required field",
    ),
    "bad split": (_replace('split = "test"', 'split = "holdout"'), 12, "items.split", "must be one of"),
    "bad selection": (
        _replace('selection = "stratified"', 'selection = "random"'),
        13,
        "items.selection",
        "must be one of",
    ),
    "stratified without seed": (_replace("seed = 1\n", ""), 10, "items.seed", "missing required field"),
    "keys with stratified": (
        _replace("seed = 1", 'seed = 1\nkeys = ["a"]'),
        15,
        "items.keys",
        "only applies to selection",
    ),
    "fixed without keys": (
        _replace('selection = "stratified"', 'selection = "fixed"').replace("count = 3\n", ""),
        10,
        "items.keys",
        "a fixed selection lists",
    ),
    "fixed count mismatch": (
        _replace('selection = "stratified"', 'selection = "fixed"\nkeys = ["a", "b"]'),
        18,
        "trials.count",
        "items.keys lists 2",
    ),
    "duplicate key": (
        _replace('selection = "stratified"', 'selection = "fixed"\nkeys = [\n  "a",\n  "a",\n]').replace(
            "count = 3\n", ""
        ),
        16,
        "items.keys[1]",
        "listed twice",
    ),
    "practice key also main": (
        _replace(
            'selection = "stratified"', 'selection = "fixed"\nkeys = ["a"]\npractice_keys = ["a"]'
        ).replace("count = 3", "count = 1"),
        15,
        "items.practice_keys[0]",
        "also a main trial",
    ),
    "count zero": (_replace("count = 3", "count = 0"), 17, "trials.count", "between 1 and"),
    "count not int": (_replace("count = 3", 'count = "3"'), 17, "trials.count", "must be an integer"),
    "negative practice": (_replace("practice = 1", "practice = -1"), 18, "trials.practice", "between 0 and"),
    "time limit bool": (
        _replace("time_limit_s = 0", "time_limit_s = true"),
        20,
        "trials.time_limit_s",
        "integer",
    ),
    "feedback not bool": (
        _replace("feedback = false", 'feedback = "no"'),
        21,
        "trials.feedback",
        "true or false",
    ),
    "bad view": (
        _replace("feedback = false", 'feedback = false\nviews = ["north", "up"]'),
        22,
        "trials.views[1]",
        "unknown view",
    ),
    "unknown list": (
        _replace('list = "geoscenes"', 'list = "planets"'),
        24,
        "answers.list",
        "must be one of",
    ),
    "list and options": (
        _replace('list = "geoscenes"', 'list = "geoscenes"\noptions = ["A", "B"]'),
        25,
        "answers.options",
        "not both",
    ),
    "one option": (
        _replace('list = "geoscenes"', 'options = ["A"]').replace("top_k = 3", "top_k = 1"),
        24,
        "answers.options",
        "at least two",
    ),
    "top_k zero": (_replace("top_k = 3", "top_k = 0"), 27, "responses.top_k", "between 1 and 20"),
    "top_k above options": (
        _replace("top_k = 3", "top_k = 5"),
        27,
        "responses.top_k",
        "only 3 answer options",
    ),
    "misspelt response": (_replace("top_k = 3", "top-k = 3"), 27, "responses.top-k", "unknown field"),
    "min guesses above k": (
        _replace("top_k = 3", "top_k = 2\nmin_guesses = 3"),
        28,
        "responses.min_guesses",
        "more than top_k",
    ),
    "bad confidence levels": (
        _replace("confidence_levels = 5", "confidence_levels = 1"),
        28,
        "responses.confidence_levels",
        "between 2",
    ),
    "wrong schema": ("schema = 2\n" + VALID, 1, "schema", "reads schema 1"),
    "table as value": (
        'answers = "geoscenes"\n' + _replace('[answers]\nlist = "geoscenes"\n', ""),
        1,
        "answers",
        "must be a table",
    ),
}


@pytest.mark.parametrize("case", sorted(INVALID))
def test_invalid_study_names_file_line_and_field(case):
    text, line, field, fragment = INVALID[case]
    with pytest.raises(StudyDefinitionError) as info:
        loads_study(text, "studies/broken.toml")
    problems = info.value.problems
    assert (line, field) in [(p[0], p[1]) for p in problems], (case, problems)
    message = str(info.value)
    assert "studies/broken.toml" in message and f"line {line}" in message and fragment in message
    if field:
        assert f"field {field}" in message


def test_several_problems_are_all_reported():
    text = _replace("count = 3", "count = 0").replace("top_k = 3", "top_k = 0")
    with pytest.raises(StudyDefinitionError) as info:
        loads_study(text, "s.toml")
    assert [(p[0], p[1]) for p in info.value.problems] == [(17, "trials.count"), (27, "responses.top_k")]
    assert str(info.value).startswith("s.toml: 2 problems")


def test_missing_and_unreadable_files(tmp_path):
    with pytest.raises(StudyDefinitionError, match="no such study file"):
        load_study(tmp_path / "nope.toml")
    bad = tmp_path / "latin1.toml"
    bad.write_bytes("title = 'caf\xe9'".encode("latin-1"))
    with pytest.raises(StudyDefinitionError, match="cannot read"):
        load_study(bad)


def test_key_lines_skip_strings_and_find_array_elements():
    text = 'a = """\nfake = 1\n[nope]\n"""\n[t]\nk = [\n  "x",\n  "y",\n]\n[[arr]]\nz = 1\n[[arr]]\nz = 2\n'
    lines = key_lines(text)
    assert lines[("a",)] == 1 and ("fake",) not in lines and ("nope",) not in lines
    assert (lines[("t", "k")], lines[("t", "k", 0)], lines[("t", "k", 1)]) == (6, 7, 8)
    assert (lines[("arr", 0, "z")], lines[("arr", 1, "z")]) == (11, 13)


# -- against a project ----------------------------------------------------------------------------


def _write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "study.toml"
    path.write_text(text, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    "old,new,line,field,fragment",
    [
        ('dataset = "geoscenes"', 'dataset = "nothing"', 11, "items.dataset", "no dataset 'nothing'"),
        ("count = 3", "count = 30", 17, "trials.count", "needs 10 items labelled"),
        (
            'selection = "stratified"',
            'selection = "fixed"\nkeys = ["france-00", "zz", "india-00"]',
            14,
            "items.keys[1]",
            "no item 'zz'",
        ),
        ("feedback = false", 'feedback = false\nviews = ["north"]', 22, "trials.views", "is single-view"),
        (
            'list = "geoscenes"',
            'options = ["France", "Japan", "Spain"]',
            24,
            "answers.options",
            "true label 'India'",
        ),
        ("practice = 1", "practice = 30", 18, "trials.practice", "needs 30 practice items"),
        ("attention = 1", "attention = 20", 19, "trials.attention", "needs 20 attention-check items"),
    ],
)
def test_install_checks_against_the_project(quiz_project, tmp_path, old, new, line, field, fragment):
    path = _write(tmp_path, _replace(old, new))
    with pytest.raises(StudyDefinitionError) as info:
        install_study(quiz_project, path)
    assert [(p[0], p[1]) for p in info.value.problems] == [(line, field)]
    assert fragment in str(info.value) and str(path) in str(info.value)
    assert quiz_project.db.execute("SELECT COUNT(*) FROM studies").fetchone()[0] == 0


def test_install_is_idempotent_and_guards_changes_with_sessions(quiz_project, tmp_path):
    from geoquiz.study.session import create_session

    path = _write(tmp_path, VALID)
    first = install_study(quiz_project, path)
    assert install_study(quiz_project, path) == first
    path.write_text(_replace('title = "A test study"', 'title = "Renamed"'))
    assert install_study(quiz_project, path) == first  # no sessions yet: replaced in place
    assert quiz_project.db.execute("SELECT title FROM studies").fetchone()[0] == "Renamed"
    create_session(quiz_project.db, "t1", seed=1)
    path.write_text(_replace("count = 3", "count = 6"))
    with pytest.raises(StudyDefinitionError, match=r"line 1, field slug: .*1 session"):
        install_study(quiz_project, path)
    assert install_study(quiz_project, path, replace=True) == first
    rows = quiz_project.db.execute("SELECT COUNT(*) FROM studies").fetchone()[0]
    assert rows == 1


def test_examples_install_on_a_geoscenes_project(quiz_project):
    ids = [install_study(quiz_project, p) for p in sorted(studies_dir().glob("*.toml"))]
    slugs = [r[0] for r in quiz_project.db.execute("SELECT slug FROM studies ORDER BY id")]
    assert len(ids) == 2 and sorted(slugs) == ["geoscenes-4view", "geoscenes-countries"]


PLACEHOLDER_TEXT = """\
slug = "ph"
title = "Placeholders"

[consent]
text = \"\"\"
You will see {n_total} pictures: {n_practice} practice, then {n_pictures}
({n_trials} main and {n_attention} checks). {{Braces}} stay.
\"\"\"

[instructions]
text = "Up to {top_k} guesses, at least {min_guesses}; {time_limit} ({time_limit_s} s) each; 1-{confidence_levels}."

[items]
dataset = "geoscenes"
seed = 1

[trials]
count = 12
practice = 2
attention = 1
time_limit_s = 150

[answers]
list = "geoscenes"

[responses]
top_k = 3
"""


def test_placeholders_are_filled_from_the_definition():
    study = loads_study(PLACEHOLDER_TEXT, "ph.toml")
    assert study.n_pictures == 13 and study.n_total == 15
    assert " ".join(study.consent_text.split()) == (
        "You will see 15 pictures: 2 practice, then 13 (12 main and 1 checks). {Braces} stay."
    )
    assert study.instructions == "Up to 3 guesses, at least 1; 2 minutes 30 seconds (150 s) each; 1-5."
    four = loads_study(
        PLACEHOLDER_TEXT.replace("{top_k} guesses", "{n_views} views ({views}), {top_k} guesses").replace(
            "practice = 2", 'practice = 2\nviews = ["north", "south"]'
        ),
        "ph4.toml",
    )
    assert four.instructions.startswith("Up to 2 views (north and south), 3 guesses")


@pytest.mark.parametrize(
    "old,new,line,field,fragment",
    [
        ("({n_trials} main", "({n_trails} main", 7, "consent.text", "unknown placeholder {n_trails}"),
        ("{{Braces}}", "{Braces}", 7, "consent.text", "unknown placeholder {Braces}"),
        ("{{Braces}} stay", "{ stay", 7, "consent.text", "literal braces"),
        ("{{Braces}} stay", "} stay", 7, "consent.text", "literal braces"),
        ("{n_total} pictures", "{n_total:3} pictures", 6, "consent.text", "takes no format"),
        ("time_limit_s = 150", "time_limit_s = 0", 11, "instructions.text", "no time limit"),
        ("{top_k} guesses", "{views} guesses", 11, "instructions.text", "single pictures"),
        ('title = "Placeholders"', 'title = "Study {x}"', 2, "title", "unknown placeholder {x}"),
    ],
)
def test_a_bad_placeholder_is_a_definition_error(old, new, line, field, fragment):
    assert old in PLACEHOLDER_TEXT
    with pytest.raises(StudyDefinitionError) as info:
        loads_study(PLACEHOLDER_TEXT.replace(old, new), "studies/ph.toml")
    message = str(info.value)
    assert f"studies/ph.toml, line {line}, field {field}: " in message and fragment in message, message


def test_example_studies_state_their_counts_and_time_out():
    single = load_study(studies_dir() / "geoscenes_countries.toml")
    assert "You will see 15 pictures: 2 to practise, then 13 for the study" in " ".join(
        single.consent_text.split()
    )
    text = " ".join(single.instructions.split())
    assert "You have 90 seconds per picture" in text and '"Time is up" page appears' in text
    assert "pictures 1 to 13" in text and "Ctrl+Up / Ctrl+Down" in text
    four = load_study(studies_dir() / "geoscenes_4view.toml")
    assert "There is no time limit" in four.instructions and "places 1 to 6" in " ".join(
        four.instructions.split()
    )
