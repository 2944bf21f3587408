package durable

import "time"

// ShortWait returns o with a short server-side wait for task requests, so
// that a test's hub closes without waiting out a long one.
func ShortWait(o Options) Options {
	o.wait = 200 * time.Millisecond
	return o
}
