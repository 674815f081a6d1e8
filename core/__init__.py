"""What every part of doppel shares: settings, domain types and errors. Imports nothing heavy."""
