"""Views: what a run looks like to a person (ladder, explain, diff, golden files, pcapng, index)."""
