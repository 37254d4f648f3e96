"""The pieces of the fetch-orders flow: lookups, customers, addresses, one order."""
