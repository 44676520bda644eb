"""The course's trusted grading side: intake, sandboxed library checks, nbgrader glue, feedback, export."""
