"""Hand-written fakes of the services doppel talks to."""
