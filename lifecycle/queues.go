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
	n := cfg.NATS
	return queue.NewProvider(queue.Options{
		URL:       n.URL,
		CredsFile: n.CredsFile,
		User:      n.User,
		Password:  n.Password,
		Token:     n.Token,
		TLSCA:     n.TLSCA,
		TLSCert:   n.TLSCert,
		TLSKey:    n.TLSKey,
		StoreDir:  n.StoreDir,
		Sync:      n.Sync,
		Listen:    n.Listen,
		Name:      cfg.Role.InstanceID,
		Logger:    logger.With("component", "nats"),
	})
}
