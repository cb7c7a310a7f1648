"""The app's behaviour, one controller per context (as lazygit has them).

The app composes the widgets and routes each key and message to the controller of its
context: the hosts (events in), the sessions (the grid's keys on the selected session), the
answers (allow, deny, an option of the selected agent's dialog), the review (the diff
panel's loading and decisions), the view (filter, commands, grouping) and the pools' reaping
(idle_ttl, while the app runs).
"""

from fleet.ui.controllers.answer import AnswerController
from fleet.ui.controllers.hosts import HostsController
from fleet.ui.controllers.reaping import ReapingController
from fleet.ui.controllers.review import ReviewController
from fleet.ui.controllers.sessions import SessionsController
from fleet.ui.controllers.view import ViewController

__all__ = [
    "AnswerController",
    "HostsController",
    "ReapingController",
    "ReviewController",
    "SessionsController",
    "ViewController",
]
