"""Study database, study definitions, quiz sessions and exports."""
