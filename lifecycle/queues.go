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
	o := queue.Options{
		URL:       n.URL,
		CredsFile: n.CredsFile,
		User:      n.User,
		Password:  n.Password,
		Token:     n.Token,
		TLSCA:     n.TLSCA,
		TLSCert:   n.TLSCert,
		TLSKey:    n.TLSKey,
		Name:      cfg.Role.InstanceID,
		Logger:    logger.With("component", "nats"),
	}
	if n.URL == "" {
		// The config fills these with defaults (store_dir under data_dir)
		// even with a url; it refuses them only when the user wrote them,
		// so leave the defaults out for an external server.
		o.StoreDir, o.Sync, o.Listen = n.StoreDir, n.Sync, n.Listen
	}
	return queue.NewProvider(o)
}
