"""The board pack: a submission as a PDF, typeset from its frozen record alone, and checked against it."""
