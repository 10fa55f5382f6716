"""The `stepstone` command: one click group (`main`) and its command modules."""
