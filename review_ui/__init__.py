"""The technicians' review web app (served by `chartmigrate serve`; arrives with the review-queue work)."""
