package swarmprovider

import (
	"flag"
	"fmt"
	"regexp"
	"strings"
	"time"

	"github.com/archwayhq/archway/proxy"
)

// DefaultResync is how often the cluster is read even without events. Task state changes
// are not in the Docker events API, so this bounds how long a stopping task stays a member:
// keep it well under the app's drain period.
const DefaultResync = 2 * time.Second

// Environment variables read by Config.FromEnv (flags win over them).
const (
	EnvGroup   = "ARCHWAY_SWARM_GROUP"
	EnvNetwork = "ARCHWAY_SWARM_NETWORK"
	EnvResync  = "ARCHWAY_SWARM_RESYNC"
)

// Config selects which services are backends and how their tasks are addressed.
type Config struct {
	// Group, when set, keeps only services labelled archway.group=<Group>, so several
	// proxies (stacks, test runs) can share one cluster. Empty: every labelled service.
	Group string
	// Network, when set, addresses each task by its IP on this network (name or ID) and
	// the container port, instead of node address + published port. Use it on clusters
	// whose proxy shares an overlay network with the app.
	Network string
	// Resync is the period of full reads; zero means DefaultResync.
	Resync time.Duration
}

var groupRe = regexp.MustCompile(`^[A-Za-z0-9][A-Za-z0-9_.-]*$`)

// Validate reports the first bad field as a one-line error naming it and its value.
func (c Config) Validate() error {
	if c.Group != "" && !groupRe.MatchString(c.Group) {
		return fmt.Errorf("swarm provider: group %q: want letters, digits, '.', '-', '_'", c.Group)
	}
	if c.Resync < 0 || (c.Resync > 0 && c.Resync < proxy.MinPeriod) {
		return fmt.Errorf("swarm provider: resync %q: want at least %v", c.Resync, proxy.MinPeriod)
	}
	return nil
}

// RegisterFlags adds -swarm-group, -swarm-network and -swarm-resync to fs, defaulting to
// the current values of c (so call FromEnv first to let flags override the environment).
func (c *Config) RegisterFlags(fs *flag.FlagSet) {
	fs.StringVar(&c.Group, "swarm-group", c.Group, "swarm provider: only services labelled "+LabelGroup+"=<group> (env "+EnvGroup+")")
	fs.StringVar(&c.Network, "swarm-network", c.Network, "swarm provider: address tasks by their IP on this network instead of node address + host port (env "+EnvNetwork+")")
	fs.DurationVar(&c.Resync, "swarm-resync", c.Resync, "swarm provider: full read period, catches task changes (env "+EnvResync+"; default "+DefaultResync.String()+")")
}

// FromEnv fills c from ARCHWAY_SWARM_* variables found by lookup (os.LookupEnv).
// A malformed value is an error naming the variable and the value.
func (c *Config) FromEnv(lookup func(string) (string, bool)) error {
	if v, ok := lookup(EnvGroup); ok {
		// Set but empty is refused, not read as "every labelled service in the
		// cluster": that is what leaving it unset says.
		if !groupRe.MatchString(v) {
			return fmt.Errorf("%s=%q: want a group name of letters, digits, '.', '-', '_' (unset: every labelled service)", EnvGroup, v)
		}
		c.Group = v
	}
	if v, ok := lookup(EnvNetwork); ok {
		if strings.TrimSpace(v) != v || v == "" {
			return fmt.Errorf("%s=%q: want a network name or ID (unset: node address and published port)", EnvNetwork, v)
		}
		c.Network = v
	}
	if v, ok := lookup(EnvResync); ok {
		d, err := time.ParseDuration(strings.TrimSpace(v))
		if err != nil || d < proxy.MinPeriod {
			return fmt.Errorf("%s=%q: want a duration of at least %v such as 2s", EnvResync, v, proxy.MinPeriod)
		}
		c.Resync = d
	}
	return nil
}
