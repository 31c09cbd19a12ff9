"""Electronic data interchange: EDIFACT and X12 readers and the documents Legato sends back."""
