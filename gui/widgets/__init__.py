"""Small widgets the views share: the state badge, the date-range filter, the hourly chart."""
