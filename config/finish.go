package config

import (
	"os"
	"path/filepath"
)

// finish fills the defaults that depend on other values and makes paths
// absolute against the config file's directory.
func (p *parser) finish(opts Options) {
	c := p.cfg
	if c.Role.Name == "" {
		c.Role.Name = opts.ProgramName
	}
	if c.Role.Name == "" {
		c.Role.Name = "role"
	}
	if c.Role.InstanceID == "" {
		host := opts.Hostname
		if host == "" {
			host = "localhost"
		}
		c.Role.InstanceID = c.Role.Name + "_" + host
	}
	if c.Role.DataDir == "" {
		c.Role.DataDir = filepath.Join("data", c.Role.Name)
	}
	base := ""
	if c.File != "" {
		base = filepath.Dir(c.File)
	} else if wd, err := os.Getwd(); err == nil {
		base = wd
	}
	abs := func(path *string) {
		if *path != "" && !filepath.IsAbs(*path) {
			*path = filepath.Join(base, *path)
		}
	}
	abs(&c.Role.DataDir)
	if c.NATS.StoreDir == "" {
		c.NATS.StoreDir = filepath.Join(c.Role.DataDir, "nats")
	}
	abs(&c.NATS.StoreDir)
	abs(&c.NATS.CredsFile)
	abs(&c.NATS.TLSCA)
	abs(&c.NATS.TLSCert)
	abs(&c.NATS.TLSKey)
	abs(&c.Service.WorkingDir)
	abs(&c.Console.TokenFile)
	for i := range c.Startup {
		abs(&c.Startup[i].Dir)
	}
	abs(&c.Jobs.Dir)
	for i := range c.Jobs.Programs {
		abs(&c.Jobs.Programs[i].Dir)
	}
	if c.Service.Name == "" {
		c.Service.Name = c.Role.Name
	}
	if c.Service.DisplayName == "" {
		c.Service.DisplayName = c.Service.Name
	}
}
