"""The documentation and the code agree: every setting is documented with its real default."""

from __future__ import annotations

import re
from pathlib import Path

from newscrawl.config import KINDS, SETTINGS

ROOT = Path(__file__).resolve().parent.parent
ROW = re.compile(r"^\| `(NEWSCRAWL_[A-Z_]+)` \| (.+?) \| (.+?) \|$", re.M)


def documented_settings() -> dict[str, str]:
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    return {name: default for name, default, _ in ROW.findall(text)}


def test_every_setting_is_documented_with_its_default() -> None:
    documented = documented_settings()
    for setting in SETTINGS:
        assert setting.name in documented, f"{setting.name} is missing from docs/settings.md"
        expected = f"`{setting.default}`" if setting.default is not None else "unset"
        assert documented[setting.name] == expected, setting.name


def test_no_documented_setting_is_unknown_to_the_code() -> None:
    assert set(documented_settings()) == {s.name for s in SETTINGS}


def test_settings_module_reads_every_setting() -> None:
    import newscrawl.settings as settings_module

    for setting in SETTINGS:
        assert hasattr(settings_module, setting.name), setting.name


def test_every_setting_is_listed_under_the_form_it_accepts() -> None:
    text = (ROOT / "docs" / "settings.md").read_text(encoding="utf-8")
    accepted = text.split("## Accepted values", 1)[1].split("\n## ", 1)[0]
    lines = [line for line in accepted.splitlines() if line.startswith("- ")]
    for setting in SETTINGS:
        line = next((line for line in lines if f"`{setting.name}`" in line), None)
        assert line is not None, f"{setting.name} is not listed under 'Accepted values' in docs/settings.md"
        assert line.startswith(f"- {KINDS[setting.kind].form}"), f"{setting.name}: {line}"


def modules_and_their_accepted_names() -> dict[str, set[str]]:
    """Every module under newscrawl/ and pipelines/, with the names that count as naming it in a doc.

    A package's ``__init__.py`` is named by its folder (``newscrawl/storage/``); a migration script by the
    migrations' folder, since docs/schema.md lists each revision (tests/test_schema_doc.py checks that list).
    """
    modules: dict[str, set[str]] = {}
    for package in ("newscrawl", "pipelines"):
        for path in sorted((ROOT / package).rglob("*.py")):
            name = path.relative_to(ROOT).as_posix()
            accepted = {name}
            if path.name == "__init__.py" and path.parent.parent != ROOT:
                accepted.add(path.parent.relative_to(ROOT).as_posix() + "/")
            if path.parent.name == "versions" and path.parent.parent.name == "migrations":
                accepted.add(path.parent.relative_to(ROOT).as_posix() + "/")
            modules[name] = accepted
    return modules


def test_every_module_is_named_in_the_architecture() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    unnamed = [name for name, accepted in modules_and_their_accepted_names().items()
               if not any(f"`{form}`" in text for form in accepted)]
    assert not unnamed, f"modules missing from docs/architecture.md: {unnamed}"


def test_the_architecture_names_no_module_that_is_gone() -> None:
    text = (ROOT / "docs" / "architecture.md").read_text(encoding="utf-8")
    named = set(re.findall(r"`((?:newscrawl|pipelines)/[\w/]+\.py)`", text))
    assert named <= set(modules_and_their_accepted_names()), sorted(named - set(modules_and_their_accepted_names()))
