"""The conversation core: answers, classification, escalation policy, hours, state, handoff."""
