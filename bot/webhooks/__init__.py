"""GitHub webhooks: signature checks, payload parsing into small events, routing events to tasks."""
