"""Before Qt starts: are the system libraries of Qt's xcb platform plugin installed? (no Qt import)

PySide6 >= 6.5 ships its own Qt, but the xcb platform plugin (the X11 / XWayland backend) links
system libraries that a fresh Linux desktop often lacks, ``libxcb-cursor0`` above all (new in Qt
6.5), then ``libegl1`` and ``libxkbcommon-x11-0``. Without them Qt aborts with "could not load the
Qt platform plugin "xcb"" and a core dump. :func:`check` finds the missing ones first and prints the
one command that installs them on this system (Debian/Ubuntu ``apt-get``, Fedora/RHEL ``dnf``,
openSUSE ``zypper``, Arch ``pacman``; other systems get the library names). macOS and Windows need
nothing; neither does a run with ``QT_QPA_PLATFORM`` set to another platform (``offscreen`` in the
tests, ``wayland``).

How: ``ldd`` on the plugin (``PySide6/Qt/plugins/platforms/libqxcb.so``) lists every library the
dynamic loader cannot find, the plugin's own Qt libraries excepted; without ``ldd`` each known
library is loaded with ``ctypes`` instead.

``python -m ui.syslibs`` prints the verdict and exits 1 when something is missing; ``main.py`` (so
``make run``) calls :func:`check` before importing Qt.
"""

from __future__ import annotations

import ctypes
import os
import shutil
import subprocess
import sys
from pathlib import Path

#: soname -> (Debian/Ubuntu package, Fedora/RHEL package, openSUSE package, Arch package)
PACKAGES: dict[str, tuple[str, str, str, str]] = {
    "libxcb-cursor.so.0": ("libxcb-cursor0", "xcb-util-cursor", "libxcb-cursor0", "xcb-util-cursor"),
    "libxkbcommon-x11.so.0": (
        "libxkbcommon-x11-0",
        "libxkbcommon-x11",
        "libxkbcommon-x11-0",
        "libxkbcommon-x11",
    ),
    "libxkbcommon.so.0": ("libxkbcommon0", "libxkbcommon", "libxkbcommon0", "libxkbcommon"),
    "libEGL.so.1": ("libegl1", "libglvnd-egl", "libEGL1", "libglvnd"),
    "libGL.so.1": ("libgl1", "libglvnd-glx", "libGL1", "libglvnd"),
    "libxcb-icccm.so.4": ("libxcb-icccm4", "xcb-util-wm", "libxcb-icccm4", "xcb-util-wm"),
    "libxcb-util.so.1": ("libxcb-util1", "xcb-util", "libxcb-util1", "xcb-util"),
    "libxcb-image.so.0": ("libxcb-image0", "xcb-util-image", "libxcb-image0", "xcb-util-image"),
    "libxcb-keysyms.so.1": ("libxcb-keysyms1", "xcb-util-keysyms", "libxcb-keysyms1", "xcb-util-keysyms"),
    "libxcb-render-util.so.0": (
        "libxcb-render-util0",
        "xcb-util-renderutil",
        "libxcb-render-util0",
        "xcb-util-renderutil",
    ),
    "libxcb-randr.so.0": ("libxcb-randr0", "libxcb", "libxcb-randr0", "libxcb"),
    "libxcb-shm.so.0": ("libxcb-shm0", "libxcb", "libxcb-shm0", "libxcb"),
    "libxcb-sync.so.1": ("libxcb-sync1", "libxcb", "libxcb-sync1", "libxcb"),
    "libxcb-xfixes.so.0": ("libxcb-xfixes0", "libxcb", "libxcb-xfixes0", "libxcb"),
    "libxcb-render.so.0": ("libxcb-render0", "libxcb", "libxcb-render0", "libxcb"),
    "libxcb-shape.so.0": ("libxcb-shape0", "libxcb", "libxcb-shape0", "libxcb"),
    "libxcb-xkb.so.1": ("libxcb-xkb1", "libxcb", "libxcb-xkb1", "libxcb"),
    "libxcb.so.1": ("libxcb1", "libxcb", "libxcb1", "libxcb"),
    "libX11-xcb.so.1": ("libx11-xcb1", "libX11-xcb", "libX11-xcb1", "libx11"),
    "libX11.so.6": ("libx11-6", "libX11", "libX11-6", "libx11"),
    "libfontconfig.so.1": ("libfontconfig1", "fontconfig", "libfontconfig1", "fontconfig"),
    "libfreetype.so.6": ("libfreetype6", "freetype", "libfreetype6", "freetype2"),
    "libdbus-1.so.3": ("libdbus-1-3", "dbus-libs", "libdbus-1-3", "dbus"),
    "libglib-2.0.so.0": ("libglib2.0-0", "glib2", "libglib-2_0-0", "glib2"),
}

#: package manager -> (index into PACKAGES' tuples, install command prefix)
MANAGERS: dict[str, tuple[int, str]] = {
    "apt": (0, "sudo apt-get install -y"),
    "dnf": (1, "sudo dnf install -y"),
    "zypper": (2, "sudo zypper install -y"),
    "pacman": (3, "sudo pacman -S --needed"),
}

#: os-release ID / ID_LIKE words -> package manager
DISTROS: dict[str, str] = {
    "debian": "apt",
    "ubuntu": "apt",
    "linuxmint": "apt",
    "pop": "apt",
    "fedora": "dnf",
    "rhel": "dnf",
    "centos": "dnf",
    "rocky": "dnf",
    "almalinux": "dnf",
    "opensuse": "zypper",
    "suse": "zypper",
    "arch": "pacman",
    "manjaro": "pacman",
}


def needs_xcb(environ: dict[str, str] | None = None, platform: str | None = None) -> bool:
    """Will Qt load the xcb plugin? Linux (and other X11 Unixes) unless another platform is chosen."""
    env = os.environ if environ is None else environ
    platform = sys.platform if platform is None else platform
    if platform == "darwin" or platform.startswith(("win", "cygwin")):
        return False
    chosen = env.get("QT_QPA_PLATFORM", "").strip().split(":")[0].split(";")[0]
    return chosen in ("", "xcb")


def xcb_plugin() -> Path | None:
    """PySide6's xcb platform plugin file (found without importing Qt), or None."""
    import importlib.util

    spec = importlib.util.find_spec("PySide6")
    if spec is None or not spec.submodule_search_locations:
        return None
    for base in spec.submodule_search_locations:
        path = Path(base) / "Qt" / "plugins" / "platforms" / "libqxcb.so"
        if path.is_file():
            return path
    return None


def missing_from_ldd(output: str) -> list[str]:
    """The sonames ``ldd`` reports as ``not found`` (Qt's own libraries are never missing)."""
    missing = []
    for line in output.splitlines():
        name, _, rest = line.strip().partition("=>")
        if "not found" in rest and name.strip() and not name.strip().startswith("libQt6"):
            missing.append(name.strip())
    return sorted(set(missing))


def missing_libraries(plugin: Path | None = None) -> list[str]:
    """Sonames the xcb plugin needs that the system cannot load ([] when all are there)."""
    plugin = plugin or xcb_plugin()
    ldd = shutil.which("ldd")
    if plugin is not None and ldd:
        try:
            out = subprocess.run([ldd, str(plugin)], capture_output=True, text=True, timeout=20, check=False)
            return missing_from_ldd(out.stdout + out.stderr)
        except (OSError, subprocess.SubprocessError):
            pass
    missing = []
    for soname in PACKAGES:
        try:
            ctypes.CDLL(soname)
        except OSError:
            missing.append(soname)
    return missing


def package_manager(os_release: str | None = None) -> str | None:
    """``apt`` / ``dnf`` / ``zypper`` / ``pacman`` from /etc/os-release (ID, then ID_LIKE), or None."""
    if os_release is None:
        try:
            os_release = Path("/etc/os-release").read_text(encoding="utf-8")
        except OSError:
            return None
    fields = {}
    for line in os_release.splitlines():
        key, _, value = line.partition("=")
        fields[key.strip()] = value.strip().strip('"').lower()
    for word in [fields.get("ID", ""), *fields.get("ID_LIKE", "").split()]:
        for distro, manager in DISTROS.items():
            if word == distro or word.startswith(distro):
                return manager
    return None


def install_command(missing: list[str], manager: str | None) -> str | None:
    """The one command installing ``missing`` with ``manager``; None when the manager is unknown."""
    if manager not in MANAGERS:
        return None
    index, prefix = MANAGERS[manager]
    packages = sorted({PACKAGES[s][index] for s in missing if s in PACKAGES})
    unknown = [s for s in missing if s not in PACKAGES]
    if not packages:
        return None
    command = f"{prefix} {' '.join(packages)}"
    return command + (f"   # and the packages providing {', '.join(unknown)}" if unknown else "")


def message(missing: list[str], manager: str | None) -> str:
    """What to print when libraries are missing."""
    command = install_command(missing, manager)
    lines = [
        "GeoQuiz cannot open its window yet: Qt's xcb platform plugin needs system libraries that are "
        "not installed:",
        "  " + ", ".join(missing),
    ]
    if command:
        lines += ["Install them with:", f"  {command}"]
    else:
        lines += ["Install the packages of your system that provide them (names differ between systems)."]
    lines.append("Then run `make run` again. (QT_QPA_PLATFORM=offscreen skips this check, without a window.)")
    return "\n".join(lines)


def check(stream=None) -> bool:
    """True when Qt can load its platform plugin here; otherwise print :func:`message` and return False."""
    if not needs_xcb():
        return True
    missing = missing_libraries()
    if not missing:
        return True
    print(message(missing, package_manager()), file=stream or sys.stderr)
    return False


def main() -> int:
    if check():
        print("Qt's platform libraries are installed" if needs_xcb() else "no xcb check needed here")
        return 0
    return 1


if __name__ == "__main__":
    sys.exit(main())
