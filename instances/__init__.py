"""The product. This package is the instance core (models, parameters, forms, the create and
consent flow, lifecycle services, dashboard pages); each other domain is a subpackage of its own.
See docs/architecture.md."""
