"""Print pip constraints that pin every requirement of settings.ini to its declared floor (`>=X` -> `==X`).

CI installs the package with these constraints in a second environment and runs the fast unit tests, so a
floor that is too low (an API the code uses that the floor version lacks) fails CI."""
import re
import shlex
import sys
from configparser import ConfigParser
from pathlib import Path

cfg = ConfigParser(delimiters=["="])
cfg.read(Path(__file__).resolve().parents[1] / "settings.ini", encoding="utf-8")
for req in shlex.split(cfg["DEFAULT"].get("requirements", "")):
    m = re.fullmatch(r"([A-Za-z0-9_.\-\[\]]+)\s*(>=|==)\s*([^,;\s]+)(?:,<[^,;\s]+)?", req)
    if not m:
        sys.exit(f"min_versions: cannot read a floor from requirement {req!r} in settings.ini")
    name, _, version = m.groups()
    print(f"{name.split('[')[0]}=={version}")
