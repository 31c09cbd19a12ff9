"""The workflow engine: the business's named rules at every order event.

A *workflow* has a name, a trigger (an event type, or a schedule), a CEL condition and an
ordered list of actions. The engine reads the transactional outbox; for each event it finds
the workflows whose trigger and condition match, records a *run* per match, and runs the
actions one *job* at a time, durably: a failed step is retried with backoff, then
dead-lettered; every attempt is logged; every outbound call carries an idempotency key
derived from (run, step) so a retry after a crash does not repeat an effect.

Modules: ``model`` (definitions), ``conditions`` (CEL), ``context`` (what a condition
sees), ``actions`` (one module per action), ``engine`` (outbox -> runs), ``runner`` (jobs).
"""
