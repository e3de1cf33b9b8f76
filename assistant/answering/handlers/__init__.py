"""One module per intent (see assistant/answering/registry.py): `applies(plan) -> bool` says whether a
question is its kind, `handle(ctx, plan) -> Answer` answers it."""
