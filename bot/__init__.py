"""The GitHub side: webhook app, commands, GitHub client, comment rendering. Imports nothing heavy."""
