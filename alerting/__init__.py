"""Alert rules, their state machine, notifiers and the outbox dispatcher."""
