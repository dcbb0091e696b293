"""One router per resource; ``vivim.api.app`` lists them."""
