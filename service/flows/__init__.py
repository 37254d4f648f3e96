"""The order flows: one module per flow, plus what every flow shares."""
