"""Labels: the join with predictions, outcomes, performance and concept drift."""
