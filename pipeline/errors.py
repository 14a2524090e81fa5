"""Domain exceptions of the pipeline; the edges (CLI, bot) turn them into messages."""


class PipelineError(Exception):
    """Base class: the message is meant for a user."""


class CsvFormatError(PipelineError):
    """A CSV file that cannot be read; the message names the file and line."""


class ModelLoadError(PipelineError):
    """An embedding model that cannot be loaded; the message names the setting."""
