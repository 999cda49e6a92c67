"""What every drill has, whatever its scenario: the plan's checklist items that apply to all
(health, critical endpoints, error rates, load), and the judgement against the objectives."""
