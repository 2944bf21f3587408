// Command idlerole is the lifecycle benchmark's role: OnStart connects a
// queue, so the host starts its embedded NATS server, then it idles.
package main

import (
	"context"

	"github.com/cloudrole/cloudrole"
	"github.com/cloudrole/cloudrole/queue"
	"github.com/cloudrole/cloudrole/role"
)

type idle struct{ role.Default }

func (idle) OnStart(ctx context.Context, _ role.Env) error {
	c, err := queue.Connect(ctx)
	if err != nil {
		return err
	}
	_, err = c.Queue(ctx, "idle", queue.Config{})
	return err
}

func main() { cloudrole.Main(idle{}) }
