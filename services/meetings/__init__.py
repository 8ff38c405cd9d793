"""Forum meetings: sessions, Chair, invitations, agendas, presentations, experts, briefings."""
