"""Course facts shared by every tool: the topic registry (``course.topics``)."""

from course.topics import START_HERE, TOPICS, Topic, UnknownTopic, find, load, owner, student_modules

__all__ = ["START_HERE", "TOPICS", "Topic", "UnknownTopic", "find", "load", "owner", "student_modules"]
