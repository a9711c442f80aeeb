"""The main window's tabs. Each entry: (tab title, module, class). A view class is constructed as
``View(ctx: ui.context.AppContext, parent=None)`` and refreshes itself on ``ctx.project_changed``
and ``ctx.data_changed``. Views never compute: they start workers (ui.workers) that call geoquiz.
"""

VIEWS: list[tuple[str, str, str]] = [
    ("Dataset", "ui.views.dataset_view", "DatasetView"),
    ("Model", "ui.views.model_view", "ModelView"),
    ("Explain", "ui.views.explain_view", "ExplainView"),
    ("Faithfulness", "ui.views.faithfulness_view", "FaithfulnessView"),
    ("Causal", "ui.views.causal_view", "CausalView"),
    ("Studies", "ui.views.studies_view", "StudiesView"),
    ("Review", "ui.views.review_view", "ReviewView"),
    ("Dashboards", "ui.views.dashboard_view", "DashboardView"),
]
