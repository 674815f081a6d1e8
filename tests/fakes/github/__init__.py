"""A faithful fake of the parts of GitHub's REST API (and one GraphQL mutation) doppel uses."""

from tests.fakes.github.server import Exchange, FakeGitHubApp, FakeGitHubServer
from tests.fakes.github.state import FakeFile, FakeGitHub, FakePull, FakeRepo

__all__ = ["Exchange", "FakeFile", "FakeGitHub", "FakeGitHubApp", "FakeGitHubServer", "FakePull", "FakeRepo"]
