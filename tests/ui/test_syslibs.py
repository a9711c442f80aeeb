"""ui.syslibs: the missing system libraries of Qt's xcb plugin and the one command installing them."""

from __future__ import annotations

import subprocess
import sys

from ui import syslibs

LDD_OUTPUT = """\
\tlinux-vdso.so.1 (0x00007ffd)
\tlibQt6XcbQpa.so.6 => /venv/PySide6/Qt/lib/libQt6XcbQpa.so.6 (0x00007f)
\tlibxcb-cursor.so.0 => not found
\tlibEGL.so.1 => not found
\tlibxkbcommon-x11.so.0 => not found
\tlibxcb.so.1 => /lib/x86_64-linux-gnu/libxcb.so.1 (0x00007f)
"""

UBUNTU = 'NAME="Ubuntu"\nID=ubuntu\nID_LIKE=debian\nVERSION_ID="24.04"\n'
FEDORA = 'NAME="Fedora Linux"\nID=fedora\nVERSION_ID=40\n'
ROCKY = 'ID="rocky"\nID_LIKE="rhel centos fedora"\n'


def test_missing_libraries_are_read_from_ldd():
    assert syslibs.missing_from_ldd(LDD_OUTPUT) == [
        "libEGL.so.1",
        "libxcb-cursor.so.0",
        "libxkbcommon-x11.so.0",
    ]


def test_one_install_command_per_system():
    missing = syslibs.missing_from_ldd(LDD_OUTPUT)
    assert syslibs.package_manager(UBUNTU) == "apt"
    assert syslibs.package_manager(FEDORA) == "dnf"
    assert syslibs.package_manager(ROCKY) == "dnf"
    assert syslibs.package_manager("ID=plan9\n") is None
    assert (
        syslibs.install_command(missing, "apt")
        == "sudo apt-get install -y libegl1 libxcb-cursor0 libxkbcommon-x11-0"
    )
    assert (
        syslibs.install_command(missing, "dnf")
        == "sudo dnf install -y libglvnd-egl libxkbcommon-x11 xcb-util-cursor"
    )
    text = syslibs.message(missing, "apt")
    assert "libxcb-cursor.so.0" in text and "sudo apt-get install -y libegl1" in text
    unknown = syslibs.message(missing, None)
    assert "libxcb-cursor.so.0" in unknown and "sudo" not in unknown


def test_only_the_xcb_platform_is_checked():
    assert syslibs.needs_xcb({}, "linux")
    assert syslibs.needs_xcb({"QT_QPA_PLATFORM": "xcb"}, "linux")
    assert not syslibs.needs_xcb({"QT_QPA_PLATFORM": "offscreen"}, "linux")
    assert not syslibs.needs_xcb({"QT_QPA_PLATFORM": "wayland"}, "linux")
    assert not syslibs.needs_xcb({}, "darwin")
    assert not syslibs.needs_xcb({}, "win32")


def test_this_machine_and_the_module_entry_point():
    plugin = syslibs.xcb_plugin()
    assert plugin is None or plugin.name == "libqxcb.so"
    assert isinstance(syslibs.missing_libraries(), list)
    # offscreen (the tests' platform): nothing to check, exit 0
    out = subprocess.run(
        [sys.executable, "-m", "ui.syslibs"],
        capture_output=True,
        text=True,
        env={**__import__("os").environ, "QT_QPA_PLATFORM": "offscreen"},
        timeout=60,
    )
    assert out.returncode == 0 and "no xcb check needed" in out.stdout
