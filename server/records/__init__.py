"""Records that leave the facility signed: its identity, and a learner's transfer."""
