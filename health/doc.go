// Package health serves a role's probe and status endpoint over HTTP, with
// Kubernetes' path conventions:
//
//	GET /livez    200 "ok" while the host's own loop answers; 503 otherwise
//	GET /healthz  alias of /livez
//	GET /readyz   200 "ok" only when the instance is ready; 503 with the reason
//	              ("starting", "frozen: ...", "busy", "stopping", ...) otherwise
//	GET /status   the host's status snapshot as JSON
//
// HEAD is accepted wherever GET is. Other methods get 405, other paths 404;
// neither ever reaches the Probe. The package serves what its Probe reports
// and adds nothing: it is the Probe's job to keep setting values and
// credentials out of Status.
package health
