"""Menu entries contributed by dialogs: (menu, text, module, function, researcher_only).

``function(ctx, parent)`` opens the dialog. The main window builds its menus from this list, importing
each module only when its entry is triggered (so the window opens fast and torch loads lazily).
"""

ACTIONS: list[tuple[str, str, str, str]] = [
    ("&File", "&Import dataset…", "ui.dialogs.import_dialog", "open_import_dialog"),
    ("&File", "&Export study data…", "ui.dialogs.export_dialog", "open_export_dialog"),
    ("&File", "&Settings…", "ui.dialogs.settings_dialog", "open_settings_dialog"),
    ("&Model", "&Train a model…", "ui.dialogs.train_dialog", "open_train_dialog"),
    ("&Study", "&Start a participant session…", "ui.quiz.launcher", "open_session_launcher"),
    ("&Help", "&Welcome — where to start…", "ui.dialogs.welcome", "open_welcome"),
]
