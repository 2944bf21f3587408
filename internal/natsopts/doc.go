// Package natsopts is the one definition of cloudrole's NATS connection
// settings and the one validator of them. config's nats section
// (config.NATS) and the queue provider's options (queue.NATS) are both
// aliases of Settings, so the config file, `validate`, and the provider
// that a host builds at start can never disagree about what is valid: a
// setting refused at start is refused by `validate` first, with its file,
// line and key.
package natsopts
