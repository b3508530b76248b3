"""The pure domain of the sessions service: the per-pair `Mentorship` aggregate (model), commands,
programme outcome figures (outcomes) and iCalendar invitations (calendar). No I/O anywhere here."""
