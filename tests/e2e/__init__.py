"""End-to-end tests of the GitHub bot: receiver, queue, worker, git and the fake GitHub, all real."""
