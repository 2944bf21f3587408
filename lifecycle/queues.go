package lifecycle

import (
	"log/slog"

	"github.com/cloudrole/cloudrole/config"
	"github.com/cloudrole/cloudrole/queue"
)

// newQueueProvider translates the config's nats section into the
// process-lifetime queue provider. It starts nothing: the embedded server
// or the connection comes up the first time a role calls queue.Connect, so
// a role that uses no queue runs no server.
func newQueueProvider(cfg *config.Config, logger *slog.Logger) (*queue.Provider, error) {
	return queue.NewProvider(queue.Options{
		NATS:   cfg.NATS.InUse(),
		Name:   cfg.Role.InstanceID,
		Logger: logger.With("component", "nats"),
	})
}
