"""The one build step pyproject.toml cannot declare: files the wheel needs that git does not hold
where the packages are.

- The compiled message catalogues (`handlers/locales/*/LC_MESSAGES/mitreden.mo`). They are build
  products (ignored by git; `make catalogs` compiles them in a checkout), yet an installed bot
  cannot start without them: `handlers/i18n.py` refuses to. `build_py` is the setuptools step
  that lays out the packages for every wheel, so compiling there, with Babel's Python API and
  the same `--use-fuzzy` as `make catalogs`, puts fresh catalogues into each wheel from the
  `.po` files, whatever the build tree holds. Babel is in `build-system.requires` for this.
- `config.example.toml`, copied from the repository root into `bot/`: the file stays where
  `make run`, the README and the tests use it, one copy, and an installed bot prints it with
  `mitreden config example` (bot/cli/config_cmd.py).

For an editable install (`pip install -e .`) the catalogues are compiled in place, next to
their `.po` files, as setuptools asks of build steps (`setuptools.command.build.SubCommand`);
the example configuration is then read from the checkout itself.
"""

from __future__ import annotations

import os
from pathlib import Path

from babel.messages.mofile import write_mo
from babel.messages.pofile import read_po
from setuptools import setup
from setuptools.command.build_py import build_py

EXAMPLE_CONFIG = "config.example.toml"
EXAMPLE_CONFIG_IN_WHEEL = os.path.join("bot", EXAMPLE_CONFIG)
CATALOGUES = "handlers/locales/*/LC_MESSAGES/mitreden.po"


class BuildWithCatalogues(build_py):
    """`build_py`, plus the compiled catalogues and the example configuration."""

    def run(self) -> None:
        super().run()
        for mo in self._catalogues():
            target = mo if self.editable_mode else self._built(mo)
            os.makedirs(os.path.dirname(target), exist_ok=True)
            with open(Path(mo).with_suffix(".po"), "rb") as po_file:
                catalogue = read_po(po_file)
            with open(target, "wb") as mo_file:
                write_mo(mo_file, catalogue, use_fuzzy=True)
        if not self.editable_mode:
            self.copy_file(EXAMPLE_CONFIG, self._built(EXAMPLE_CONFIG_IN_WHEEL))

    def get_outputs(self, include_bytecode: bool = True) -> list[str]:
        if self.editable_mode:  # setuptools answers with the keys of get_output_mapping
            return super().get_outputs(include_bytecode)
        added = [self._built(path) for path in (*self._catalogues(), EXAMPLE_CONFIG_IN_WHEEL)]
        return [*super().get_outputs(include_bytecode), *added]

    def get_output_mapping(self) -> dict[str, str]:
        mapping = super().get_output_mapping()
        mapping[self._built(EXAMPLE_CONFIG_IN_WHEEL)] = EXAMPLE_CONFIG
        if self.editable_mode:  # compiled in place, so the source tree holds them
            mapping.update({self._built(mo): mo for mo in self._catalogues()})
        return mapping

    def _catalogues(self) -> list[str]:
        """Each catalogue's `.mo` path relative to the project, one per `.po` file."""
        return sorted(str(po.with_suffix(".mo")) for po in Path().glob(CATALOGUES))

    def _built(self, path: str) -> str:
        return os.path.join(self.build_lib, path)


setup(cmdclass={"build_py": BuildWithCatalogues})
