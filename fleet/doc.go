// Package fleet is the view of every instance of every role on one NATS:
// each host publishes its status snapshot (lifecycle.Status, which holds no
// setting value and no credential) into one KV bucket, CR_FLEET, keyed by
// role and instance, and anything on the same NATS — the console, the
// `fleet` verb of any role binary — reads them all.
//
// A host publishes every Interval (5 s), at once when its state changes,
// and a last time when it stops (state "stopped"). A member whose last
// snapshot is older than GoneAfter (15 s: three missed publishes) is gone —
// killed, or cut off from NATS — and shown as such; the bucket drops
// snapshots an hour after their last write, so a dead instance disappears
// from the view within the hour. A role that never uses NATS (no queue, no
// external url) publishes nothing: it would start the embedded server only
// to be seen.
package fleet
