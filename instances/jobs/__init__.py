"""Jobs over many instances, the task that runs them, and the schedules."""
