"""Concept vocabularies: GeoQuiz's assets/concepts.toml, a project's own file, and errors with file and line."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from geoquiz.config import ConceptSettings, Settings, dump_settings, load_settings
from geoquiz.errors import ConfigError
from geoquiz.segmentation.concepts import (
    VocabularyError,
    default_vocabulary_path,
    load_vocabulary,
    parse_vocabulary,
    resolve_vocabulary_path,
)
from geoquiz.types import CUE_TAGS


def test_geoquiz_vocabulary_has_about_200_concepts_over_every_cue_tag():
    vocab = load_vocabulary()
    assert vocab.source == str(default_vocabulary_path())
    assert 180 <= len(vocab) <= 240
    assert set(vocab.counts()) == set(CUE_TAGS)
    assert min(vocab.counts().values()) >= 10
    assert ("yellow centre line", "road_markings") in {(c.text, c.tag) for c in vocab.concepts}
    assert ("white bollard with a red band", "bollards") in {(c.text, c.tag) for c in vocab.concepts}
    assert load_vocabulary() is vocab  # memoised per file version
    assert len(vocab.digest) == 40


def test_whitespace_is_collapsed_and_the_digest_ignores_comments():
    a = parse_vocabulary('[concepts]\nsigns = ["  stop   sign "]\n')
    b = parse_vocabulary('# a comment\nname = "x"\n[concepts]\nsigns = [\n  "stop sign",  # here\n]\n')
    assert a.texts == ("stop sign",) and a.digest == b.digest and b.name == "x"


BAD = """name = "broken"
colour = "blue"
[concepts]
signs = ["stop sign", "give way sign"]
kerbs = ["striped kerb"]
poles = "utility pole"
vegetation = [
    "palm tree",
    "Stop  Sign",
    "",
    "a very long concept that goes on and on with far too many words",
    3,
]
"""


def test_every_problem_is_reported_with_its_line():
    with pytest.raises(VocabularyError) as info:
        parse_vocabulary(BAD, "bad.toml")
    problems = dict(info.value.problems)
    assert "unknown key 'colour'" in problems[2]
    assert "unknown cue tag 'kerbs'" in problems[5]
    assert "concepts.poles must be a list" in problems[6]
    assert "'Stop Sign' is listed twice (first on line 4)" in problems[9]
    assert "an empty concept" in problems[10]
    assert "too long" in problems[11]
    assert "3 is not text" in problems[7]
    assert str(info.value).startswith("bad.toml: 7 problems")


@pytest.mark.parametrize(
    "text, line, message",
    [
        ('[concepts]\nsigns = ["stop sign"\n', 2, "TOML syntax error"),
        ('[concepts]\nsigns = ["stop sign"]\nsigns = ["x"]\n', 3, "TOML syntax error"),
        ('name = "x"\n', 1, "a [concepts] table"),
        ("[concepts]\n", 1, "holds no concepts"),
    ],
)
def test_whole_file_problems(text, line, message):
    with pytest.raises(
        VocabularyError, match=re.escape(f"v.toml, line {line}: ") + ".*" + re.escape(message)
    ):
        parse_vocabulary(text, "v.toml")


def test_a_project_vocabulary_setting(tmp_path):
    root = tmp_path / "proj"
    root.mkdir()
    assert resolve_vocabulary_path("", root) == default_vocabulary_path()
    assert resolve_vocabulary_path("mine.toml", root) == root / "mine.toml"
    assert resolve_vocabulary_path(str(tmp_path / "abs.toml"), root) == tmp_path / "abs.toml"
    with pytest.raises(ConfigError, match="mine.toml cannot be read"):
        load_vocabulary(root / "mine.toml")
    (root / "mine.toml").write_text('[concepts]\nsigns = ["stop sign"]\n', encoding="utf-8")
    assert load_vocabulary(root / "mine.toml").texts == ("stop sign",)
    toml = root / "project.toml"
    toml.write_text(dump_settings(Settings(concepts=ConceptSettings("mine.toml"))), encoding="utf-8")
    assert load_settings(toml).concepts.vocabulary == "mine.toml"
    toml.write_text('[concepts]\nvocab = "x"\n', encoding="utf-8")
    with pytest.raises(ConfigError, match="unknown setting.*vocab"):
        load_settings(toml)


def test_the_shipped_file_is_valid_toml_text():
    text = Path(default_vocabulary_path()).read_text(encoding="utf-8")
    assert text.count('"') // 2 >= len(load_vocabulary())
