"""The worklist's CSV table: one row per worklist row (`app.http.csv`)."""

from app.http.csv import Column

COLUMNS = (
    Column("id", "The row: a trigger id, or `<episode key>:<day>` for a pain score."),
    Column("kind", "pain_score_due or imaging_trigger."),
    Column("patient_id", "The patient (UUID)."),
    Column(
        "patient_label",
        "A label telling patients apart (an MRN only for scopes that see identifiers).",
    ),
    Column("episode_key", "The episode: its series id, or its procedure id."),
    Column("procedure_id", "The episode's last session (t0)."),
    Column("procedure_kind", "vertebroplasty or kyphoplasty."),
    Column("levels", "The episode's levels, craniocaudal, `;`-separated."),
    Column("operators", "The episode's operators, `;`-separated."),
    Column("t0", "The episode's last session", "ISO 8601, UTC"),
    Column("target_pain_site", "The pain to score: back or leg."),
    Column("due_at", "When it is due", "ISO 8601, UTC"),
    Column("overdue", "Due before as_of (true/false)."),
    Column("day", "Pain score: the protocol time point; trigger: its due time", "days after t0"),
    Column("window_opens", "Pain score: the window opens", "ISO 8601, UTC"),
    Column("window_closes", "Pain score: the window closes", "ISO 8601, UTC"),
    Column("score_in_window", "Pain score: a score already lies in the window (true/false)."),
    Column("trigger_id", "Imaging trigger: its id."),
    Column("rule", "Imaging trigger: no_improvement, follow_up_overdue or worsening."),
    Column("status", "Imaging trigger: open, acknowledged or imaging_ordered."),
    Column("version", 'Imaging trigger: its version (If-Match: "<version>").'),
    Column("sentence", "What is to be done and why."),
)
